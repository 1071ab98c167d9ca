/**
 * Patch locality (docs/theory.md 3.5, "Locality" of section 1): perturb s_{l-1} at one hidden position (every
 * channel + epsilon), run block l alone (`blockForward`), and measure the mean |change| of x_l against
 * the distance from that position. Distance: Chebyshev distance in x_l patches (P x P pixels = one
 * hidden position of s_l) from the 2 x 2 block of s_l positions directly under the perturbed s_{l-1}
 * position (docs/analysis.md). The change is divided by epsilon (a finite-difference sensitivity).
 */
import * as tf from '@tensorflow/tfjs';
import { deconv2d } from '../ops/index.js';
import { generatorForward, hiddenGrids, type GeneratorParams } from '../models/generator.js';
import { Rng } from '../util/rng.js';
import { download, type Method } from './common.js';

export interface LocalityOptions {
  /** Added to every channel of s_{l-1} at the perturbed position. */
  epsilon: number;
  /** Perturbed positions averaged: 1 = the centre; more = the centre plus seeded random positions. */
  positions: number;
  seed: number;
  /** Samples per forward (memory, not results). */
  chunk: number;
}

export const DEFAULT_LOCALITY: LocalityOptions = { epsilon: 0.1, positions: 1, seed: 0, chunk: 512 };

export interface DistanceChange {
  /** Chebyshev distance in x_l patches from the patches under the perturbation. */
  distance: number;
  /** Mean over samples, pixels at this distance and channels of |x_l' - x_l| / epsilon. */
  meanAbsChange: number;
  /** meanAbsChange / meanAbsChange at distance 0. */
  relative: number;
  /** Pixels (per sample and position) at this distance, summed over positions. */
  pixels: number;
}

export interface LayerLocality {
  /** The layer l whose input s_{l-1} is perturbed (l >= 2). */
  layer: number;
  resolution: number;
  /** Perturbed positions (row, col) in s_{l-1}'s grid. */
  positions: [number, number][];
  profile: DistanceChange[];
  /** Largest distance with a non-zero change. */
  observedRadius: number;
  /** Receptive radius in patches of the stride-2 'same' deconv of kernel k: max(pb, k - 2 - pb), pb = floor((k-2)/2). */
  receptiveRadius: number;
}

export interface LocalityReport {
  kind: 'locality';
  method: Method;
  layers: LayerLocality[];
}

/**
 * Block l alone (0-based index l >= 1) from a given s_{l-1} [N,g_{l-1},g_{l-1},C_{l-1}]:
 * s_l = ReLU(Deconv_l(s_{l-1}) - b_l), x_l = DeconvOut_l(s_l), exactly as generatorForward computes it.
 */
export function blockForward(params: GeneratorParams, sPrev: tf.Tensor4D, l: number): { s: tf.Tensor4D; x: tf.Tensor4D } {
  const { shape } = params;
  if (!(l >= 1 && l < shape.resolutions.length)) throw new Error(`blockForward: layer index must be 1..${shape.resolutions.length - 1}, got ${l}`);
  const g = hiddenGrids(shape)[l - 1];
  if (sPrev.rank !== 4 || sPrev.shape[1] !== g || sPrev.shape[2] !== g || sPrev.shape[3] !== shape.channels[l - 1]) {
    throw new Error(`blockForward: s_${l} must be [N,${g},${g},${shape.channels[l - 1]}], got [${sPrev.shape}]`);
  }
  const block = params.blocks[shape.resolutions[l]];
  return tf.tidy(() => {
    const s = tf.relu(tf.sub(deconv2d(sPrev, block.deconv, 2, 'same'), block.bias)) as tf.Tensor4D;
    return { s, x: deconv2d(s, block.out, shape.patch, 'valid') };
  });
}

/** Receptive radius (in s_l positions) of one s_{l-1} position through a stride-2 'same' deconv of kernel k. */
export function receptiveRadius(k: number): number {
  const pb = Math.floor(Math.max(k - 2, 0) / 2);
  return Math.max(pb, k - 2 - pb, 0);
}

/** Locality of layer l (0-based index >= 1) on latents z [N,1,1,zDim]. */
export function layerLocality(params: GeneratorParams, z: tf.Tensor4D, l: number, options: Partial<LocalityOptions> = {}): LayerLocality {
  const o = { ...DEFAULT_LOCALITY, ...options };
  if (!(o.epsilon !== 0 && Number.isFinite(o.epsilon))) throw new Error(`layerLocality: epsilon must be a non-zero number, got ${o.epsilon}`);
  const { shape } = params;
  const gPrev = hiddenGrids(shape)[l - 1];
  const r = shape.resolutions[l];
  const p = shape.patch;
  const c = shape.imageChannels;
  const rng = new Rng(o.seed, 'analysis/locality-positions');
  const centre = Math.floor(gPrev / 2);
  const positions: [number, number][] = [[centre, centre]];
  for (let i = 1; i < o.positions; i++) positions.push([rng.int(gPrev), rng.int(gPrev)]);
  const maxD = 2 * gPrev;
  const sum = new Float64Array(maxD + 1);
  const count = new Float64Array(maxD + 1);
  const n = z.shape[0];
  const cPrev = shape.channels[l - 1];
  const bumps = positions.map(([a, b]) => {
    const m = new Float32Array(gPrev * gPrev * cPrev);
    m.fill(o.epsilon, (a * gPrev + b) * cPrev, (a * gPrev + b + 1) * cPrev);
    return tf.tensor4d(m, [1, gPrev, gPrev, cPrev]);
  });
  // maps[i]: sum over samples and channels of |x_l' - x_l| per pixel, for position i.
  const maps = positions.map(() => new Float64Array(r * r));
  for (let start = 0; start < n; start += o.chunk) {
    const m = Math.min(o.chunk, n - start);
    // s_{l-1} and the unperturbed x_l once per chunk, shared by every position.
    const [sPrev, base] = tf.tidy(() => {
      const sp = generatorForward(params, tf.slice(z, [start, 0, 0, 0], [m, -1, -1, -1]), l).s[l - 1];
      return [sp, blockForward(params, sp, l).x];
    });
    bumps.forEach((bump, i) => {
      const diff = download(() => tf.sum(tf.abs(tf.sub(blockForward(params, tf.add(sPrev, bump) as tf.Tensor4D, l).x, base)), [0, 3]));
      for (let k = 0; k < r * r; k++) maps[i][k] += diff[k];
    });
    tf.dispose([sPrev, base]);
  }
  tf.dispose(bumps);
  positions.forEach(([a, b], i) => {
    for (let y = 0; y < r; y++)
      for (let x = 0; x < r; x++) {
        const dist = Math.max(gap(Math.floor(y / p), 2 * a), gap(Math.floor(x / p), 2 * b));
        sum[dist] += maps[i][y * r + x] / (n * c * Math.abs(o.epsilon));
        count[dist]++;
      }
  });
  const profile: DistanceChange[] = [];
  let radius = -1;
  for (let d = 0; d <= maxD; d++) {
    if (!count[d]) continue;
    const mean = sum[d] / count[d];
    if (mean > 0) radius = d;
    profile.push({ distance: d, meanAbsChange: mean, relative: 0, pixels: count[d] });
  }
  const at0 = profile[0]?.meanAbsChange ?? 0;
  for (const e of profile) e.relative = at0 > 0 ? e.meanAbsChange / at0 : 0;
  return { layer: l + 1, resolution: r, positions, profile, observedRadius: radius, receptiveRadius: receptiveRadius(shape.kernel) };
}

/** Distance of index i from the 2-block [lo, lo + 1]. */
function gap(i: number, lo: number): number {
  return i < lo ? lo - i : i > lo + 1 ? i - lo - 1 : 0;
}

/** Locality of every layer l >= 2 of a generator on latents z [N,1,1,zDim]. */
export function generatorLocality(params: GeneratorParams, z: tf.Tensor4D, options: Partial<LocalityOptions> = {}, zSeed = -1): LocalityReport {
  const o = { ...DEFAULT_LOCALITY, ...options };
  const layers: LayerLocality[] = [];
  for (let l = 1; l < params.shape.resolutions.length; l++) layers.push(layerLocality(params, z, l, o));
  return {
    kind: 'locality',
    method: {
      computation:
        'x_l change after adding epsilon to every channel of s_{l-1} at one position, block l run alone; mean |change|/epsilon over samples, channels and pixels, by Chebyshev distance in x_l patches from the 2x2 patches under that position',
      params: { epsilon: o.epsilon, positions: o.positions, seed: o.seed, samples: z.shape[0], zSeed },
    },
    layers,
  };
}
