/**
 * The training config: one typed defaults object (the schema), named presets, and the checks that
 * mergeStrict cannot do (integers, ranges, a consistent resolution schedule, a dataset). Resolution
 * order: defaults <- preset <- config file (over its `extends` bases) <- --set overrides <- --seed. Choices
 * are documented in docs/training.md.
 */
import { basename } from 'node:path';
import { shapeProblems } from '../models/generator.js';
import { dcganProblems, type DcganShape } from '../models/dcgan.js';
import { OBJECTIVES } from './objectives.js';
import { GUARD_ACTIONS } from './guard.js';
import { applySets, choiceIn, mergeStrict, readJsonWithBases } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { AUGMENTS, type Augment } from './augment.js';
import { memoryProblem } from './memory.js';
import { DATASET_DEFAULTS } from '../data/config.js';

export const MODES = ['layerwise', 'random-lower', 'end-to-end', 'oracle-lower'] as const;
export const HEADS = ['linear', 'tanh'] as const;
/** Model families: the FSR learner, or a DCGAN (src/models/dcgan.ts, the benchmarks' comparison network). */
export const FAMILIES = ['fsr', 'dcgan'] as const;
export type TrainMode = (typeof MODES)[number];

/**
 * The choice fields and their only values, checked by mergeStrict when a config is resolved. Each field's
 * type in DEFAULT_CONFIG is derived from its list here (`choice`), so the type and the table cannot disagree.
 */
const CHOICES = {
  'config.backend': ['auto', 'node-gpu', 'node', 'wasm', 'cpu'],
  'config.generator.head': HEADS,
  'config.generator.family': FAMILIES,
  'config.objective.name': OBJECTIVES,
  'config.train.mode': MODES,
  'config.guard.onNonFinite': GUARD_ACTIONS,
} as const;
const choice = choiceIn(CHOICES);
/** A list default typed by its allowed elements; configProblems checks the elements (mergeStrict cannot: the default is empty). */
const listOf = <T>(_allowed: readonly T[]): T[] => [];

export const DEFAULT_CONFIG = {
  /** Run name (default: the config file's name); the default output folder is runs/<name>-<timestamp>. */
  name: 'run',
  /** A named preset applied under this file ('' = none); see PRESETS. */
  preset: '',
  /** The data: a teacher config path (experiments/teacher-small.json), 'emoji', or an image folder. */
  data: '',
  /** One seed fixes data, init, latents and sampling (independent Rng streams). */
  seed: 0,
  /** tfjs backend request (auto, node-gpu, node, wasm, cpu); the resolved name is recorded. */
  backend: choice('config.backend', 'auto'),
  /**
   * Options of an image dataset (docs/data.md; ignored for a teacher): the fields of src/data/config.ts
   * that a run may choose. Resolutions come from generator.resolutions and the seed from `seed`.
   */
  dataset: {
    heldOutFraction: DATASET_DEFAULTS.heldOutFraction,
    background: [...DATASET_DEFAULTS.background],
    emoji: { skinTones: DATASET_DEFAULTS.emoji.skinTones, excludeCategories: [...DATASET_DEFAULTS.emoji.excludeCategories] },
    folder: { recursive: DATASET_DEFAULTS.folder.recursive },
    fashionMnist: { ...DATASET_DEFAULTS.fashionMnist },
    cacheDir: DATASET_DEFAULTS.cacheDir,
  },
  generator: {
    /**
     * 'fsr' (the learner of docs/theory.md) or 'dcgan' (src/models/dcgan.ts: train.mode end-to-end on the
     * top resolution, generator.channels its widths, discriminator.widths D's; no R1, WGAN-GP, spectral
     * norm, crops, EMA or training-time analysis).
     */
    family: choice('config.generator.family', 'fsr'),
    /** r_1 < ... < r_L, doubling; must equal the data's resolutions. */
    resolutions: [4, 8, 16],
    /** Hidden channels C_l (>= the teacher's when the data is synthetic). */
    channels: [32, 32, 32],
    zDim: 32,
    kernel: 4,
    patch: 2,
    init: {
      gain: Math.SQRT2,
      outGain: 1,
      bias: 0,
      /**
       * Calibrate each hidden layer when its training starts (src/models/calibrate.ts): pre-activations
       * rescaled to unit variance over `calibrationSamples` latents, biases set so that a fraction
       * `active` of them is non-zero. false = the plain init above (gain, bias).
       */
      calibrate: true,
      active: 0.2,
      calibrationSamples: 256,
    },
    /** Output heads: 'linear' (docs/theory.md section 1, x = A y) or 'tanh' (bounded, for real images; docs/findings.md). */
    head: choice('config.generator.head', 'linear'),
    /** Heads paint detail over the upsampled level below (LAPGAN-style residual; docs/findings.md). false = the x_l = A_l y of docs/theory.md section 1. */
    skip: false,
  },
  discriminator: {
    /** Channels per conv; layer 1 has the patch geometry of G's head (kernel = stride = patch). */
    widths: [64, 64],
    kernel: 3,
    leak: 0.2,
    spectralNorm: false,
    powerIterations: 1,
    gain: 1,
    /** D sees a random crop of this size (co-located across x_{l-1}, x_l); 0 = the whole image. */
    crop: 0,
    /** Stride of D's first (patch) layer; 0 = the patch size (non-overlapping, the geometry of docs/theory.md section 2). */
    patchStride: 0,
    /**
     * DiffAugment policies applied to every image D sees, real and generated, in D's and G's updates
     * (src/train/augment.ts; Zhao et al. 2020): any of 'color', 'translation', 'cutout'. [] = off.
     */
    augment: listOf<Augment>(AUGMENTS),
    /** Augment only the stages whose resolution is at least this (0 = every stage): a shift of r/8 is one pixel at 8x8. */
    augmentFrom: 0,
  },
  objective: {
    name: choice('config.objective.name', 'ns'),
    /** R1 weight gamma (0 = off): gamma/2 E||grad D(real)||^2. */
    r1: 0,
    /**
     * Lazy R1 (Karras et al. 2020, StyleGAN2): the penalty on every r1Every-th D step only, weighted by
     * r1Every so that its average is unchanged; R1's double backprop then costs 1/r1Every of it.
     */
    r1Every: 1,
    /** WGAN-GP weight lambda (objective wgan-gp only). */
    gpLambda: 10,
    /** WGAN weight clipping bound c (objective wgan only). */
    clip: 0.01,
  },
  train: {
    mode: choice('config.train.mode', 'layerwise'),
    batch: 32,
    /** G steps per stage (each preceded by dSteps D steps). */
    steps: 200,
    /** Per-level override of steps, one entry per resolution ([] = use steps everywhere). */
    stepsByLevel: [] as number[],
    dSteps: 1,
    lrG: 0.0002,
    lrD: 0.0002,
    beta1: 0.5,
    beta2: 0.999,
    /**
     * EMA of G's weights (0 = off): ema <- b_t ema + (1 - b_t) w after the t-th G step of a stage, with
     * b_t = min(emaBeta, (1 + t) / (10 + t)) so that the initial weights fade at once (docs/training.md).
     */
    emaBeta: 0,
    /**
     * With an EMA: at the end of each stage its trained layers take their EMA values, so the layers later
     * stages freeze and build on are the averaged ones, not the last noisy iterate (docs/training.md).
     */
    emaFreeze: true,
    /** oracle-lower mode: the level trained (1-based; 0 = the top level) on the teacher's own layers below it. */
    level: 0,
  },
  log: {
    /** Write a metrics.jsonl line every this many steps. */
    every: 10,
    /** Print a progress line every this many steps when stdout is not a TTY. */
    progressEvery: 50,
    checkpointEvery: 200,
    sampleEvery: 200,
    /** Images per sample grid (fixed latents). */
    samples: 16,
  },
  /** Measurements logged into metrics.jsonl while training (src/train/analysis-hooks.ts, docs/figures.md). */
  analysis: {
    /** Every this many G steps (0 = off). */
    every: 0,
    /** Held-out real images and generated images per measurement (drawn once, from their own Rng streams). */
    samples: 256,
    /** Patch-moment relative errors per order and resolution, with a noise floor (docs/theory.md 3.2). */
    moments: true,
    /** The stage's D first layer against G's head at its resolution, with a random reference (docs/theory.md 3.3). */
    alignment: true,
  },
  /** The divergence guard (src/train/guard.ts, docs/reliability.md): every update is checked for NaN/Inf before it is applied. */
  guard: {
    /** A non-finite loss or updated weight: 'rollback' (to the newest checkpoint, lower lr), 'stop', 'skip' (drop that update), 'off' (no checks). */
    onNonFinite: choice('config.guard.onNonFinite', 'rollback'),
    /** Rollback: both learning rates are multiplied by this, once per rollback, for the rest of the run. */
    lrFactor: 0.5,
    /** Rollbacks allowed in a run; one more divergence stops it. */
    maxRollbacks: 3,
    /** 'skip': steps in a row with a dropped update before the run stops. */
    maxSkips: 10,
  },
};

export type TrainConfig = typeof DEFAULT_CONFIG;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** Named presets: common optimiser/objective recipes from the GAN literature, and the smoke budget. */
export const PRESETS: Record<string, DeepPartial<TrainConfig>> = {
  // Radford et al. 2016.
  dcgan: { objective: { name: 'ns' }, train: { lrG: 0.0002, lrD: 0.0002, beta1: 0.5, beta2: 0.999, dSteps: 1 } },
  // Arjovsky et al. 2017 (Adam with beta1 = 0 in place of RMSProp).
  wgan: { objective: { name: 'wgan', clip: 0.01 }, train: { lrG: 0.00005, lrD: 0.00005, beta1: 0, beta2: 0.9, dSteps: 5 } },
  // Gulrajani et al. 2017.
  'wgan-gp': { objective: { name: 'wgan-gp', gpLambda: 10 }, train: { lrG: 0.0001, lrD: 0.0001, beta1: 0, beta2: 0.9, dSteps: 5 } },
  // Heusel et al. 2017: D learns faster than G.
  ttur: { train: { lrG: 0.0001, lrD: 0.0004, beta1: 0, beta2: 0.9 } },
  // Miyato et al. 2018.
  sngan: { objective: { name: 'hinge' }, discriminator: { spectralNorm: true }, train: { lrG: 0.0002, lrD: 0.0002, beta1: 0, beta2: 0.9 } },
  smoke: { train: { batch: 16, steps: 30 }, log: { every: 5, checkpointEvery: 30, sampleEvery: 30 } },
};

const ALLOWED = { ...CHOICES, 'config.preset': ['', ...Object.keys(PRESETS)] };

export interface ResolveOptions {
  /** `key.path=value` overrides (--set). */
  sets?: string[];
  /** Overrides config.seed (--seed). */
  seed?: number;
  /** The config file, for the default name. */
  file?: string;
}

/** Resolves a user config object (parsed JSON) to a full, checked TrainConfig. */
export function resolveConfig(user: unknown, opts: ResolveOptions = {}): TrainConfig {
  if (user === null || typeof user !== 'object' || Array.isArray(user)) throw new UserError('the config must be a JSON object.');
  let raw = applySets(user as Record<string, unknown>, opts.sets ?? []);
  if (Object.prototype.hasOwnProperty.call(raw, 'extends')) {
    throw new UserError('config.extends names base files, which are merged when a config file is read (readConfigFile): put "extends" in the file, not in --set or an object.');
  }
  if (opts.seed !== undefined) raw = { ...raw, seed: opts.seed };
  if (raw.name === undefined && opts.file) raw = { ...raw, name: basename(opts.file).replace(/\.json$/, '') };
  const presetName = raw.preset;
  let base = DEFAULT_CONFIG;
  if (presetName !== undefined && presetName !== '') {
    if (typeof presetName !== 'string' || !(presetName in PRESETS)) {
      throw new UserError(`config.preset must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(presetName).slice(0, 80)}.`);
    }
    base = mergeStrict(DEFAULT_CONFIG, PRESETS[presetName], 'config', ALLOWED);
  }
  const cfg = mergeStrict(base, raw, 'config', ALLOWED);
  const problems = configProblems(cfg);
  if (problems.length === 1) throw new UserError(problems[0]);
  if (problems.length) {
    const more = problems.length > 8 ? [`... and ${problems.length - 8} more`] : [];
    // One line, as every UserError (issue 22): the problems numbered, separated by semicolons.
    throw new UserError(`the config has ${problems.length} problems: ${[...problems.slice(0, 8), ...more].map((s, i) => `(${i + 1}) ${s.replace(/\.$/, '')}`).join('; ')}.`);
  }
  return cfg;
}

/**
 * Reads a training config file with its `extends` bases merged in (docs/training.md): the plain object
 * resolveConfig takes. Every reader of a training config file (fsrgan train, reproduce's plan, the quality
 * bench) goes through here. A base's own keys are checked against the schema first, so that an unknown
 * key or a wrong type in a base names that file.
 */
export function readConfigFile(file: string): Promise<Record<string, unknown>> {
  return readJsonWithBases(file, 'training config', (own, base, trail) => {
    try {
      mergeStrict(DEFAULT_CONFIG, own, 'config', ALLOWED);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`in base config '${base}' (${trail.join(' -> ')}): ${e.message}`);
      throw e;
    }
  });
}

/** A training config file read (readConfigFile) and resolved; its name defaults to the file's. */
export async function loadConfigFile(file: string, opts: Omit<ResolveOptions, 'file'> = {}): Promise<TrainConfig> {
  return resolveConfig(await readConfigFile(file), { ...opts, file });
}

/** Everything wrong with a merged config, one sentence each naming the field (empty when valid). */
export function configProblems(c: TrainConfig): string[] {
  const p: string[] = [];
  // Elements of a list whose default is empty (stepsByLevel) reach here unchecked by mergeStrict: show them as JSON, cut short.
  const show = (v: unknown) => {
    const s = typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  };
  const int = (v: number, field: string, min: number) => {
    if (!Number.isInteger(v) || v < min) p.push(`config.${field} must be an integer >= ${min}, got ${show(v)}.`);
  };
  const inRange = (v: number, field: string, lo: number, hi: number, hiOpen = true) => {
    if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) p.push(`config.${field} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${show(v)}.`);
  };
  if (c.data.trim() === '') {
    p.push("config.data is required: name a teacher config (e.g. experiments/teacher-small.json), 'emoji', or an image folder.");
  }
  int(c.seed, 'seed', 0);
  // The dataset section is read only for image data, but a value out of range is wrong for any data.
  inRange(c.dataset.heldOutFraction, 'dataset.heldOutFraction', 0, 1);
  if (c.seed > 0xffffffff) p.push(`config.seed must be at most 4294967295 (2^32 - 1; the Rng takes 32 bits), got ${show(c.seed)}.`);
  const g = c.generator;
  if (g.family === 'dcgan') p.push(...dcganConfigProblems(c));
  else p.push(...shapeProblems({ ...g, head: undefined, skip: undefined, imageChannels: 3 }, 'config.generator').map((s) => `${s}.`));
  g.resolutions.forEach((r, i) => int(r, `generator.resolutions[${i}]`, 1));
  g.channels.forEach((ch, i) => int(ch, `generator.channels[${i}]`, 1));
  int(g.zDim, 'generator.zDim', 1);
  int(g.patch, 'generator.patch', 1);
  int(g.kernel, 'generator.kernel', 1);
  if (!(g.init.active > 0 && g.init.active < 1)) p.push(`config.generator.init.active must be in (0, 1), got ${show(g.init.active)}.`);
  int(g.init.calibrationSamples, 'generator.init.calibrationSamples', 1);
  if (g.patch >= 1 && g.resolutions.some((r) => r % g.patch !== 0)) p.push(`config.generator.patch = ${g.patch} must divide every resolution.`);
  const d = c.discriminator;
  if (d.widths.length < 1) p.push('config.discriminator.widths must have at least one entry.');
  d.widths.forEach((w, i) => int(w, `discriminator.widths[${i}]`, 1));
  int(d.kernel, 'discriminator.kernel', 1);
  int(d.powerIterations, 'discriminator.powerIterations', 1);
  inRange(d.leak, 'discriminator.leak', 0, 1);
  int(d.crop, 'discriminator.crop', 0);
  int(d.patchStride, 'discriminator.patchStride', 0);
  int(d.augmentFrom, 'discriminator.augmentFrom', 0);
  if (!Array.isArray(d.augment)) p.push(`config.discriminator.augment must be a list of ${AUGMENTS.join(', ')} (or []), got ${show(d.augment)}.`);
  else d.augment.forEach((a, i) => {
    if (!AUGMENTS.includes(a)) p.push(`config.discriminator.augment[${i}] = ${show(a)} is not a policy; use ${AUGMENTS.join(', ')}.`);
  });
  if (d.patchStride > 0 && g.resolutions.some((r) => (r - g.patch) % d.patchStride !== 0)) p.push(`config.discriminator.patchStride = ${d.patchStride} must divide every resolution minus the patch size (${g.patch}).`);
  if (d.crop > 0 && d.crop % g.patch !== 0) p.push(`config.discriminator.crop = ${d.crop} must be a multiple of config.generator.patch = ${g.patch} (or 0 for whole images).`);
  const t = c.train;
  int(t.batch, 'train.batch', 1);
  int(t.steps, 'train.steps', 1);
  int(t.dSteps, 'train.dSteps', 1);
  int(t.level, 'train.level', 0);
  if (t.level > g.resolutions.length) p.push(`config.train.level must be between 0 and ${g.resolutions.length} (the number of resolutions), got ${t.level}.`);
  if (t.mode === 'oracle-lower' && !/\.json$/i.test(c.data)) p.push("config.train.mode 'oracle-lower' needs a synthetic teacher as config.data: it copies the teacher's own lower layers into the learner.");
  if (t.stepsByLevel.length !== 0 && t.stepsByLevel.length !== g.resolutions.length) {
    p.push(`config.train.stepsByLevel must be empty or have one entry per resolution (${g.resolutions.length}), got ${t.stepsByLevel.length}.`);
  }
  t.stepsByLevel.forEach((s, i) => int(s, `train.stepsByLevel[${i}]`, 1));
  for (const k of ['lrG', 'lrD'] as const) if (!(t[k] > 0)) p.push(`config.train.${k} must be > 0, got ${t[k]}.`);
  inRange(t.beta1, 'train.beta1', 0, 1);
  inRange(t.beta2, 'train.beta2', 0, 1);
  inRange(t.emaBeta, 'train.emaBeta', 0, 1);
  int(c.objective.r1Every, 'objective.r1Every', 1);
  if (!(c.objective.r1 >= 0)) p.push(`config.objective.r1 must be >= 0, got ${c.objective.r1}.`);
  if (!(c.objective.gpLambda >= 0)) p.push(`config.objective.gpLambda must be >= 0, got ${c.objective.gpLambda}.`);
  if (!(c.objective.clip > 0)) p.push(`config.objective.clip must be > 0, got ${c.objective.clip}.`);
  const l = c.log;
  for (const k of ['every', 'progressEvery', 'checkpointEvery', 'sampleEvery', 'samples'] as const) int(l[k], `log.${k}`, 1);
  int(c.analysis.every, 'analysis.every', 0);
  // The noise floor compares two disjoint halves of the held-out images.
  int(c.analysis.samples, 'analysis.samples', 4);
  if (!(c.guard.lrFactor > 0 && c.guard.lrFactor <= 1)) p.push(`config.guard.lrFactor must be in (0, 1], got ${c.guard.lrFactor}.`);
  int(c.guard.maxRollbacks, 'guard.maxRollbacks', 0);
  int(c.guard.maxSkips, 'guard.maxSkips', 1);
  // Only a config whose fields are valid can be sized (src/train/memory.ts; its terms are the FSR learner's).
  if (!p.length && g.family === 'fsr') {
    const m = memoryProblem(c);
    if (m) p.push(m);
  }
  return p;
}

/** The DCGAN of a config with generator.family 'dcgan' (the top resolution; src/models/dcgan.ts). */
export function dcganShape(c: TrainConfig, imageChannels = 3): DcganShape {
  const g = c.generator;
  return { resolution: g.resolutions[g.resolutions.length - 1], resolutions: [...g.resolutions], imageChannels, zDim: g.zDim, gWidths: [...g.channels], dWidths: [...c.discriminator.widths], leak: c.discriminator.leak };
}

/** What a dcgan config may not use: second derivatives (its fused ops have first ones), and FSR-only parts. */
function dcganConfigProblems(c: TrainConfig): string[] {
  const p = dcganProblems(dcganShape(c)).map((s) => `config: ${s}.`);
  const no = (bad: boolean, what: string) => bad && p.push(`config.generator.family 'dcgan' ${what}.`);
  no(c.train.mode !== 'end-to-end', `trains end to end: set train.mode to 'end-to-end', got '${c.train.mode}'`);
  no(c.objective.r1 > 0 || c.objective.name === 'wgan-gp', 'has no second derivatives: objective.r1 must be 0 and the objective not wgan-gp');
  no(c.discriminator.spectralNorm || c.discriminator.crop > 0 || c.discriminator.patchStride > 0, 'has no spectral norm, crops or patch stride (discriminator.spectralNorm, crop, patchStride)');
  no(c.train.emaBeta > 0, 'keeps no EMA: train.emaBeta must be 0');
  no(c.analysis.every > 0, "has none of the FSR measurements: analysis.every must be 0");
  return p;
}

/** G steps of the stage that generates level index l (0-based). */
export function stepsForLevel(c: TrainConfig, l: number): number {
  return c.train.stepsByLevel.length ? c.train.stepsByLevel[l] : c.train.steps;
}
