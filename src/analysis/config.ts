/**
 * The parameters of every measurement as one config object: the defaults are the schema
 * (docs/analysis.md); `--config analysis.json` and `--set key=value` merge over them.
 */
import { applySets, choiceIn, mergeStrict } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { DEFAULT_SPARSITY } from './sparsity.js';
import { DEFAULT_MOMENTS } from './moments.js';
import { DEFAULT_ALIGNMENT } from './alignment.js';
import { DEFAULT_RECOVERY } from './recovery.js';
import { DEFAULT_LOCALITY } from './locality.js';
import { DEFAULT_SWD } from './swd.js';
import { checkMetricsConfig, DEFAULT_METRICS } from './metrics-config.js';

/** The choice fields and their only values (mergeStrict checks them); their types below derive from this table. */
const ALLOWED = {
  'analysis.moments.sampling': ['grid', 'random'],
  'analysis.moments.code': ['discriminator', 'teacher', 'none'],
  'analysis.metrics.split': ['train', 'heldout'],
  'analysis.metrics.graph.inputRange': ['0,1', '-1,1'],
} as const;
const choice = choiceIn(ALLOWED);

export const DEFAULT_ANALYSIS = {
  /** Images per set (real and generated) for sparsity, moments and SWD. */
  samples: 2048,
  /** Seed of the latents, the random-init learner and every sampling choice of the measurements. */
  seed: 0,
  /** Samples per generator forward (memory only). */
  chunk: 256,
  sparsity: { tau: DEFAULT_SPARSITY.tau },
  moments: {
    /** Patch size; 0 = the generator's output patch P. */
    patch: 0,
    sampling: choice('analysis.moments.sampling', DEFAULT_MOMENTS.sampling),
    cropsPerImage: DEFAULT_MOMENTS.cropsPerImage,
    maxPatches: DEFAULT_MOMENTS.maxPatches,
    directions: DEFAULT_MOMENTS.directions,
    maxOrder: DEFAULT_MOMENTS.maxOrder,
    noiseFloor: true,
    cross: true,
    /** Code space phi(x): 'discriminator' (D_l's first layer), 'teacher' (A*_l, b = codeBias), 'none'. */
    code: choice('analysis.moments.code', 'discriminator'),
    codeBias: 0,
  },
  alignment: { randomDraws: DEFAULT_ALIGNMENT.randomDraws },
  recovery: { threshold: DEFAULT_RECOVERY.threshold },
  locality: { samples: 256, epsilon: DEFAULT_LOCALITY.epsilon, positions: 4 },
  swd: { patch: DEFAULT_SWD.patch, descriptorsPerImage: DEFAULT_SWD.descriptorsPerImage, maxDescriptors: DEFAULT_SWD.maxDescriptors, directions: DEFAULT_SWD.directions },
  /** Sample-quality metrics fid, kid, is, pr, support (docs/metrics.md): extractor and real reference (metrics-config.ts). */
  metrics: {
    ...DEFAULT_METRICS.metrics,
    split: choice('analysis.metrics.split', DEFAULT_METRICS.metrics.split),
    graph: { ...DEFAULT_METRICS.metrics.graph, inputRange: choice('analysis.metrics.graph.inputRange', DEFAULT_METRICS.metrics.graph.inputRange) },
  },
  kid: { ...DEFAULT_METRICS.kid },
  is: { ...DEFAULT_METRICS.is },
  pr: { ...DEFAULT_METRICS.pr },
  support: { ...DEFAULT_METRICS.support },
};

export type AnalysisConfig = typeof DEFAULT_ANALYSIS;

/** Merges user JSON and `--set` overrides over the defaults; a UserError names a bad field. */
export function resolveAnalysisConfig(user: unknown = {}, sets: string[] = []): AnalysisConfig {
  const c = mergeStrict(DEFAULT_ANALYSIS, applySets((user ?? {}) as Record<string, unknown>, sets), 'analysis', ALLOWED);
  if (!(Number.isInteger(c.samples) && c.samples >= 4)) throw new UserError('analysis.samples must be an integer >= 4.');
  if (!(c.sparsity.tau >= 0 && c.sparsity.tau < 1)) throw new UserError('analysis.sparsity.tau must be in [0, 1).');
  if (!(Number.isInteger(c.moments.maxOrder) && c.moments.maxOrder >= 1 && c.moments.maxOrder <= 4)) throw new UserError('analysis.moments.maxOrder must be 1, 2, 3 or 4.');
  if (!(Number.isInteger(c.locality.samples) && c.locality.samples >= 1)) throw new UserError('analysis.locality.samples must be a positive integer.');
  if (c.locality.epsilon === 0) throw new UserError('analysis.locality.epsilon must be non-zero.');
  checkMetricsConfig(c);
  return c;
}
