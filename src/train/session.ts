/**
 * Everything a run holds in memory: config, schedule, G (and its EMA), one D per stage, the Rng
 * streams, the data source, the current stage's optimisers and the position in the schedule; and its
 * conversion to and from checkpoint tensors. Building a session is deterministic in the config's seed,
 * so restoring a checkpoint into a freshly built session continues the run bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import type { GeneratorParams, GeneratorShape } from '../models/generator.js';
import { BLOCK_PARTS, createLearner, disposeLearner, gName, learnerFromTensors, sampleLatents, snName, snWeights, vbnReference, VBN_PARTS, type Learner } from '../models/learner.js';
import { deconvFanIn } from '../models/generator.js';
import { heScale } from '../models/layers/equalized.js';
import { HistoricalAverage } from './recipes.js';
import { calibrateLayer, type CalibrationReport } from '../models/calibrate.js';
import { UserError } from '../util/errors.js';
import { addProjection, createDiscriminator, type Discriminator } from '../models/discriminator.js';
import type { PyramidSource } from '../data/source.js';
import { Rng } from '../util/rng.js';
import { Adam } from './adam.js';
import { dcganShape, stepsForLevel, type TrainConfig } from './config.js';
import { createDcganDiscriminator, createDcganGenerator, dcganGeneratorNames } from '../models/dcgan.js';
import { buildSchedule, type Stage } from './stages.js';
import { createFamilyDiscriminators, createFamilyGenerator, familySchedule, isMultiFamily } from './families.js';
import { createCondDiscriminator, createCondGenerator, isCondFamily } from '../models/conditional.js';
import { condShape } from './cond-config.js';
import { conditionSpace, isConditional, type ConditionSpace } from './conditions.js';
import { classStages, isCondFsr } from './cfsr-config.js';
import { CHECKPOINT_VERSION, type CheckpointState, type GuardState, type LoadedCheckpoint } from './checkpoint.js';

export const RNG_STREAMS = ['latent', 'gp', 'crop', 'augment'] as const;

export interface Session {
  config: TrainConfig;
  shape: GeneratorShape;
  stages: Stage[];
  learner: Learner;
  /** EMA of G (config.train.emaBeta > 0), non-trainable variables. */
  ema: Learner | null;
  /** One D per stage, keyed by the stage's resolution r_l. */
  discs: Map<number, Discriminator>;
  rngs: Record<(typeof RNG_STREAMS)[number], Rng>;
  source: PyramidSource | null;
  /** Fixed latents of the sample grids [samples,1,1,zDim]. */
  sampleZ: tf.Tensor4D;
  /** Optimisers of the current stage (null between stages). */
  opt: { g: Adam; d: Adam } | null;
  /** Historical averaging's running means of the current stage's trained G and D parameters (train.historicalAveraging > 0; with opt). */
  hist?: { g: HistoricalAverage; d: HistoricalAverage } | null;
  step: number;
  stageIndex: number;
  stageStep: number;
  wallTime: number;
  /** Divergence-guard state (learning-rate scale after rollbacks; src/train/guard.ts). */
  guard: GuardState;
  /** Data-parallel replicas training the session (replicas.ts; checkpoints record it). */
  workers: number;
  /** A conditional run's condition space (conditions.ts: a conditional family, or generator.condition 'class'); null otherwise. */
  cond: ConditionSpace | null;
}

/** The learner's shape from the config and the data's channel count. */
export function configShape(config: TrainConfig, imageChannels: number): GeneratorShape {
  const g = config.generator;
  return {
    resolutions: [...g.resolutions], channels: [...g.channels], zDim: g.zDim, kernel: g.kernel, patch: g.patch, imageChannels, head: g.head, skip: g.skip,
    // Only a non-default upsampling enters the shape, so the shapes (and hashes) of earlier runs stay as they were.
    ...(g.skip && g.skipUpsample !== 'nearest' ? { skipUpsample: g.skipUpsample } : {}),
    ...(g.pixelNorm ? { pixelNorm: true } : {}),
    // Equalised lr scales by the init's gains (learner.ts); virtual batch norm (generator.ts): recipes of docs/recipes.md.
    ...(g.equalizedLr ? { equalizedLr: { gain: g.init.gain, outGain: g.init.outGain } } : {}),
    ...(g.virtualBatchNorm ? { virtualBatchNorm: true } : {}),
    ...(g.attention ? { attention: g.attention } : {}),
    ...(g.mixture.components > 0 ? { mixture: { components: g.mixture.components, spread: g.mixture.spread } } : {}),
    // Spectral norm (Miyato et al. 2018) on every weight of G, except oracle-lower's teacher layers (generator.ts).
    ...(g.spectralNorm ? { spectralNorm: { from: config.train.mode === 'oracle-lower' ? (config.train.level || g.resolutions.length) - 1 : 0 } } : {}),
  };
}

/** The run's schedule of stages (a dcgan: one stage at the top resolution that trains all of G). */
export function configSchedule(config: TrainConfig): Stage[] {
  const steps = config.generator.resolutions.map((_, l) => stepsForLevel(config, l));
  if (config.generator.family === 'dcgan') {
    const L = config.generator.resolutions.length;
    const r = config.generator.resolutions[L - 1];
    const trained = dcganGeneratorNames(dcganShape(config));
    return [{ level: L, resolution: r, steps: steps[L - 1], trained, frozen: [], discInput: 'single', outputs: [r], calibrate: [], oracle: [], untrainedHeads: [] }];
  }
  if (isMultiFamily(config.generator.family)) return familySchedule(config, steps);
  if (isCondFamily(config.generator.family)) {
    // One stage at the top resolution that trains all of G (as a dcgan); the names from a throwaway G.
    const L = config.generator.resolutions.length;
    const r = config.generator.resolutions[L - 1];
    const g = createCondGenerator(condShape(config, { dim: 1, kind: 'class' }), new Rng(config.seed, 'init-g'));
    const trained = [...g.vars.keys()];
    for (const v of g.vars.values()) v.dispose();
    return [{ level: L, resolution: r, steps: steps[L - 1], trained, frozen: [], discInput: 'single', outputs: [r], calibrate: [], oracle: [], untrainedHeads: [] }];
  }
  let stages = buildSchedule(config.generator.resolutions, config.train.mode, steps, config.train.level, config.generator.attention);
  if (config.generator.virtualBatchNorm) {
    // Virtual batch norm's gamma_l, beta_l train with their layer's deconvolution and are frozen with it.
    const vbn = (names: string[]) => names.flatMap((n) => (n.endsWith('.deconv') ? VBN_PARTS.map((p) => n.replace(/deconv$/, p)) : []));
    const all = config.generator.resolutions.flatMap((r) => VBN_PARTS.map((p) => gName(r, p)));
    stages = stages.map((st) => ({ ...st, trained: [...st.trained, ...vbn(st.trained)], frozen: [...st.frozen, ...all.filter((n) => !vbn(st.trained).includes(n))] }));
  }
  // Spectral norm's u, v have no optimiser: a stage power-iterates those of the weights it trains (step.ts),
  // which are thus in neither list; those of every other weight are frozen, hashed with their layer.
  const sn = snWeights(configShape(config, 3)).map((w) => w.name);
  if (sn.length) stages = stages.map((st) => ({ ...st, frozen: [...st.frozen, ...sn.filter((n) => !st.trained.includes(n)).flatMap((n) => [snName(n, 'u'), snName(n, 'v')])] }));
  // A conditional learner's E_l trains and freezes with its layer (cfsr-config.ts).
  return isCondFsr(config) ? classStages(stages, config.generator.resolutions) : stages;
}

/** A fresh session at step 0: every tensor drawn from its own Rng stream of config.seed. */
export function buildSession(config: TrainConfig, imageChannels: number, source: PyramidSource | null): Session {
  const stages = configSchedule(config);
  const dcgan = config.generator.family === 'dcgan' ? dcganShape(config, imageChannels) : null;
  const multi = isMultiFamily(config.generator.family);
  const cond = isConditional(config) ? conditionSpace(config, source) : null;
  const cshape = cond && isCondFamily(config.generator.family) ? condShape(config, cond, imageChannels) : null;
  const learner = dcgan
    ? createDcganGenerator(dcgan, new Rng(config.seed, 'init-g'))
    : cshape
      ? createCondGenerator(cshape, new Rng(config.seed, 'init-g'))
      : multi
      ? createFamilyGenerator(config, imageChannels)
      : createLearner({ ...configShape(config, imageChannels), ...(cond ? { classes: cond.dim } : {}) }, new Rng(config.seed, 'init-g'), config.generator.init);
  const shape = learner.params.shape;
  // Virtual batch norm's reference latents: train.batch of them, derived from the seed (never checkpointed).
  if (shape.virtualBatchNorm) learner.params.reference = vbnReference(config.seed, config.train.batch, shape.zDim);
  // A family's EMA is a second generator of the same family: its weights are copied from G at every stage start.
  const ema = config.train.emaBeta > 0 ? (cshape ? createCondGenerator(cshape, new Rng(config.seed, 'init-g')) : multi ? createFamilyGenerator(config, imageChannels) : cloneLearner(learner)) : null;
  let discs = new Map<number, Discriminator>();
  const dc = config.discriminator;
  if (dcgan) discs.set(dcgan.resolution, createDcganDiscriminator(dcgan, new Rng(config.seed, `init-d.r${dcgan.resolution}`)));
  else if (cshape) discs.set(cshape.resolution, createCondDiscriminator(cshape, new Rng(config.seed, `init-d.r${cshape.resolution}`)));
  else if (multi) discs = createFamilyDiscriminators(config, stages, imageChannels);
  else for (const st of stages) {
    const size = dc.crop > 0 && dc.crop < st.resolution ? dc.crop : st.resolution;
    const rng = new Rng(config.seed, `init-d.r${st.resolution}`);
    const d = createDiscriminator(st.resolution, st.discInput, imageChannels, shape.patch, dc, rng, size);
    // The conditional FSR learner (the only fsr run with a condition space; class or text): a projection D per stage.
    discs.set(st.resolution, cond ? addProjection(d, cond.dim, rng, dc) : d);
  }
  const rngs = Object.fromEntries(RNG_STREAMS.map((s) => [s, new Rng(config.seed, s)])) as Session['rngs'];
  const sampleZ = sampleLatents(new Rng(config.seed, 'samples'), config.log.samples, shape.zDim);
  return { config, shape, stages, learner, ema, discs, rngs, source, sampleZ, opt: null, step: 0, stageIndex: 0, stageStep: 0, wallTime: 0, guard: { lrScale: 1, rollbacks: 0, skipsInRow: 0 }, workers: 1, cond };
}

/**
 * A non-trainable copy of a learner (the EMA's). Under spectral norm the copy shares the learner's vectors
 * u, v instead of holding its own: sigma = v^T W_ema u is then the power-iteration estimate for the EMA's
 * weights, which average the learner's recent iterates, and the vectors follow the training (iterated each
 * G step, checkpointed once). Its own copies would stay at their stage-start values.
 */
export function cloneLearner(l: Learner): Learner {
  const t: Record<string, tf.Tensor> = {};
  for (const [n, v] of l.vars) t[n] = v;
  const copy = learnerFromTensors(l.params.shape, t, false, l.params.shape.spectralNorm ? l.vars : undefined);
  if (l.params.reference) copy.params.reference = l.params.reference.clone();
  return copy;
}

/** Copies each variable of `to` (default: all of them; an EMA has no spectral-norm vectors of its own) from `from` (same names). */
export function copyLearner(to: Learner, from: Learner, names: Iterable<string> = to.vars.keys()): void {
  for (const n of names) to.vars.get(n)!.assign(from.vars.get(n)!);
}

/**
 * What happens to G when a stage starts, before its optimisers and hashes: the teacher's own layers are
 * copied into the oracle layers (zero-padded when the learner is wider: extra channels stay inactive),
 * heads no stage trains are zeroed when G has a skip (stages.ts, untrainedHeads), then the stage's layers
 * are calibrated in order (generator.init.calibrate). Deterministic in the config's
 * seed and G's weights, so a resume from a stage-boundary checkpoint repeats it exactly.
 */
export function prepareStage(s: Session, teacher: GeneratorParams | null): CalibrationReport[] {
  const st = s.stages[s.stageIndex];
  const init = s.config.generator.init;
  if (st.oracle.length) {
    if (!teacher) throw new UserError(`config.train.mode '${s.config.train.mode}' needs the run's synthetic teacher, and this run has none.`);
    for (const l of st.oracle) {
      const r = s.shape.resolutions[l];
      for (const part of BLOCK_PARTS) {
        const v = s.learner.vars.get(gName(r, part))!;
        const t = teacher.blocks[r][part];
        // Equalised lr: the learner stores the teacher's weight over the run-time scale (generator.ts layerWeights).
        const e = s.shape.equalizedLr;
        const k = !e || part === 'bias' ? 1 : part === 'deconv' ? heScale(deconvFanIn(s.shape, l), e.gain) : heScale(s.shape.channels[l], e.outGain);
        tf.tidy(() => v.assign(tf.pad(k === 1 ? t : tf.div(t, k), v.shape.map((d, i) => [0, d - t.shape[i]]) as Array<[number, number]>)));
      }
    }
  }
  if (s.shape.skip) {
    for (const l of st.untrainedHeads) {
      const v = s.learner.vars.get(gName(s.shape.resolutions[l], 'out'))!;
      tf.tidy(() => v.assign(tf.zerosLike(v)));
    }
  }
  if (!init.calibrate) return [];
  return st.calibrate.map((l) => {
    const z = sampleLatents(new Rng(s.config.seed, `calibrate.r${s.shape.resolutions[l]}`), init.calibrationSamples, s.shape.zDim);
    try {
      return calibrateLayer(s.learner.params, l, z, init.active);
    } finally {
      z.dispose();
    }
  });
}

/** Creates the optimisers of the current stage (G: its trained variables; D: the stage's D). */
export function openStageOptimizers(s: Session): void {
  closeStageOptimizers(s);
  const st = s.stages[s.stageIndex];
  const t = s.config.train;
  const gVars = new Map(st.trained.map((n) => [n, s.learner.vars.get(n)!]));
  const k = s.guard.lrScale;
  s.opt = { g: new Adam(gVars, t.lrG * k, t.beta1, t.beta2), d: new Adam(s.discs.get(st.resolution)!.vars, t.lrD * k, t.beta1, t.beta2) };
  // Historical averaging restarts with each stage, over the parameters it trains (frozen ones are not averaged).
  s.hist = t.historicalAveraging > 0 ? { g: new HistoricalAverage(), d: new HistoricalAverage() } : null;
}

export function closeStageOptimizers(s: Session): void {
  if (!s.opt) return;
  s.opt.g.dispose();
  s.opt.d.dispose();
  s.opt = null;
  s.hist?.g.dispose();
  s.hist?.d.dispose();
  s.hist = null;
}

const emaName = (n: string) => `ema${n.slice(1)}`;

/**
 * Every tensor a checkpoint holds, by name: G (`g.*`), EMA (`ema.*`), D weights and spectral-norm
 * vectors (`d.*`), optimiser state (`optG/*`, `optD/*`). Returns the map and the tensors the caller
 * must dispose after saving (the optimisers' state, made for the occasion).
 */
export function sessionTensors(s: Session): { tensors: Record<string, tf.Tensor>; temporaries: tf.Tensor[] } {
  const tensors: Record<string, tf.Tensor> = {};
  const temporaries: tf.Tensor[] = [];
  for (const [n, v] of s.learner.vars) tensors[n] = v;
  if (s.ema) for (const [n, v] of s.ema.vars) tensors[emaName(n)] = v;
  for (const d of s.discs.values()) for (const [n, v] of [...d.vars, ...d.state]) tensors[n] = v;
  if (s.opt) {
    for (const [prefix, opt] of [['optG', s.opt.g], ['optD', s.opt.d]] as const) {
      for (const w of opt.getWeights()) {
        tensors[`${prefix}/${w.name}`] = w.tensor;
        temporaries.push(w.tensor);
      }
    }
  }
  // Historical averaging: the running means and the number of updates averaged (`histG/#updates`).
  if (s.hist) {
    for (const [prefix, h] of [['histG', s.hist.g], ['histD', s.hist.d]] as const) {
      for (const [n, t] of h.means) tensors[`${prefix}/${n}`] = t;
      const c = tf.scalar(h.updates);
      tensors[`${prefix}/#updates`] = c;
      temporaries.push(c);
    }
  }
  return { tensors, temporaries };
}

/** The JSON part of a checkpoint; `metricsBytes` is the size of metrics.jsonl at this point. */
export function sessionState(s: Session, backend: string, metricsBytes: number): CheckpointState {
  return {
    version: CHECKPOINT_VERSION,
    step: s.step,
    stageIndex: s.stageIndex,
    stageStep: s.stageStep,
    wallTime: s.wallTime,
    rng: Object.fromEntries(Object.entries(s.rngs).map(([k, r]) => [k, r.getState()])),
    source: s.source ? s.source.getState() : null,
    backend,
    guard: { ...s.guard },
    metricsBytes,
    ...(s.workers > 1 ? { workers: s.workers } : {}),
  };
}

/** Assigns a checkpoint tensor; checkpointMismatch has already checked that it exists with v's shape. */
function assignFrom(tensors: Record<string, tf.Tensor>, name: string, v: tf.Variable): void {
  v.assign(tensors[name]);
}

/** The config fields that decide the tensors under a name prefix (for the mismatch message). */
function fieldsOf(name: string): string {
  if (name.startsWith('ema.')) return 'train.emaBeta (an EMA exists only when it is > 0)';
  if (name.endsWith('.cls') || name.includes('.proj')) return "generator.condition (condition embeddings exist only when it is 'class' or 'text'; their rows are the dataset's classes, or families.conditional.textDim)";
  if (name.includes('.sn.')) return "generator.spectralNorm (families.sagan.spectralNorm for sagan), or train.mode and train.level: oracle-lower leaves the teacher's layers unnormalised";
  if (name.startsWith('g.')) return 'generator.resolutions, channels, zDim, kernel or patch';
  return 'discriminator.widths, kernel, patch, patchStride, crop or neighbourDiffs, generator.resolutions or train.mode';
}

/**
 * What in the session's config disagrees with a checkpoint's tensors, as one sentence per problem; [] when
 * they agree. The usual cause is a hand-edited config.json (docs/reliability.md): the message names the
 * tensors and the fields that make them, so the user can undo the edit.
 */
export function checkpointMismatch(s: Session, tensors: Record<string, tf.Tensor>): string[] {
  const want = new Map<string, number[]>();
  for (const [n, v] of s.learner.vars) want.set(n, v.shape);
  if (s.ema) for (const [n, v] of s.ema.vars) want.set(emaName(n), v.shape);
  for (const d of s.discs.values()) for (const [n, v] of [...d.vars, ...d.state]) want.set(n, v.shape);
  const problems: string[] = [];
  const missing = [...want.keys()].filter((n) => !tensors[n]);
  const extra = Object.keys(tensors).filter((n) => !n.startsWith('opt') && !n.startsWith('hist') && !want.has(n));
  const show = (names: string[], sep = ', ') => `${names.slice(0, 3).join(sep)}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
  if (missing.length) problems.push(`the config needs ${show(missing)}, which the checkpoint does not have (set by ${fieldsOf(missing[0])})`);
  if (extra.length) problems.push(`the checkpoint has ${show(extra)}, which the config does not make (set by ${fieldsOf(extra[0])})`);
  // Shape differences, one sentence per kind of tensor (G, its EMA, D).
  const byKind = new Map<string, string[]>();
  for (const [n, shape] of want) {
    const t = tensors[n];
    if (!t || t.shape.join() === shape.join()) continue;
    const kind = n.split('.')[0];
    byKind.set(kind, [...(byKind.get(kind) ?? []), `${n} [${t.shape}] in the checkpoint, [${shape}] by the config`]);
  }
  for (const [kind, list] of byKind) problems.push(`shapes differ (set by ${fieldsOf(`${kind}.`)}): ${show(list, '; ')}`);
  return problems;
}

/** Loads a checkpoint into a session built from the same config (disposes the checkpoint's tensors). */
export function restoreSession(s: Session, ck: LoadedCheckpoint): void {
  const { tensors, state } = ck;
  try {
    const problems = checkpointMismatch(s, tensors);
    if (problems.length) {
      throw new UserError(
        `the run's config.json does not describe the network in its checkpoint ${ck.path}: ${problems.slice(0, 4).join('; ')}. ` +
          'Undo the edit to config.json (or start a new run with the changed config).',
      );
    }
    for (const [n, v] of s.learner.vars) assignFrom(tensors, n, v);
    if (s.ema) for (const [n, v] of s.ema.vars) assignFrom(tensors, emaName(n), v);
    for (const d of s.discs.values()) for (const [n, v] of [...d.vars, ...d.state]) assignFrom(tensors, n, v);
    s.step = state.step;
    s.stageIndex = state.stageIndex;
    s.stageStep = state.stageStep;
    s.wallTime = state.wallTime;
    s.guard = { ...state.guard };
    // A checkpoint from before a stream existed never drew from it: the fresh stream is the right state.
    for (const k of RNG_STREAMS) if (state.rng[k] !== undefined) s.rngs[k].setState(state.rng[k]);
    if (s.source && state.source !== null) s.source.setState(state.source);
    closeStageOptimizers(s);
    if (state.stageIndex < s.stages.length && state.stageStep > 0) {
      openStageOptimizers(s);
      const pick = (prefix: string) =>
        Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith(`${prefix}/`)).map(([k, t]) => [k.slice(prefix.length + 1), t]));
      s.opt!.g.setWeights(pick('optG'));
      s.opt!.d.setWeights(pick('optD'));
      if (s.hist) {
        for (const [prefix, h] of [['histG', s.hist.g], ['histD', s.hist.d]] as const) {
          const { '#updates': n, ...means } = pick(prefix);
          if (n) h.restore(n.dataSync()[0], means);
        }
      }
    }
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** Disposes every tensor of a session (not the source). */
export function disposeSession(s: Session): void {
  closeStageOptimizers(s);
  disposeLearner(s.learner);
  if (s.ema) disposeLearner(s.ema);
  // ProGAN's per-stage Ds share one set of variables: dispose each variable once.
  for (const v of new Set([...s.discs.values()].flatMap((d) => [...d.vars.values(), ...d.state.values()]))) v.dispose();
  s.sampleZ.dispose();
}
