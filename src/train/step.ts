/**
 * One training step of a stage: `dSteps` discriminator updates, then one generator update (gradient
 * descent-ascent, docs/theory.md section 2). Every tensor made here is disposed before returning, so the
 * number of live tensors stays flat over a run.
 */
import * as tf from '@tensorflow/tfjs';
import { gName, iterateSn, learnerForward, sampleLatents, type Learner } from '../models/learner.js';
import { retargetBias } from '../models/calibrate.js';
import { clipWeights, discCodes, discFeatures, discForward, discInput, powerIterate, type Discriminator } from '../models/discriminator.js';
import { fadeReal } from '../models/progan.js';
import { srganContentLoss } from '../models/srgan.js';
import { Rng } from '../util/rng.js';
import type { PyramidSource } from '../data/source.js';
import type { Adam } from './adam.js';
import { gradientPenalty, objectives, r1GammaAt, r1Penalty } from './objectives.js';
import type { TrainConfig } from './config.js';
import { fadeAlpha, type Stage } from './stages.js';
import type { StepGuard } from './guard.js';
import { applyAugment, drawAugment } from './augment.js';
import { draganPenalty, drawTargets, featureMatchingLoss, labelsOn, pack, targetDLoss } from './recipes.js';
import { discAt, instanceNoise, recipeRng, unrollDisc, withAverage, type StageAverages } from './step-recipes.js';
import { UserError } from '../util/errors.js';
import { floatsOf } from '../ops/simd/heap.js';
import { shardArray, shardAugment, shardRows, startReduce, type StepShard } from './shard.js';

export interface StepContext {
  config: TrainConfig;
  stage: Stage;
  learner: Learner;
  ema: Learner | null;
  disc: Discriminator;
  source: PyramidSource;
  rngs: { latent: Rng; gp: Rng; crop: Rng; augment: Rng };
  optG: Adam;
  optD: Adam;
  /** When set, each update is checked for NaN/Inf before it is applied (src/train/guard.ts). */
  guard?: StepGuard;
  /** G steps of this stage completed before this one (sets the EMA's warm-up). */
  stageStep?: number;
  /** One of several data-parallel replicas: its rows of each batch, updates averaged (shard.ts). */
  shard?: StepShard;
  /** Historical averaging's running means of this stage (train.historicalAveraging > 0; session.ts). */
  hist?: StageAverages | null;
}

/** Losses of the last D update and of the G update; read only when `record` was set. */
export interface StepLosses {
  lossD: number;
  lossG: number;
  /** R1 or gradient-penalty term of the last D update (0 when off). */
  penalty: number;
}

/** Gradients of f with respect to the named variables, keyed by those names. */
function namedGrads(vars: Map<string, tf.Variable>, f: () => tf.Scalar): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(f, [...vars.values()]);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of vars) if (grads[v.name]) out[name] = grads[v.name];
  return { value, grads: out };
}

/** Offsets (multiples of the patch, so D's patch layer stays aligned with G's painting grid) of a crop. */
function cropOffsets(rng: Rng, full: number, size: number, patch: number): [number, number] {
  if (size >= full) return [0, 0];
  const slots = (full - size) / patch + 1;
  return [rng.int(slots) * patch, rng.int(slots) * patch];
}

function crop(x: tf.Tensor4D, oy: number, ox: number, size: number): tf.Tensor4D {
  if (size >= x.shape[1]) return x;
  return tf.slice(x, [0, oy, ox, 0], [-1, size, size, -1]);
}

/** The D input of this stage from pyramid levels xs (x_1..x_level), cropped to D's input size. */
function stageInput(ctx: StepContext, xs: tf.Tensor4D[], offsets: [number, number]): tf.Tensor4D {
  const full = discInput(ctx.disc, xs, ctx.stage.level - 1);
  return crop(full, offsets[0], offsets[1], ctx.disc.inputSize);
}

/** A DiffAugment transform for one batch of D inputs (src/train/augment.ts), or null when off. */
function augmentFor(ctx: StepContext, n: number) {
  const policy = ctx.config.discriminator.augment;
  if (!policy.length || ctx.disc.resolution < ctx.config.discriminator.augmentFrom) return null;
  const d = shardAugment(ctx.shard, drawAugment(ctx.rngs.augment, policy, n, ctx.disc.inputSize));
  return (x: tf.Tensor4D) => applyAugment(x, d);
}

/** ProGAN's fade-in weight for this step (1 for every stage without a fade; src/train/stages.ts). */
const alphaOf = (ctx: StepContext) => fadeAlpha(ctx.stage, ctx.stageStep ?? 0);

/**
 * The generated pyramid x_1..x_level for latents from the run's latent stream (hidden layers disposed);
 * `cond`: the real pyramid the stage's G is conditioned on (Stage.condition, families.ts).
 */
function generate(ctx: StepContext, n: number, cond: tf.Tensor4D[] | null = null): tf.Tensor4D[] {
  const z = sampleLatents(ctx.rngs.latent, n, ctx.learner.params.shape.zDim);
  return tf.tidy(() => {
    const out = learnerForward(ctx.learner, shardRows(ctx.shard, z), ctx.stage.level, { real: cond ?? undefined, alpha: alphaOf(ctx) });
    z.dispose();
    return out.x;
  });
}

/** A D update whose gradients are computed; `apply()` applies it (or the guard refuses) and fills loss and penalty. */
interface DUpdate {
  real: tf.Tensor4D;
  /** The real pyramid x_1..x_level of this update's batch, kept for G's update when the stage conditions on it. */
  cond: tf.Tensor4D[] | null;
  /** The loss and penalty scalars when `keep`, after apply. */
  loss: tf.Scalar | null;
  penalty: tf.Scalar | null;
  /** Applies the update unless the guard refuses it; returns whether the step goes on. */
  apply(): boolean;
}

/** The k-th D update of a step: gradients computed, applied by `apply()`. */
function dUpdate(ctx: StepContext, keep: boolean, k: number): DUpdate {
  const { config, disc } = ctx;
  const obj = objectives[config.objective.name];
  const batch = ctx.source.batch(config.train.batch);
  const cond = ctx.stage.condition === 'real' ? batch.slice(0, ctx.stage.level) : null;
  const fakeXs = generate(ctx, config.train.batch, cond);
  const alpha = alphaOf(ctx);
  // ProGAN: real images blended as G's output is during the fade-in (models/progan.ts).
  const realXs = ctx.stage.fade ? fadeReal(batch, ctx.stage.level, alpha) : batch.slice(0, ctx.stage.level);
  const full = ctx.disc.resolution;
  const off = cropOffsets(ctx.rngs.crop, full, disc.inputSize, disc.patch);
  const augReal = augmentFor(ctx, config.train.batch);
  const augFake = augmentFor(ctx, config.train.batch);
  // PacGAN: D sees m samples packed along channels, so its losses and penalties have batch / m rows.
  const m = config.discriminator.pack;
  const nD = config.train.batch / m;
  const real = tf.tidy(() => {
    const x = stageInput(ctx, realXs, off);
    return pack(instanceNoise(ctx, augReal ? augReal(x) : x.clone(), `real.k${k}`), m) as tf.Tensor4D;
  });
  const fake = tf.tidy(() => {
    const x = stageInput(ctx, fakeXs, off);
    return pack(instanceNoise(ctx, augFake ? augFake(x) : x.clone(), `fake.k${k}`), m) as tf.Tensor4D;
  });
  tf.dispose([...batch.filter((x) => !cond?.includes(x)), ...fakeXs, ...(ctx.stage.fade ? realXs : [])]);
  const e = config.objective.name === 'wgan-gp' ? tf.tensor1d(shardArray(ctx.shard, Float32Array.from({ length: nD }, () => ctx.rngs.gp.uniform()))) : null;
  if (disc.convs[0]?.u || disc.iterate) powerIterate(disc);
  let penalty: tf.Scalar | null = null;
  const fwd = ctx.stage.fade ? { alpha } : undefined;
  const D = (x: tf.Tensor4D) => discForward(disc, x, fwd);
  // Label smoothing, noisy and flipped labels (recipes.ts): D's loss with drawn targets.
  const o = config.objective;
  const labels = { smoothing: o.labelSmoothing, noise: o.labelNoise, flip: o.labelFlip };
  const drawn = labelsOn(labels) ? drawTargets(recipeRng(ctx, `labels.k${k}`), nD, labels) : null;
  const targets = drawn ? [tf.tensor1d(shardArray(ctx.shard, drawn.real)), tf.tensor1d(shardArray(ctx.shard, drawn.fake))] : null;
  const objD = targets ? (dr: tf.Tensor1D, df: tf.Tensor1D) => targetDLoss(o.name === 'lsgan' ? 'lsgan' : 'logistic', dr, df, targets[0] as tf.Tensor1D, targets[1] as tf.Tensor1D) : obj.d;
  // DRAGAN's perturbation of the real batch (std over this replica's rows).
  const delta = o.dragan > 0 ? tf.tidy(() => {
    const full = [nD, ...real.shape.slice(1)];
    const sd = tf.moments(real).variance.sqrt().dataSync()[0];
    return shardRows(ctx.shard, tf.tensor(recipeRng(ctx, `dragan.k${k}`).normals(full.reduce((a, b) => a * b, 1), o.draganNoise * sd), full));
  }) : null;
  const { value, grads } = namedGrads(disc.vars, () => {
    let loss: tf.Scalar;
    if (config.objective.drift > 0) {
      // ProGAN's drift term epsilon E[D(real)^2] (Karras et al. 2018, appendix A.1).
      const dr = D(real);
      loss = tf.add(objD(dr, D(fake)), tf.mul(config.objective.drift, tf.mean(tf.square(dr)))) as tf.Scalar;
    } else loss = objD(D(real), D(fake));
    let pen: tf.Scalar | null = null;
    const gamma = r1GammaAt(config, ctx.stageStep ?? 0, k);
    if (gamma > 0) pen = r1Penalty(D, real, gamma);
    if (e) {
      const gp = gradientPenalty(D, real, fake, e, config.objective.gpLambda);
      pen = pen ? (tf.add(pen, gp) as tf.Scalar) : gp;
    }
    if (delta) {
      const dp = draganPenalty((x) => D(x as tf.Tensor4D), real, delta, o.dragan);
      pen = pen ? (tf.add(pen, dp) as tf.Scalar) : dp;
    }
    if (pen) {
      penalty = keep ? tf.keep(pen.clone()) : null;
      loss = tf.add(loss, pen) as tf.Scalar;
    }
    return withAverage(ctx, loss, ctx.hist?.d, disc.vars);
  });
  tf.dispose([fake, ...(e ? [e] : []), ...(targets ?? []), ...(delta ? [delta] : [])]);
  // A replica applies the mean over replicas, of the gradients and (for the guard and the log) the
  // losses: contributed now, waited for in apply().
  const reduce = ctx.shard ? startReduce(ctx.shard, 'D', disc.vars, grads, value, penalty) : null;
  if (reduce) tf.dispose(Object.values(grads));
  const out: DUpdate = {
    real,
    cond,
    loss: null,
    penalty: null,
    apply: () => {
      const mean = reduce ? reduce() : null;
      const pending = ctx.optD.propose(mean ? mean.grads : grads);
      if (!mean) tf.dispose(Object.values(grads));
      const ok = !ctx.guard || ctx.guard.admit(`D${k + 1}`, mean ? mean.loss : value, pending);
      if (ok) {
        ctx.optD.commit(pending);
        if (config.objective.name === 'wgan') clipWeights(disc, config.objective.clip);
        ctx.hist?.d.record(disc.vars);
      } else ctx.optD.discard(pending);
      if (mean) {
        // Kept: apply() may run inside G's gradient tape, whose scope would dispose new tensors.
        tf.dispose([value, ...(penalty ? [penalty] : [])]);
        out.loss = keep ? tf.keep(tf.scalar(mean.loss)) : null;
        out.penalty = penalty ? tf.keep(tf.scalar(mean.penalty)) : null;
      } else {
        if (!keep) value.dispose();
        out.loss = keep ? value : null;
        out.penalty = penalty;
      }
      return !ctx.guard?.abandoned;
    },
  };
  return out;
}

/** Thrown inside G's tape when the D update applied there was refused and the step is abandoned. */
const ABANDONED = new Error('step abandoned');

/**
 * G's loss against the current D as a function of G's variables, read at every call (so that a finite
 * difference can re-evaluate it), with the latents, crop and augmentation of this G update drawn once;
 * `dispose` frees what it holds. `real` (D's input on real data) enters for RaGAN, feature matching and
 * unrolling; `applyD` (see gUpdate) runs after G's forward pass and may abandon the step (throws ABANDONED).
 */
export function gObjective(ctx: StepContext, real: tf.Tensor4D, applyD: (() => boolean) | null = null, cond: tf.Tensor4D[] | null = null): { loss: () => tf.Scalar; dispose: () => void } {
  const { config, disc, learner } = ctx;
  const obj = objectives[config.objective.name];
  // Spectral norm on G: one power-iteration step per G update, outside the gradient, before it as in Miyato
  // et al. 2018, Algorithm 1 (sagan: every weight of its G; the FSR learner: the weights this stage trains).
  learner.iterate?.();
  iterateSn(learner, ctx.stage.trained);
  const z = sampleLatents(ctx.rngs.latent, config.train.batch, learner.params.shape.zDim);
  const off = cropOffsets(ctx.rngs.crop, disc.resolution, disc.inputSize, disc.patch);
  const aug = augmentFor(ctx, config.train.batch);
  const alpha = alphaOf(ctx);
  const fwd = ctx.stage.fade ? { alpha } : undefined;
  const m = config.discriminator.pack;
  const fakeIn = (xs: tf.Tensor4D[]) => pack(stageInput(ctx, xs, off), m) as tf.Tensor4D;
  // Unrolled GAN (Metz et al. 2017; step-recipes.ts): G is judged by D after k SGD steps on D's loss for this
  // real batch and G's samples of the same latents. First order: taken here, outside G's tape (a constant).
  const second = config.train.unroll > 0 && config.train.unrollSecondOrder;
  const unrolled = config.train.unroll > 0 && !second ? tf.tidy(() => unrollDisc(ctx, real, fakeIn(learnerForward(learner, z, ctx.stage.level, { real: cond ?? undefined, alpha }).x), fwd)) : null;
  const judge = unrolled ? discAt(disc, unrolled) : disc;
  const ragan = config.objective.name === 'ragan';
  const dr = ragan && !second ? tf.tidy(() => discForward(judge, real, fwd)) : tf.zeros([real.shape[0]]);
  // Feature matching (Salimans et al. 2016): D's mean features on this real batch, a constant for G.
  const fm = config.objective.featureMatching;
  const fReal = fm > 0 && !second ? tf.tidy(() => discFeatures(judge, real)) : null;
  // SRGAN's stages above the first: G's loss is its content loss plus a weighted adversarial term (models/srgan.ts).
  const sr = config.generator.family === 'srgan' && ctx.stage.condition === 'real' && cond ? config.families.srgan : null;
  const trained = new Map(ctx.stage.trained.map((n) => [n, learner.vars.get(n)!]));
  const loss = () => {
    const xs = learnerForward(learner, shardRows(ctx.shard, z), ctx.stage.level, { real: cond ?? undefined, alpha }).x;
    if (applyD && !applyD()) throw ABANDONED;
    // Second order: D's k steps taken here, inside G's tape, on these samples: G's gradient flows through them.
    const j = second ? discAt(disc, unrollDisc(ctx, real, fakeIn(xs), fwd)) : judge;
    const x = stageInput(ctx, xs, off);
    const xin = pack(instanceNoise(ctx, aug ? aug(x) : x, 'g'), m) as tf.Tensor4D;
    let adv = obj.g((second && ragan ? discForward(j, real, fwd) : dr) as tf.Tensor1D, discForward(j, xin, fwd));
    if (fm > 0) adv = tf.add(adv, tf.mul(fm, featureMatchingLoss(fReal ?? discFeatures(j, real), discFeatures(j, xin)))) as tf.Scalar;
    if (sr) {
      const l = ctx.stage.level - 1;
      const content = srganContentLoss(xs[l], cond![l], (y) => discCodes(disc, y), sr);
      adv = tf.add(tf.mul(sr.adversarial, adv), content) as tf.Scalar;
    }
    return withAverage(ctx, adv, ctx.hist?.g, trained);
  };
  return { loss, dispose: () => tf.dispose([z, dr, ...(unrolled ?? []), ...(fReal ? [fReal] : [])]) };
}

/**
 * One G update against the current D (gObjective). `applyD`: the step's last D update, applied after G's
 * forward pass (which does not read D) and before D judges it, so that replicas wait for each other's D
 * gradients while they compute; null when the step is abandoned there.
 */
function gUpdate(ctx: StepContext, real: tf.Tensor4D, applyD: (() => boolean) | null, cond: tf.Tensor4D[] | null = null): tf.Scalar | null {
  const { config, learner } = ctx;
  const trained = new Map(ctx.stage.trained.map((n) => [n, learner.vars.get(n)!]));
  const objective = gObjective(ctx, real, applyD, cond);
  let value: tf.Scalar;
  let grads: Record<string, tf.Tensor>;
  try {
    ({ value, grads } = namedGrads(trained, objective.loss));
  } catch (e) {
    if (e === ABANDONED) return null;
    throw e;
  } finally {
    objective.dispose();
  }
  const mean = ctx.shard ? startReduce(ctx.shard, 'G', trained, grads, value, null)() : null;
  const pending = ctx.optG.propose(mean ? mean.grads : grads);
  tf.dispose(Object.values(grads));
  if (!ctx.guard || ctx.guard.admit('G', mean ? mean.loss : value, pending)) {
    ctx.optG.commit(pending);
    ctx.hist?.g.record(trained);
    if (ctx.ema) updateEma(ctx.ema, learner, ctx.stage.trained, emaDecay(config.train.emaBeta, (ctx.stageStep ?? 0) + 1));
  } else ctx.optG.discard(pending);
  if (!mean) return value;
  value.dispose();
  return tf.scalar(mean.loss);
}

/**
 * The EMA decay after the t-th G step of a stage: min(beta, (1 + t) / (10 + t)), the warm-up of
 * TensorFlow's ExponentialMovingAverage(num_updates). The EMA restarts at every stage from the weights at
 * the stage start; with a constant beta = 0.999, 0.999^1500 = 22% of it would still be those (random)
 * weights after 1,500 steps. With the warm-up the start weights weigh (1/10)(2/11)...: nothing, after a
 * few hundred steps.
 */
export function emaDecay(beta: number, t: number): number {
  return Math.min(beta, (1 + t) / (10 + t));
}

/**
 * ema <- beta ema + (1 - beta) w for the named variables: one JS loop per variable instead of three
 * kernels, rounding to float32 after each operation as those kernels did (so runs are bit-identical to
 * the tensor version; test/adam.test.ts).
 */
export function updateEma(ema: Learner, learner: Learner, names: string[], beta: number): void {
  const f = Math.fround;
  const b = f(beta);
  const a = f(1 - beta);
  for (const n of names) {
    const e = ema.vars.get(n)!;
    const out = new Float32Array(e.size);
    const ev = floatsOf(e);
    const wv = floatsOf(learner.vars.get(n)!);
    for (let i = 0; i < out.length; i++) out[i] = f(b * ev[i]) + f(a * wv[i]);
    const t = tf.tensor(out, e.shape, 'float32');
    e.assign(t);
    t.dispose();
  }
}

/**
 * Bias homeostasis after the step's G update (generator.homeostasis; src/models/calibrate.ts): on every
 * `every`-th G step of a stage, each hidden layer the stage trains (from level `from` up) gets its biases re-set to the quantile
 * that keeps a fraction `active` of its units non-zero. The latents come from a stream keyed by the
 * resolution and the stage step, so every replica computes the same biases from its identical weights and
 * a resume repeats them, with no generator state to checkpoint.
 */
function homeostasis(ctx: StepContext): void {
  const h = ctx.config.generator.homeostasis;
  const t = (ctx.stageStep ?? 0) + 1;
  if (!(h.active > 0) || t % h.every !== 0) return;
  const { params } = ctx.learner;
  params.shape.resolutions.forEach((r, l) => {
    if (l + 1 < h.from || !ctx.stage.trained.includes(gName(r, 'bias'))) return;
    const z = sampleLatents(new Rng(ctx.config.seed, `homeostasis.r${r}.t${t}`), h.samples, params.shape.zDim);
    try {
      retargetBias(params, l, z, h.active);
    } finally {
      z.dispose();
    }
  });
}

/**
 * Runs one step (dSteps D updates, one G update). Reads the losses back only when `record` is true.
 * With a guard that abandons on failure, a rejected update ends the step early (returns null).
 */
export function trainStep(ctx: StepContext, record: boolean): StepLosses | null {
  const { dSteps } = ctx.config.train;
  // Packing and unrolling regroup or reread the whole batch, which a replica holds only rows of.
  if (ctx.shard && (ctx.config.discriminator.pack > 1 || ctx.config.train.unroll > 0)) {
    throw new UserError('discriminator.pack and train.unroll (first or second order) need the whole batch in one process: train with --workers 1.');
  }
  // Historical averaging's running means live in the trainer's session, which replicas do not share.
  if (ctx.shard && ctx.config.train.historicalAveraging > 0) throw new UserError('train.historicalAveraging keeps its running means in one process: train with --workers 1.');
  // A replica applies the last D update inside the G update (see gUpdate), except for RaGAN, whose G
  // loss judges real data with the updated D first.
  const deferLast = ctx.shard !== undefined && ctx.config.objective.name !== 'ragan';
  let last: DUpdate | null = null;
  const drop = (l: DUpdate) => tf.dispose([l.real, ...(l.cond ?? []), ...(l.loss ? [l.loss] : []), ...(l.penalty ? [l.penalty] : [])]);
  for (let k = 0; k < dSteps; k++) {
    if (last) drop(last);
    last = dUpdate(ctx, record && k === dSteps - 1, k);
    if (deferLast && k === dSteps - 1) break;
    if (!last.apply()) {
      drop(last);
      return null;
    }
  }
  const lossG = gUpdate(ctx, last!.real, deferLast ? last!.apply : null, last!.cond);
  if (!lossG) {
    drop(last!);
    return null;
  }
  homeostasis(ctx);
  let out: StepLosses | null = null;
  if (record) out = { lossD: last!.loss!.dataSync()[0], lossG: lossG.dataSync()[0], penalty: last!.penalty ? last!.penalty.dataSync()[0] : 0 };
  tf.dispose([lossG, last!.real, ...(last!.cond ?? []), ...(last!.loss ? [last!.loss] : []), ...(last!.penalty ? [last!.penalty] : [])]);
  return out;
}
