/**
 * Shared pieces of the analysis modules (docs/theory.md section 3): reading tensors into float arrays, seeded
 * random unit directions, patch extraction, and the `method` record every result carries so that a
 * number in `<runDir>/analysis/*.json` says how it was computed.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';

/** How a result was computed: a one-line description plus every parameter that changes the number. */
export interface Method {
  /** What was computed, in words (e.g. "exact zeros of s_l per hidden position"). */
  computation: string;
  /** Every parameter of the computation (sample counts, patch size, thresholds, seeds, ...). */
  params: Record<string, number | string | boolean>;
}

/** Image data held as plain floats: `data` is row-major [n,h,w,c]. */
export interface ImageArray {
  data: Float32Array;
  n: number;
  h: number;
  w: number;
  c: number;
}

/** Reads a rank-4 tensor [N,H,W,C] into an ImageArray (one synchronous download). */
export function toImageArray(x: tf.Tensor4D | ImageArray, fn: string): ImageArray {
  if (!(x instanceof tf.Tensor)) return x;
  if (x.rank !== 4) throw new Error(`${fn}: expected a rank-4 tensor [N,H,W,C], got shape [${x.shape}]`);
  const [n, h, w, c] = x.shape;
  return { data: x.dataSync() as Float32Array, n, h, w, c };
}

/** The images with the given indices (in that order), copied. */
export function selectImages(a: ImageArray, indices: number[]): ImageArray {
  const size = a.h * a.w * a.c;
  const data = new Float32Array(indices.length * size);
  indices.forEach((i, k) => data.set(a.data.subarray(i * size, (i + 1) * size), k * size));
  return { data, n: indices.length, h: a.h, w: a.w, c: a.c };
}

/** `k` unit vectors of dimension `d`, Gaussian directions normalised, from Rng(seed, stream). Row-major [k,d]. */
export function unitDirections(k: number, d: number, seed: number, stream: string): Float64Array {
  const rng = new Rng(seed, stream);
  const u = new Float64Array(k * d);
  for (let i = 0; i < k; i++) {
    let norm = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal();
      u[i * d + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < d; j++) u[i * d + j] /= norm;
  }
  return u;
}

/** A set of m vectors of dimension d, row-major. */
export interface Vectors {
  data: Float32Array;
  m: number;
  d: number;
}

/**
 * Non-overlapping P x P patches of every image on the P-grid (the generator's output patches, docs/theory.md
 * section 1), flattened in (row, col, channel) order = the layout of an out-weight atom [P,P,3]. When
 * `maxPatches` is smaller than the total, a seeded random subset of patches is kept (order preserved).
 */
export function gridPatches(a: ImageArray, p: number, maxPatches = Infinity, seed = 0): Vectors & { positions: Int32Array } {
  if (a.h % p !== 0 || a.w % p !== 0) throw new Error(`gridPatches: image ${a.h}x${a.w} is not a multiple of the patch size ${p}`);
  const gh = a.h / p;
  const gw = a.w / p;
  const total = a.n * gh * gw;
  const keep = subsetIndices(total, maxPatches, seed, 'analysis/grid-patches');
  const d = p * p * a.c;
  const out = new Float32Array(keep.length * d);
  // positions[k] = image * gh * gw + gi * gw + gj, so callers can find the parent patch.
  const positions = new Int32Array(keep.length);
  keep.forEach((idx, k) => {
    positions[k] = idx;
    const img = Math.floor(idx / (gh * gw));
    const gi = Math.floor((idx % (gh * gw)) / gw);
    const gj = idx % gw;
    copyCrop(a, img, gi * p, gj * p, p, out, k * d);
  });
  return { data: out, m: keep.length, d, positions };
}

/** `perImage` random P x P crops (any offset) from each image, seeded; [n*perImage, P*P*C]. */
export function randomCrops(a: ImageArray, p: number, perImage: number, seed: number): Vectors {
  if (p > a.h || p > a.w) throw new Error(`randomCrops: crop ${p} is larger than the image ${a.h}x${a.w}`);
  const rng = new Rng(seed, 'analysis/random-crops');
  const d = p * p * a.c;
  const out = new Float32Array(a.n * perImage * d);
  let k = 0;
  for (let img = 0; img < a.n; img++) {
    for (let t = 0; t < perImage; t++, k++) copyCrop(a, img, rng.int(a.h - p + 1), rng.int(a.w - p + 1), p, out, k * d);
  }
  return { data: out, m: a.n * perImage, d };
}

function copyCrop(a: ImageArray, img: number, y0: number, x0: number, p: number, out: Float32Array, at: number): void {
  const row = a.w * a.c;
  const base = img * a.h * row;
  let o = at;
  for (let y = 0; y < p; y++) {
    const start = base + (y0 + y) * row + x0 * a.c;
    out.set(a.data.subarray(start, start + p * a.c), o);
    o += p * a.c;
  }
}

/** Sorted indices of a seeded random subset of size min(total, max) of 0..total-1 (all when max >= total). */
export function subsetIndices(total: number, max: number, seed: number, stream: string): number[] {
  if (max >= total) return Array.from({ length: total }, (_, i) => i);
  const rng = new Rng(seed, stream);
  // Partial Fisher-Yates over a typed array: O(total) memory, O(max) swaps.
  const idx = new Int32Array(total);
  for (let i = 0; i < total; i++) idx[i] = i;
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(total - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return Array.from(idx.subarray(0, max)).sort((x, y) => x - y);
}

/** Columns of a filter bank [P,P,C,F] (or any [..., F]) as float64 vectors: bank[f] = w[:,:,:,f] flattened. */
export function bankColumns(w: tf.Tensor | Float64Array[], fn: string): Float64Array[] {
  if (!(w instanceof tf.Tensor)) return w;
  if (w.rank < 2) throw new Error(`${fn}: a filter bank must have rank >= 2 ([P,P,C,F]), got shape [${w.shape}]`);
  const f = w.shape[w.rank - 1];
  const d = w.size / f;
  const v = w.dataSync();
  return Array.from({ length: f }, (_, j) => {
    const col = new Float64Array(d);
    for (let r = 0; r < d; r++) col[r] = v[r * f + j];
    return col;
  });
}

/** Mean and (population) standard deviation. */
export function meanStd(v: number[]): { mean: number; std: number } {
  if (v.length === 0) return { mean: NaN, std: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, std };
}

/**
 * Runs `fn` in tf.tidy and downloads its result, disposing it. (Returning `dataSync()` from inside
 * tf.tidy makes tidy walk every element of the typed array: seconds per call, and a crash for large ones.)
 */
export function download(fn: () => tf.Tensor): Float32Array {
  const t = tf.tidy(fn);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}
