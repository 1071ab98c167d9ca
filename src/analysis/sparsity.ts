/**
 * Hidden-layer sparsity (docs/theory.md 3.1, "hierarchical sparse coding" of section 1): for every hidden
 * position p of s_l [N,g,g,C] (one position paints one output patch), the channels of y_p that are active.
 * Two counts: exact non-zeros (what ReLU produces), and channels above tau * max_c |y_p[c]| (the relative
 * threshold, per position, so it does not depend on the layer's scale; docs/analysis.md). Plus the Hoyer
 * measure (sqrt(C) - |y|_1/|y|_2) / (sqrt(C) - 1): 1 for one active channel, 0 for all equal.
 */
import * as tf from '@tensorflow/tfjs';
import { generatorForward, type GeneratorParams } from '../models/generator.js';
import type { Method } from './common.js';

export interface SparsityOptions {
  /** Relative threshold: a channel counts as active when |y_p[c]| > tau * max_c |y_p[c]|. */
  tau: number;
  /** Samples per generator forward in `generatorSparsity` (memory, not results). */
  chunk: number;
}

export const DEFAULT_SPARSITY: SparsityOptions = { tau: 0.1, chunk: 256 };

/** Active-channel statistics of one count rule over all hidden positions of a layer. */
export interface ActiveCounts {
  /** Mean number of active channels per position. */
  meanActive: number;
  /** Standard deviation of the count over positions. */
  stdActive: number;
  /** meanActive / channels. */
  activeFraction: number;
  /** histogram[k] = fraction of positions with exactly k active channels, k = 0..channels. */
  histogram: number[];
}

export interface LayerSparsity {
  /** 1-based layer index l. */
  layer: number;
  /** Image resolution r_l of the layer (0 when unknown). */
  resolution: number;
  channels: number;
  /** Hidden positions measured (N * g * g). */
  positions: number;
  /** Exact non-zeros. */
  exact: ActiveCounts;
  /** |y_p[c]| > tau * max_c |y_p[c]|. */
  relative: ActiveCounts;
  /** Mean Hoyer measure over positions with at least one non-zero channel. */
  hoyer: number;
  /** Fraction of positions whose channels are all zero (excluded from the Hoyer mean). */
  emptyFraction: number;
  /** Largest |activation| seen. */
  maxActivation: number;
}

export interface SparsityReport {
  kind: 'sparsity';
  method: Method;
  layers: LayerSparsity[];
}

/** Streams positions of one layer (channels-last data) into counts; for chunked generator runs. */
export class SparsityAccumulator {
  private positions = 0;
  private exactHist: Float64Array;
  private relHist: Float64Array;
  private hoyerSum = 0;
  private empty = 0;
  private max = 0;

  constructor(
    readonly channels: number,
    readonly tau: number,
  ) {
    this.exactHist = new Float64Array(channels + 1);
    this.relHist = new Float64Array(channels + 1);
  }

  /** Adds every position of `data` ([..., C] row-major, C = channels). */
  add(data: ArrayLike<number>): void {
    const c = this.channels;
    if (data.length % c !== 0) throw new Error(`SparsityAccumulator.add: ${data.length} values is not a multiple of ${c} channels`);
    const sqrtC = Math.sqrt(c);
    for (let o = 0; o < data.length; o += c) {
      let nz = 0;
      let m = 0;
      let l1 = 0;
      let l2 = 0;
      for (let k = 0; k < c; k++) {
        const a = Math.abs(data[o + k]);
        if (a !== 0) nz++;
        if (a > m) m = a;
        l1 += a;
        l2 += a * a;
      }
      this.exactHist[nz]++;
      if (m > this.max) this.max = m;
      if (nz === 0) {
        this.empty++;
        this.relHist[0]++;
        continue;
      }
      const t = this.tau * m;
      let rel = 0;
      for (let k = 0; k < c; k++) if (Math.abs(data[o + k]) > t) rel++;
      this.relHist[rel]++;
      this.hoyerSum += c === 1 ? 1 : (sqrtC - l1 / Math.sqrt(l2)) / (sqrtC - 1);
    }
    this.positions += data.length / c;
  }

  result(layer: number, resolution: number): LayerSparsity {
    const counts = (h: Float64Array): ActiveCounts => {
      const n = this.positions;
      let s1 = 0;
      let s2 = 0;
      h.forEach((f, k) => {
        s1 += f * k;
        s2 += f * k * k;
      });
      const mean = n ? s1 / n : NaN;
      return {
        meanActive: mean,
        stdActive: n ? Math.sqrt(Math.max(0, s2 / n - mean * mean)) : NaN,
        activeFraction: mean / this.channels,
        histogram: Array.from(h, (f) => (n ? f / n : 0)),
      };
    };
    const filled = this.positions - this.empty;
    return {
      layer,
      resolution,
      channels: this.channels,
      positions: this.positions,
      exact: counts(this.exactHist),
      relative: counts(this.relHist),
      hoyer: filled ? this.hoyerSum / filled : NaN,
      emptyFraction: this.positions ? this.empty / this.positions : NaN,
      maxActivation: this.max,
    };
  }
}

function method(opts: SparsityOptions, extra: Record<string, number | string | boolean>): Method {
  return {
    computation:
      'per hidden position of s_l [N,g,g,C]: exact non-zero channels, channels above tau*max over that position, Hoyer measure over non-empty positions',
    params: { tau: opts.tau, ...extra },
  };
}

/**
 * Sparsity of given hidden layers s_l [N,g_l,g_l,C_l] (l = 1..L in order). `resolutions` labels the
 * layers (r_l); the tensors are only read.
 */
export function sparsity(hidden: tf.Tensor4D[], options: Partial<SparsityOptions> = {}, resolutions: number[] = []): SparsityReport {
  const opts = { ...DEFAULT_SPARSITY, ...options };
  checkTau(opts.tau, 'sparsity');
  const layers = hidden.map((s, l) => {
    if (s.rank !== 4) throw new Error(`sparsity: hidden layer ${l + 1} must be [N,g,g,C], got [${s.shape}]`);
    const acc = new SparsityAccumulator(s.shape[3], opts.tau);
    acc.add(s.dataSync());
    return acc.result(l + 1, resolutions[l] ?? 0);
  });
  return { kind: 'sparsity', method: method(opts, { samples: hidden[0]?.shape[0] ?? 0 }), layers };
}

/**
 * Sparsity of a generator (teacher or learner) on latents z [N,1,1,zDim]: runs the shared
 * `generatorForward` in chunks of `opts.chunk` samples and streams every hidden layer.
 */
export function generatorSparsity(params: GeneratorParams, z: tf.Tensor4D, options: Partial<SparsityOptions> = {}, seed = -1): SparsityReport {
  const opts = { ...DEFAULT_SPARSITY, ...options };
  checkTau(opts.tau, 'generatorSparsity');
  const { shape } = params;
  const accs = shape.channels.map((c) => new SparsityAccumulator(c, opts.tau));
  const n = z.shape[0];
  for (let start = 0; start < n; start += opts.chunk) {
    const m = Math.min(opts.chunk, n - start);
    const hidden = tf.tidy(() => generatorForward(params, tf.slice(z, [start, 0, 0, 0], [m, -1, -1, -1])).s);
    hidden.forEach((s, l) => accs[l].add(s.dataSync()));
    tf.dispose(hidden);
  }
  return {
    kind: 'sparsity',
    method: method(opts, { samples: n, zSeed: seed }),
    layers: accs.map((a, l) => a.result(l + 1, shape.resolutions[l])),
  };
}

function checkTau(tau: number, fn: string): void {
  if (!(tau >= 0 && tau < 1)) throw new Error(`${fn}: tau must be in [0, 1), got ${tau}`);
}
