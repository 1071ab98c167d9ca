/**
 * The training config: one typed defaults object (the schema), named presets, and the checks that
 * mergeStrict cannot do (integers, ranges, a consistent resolution schedule, a dataset). Resolution
 * order: defaults <- preset <- config file (over its `extends` bases) <- --set overrides <- --seed. Choices
 * are documented in docs/training.md.
 */
import { PRESETS } from './presets.js';
import { basename } from 'node:path';
import { OBJECTIVES } from './objectives.js';
import { GUARD_ACTIONS } from './guard.js';
import { applySets, choiceIn, mergeStrict, readJsonWithBases } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { AUGMENTS, type Augment } from './augment.js';
import { DATASET_DEFAULTS } from '../data/config.js';
import { recipeProblems } from './recipe-checks.js';
import { QUALITY_METRICS, type QualityMetric } from './quality-hooks.js';
import { configProblems, dcganShape } from './config-problems.js';
import { COND_FAMILIES, D_CONDITIONS } from '../models/conditional.js';
import { GENERATOR_CONDITIONS } from '../models/class-shift.js';

// config-problems.ts imports only types from here: a value cycle would break tslab's CommonJS loader (notebooks).
export { configProblems, dcganShape };
export { PRESETS };

export const MODES = ['layerwise', 'random-lower', 'end-to-end', 'oracle-lower'] as const;
export const HEADS = ['linear', 'tanh'] as const;
export const SKIP_UPSAMPLES = ['nearest', 'bilinear', 'edge'] as const;
/**
 * Model families: the FSR learner, a DCGAN (src/models/dcgan.ts), the multi-resolution families (LAPGAN, ProGAN,
 * stacked, SRGAN: src/train/families.ts), SAGAN and StyleGAN (src/train/families-style.ts), or the conditional
 * ones (CGAN, ACGAN, text-to-emoji: src/models/conditional.ts); docs/families.md, docs/conditional.md.
 */
export const FAMILIES = ['fsr', 'dcgan', 'lapgan', 'progan', 'stacked', 'srgan', 'sagan', 'stylegan', ...COND_FAMILIES] as const;
export type TrainMode = (typeof MODES)[number];

/**
 * The choice fields and their only values, checked by mergeStrict when a config is resolved. Each field's
 * type in DEFAULT_CONFIG is derived from its list here (`choice`), so the type and the table cannot disagree.
 */
const CHOICES = {
  'config.backend': ['auto', 'node-gpu', 'node', 'wasm', 'cpu'],
  'config.generator.head': HEADS,
  'config.generator.skipUpsample': SKIP_UPSAMPLES,
  'config.generator.family': FAMILIES,
  'config.generator.condition': GENERATOR_CONDITIONS,
  'config.objective.name': OBJECTIVES,
  'config.train.mode': MODES,
  'config.guard.onNonFinite': GUARD_ACTIONS,
  'config.families.conditional.dCondition': D_CONDITIONS,
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
    /** How the skip upsamples the level below: 'nearest' (avgpool inverts it exactly), 'bilinear' (smooth) or 'edge' (bilinear between close colours, nearest across edges; docs/findings.md). */
    skipUpsample: choice('config.generator.skipUpsample', 'nearest'),
    /**
     * Bias homeostasis (src/models/calibrate.ts retargetBias; docs/findings.md): every `every` G steps of a
     * stage, each hidden layer it trains gets b_l = the (1 - active) quantile of its pre-activations over
     * `samples` latents, so each channel is non-zero on a fraction `active` of positions. 0 = off (b_l
     * learned by gradient like every other weight). Departs from plain gradient descent-ascent on b_l only.
     * `from`: the first level (1-based) it acts on; on images with a tanh head a silent code paints grey at
     * the first level but "no detail" above it with a skip (docs/findings.md), so images start it at 2.
     */
    homeostasis: { active: 0, every: 25, samples: 256, from: 1 },
    /** DeLiGAN's mixture latent at layer 1 of the fsr learner (src/models/layers/latent-mixture.ts): K `components` (0 = off, z ~ N(0, I)), each a learned mean picked by z_0; `spread` scales the Gaussian around it. */
    mixture: { components: 0, spread: 0.2 },
    /**
     * Recipes on G (docs/recipes.md; issue 19), all off by default. spectralNorm: every weight of G divided
     * by its top singular value (Miyato et al. 2018, as SAGAN does on G), sigma by one power iteration per
     * G step with u, v persisted (`g.*.sn.u/v`, only on the weights the stage trains); oracle-lower's
     * teacher layers stay unnormalised. With it the weight rescale of init.calibrate sets only the channels'
     * relative scales (W / sigma is scale-free; their common scale is sigma's) and the bias quantile is taken
     * on the normalised pre-activations. pixelNorm: ProGAN's pixelwise feature normalisation after each
     * hidden layer. equalizedLr: weights stored N(0, 1) and scaled by He's constant at run time (Karras et
     * al. 2018). virtualBatchNorm: each hidden layer normalised with the statistics of a reference batch of
     * latents fixed at the start (Salimans et al. 2016). All act in the 2-D lab's MLP G (fsrgan toy) and in
     * the FSR learner (generator.ts); the other families refuse them (configProblems).
     */
    spectralNorm: false,
    pixelNorm: false,
    /**
     * The FSR learner only: a SAGAN self-attention block (Zhang et al. 2019) on the hidden layer s_l of this
     * resolution r_l (0 = none), trained with its layer (docs/families.md). The sagan family places its own.
     */
    attention: 0,
    equalizedLr: false,
    virtualBatchNorm: false,
    /** 'class' / 'text': the fsr learner given each image's class / name embedding in every layer (E_l c) and a projection D per stage (docs/conditional.md). */
    condition: choice('config.generator.condition', 'none'),
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
    /**
     * Instance noise (Sonderby et al. 2017): N(0, sigma^2) added to every input D sees, real and generated,
     * sigma annealed linearly from this value to 0 over each stage (0 = off). In the data's units.
     */
    instanceNoise: 0,
    /** PacGAN (Lin et al. 2018): D judges this many samples concatenated along channels (1 = off); divides train.batch. */
    pack: 1,
    /** Minibatch standard deviation (Karras et al. 2018): group size of the extra stddev feature before D's head (0 = off). */
    minibatchStddev: 0,
    /** Minibatch discrimination (Salimans et al. 2016): kernels B of the cross-sample layer before D's head (0 = off). */
    minibatchKernels: 0,
    /** Dimension C of each minibatch-discrimination kernel (Salimans et al.'s code: 5). */
    minibatchKernelDims: 5,
    /** Equalised learning rate in D (Karras et al. 2018): weights stored N(0, 1), scaled at run time (2-D lab and the FSR D). */
    equalizedLr: false,
    /** D's first layer also sees |x(i,j+1) - x(i,j)| and |x(i+1,j) - x(i,j)| per channel (layers/neighbour-diffs.ts, docs/findings.md). */
    neighbourDiffs: false,
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
    /** Drift penalty epsilon (0 = off; ProGAN, Karras et al. 2018: 0.001): epsilon E[D(real)^2] added to D's loss, keeps a WGAN critic's output near 0. */
    drift: 0,
    /** DRAGAN weight lambda (0 = off; Kodali et al. use 10): lambda E (||grad D(x + delta)|| - 1)^2 at perturbed real x. */
    dragan: 0,
    /** DRAGAN's perturbation scale c: delta ~ N(0, (c std(x))^2) per coordinate, std over the real batch. */
    draganNoise: 0.5,
    /** Feature matching weight (0 = off; Salimans et al. 2016): G's loss += w ||E f(real) - E f(G(z))||^2, f = D's last hidden features. */
    featureMatching: 0,
    /** One-sided label smoothing s (0 = off; Salimans et al. use 0.1): D's real targets 1 - s. Objectives ns, minimax, lsgan. */
    labelSmoothing: 0,
    /** Noisy labels w (0 = off): real targets ~ U[1 - s - w, 1 - s], fake ~ U[0, w]. Objectives ns, minimax, lsgan. */
    labelNoise: 0,
    /** Flipped labels: probability that a D target t becomes 1 - t (0 = off). Objectives ns, minimax, lsgan. */
    labelFlip: 0,
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
    /**
     * Unrolled GAN (Metz et al. 2017): G's loss is taken against D after this many SGD steps of step
     * unrollLr on D's loss (0 = off); D's own update is unchanged. unrollSecondOrder: G's gradient also
     * flows through those steps (the paper's full gradient), else only the first-order term.
     */
    unroll: 0,
    unrollLr: 0.05,
    unrollSecondOrder: false,
    /** Historical averaging weight lambda (0 = off; Salimans et al. 2016): lambda ||theta - mean of past theta||^2 on G and D. */
    historicalAveraging: 0,
  },
  /** Options of the multi-resolution model families (generator.family; src/train/families.ts, docs/families.md). */
  families: {
    /** LAPGAN: channels of the noise map each conditional level takes besides u(x_{l-1}) (the paper's 1). */
    lapgan: { noiseChannels: 1 },
    /** Stacked GAN: channels of the noise map stage 2 takes besides stage 1's image. */
    stacked: { noiseChannels: 1 },
    /** ProGAN: fraction of each stage above the first over which the new blocks fade in; minibatch-stddev group size. */
    progan: { fade: 0.5, stddevGroup: 4 },
    /** SRGAN: weights of G's adversarial loss, pixel MSE and feature MSE (in D's first-layer codes) against the real x_l. */
    srgan: { adversarial: 0.001, pixel: 1, feature: 0.1 },
    /** SAGAN: feature side of the self-attention block in G and in D (0 = none); spectral norm on every weight of both (the paper's). */
    sagan: { attentionG: 8, attentionD: 8, spectralNorm: true },
    /** StyleGAN: dense layers of the mapping network z -> w (the paper's 8) and their learning-rate multiplier (0.01). */
    stylegan: { mappingLayers: 4, lrMul: 0.01 },
    /**
     * The conditional families cgan, acgan and text2img (src/models/conditional.ts, docs/conditional.md).
     * dCondition: how CGAN's and text2img's D sees c ('projection', Miyato & Koyama 2018, or 'concat',
     * Reed et al.'s depth concatenation; ACGAN's D is unconditional with a class head). auxWeight: ACGAN's
     * lambda on the class cross-entropy. textDim: the hashed text embedding's length; project: the learned
     * compression of c (0 = c as it is; text2img needs one). wrongWeight: GAN-CLS's weight of the
     * {real, wrong text} pairing against {fake, right text}. interpolation: GAN-INT's weight of G's loss on
     * texts halfway between two of the batch (0 = off). classNames: the classes ([] = the dataset's).
     */
    conditional: { dCondition: choice('config.families.conditional.dCondition', 'projection'), auxWeight: 1, textDim: 256, project: 0, wrongWeight: 0.5, interpolation: 0, classNames: [] as string[] },
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
    /**
     * Sample-quality metrics logged at every output resolution of the stage as `fid/r<res>`, `kid/r<res>`
     * (src/train/quality-hooks.ts, docs/metrics.md): `what` any of 'fid', 'kid' ([] = off, the default), on
     * `samples` generated images against `realSamples` real ones of the dataset's train split (cached in
     * `cacheDir`, '' = .cache/metrics). Real-image datasets only; the extractor (`extractor`, '' = the
     * dataset's default) must exist: `fsrgan metrics train-extractor --dataset D` builds the default once.
     */
    quality: { what: listOf<QualityMetric>(QUALITY_METRICS), extractor: '', realSamples: 10000, cacheDir: '' },
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


/**
 * A config for a trainer other than the image stages (the 2-D lab, src/toy/): defaults <- `base` <- --set
 * overrides, with mergeStrict's did-you-mean errors and the recipe checks; the image-only checks (data,
 * resolutions, memory) are not made. Throws a UserError listing the problems.
 */
export function resolveRecipeConfig(base: Record<string, unknown>, sets: string[] = []): TrainConfig {
  const cfg = mergeStrict(DEFAULT_CONFIG, applySets(base, sets), 'config', ALLOWED);
  const p = recipeProblems(cfg);
  for (const k of ['lrG', 'lrD'] as const) if (!(cfg.train[k] > 0)) p.push(`config.train.${k} must be > 0, got ${cfg.train[k]}.`);
  if (!(cfg.objective.r1 >= 0)) p.push(`config.objective.r1 must be >= 0, got ${cfg.objective.r1}.`);
  if (p.length) throw new UserError(p.length === 1 ? p[0] : `the config has ${p.length} problems: ${p.map((s, i) => `(${i + 1}) ${s.replace(/\.$/, '')}`).join('; ')}.`);
  return cfg;
}



/** G steps of the stage that generates level index l (0-based). */
export function stepsForLevel(c: TrainConfig, l: number): number {
  return c.train.stepsByLevel.length ? c.train.stepsByLevel[l] : c.train.steps;
}
