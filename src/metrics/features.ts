/**
 * Feature sets, the common input of every sample-quality metric (docs/metrics.md): n vectors of
 * dimension d from a feature extractor (extractor.ts), and their first two moments in float64.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

/** n feature vectors of dimension d, row-major [n,d] (float32: what the extractor returns). */
export interface Features {
  data: Float32Array;
  n: number;
  d: number;
}

/** A Features view of a row-major array; an Error when the length is not n*d. */
export function features(data: Float32Array, n: number, d: number): Features {
  if (data.length !== n * d) throw new Error(`features: ${data.length} values are not ${n} x ${d}`);
  return { data, n, d };
}

/** Checks that two sets can be compared (same dimension, enough samples); a UserError names the problem. */
export function checkPair(a: Features, b: Features, what: string, minN = 2): void {
  if (a.d !== b.d) throw new UserError(`${what}: the two feature sets have dimensions ${a.d} and ${b.d}; both must come from the same extractor.`);
  if (a.n < minN || b.n < minN) throw new UserError(`${what}: needs at least ${minN} samples per set, got ${a.n} and ${b.n}; raise analysis.samples.`);
}

/** The rows with the given indices, copied, in that order. */
export function selectRows(f: Features, idx: ArrayLike<number>): Features {
  const out = new Float32Array(idx.length * f.d);
  for (let k = 0; k < idx.length; k++) out.set(f.data.subarray(idx[k] * f.d, (idx[k] + 1) * f.d), k * f.d);
  return { data: out, n: idx.length, d: f.d };
}

/** m distinct indices of 0..n-1 in random order (partial Fisher-Yates) from `rng`; all of them shuffled when m >= n. */
export function sampleIndices(n: number, m: number, rng: Rng): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const k = Math.min(m, n);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.subarray(0, k);
}

/** Mean [d] and covariance [d,d] (row-major, unbiased: divided by n - 1, as numpy.cov and pytorch-fid) in float64. */
export interface Moments {
  mean: Float64Array;
  cov: Float64Array;
  n: number;
  d: number;
}

/**
 * Mean and covariance in float64, two passes (centre first, then accumulate outer products), so that a
 * large mean does not cancel the covariance away. Cost n*d*(d+1)/2 multiply-adds: 0.1 s at n = 10,000, d = 128.
 */
export function moments(f: Features): Moments {
  const { n, d, data } = f;
  if (n < 2) throw new UserError(`feature statistics need at least 2 samples, got ${n}.`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = data[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ca = c[a];
      if (ca === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) cov[row + b] += ca * c[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b] / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { mean, cov, n, d };
}

/** Squared Euclidean norms of the rows, float64. */
export function sqNorms(f: Features): Float64Array {
  const out = new Float64Array(f.n);
  for (let i = 0; i < f.n; i++) {
    let s = 0;
    for (let j = 0; j < f.d; j++) s += f.data[i * f.d + j] ** 2;
    out[i] = s;
  }
  return out;
}

/** One tile of a Gram matrix: rows i0..i0+rows-1 of `a` against rows j0..j0+cols-1 of `b`, g row-major [rows, cols]. */
export type Tile = (i0: number, rows: number, j0: number, cols: number, g: Float32Array) => void;

/**
 * Dot products of the rows of `a` with the rows of `b` in tiles of `tile` x `tile`: fn(tile) with g the
 * block of a b^T, a float32 matMul on the tfjs backend (the one expensive step of the distance-based
 * metrics; tiles keep its output in cache, about twice as fast on wasm as full-width row blocks at n =
 * 10,000). Everything after it runs in JS on the downloaded tile, which on wasm is faster than a chain of
 * element-wise tensor ops. With `upper` (a and b the same set) only tiles with j0 >= i0 are computed: the
 * Gram matrix is symmetric, so the caller uses each off-diagonal tile for both its rows and its columns.
 */
export function gramTiles(a: Features, b: Features, tile: number, upper: boolean, fn: Tile): void {
  if (a.d !== b.d) throw new Error(`gramTiles: dimensions ${a.d} and ${b.d} differ`);
  // b^T cut into column tiles once (an explicit transpose: tfjs-wasm's matMul with a transpose flag is
  // several times slower, docs/analysis.md).
  const bT: tf.Tensor2D[] = [];
  for (let j0 = 0; j0 < b.n; j0 += tile) {
    const cols = Math.min(tile, b.n - j0);
    bT.push(tf.tidy(() => tf.transpose(tf.tensor2d(b.data.subarray(j0 * b.d, (j0 + cols) * b.d), [cols, b.d]))));
  }
  try {
    for (let i0 = 0; i0 < a.n; i0 += tile) {
      const rows = Math.min(tile, a.n - i0);
      const x = tf.tensor2d(a.data.subarray(i0 * a.d, (i0 + rows) * a.d), [rows, a.d]);
      try {
        for (let t = upper ? Math.floor(i0 / tile) : 0; t < bT.length; t++) {
          const g = tf.matMul(x, bT[t]);
          let data: Float32Array;
          try {
            data = g.dataSync() as Float32Array;
          } finally {
            g.dispose();
          }
          fn(i0, rows, t * tile, bT[t].shape[1], data);
        }
      } finally {
        x.dispose();
      }
    }
  } finally {
    tf.dispose(bT);
  }
}
