/**
 * Features of images through an extractor, and the real-data reference cache: the features (and logits)
 * of a fixed, seeded subset of one side of a dataset's split are computed once per (extractor hash, dataset,
 * split, resolution, sample count, seed) and stored under `.cache/metrics/` (git-ignored), with the k-NN
 * radii of precision/recall beside them, so that every later metric against the same reference reads them.
 * The cache is written synchronously (temporary file, then rename) because the measurement registry runs
 * synchronously; a damaged or foreign file is recomputed.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/rng.js';
import { sampleIndices, type Features } from './features.js';
import type { Extractor } from './model-files.js';
import { knnRadii } from './precision-recall.js';

/** Features and logits of a set of images. */
export interface Extracted {
  features: Features;
  /** Logits [n,C] row-major; null when the extractor has no classes. */
  logits: Float32Array | null;
  classes: number;
}

/** Runs the extractor over n images served by `images(start, count)` ([count,h,w,3] in [-1,1]), in chunks. */
export function extract(ex: Extractor, n: number, images: (start: number, count: number) => tf.Tensor4D, chunk = 256): Extracted {
  const features = new Float32Array(n * ex.featureDim);
  const classes = ex.classNames.length;
  const logits = classes ? new Float32Array(n * classes) : null;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const x = images(s, m);
    let out: ReturnType<Extractor['apply']>;
    try {
      out = ex.apply(x);
    } finally {
      x.dispose();
    }
    try {
      features.set(out.features.dataSync() as Float32Array, s * ex.featureDim);
      if (logits && out.logits) logits.set(out.logits.dataSync() as Float32Array, s * classes);
    } finally {
      tf.dispose([out.features, ...(out.logits ? [out.logits] : [])]);
    }
  }
  return { features: { data: features, n, d: ex.featureDim }, logits, classes };
}

/** Images [n,r,r,3] of ImageSet indices at resolution r (<= the set's): 2x2 average pools of the stored images, as the pyramid. */
export function datasetImages(ds: ImageDataset, idx: readonly number[], r: number): tf.Tensor4D {
  const top = ds.topImages(idx);
  const f = ds.set.resolution / r;
  if (f === 1) return top;
  if (!Number.isInteger(f)) throw new Error(`datasetImages: ${r} does not divide the dataset's resolution ${ds.set.resolution}`);
  const x = tf.avgPool(top, f, f, 'valid');
  top.dispose();
  return x;
}

/** What decides a reference's numbers (its cache key; every field goes into the reports' provenance). */
export interface ReferenceKey {
  extractor: string;
  extractorSha256: string;
  dataset: string;
  /** The dataset's content as loaded (source, resolution, background, ...) and its split. */
  datasetKey: string;
  split: 'train' | 'heldout';
  resolution: number;
  n: number;
  seed: number;
}

export interface Reference extends Extracted {
  key: ReferenceKey;
  /** The ImageSet indices used, in order. */
  indices: Int32Array;
}

const FORMAT = 1;
const hash = (v: unknown, n = 12) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, n);

/** A short hash of what an ImageDataset serves: its content description and split settings. */
export function datasetKey(ds: ImageDataset): string {
  const s = ds.set;
  return hash({ name: s.name, count: s.count, resolution: s.resolution, channels: s.channels, classes: s.classNames, provenance: s.provenance, seed: ds.options.seed, heldOutFraction: ds.options.heldOutFraction });
}

function writeAtomicSync(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

function readCache(dir: string, name: string, key: unknown): Float32Array | null {
  const head = join(dir, `${name}.json`);
  const body = join(dir, `${name}.f32`);
  if (!existsSync(head) || !existsSync(body)) return null;
  try {
    const h = JSON.parse(readFileSync(head, 'utf8')) as { format: number; key: unknown; sha256: string };
    const bytes = readFileSync(body);
    if (h.format !== FORMAT || JSON.stringify(h.key) !== JSON.stringify(key)) return null;
    if (createHash('sha256').update(bytes).digest('hex') !== h.sha256) return null;
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } catch {
    return null;
  }
}

function writeCache(dir: string, name: string, key: unknown, values: Float32Array): void {
  mkdirSync(dir, { recursive: true });
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  writeAtomicSync(join(dir, `${name}.f32`), bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  writeAtomicSync(join(dir, `${name}.json`), JSON.stringify({ format: FORMAT, key, sha256, created: new Date().toISOString() }, null, 1) + '\n');
}

/**
 * The reference of `split` of the dataset behind `ds` (its set and split settings; its own side and
 * position do not matter): n images (all when n >= the split's size) in a seeded order, at resolution r,
 * through `ex`; read from `cacheDir` when stored under the same key, else computed and stored.
 */
export function realReference(ex: Extractor, ds: ImageDataset, split: 'train' | 'heldout', n: number, r: number, seed: number, cacheDir: string, log: (l: string) => void = () => {}): Reference {
  const side = new ImageDataset(ds.set, { ...ds.options, subset: split });
  const pool = side.indices;
  const order = sampleIndices(pool.length, n, new Rng(seed, `metrics/real/${split}`));
  const indices = Int32Array.from(order, (k) => pool[k]);
  const key: ReferenceKey = { extractor: ex.name, extractorSha256: ex.sha256, dataset: ds.set.name, datasetKey: datasetKey(ds), split, resolution: r, n: indices.length, seed };
  const name = `real-${hash(key)}`;
  const d = ex.featureDim;
  const c = ex.classNames.length;
  const cached = readCache(cacheDir, name, key);
  if (cached && cached.length === indices.length * (d + c)) {
    log(`metrics: real ${split} features of ${ds.set.name} reused from ${join(cacheDir, name)}.f32`);
    return { key, indices, features: { data: cached.slice(0, indices.length * d), n: indices.length, d }, logits: c ? cached.slice(indices.length * d) : null, classes: c };
  }
  log(`metrics: extracting features of ${indices.length} ${split} images of ${ds.set.name} (cached in ${cacheDir})`);
  const idx = Array.from(indices);
  const out = extract(ex, idx.length, (s, m) => datasetImages(side, idx.slice(s, s + m), r));
  const all = new Float32Array(indices.length * (d + c));
  all.set(out.features.data);
  if (out.logits) all.set(out.logits, indices.length * d);
  writeCache(cacheDir, name, key, all);
  return { key, indices, ...out };
}

/** The squared k-NN radii of a reference (precision/recall), cached next to it. */
export function referenceRadii(ref: Reference, k: number, cacheDir: string): Float32Array {
  const key = { ...ref.key, knn: k };
  const name = `radii-${hash(key)}`;
  const cached = readCache(cacheDir, name, key);
  if (cached && cached.length === ref.features.n) return cached;
  const r = knnRadii(ref.features, k);
  writeCache(cacheDir, name, key, r);
  return r;
}
