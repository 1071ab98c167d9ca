/**
 * Building a dataset's default feature extractor from the data on disk (`fsrgan metrics train-extractor`,
 * and `fsrgan metrics RUN` / runMetrics with `build` when none is cached yet): load the image set, train the
 * classifier (train-extractor.ts) with progress lines, write it to `.cache/extractors/<dataset>/` (or `out`).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { findRepoRoot } from '../data/cache.js';
import { datasetConfig } from '../data/config.js';
import { loadImageSet } from '../data/open.js';
import { defaultExtractorDir } from './extractor.js';
import { DEFAULT_TRAINING, trainExtractor, writeExtractor } from './train-extractor.js';

/** Trains the extractor of the dataset `spec` names ('emoji', 'fashion-mnist', a folder) and writes it; returns the model.json path. */
export async function buildExtractor(spec: string, out: string | null, opts: { steps: number; batch: number; seed: number } = DEFAULT_TRAINING, log: (line: string) => void = () => {}): Promise<string> {
  const cfg = datasetConfig({});
  const set = await loadImageSet(spec, cfg, { onProgress: log });
  const dir = out ?? defaultExtractorDir(findRepoRoot(), set.name);
  log(`train-extractor: ${set.name}, ${set.count} images, ${set.classNames.length} classes; ${opts.steps} steps of ${opts.batch} on ${tf.getBackend()}`);
  const trained = trainExtractor(set, { ...DEFAULT_TRAINING, ...opts, dataset: set.name, splitSeed: cfg.seed, heldOutFraction: cfg.heldOutFraction, log });
  try {
    const sha = await writeExtractor(dir, trained);
    log(`train-extractor: wrote ${join(dir, 'model.json')} (sha256 ${sha.slice(0, 16)}, held-out accuracy ${(100 * (trained.info.heldOutAccuracy as number)).toFixed(1)}%)`);
  } finally {
    tf.dispose([...trained.params.values()]);
  }
  return join(dir, 'model.json');
}
