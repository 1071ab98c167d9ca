/**
 * The analysis-config defaults of the sample-quality metrics (fid, kid, is, pr, support; docs/metrics.md),
 * merged into DEFAULT_ANALYSIS by config.ts, and the checks mergeStrict cannot make.
 */
import { UserError } from '../util/errors.js';
import { DEFAULT_GRAPH } from '../metrics/graph-model.js';
import { DEFAULT_KID } from '../metrics/kid.js';
import { DEFAULT_PR } from '../metrics/precision-recall.js';
import { DEFAULT_SUPPORT } from '../metrics/support.js';

export const DEFAULT_METRICS = {
  metrics: {
    /** model.json of the feature extractor; '' = the default of the run's dataset (.cache/extractors/<dataset>/, built by `fsrgan metrics`). */
    extractor: '',
    /** The side of the dataset's split the real reference is drawn from. */
    split: 'train' as 'train' | 'heldout',
    /** Real reference images (capped at the split's size), in an order seeded by `seed`. */
    realSamples: 10000,
    /** Also measure as many real images of the other side of the split as generated ones: each metric's noise floor. */
    floor: true,
    /** Folder of the real-reference cache; '' = .cache/metrics at the repo root. */
    cacheDir: '',
    /** A user-supplied graph model (metrics.extractor pointing at one): which nodes, input side and range (src/metrics/graph-model.ts). */
    graph: { ...DEFAULT_GRAPH },
  },
  kid: { ...DEFAULT_KID },
  is: { splits: 10 },
  pr: { ...DEFAULT_PR },
  support: { ...DEFAULT_SUPPORT },
};

type MetricsPart = typeof DEFAULT_METRICS & { samples: number };

const posInt = (v: number, min = 1) => Number.isInteger(v) && v >= min;

/** Range checks of the metric settings; a UserError names the field. */
export function checkMetricsConfig(c: MetricsPart): void {
  if (!posInt(c.metrics.realSamples, 2)) throw new UserError('analysis.metrics.realSamples must be an integer >= 2.');
  if (!posInt(c.kid.subsets)) throw new UserError('analysis.kid.subsets must be a positive integer.');
  if (!posInt(c.kid.subsetSize, 2)) throw new UserError('analysis.kid.subsetSize must be an integer >= 2.');
  if (!posInt(c.is.splits)) throw new UserError('analysis.is.splits must be a positive integer.');
  if (!posInt(c.pr.k)) throw new UserError('analysis.pr.k must be a positive integer.');
  if (!(c.support.quantile > 0 && c.support.quantile < 1)) throw new UserError('analysis.support.quantile must be in (0, 1).');
  if (!posInt(c.support.samples, 4)) throw new UserError('analysis.support.samples must be an integer >= 4.');
  if (!posInt(c.support.trials)) throw new UserError('analysis.support.trials must be a positive integer.');
  if (!posInt(c.metrics.graph.inputSize, 0)) throw new UserError('analysis.metrics.graph.inputSize must be 0 (from the model) or a positive integer.');
}
