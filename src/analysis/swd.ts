/**
 * Patch sliced Wasserstein distance per resolution (docs/theory.md 3.6; ProGAN's metric, Karras et al. 2018,
 * without its Laplacian pyramid because fsrgan already has every level): random P x P descriptors from
 * each image, normalised per channel, projected on random unit directions; per direction the 1-D
 * Wasserstein-1 distance of the two sets is the mean |difference| of the sorted projections; SWD is the
 * average over directions. Differences from ProGAN (docs/analysis.md): both sets are normalised with the
 * REAL set's channel mean and std (normalising each set by its own statistics would hide a mean shift),
 * and the value is not multiplied by 1e3.
 */
import * as tf from '@tensorflow/tfjs';
import { download, randomCrops, subsetIndices, toImageArray, unitDirections, type ImageArray, type Method, type Vectors } from './common.js';

export interface SwdOptions {
  /** Descriptor size P (min(P, r) at resolutions below P). */
  patch: number;
  descriptorsPerImage: number;
  /** At most this many descriptors per set and level (seeded subset). */
  maxDescriptors: number;
  directions: number;
  seed: number;
}

export const DEFAULT_SWD: SwdOptions = { patch: 7, descriptorsPerImage: 32, maxDescriptors: 1 << 18, directions: 128, seed: 0 };

export interface LevelSwd {
  resolution: number;
  patch: number;
  /** Descriptors per set (equal for both: the larger set is subsampled). */
  descriptors: number;
  swd: number;
}

export interface SwdReport {
  kind: 'swd';
  method: Method;
  levels: LevelSwd[];
}

/** Per-channel mean and std of descriptors whose entries are laid out (row, col, channel). */
function channelStats(v: Vectors, c: number): { mean: Float64Array; std: Float64Array } {
  const s1 = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    s1[i % c] += x;
    s2[i % c] += x * x;
  }
  const per = v.data.length / c;
  const mean = s1.map((s) => s / per);
  const std = s2.map((s, k) => Math.sqrt(Math.max(s / per - mean[k] ** 2, 0)) || 1);
  return { mean, std };
}

function normalise(v: Vectors, c: number, st: { mean: Float64Array; std: Float64Array }): Float32Array {
  const out = new Float32Array(v.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (v.data[i] - st.mean[i % c]) / st.std[i % c];
  return out;
}

/** Projections [k][m] of m row vectors on k directions (tf.matMul in chunks). */
function project(data: Float32Array, m: number, d: number, dirs: Float64Array, k: number): Float32Array[] {
  const out = Array.from({ length: k }, () => new Float32Array(m));
  // [d, k]: tfjs-wasm's matMul with a transpose flag is several times slower (measured).
  const u = tf.tidy(() => tf.transpose(tf.tensor2d(Float32Array.from(dirs), [k, d])));
  const chunk = Math.max(1, Math.floor((1 << 22) / d));
  for (let s = 0; s < m; s += chunk) {
    const n = Math.min(chunk, m - s);
    const p = download(() => tf.matMul(tf.tensor2d(data.subarray(s * d, (s + n) * d), [n, d]), u));
    for (let i = 0; i < n; i++) for (let q = 0; q < k; q++) out[q][s + i] = p[i * k + q];
  }
  u.dispose();
  return out;
}

/**
 * Ascending sort of float32 values (a new array), by a 3-pass LSD radix sort on the order-preserving
 * integer image of the IEEE bits (negative: flip all bits; positive: flip the sign bit). About 10x
 * faster than Float32Array.prototype.sort at 10^5-10^6 values, where SWD spends its time. No NaNs.
 */
export function sortFloat32(a: Float32Array): Float32Array {
  const n = a.length;
  let src = new Uint32Array(n);
  src.set(new Uint32Array(a.buffer, a.byteOffset, n));
  for (let i = 0; i < n; i++) {
    const k = src[i];
    src[i] = k & 0x80000000 ? ~k : k | 0x80000000;
  }
  let dst = new Uint32Array(n);
  const count = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i] >>> shift) & 2047]++;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = src[i];
      dst[count[(k >>> shift) & 2047]++] = k;
    }
    [src, dst] = [dst, src];
  }
  for (let i = 0; i < n; i++) {
    const k = src[i];
    src[i] = k & 0x80000000 ? k ^ 0x80000000 : ~k;
  }
  return new Float32Array(src.buffer, 0, n);
}

/** SWD of two descriptor sets of equal size (already normalised), over k directions. */
export function slicedWasserstein(a: Float32Array, b: Float32Array, m: number, d: number, dirs: Float64Array, k: number): number {
  const pa = project(a, m, d, dirs, k);
  const pb = project(b, m, d, dirs, k);
  let total = 0;
  for (let q = 0; q < k; q++) {
    const x = sortFloat32(pa[q]);
    const y = sortFloat32(pb[q]);
    let s = 0;
    for (let i = 0; i < m; i++) s += Math.abs(x[i] - y[i]);
    total += s / m;
  }
  return total / k;
}

function subset(v: Vectors, m: number, seed: number): Vectors {
  if (v.m <= m) return v;
  const idx = subsetIndices(v.m, m, seed, 'analysis/swd-subset');
  const data = new Float32Array(m * v.d);
  idx.forEach((i, k) => data.set(v.data.subarray(i * v.d, (i + 1) * v.d), k * v.d));
  return { data, m, d: v.d };
}

/** SWD of one level: real and fake [N,r,r,C] (N may differ). */
export function levelSwd(real: tf.Tensor4D | ImageArray, fake: tf.Tensor4D | ImageArray, options: Partial<SwdOptions> = {}): LevelSwd {
  const o = { ...DEFAULT_SWD, ...options };
  const r = toImageArray(real, 'levelSwd');
  const f = toImageArray(fake, 'levelSwd');
  if (r.h !== f.h || r.w !== f.w || r.c !== f.c) throw new Error(`levelSwd: real is ${r.h}x${r.w}x${r.c}, fake ${f.h}x${f.w}x${f.c}`);
  const p = Math.min(o.patch, r.h, r.w);
  // Same crop stream for both sets: identical crop positions when the sets have the same size.
  const dr = randomCrops(r, p, o.descriptorsPerImage, o.seed);
  const df = randomCrops(f, p, o.descriptorsPerImage, o.seed);
  const m = Math.min(dr.m, df.m, o.maxDescriptors);
  const sr = subset(dr, m, o.seed + 1);
  const sf = subset(df, m, o.seed + 1);
  const st = channelStats(sr, r.c);
  const dirs = unitDirections(o.directions, sr.d, o.seed, 'analysis/swd-directions');
  return { resolution: r.h, patch: p, descriptors: m, swd: slicedWasserstein(normalise(sr, r.c, st), normalise(sf, r.c, st), m, sr.d, dirs, o.directions) };
}

/** SWD per level of two pyramids (ascending resolution). */
export function patchSwd(real: (tf.Tensor4D | ImageArray)[], fake: (tf.Tensor4D | ImageArray)[], options: Partial<SwdOptions> = {}): SwdReport {
  const o = { ...DEFAULT_SWD, ...options };
  if (real.length !== fake.length) throw new Error(`patchSwd: ${real.length} real levels but ${fake.length} fake levels`);
  if (!(o.directions >= 1 && o.descriptorsPerImage >= 1 && o.patch >= 1)) throw new Error('patchSwd: directions, descriptorsPerImage and patch must be >= 1');
  const levels = real.map((x, l) => levelSwd(x, fake[l], o));
  const n = (x: tf.Tensor4D | ImageArray | undefined) => (x ? (x instanceof tf.Tensor ? x.shape[0] : x.n) : 0);
  return {
    kind: 'swd',
    method: {
      computation:
        'random PxP crops per image, normalised per channel with the real set statistics, projected on seeded unit directions; mean over directions of the 1-D W1 of sorted projections',
      params: { ...o, realImages: n(real[0]), fakeImages: n(fake[0]) },
    },
    levels,
  };
}

/** Flat metrics {"swd/r16": ...} for training-time logging (use small descriptor counts). */
export function swdMetrics(real: (tf.Tensor4D | ImageArray)[], fake: (tf.Tensor4D | ImageArray)[], options: Partial<SwdOptions> = {}): Record<string, number> {
  const rep = patchSwd(real, fake, { descriptorsPerImage: 8, maxDescriptors: 8192, directions: 64, ...options });
  return Object.fromEntries(rep.levels.map((lv) => [`swd/r${lv.resolution}`, lv.swd]));
}
