/**
 * Training fsrgan's feature extractor (extractor.ts) on a dataset on disk: the train side of the dataset's
 * split, Adam on softmax cross-entropy, light augmentation (horizontal flips, shifts of up to 2 pixels, so
 * that the features do not hinge on exact pixel positions a generator may miss by one), then the accuracy on
 * the held-out side. Deterministic given the seed on one backend. About a minute on 2 cores with the
 * defaults (docs/metrics.md has the measured accuracies).
 */
import * as tf from '@tensorflow/tfjs';
import { ImageDataset, splitIndices, type ImageSet } from '../data/dataset.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { cnnExtractor, cnnForward, DEFAULT_CNN, initCnn, saveCnn, type CnnSpec, type Extractor } from './extractor.js';

export const DEFAULT_TRAINING = { steps: 1000, batch: 64, learningRate: 2e-3, seed: 1, augment: true };

export interface TrainExtractorOptions {
  /** The dataset's name as recorded ('fashion-mnist', 'emoji-twitter', 'folder:...'). */
  dataset: string;
  /** The split: the dataset config's seed and heldOutFraction (src/data/config.ts). */
  splitSeed: number;
  heldOutFraction: number;
  steps: number;
  batch: number;
  learningRate: number;
  seed: number;
  augment: boolean;
  log?: (line: string) => void;
}

export interface TrainedExtractor {
  spec: CnnSpec;
  params: Map<string, tf.Tensor>;
  /** What model.json records: dataset, split, accuracy, settings, time. */
  info: Record<string, unknown>;
}

/** Flips (p = 1/2) and shifts (up to 2 pixels, edges repeated) each image of [n,r,r,3] data in place. */
function augment(data: Float32Array, n: number, r: number, rng: Rng): void {
  const img = new Float32Array(r * r * 3);
  for (let i = 0; i < n; i++) {
    const base = i * r * r * 3;
    img.set(data.subarray(base, base + r * r * 3));
    const flip = rng.uniform() < 0.5;
    const dy = rng.int(5) - 2;
    const dx = rng.int(5) - 2;
    for (let y = 0; y < r; y++) {
      const sy = Math.min(r - 1, Math.max(0, y + dy));
      for (let x = 0; x < r; x++) {
        const sx0 = Math.min(r - 1, Math.max(0, x + dx));
        const sx = flip ? r - 1 - sx0 : sx0;
        for (let c = 0; c < 3; c++) data[base + (y * r + x) * 3 + c] = img[(sy * r + sx) * 3 + c];
      }
    }
  }
}

/** Top-level images [n,r,r,3] in [-1,1] of ImageSet indices (ImageDataset's conversion). */
function images(ds: ImageDataset, idx: number[]): tf.Tensor4D {
  return ds.topImages(idx);
}

/** Fraction of `idx` classified correctly, in chunks. */
export function accuracy(ex: Extractor, ds: ImageDataset, idx: readonly number[], labels: Int32Array, chunk = 512): number {
  let right = 0;
  for (let s = 0; s < idx.length; s += chunk) {
    const part = idx.slice(s, s + chunk);
    const x = images(ds, part);
    const { features, logits } = ex.apply(x);
    const pred = tf.tidy(() => tf.argMax(logits!, 1));
    const p = pred.dataSync();
    tf.dispose([x, features, logits!, pred]);
    part.forEach((i, k) => (right += p[k] === labels[i] ? 1 : 0));
  }
  return right / idx.length;
}

/** Trains the CNN on the train side of `set`'s split and measures it on the held-out side. */
export function trainExtractor(set: ImageSet, opts: TrainExtractorOptions): TrainedExtractor {
  const log = opts.log ?? (() => {});
  if (set.classNames.length < 2) throw new UserError(`dataset ${opts.dataset} has ${set.classNames.length} class; a classifier needs at least 2 (folder datasets: one subfolder per class, dataset.folder.recursive = true).`);
  if (!(Number.isInteger(opts.steps) && opts.steps >= 1)) throw new UserError(`--steps must be a positive integer, got ${opts.steps}.`);
  const spec: CnnSpec = { ...DEFAULT_CNN, classNames: set.classNames };
  const ds = new ImageDataset(set, { seed: opts.splitSeed, heldOutFraction: opts.heldOutFraction, minResolution: set.resolution });
  const { train, heldout } = splitIndices(set.count, opts.heldOutFraction, opts.splitSeed);
  if (heldout.length === 0) throw new UserError(`dataset ${opts.dataset}: the held-out split is empty; the extractor's accuracy needs dataset.heldOutFraction > 0.`);
  const vars = initCnn(spec, opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const rng = new Rng(opts.seed, 'metrics/extractor-batches');
  const classes = spec.classNames.length;
  const t0 = performance.now();
  let order = rng.permutation(train.length);
  let pos = 0;
  let lossSum = 0;
  try {
    for (let step = 1; step <= opts.steps; step++) {
      const idx: number[] = [];
      while (idx.length < opts.batch) {
        if (pos === order.length) (order = rng.permutation(train.length)), (pos = 0);
        idx.push(train[order[pos++]]);
      }
      const x0 = images(ds, idx);
      const data = x0.dataSync() as Float32Array;
      x0.dispose();
      if (opts.augment) augment(data, idx.length, set.resolution, rng);
      const labels = Int32Array.from(idx, (i) => set.labels[i]);
      // Step size decays linearly to 10% over the run (a cheap schedule that settles the last steps).
      (optimizer as unknown as { learningRate: number }).learningRate = opts.learningRate * (1 - (0.9 * (step - 1)) / opts.steps);
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(data, [idx.length, set.resolution, set.resolution, 3]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
        return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, cnnForward(spec, vars, x).logits) as tf.Scalar, true) as tf.Scalar;
      });
      lossSum += loss.dataSync()[0];
      loss.dispose();
      if (step % 100 === 0 || step === opts.steps) {
        log(`train-extractor: step ${step}/${opts.steps}, loss ${(lossSum / (step % 100 || 100)).toFixed(3)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        lossSum = 0;
      }
    }
  } finally {
    optimizer.dispose();
  }
  const params = new Map<string, tf.Tensor>([...vars.entries()].map(([k, v]) => [k, tf.keep(v.clone())]));
  tf.dispose([...vars.values()]);
  const seconds = (performance.now() - t0) / 1000;
  const probe = cnnExtractor(spec, params, { name: '', sha256: '', path: null, info: {} });
  const acc = accuracy(probe, ds, heldout, set.labels);
  log(`train-extractor: held-out accuracy ${(100 * acc).toFixed(1)}% on ${heldout.length} images (${seconds.toFixed(0)} s of training)`);
  const info = {
    dataset: opts.dataset,
    resolution: set.resolution,
    split: { seed: opts.splitSeed, heldOutFraction: opts.heldOutFraction, trainImages: train.length, heldOutImages: heldout.length },
    heldOutAccuracy: acc,
    training: { steps: opts.steps, batch: opts.batch, learningRate: opts.learningRate, seed: opts.seed, augment: opts.augment },
    seconds,
    backend: tf.getBackend(),
    created: new Date().toISOString(),
    datasetProvenance: set.provenance,
  };
  return { spec, params, info };
}

/** Writes a trained extractor to `<dir>/model.json` + weights.bin; returns its content hash. */
export async function writeExtractor(dir: string, t: TrainedExtractor): Promise<string> {
  return saveCnn(dir, t.spec, t.params, t.info);
}
