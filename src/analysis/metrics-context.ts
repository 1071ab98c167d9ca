/**
 * What the sample-quality entries of the registry (entries/fid.ts, kid.ts, is.ts, pr.ts, support.ts) share
 * on a run: the feature extractor (the config's, or the default of the run's dataset), the generated images'
 * features (the top trained level of ctx.pyramids().fake), the real reference (src/metrics/reference.ts,
 * cached on disk per extractor, dataset, split, resolution, count and seed) and the floor set (real images
 * of the other side of the split, as many as generated), computed once per analyzeRun call, and the
 * provenance every report carries (docs/metrics.md).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from '../data/cache.js';
import { ImageDataset, splitIndices } from '../data/dataset.js';
import { LevelsSource } from '../data/levels.js';
import type { PyramidSource } from '../data/source.js';
import { defaultExtractorDir, extractorFingerprint, loadExtractor } from '../metrics/extractor.js';
import { moments, type Moments } from '../metrics/features.js';
import { extract, realReference, type Extracted, type Reference } from '../metrics/reference.js';
import { UserError } from '../util/errors.js';
import type { Method } from './common.js';
import type { AnalysisConfig } from './config.js';
import type { RunContext } from './context.js';

/** The ImageDataset behind a run's source (also through a LevelsSource), or null (a synthetic teacher). */
export function datasetOf(source: PyramidSource | null): ImageDataset | null {
  if (source instanceof ImageDataset) return source;
  if (source instanceof LevelsSource) return datasetOf(source.inner);
  return null;
}

/** The model.json a config names for a dataset: metrics.extractor, else the dataset's default. */
export function extractorPath(c: AnalysisConfig, dataset: string, root = findRepoRoot()): string {
  return c.metrics.extractor || join(defaultExtractorDir(root, dataset), 'model.json');
}

/** The folder of the real-reference cache. */
export function metricsCacheDir(c: AnalysisConfig, root = findRepoRoot()): string {
  return c.metrics.cacheDir || join(root, '.cache', 'metrics');
}

/**
 * The settings a metric's numbers depend on (its analysis-cache key, src/train/rundir.ts): the config
 * parts named plus the extractor's fingerprint, so that a retrained or replaced extractor is never served
 * from the cache. The key cannot know the run's dataset, so with the default extractor it takes the
 * fingerprints of every default extractor present.
 */
export function metricSettings<K extends keyof AnalysisConfig>(c: AnalysisConfig, ...keys: K[]): Record<string, unknown> {
  const parts: Record<string, unknown> = Object.fromEntries((['samples', 'seed', 'metrics', ...keys] as K[]).map((k) => [k, c[k]]));
  if (c.metrics.extractor) return { ...parts, extractorFingerprint: extractorFingerprint(c.metrics.extractor) };
  const dir = join(findRepoRoot(), '.cache', 'extractors');
  const names = existsSync(dir) ? readdirSync(dir).sort() : [];
  return { ...parts, extractorFingerprint: Object.fromEntries(names.map((n) => [n, extractorFingerprint(join(dir, n, 'model.json'))])) };
}

/** The shared inputs of the metric entries on one run. */
export interface MetricInputs {
  fake: Extracted;
  real: Reference;
  /** Real images of the other side of the split, as many as generated (null: metrics.floor off, or that side is empty). */
  floor: Reference | null;
  /** Mean and covariance of the real reference (FID), computed on first use. */
  realMoments(): Moments;
  cacheDir: string;
  /** Provenance: extractor, dataset, split, resolution, sample counts, seeds. */
  params: Method['params'];
}

const memo = new WeakMap<RunContext, MetricInputs>();

/** The message for a metric on a teacher run or on `fsrgan analyze --teacher`. */
export const NO_TEACHER =
  'the sample-quality metrics (fid, kid, is, pr, support) need a feature extractor trained on real images, and fsrgan has none for the synthetic teacher: use them on runs on emoji, fashion-mnist or an image folder.';

/** The shared inputs, computed on the first call per analyzeRun call (RunContext). */
export function metricInputs(ctx: RunContext): MetricInputs {
  const hit = memo.get(ctx);
  if (hit) return hit;
  const c = ctx.config;
  const ds = datasetOf(ctx.run.source);
  if (!ds) throw new UserError(`${NO_TEACHER} (run '${ctx.run.dir}')`);
  const dataset = ds.set.name;
  const path = extractorPath(c, dataset);
  if (!c.metrics.extractor && !existsSync(path)) {
    throw new UserError(
      `no feature extractor for ${dataset} yet: run \`fsrgan metrics ${ctx.run.dir}\` (it trains the default one first, about a minute) or \`fsrgan metrics train-extractor --dataset ${dataset}\`, or set metrics.extractor to a model.json.`,
    );
  }
  const { fake: fakeLevels } = ctx.pyramids();
  const top = fakeLevels[fakeLevels.length - 1];
  if (top.c !== 3) throw new UserError(`the sample-quality metrics need RGB images; the run's generator makes ${top.c} channels.`);
  const cacheDir = metricsCacheDir(c);
  const ex = loadExtractor(path, c.metrics.graph);
  try {
    const size = top.h * top.w * top.c;
    const fake = extract(ex, top.n, (s, m) => tf.tensor4d(top.data.subarray(s * size, (s + m) * size), [m, top.h, top.w, top.c]), c.chunk);
    const real = realReference(ex, ds, c.metrics.split, c.metrics.realSamples, top.h, c.seed, cacheDir);
    const other = c.metrics.split === 'train' ? 'heldout' : 'train';
    const otherSize = splitIndices(ds.set.count, ds.options.heldOutFraction, ds.options.seed)[other].length;
    const floor = c.metrics.floor && otherSize > 0 ? realReference(ex, ds, other, top.n, top.h, c.seed, cacheDir) : null;
    let rm: Moments | null = null;
    const accuracy = ex.info.heldOutAccuracy;
    const params: Method['params'] = {
      extractor: ex.name,
      extractorSha256: ex.sha256.slice(0, 16),
      extractorKind: ex.kind,
      ...(typeof accuracy === 'number' ? { extractorHeldOutAccuracy: accuracy } : {}),
      features: ex.featureDim,
      dataset,
      datasetKey: real.key.datasetKey,
      split: c.metrics.split,
      resolution: top.h,
      realSamples: real.features.n,
      fakeSamples: fake.features.n,
      floorSamples: floor?.features.n ?? 0,
      latentSeed: c.seed,
      realSeed: c.seed,
    };
    const inputs: MetricInputs = { fake, real, floor, cacheDir, params, realMoments: () => (rm ??= moments(real.features)) };
    memo.set(ctx, inputs);
    return inputs;
  } finally {
    ex.dispose();
  }
}

/** The `method` of a metric report: a computation in words plus the shared provenance and its own parameters. */
export function metricMethod(m: MetricInputs, computation: string, own: Method['params'] = {}): Method {
  return { computation, params: { ...m.params, ...own } };
}
