/**
 * Edge-aware 2x upsampling of the generator's skip (src/models/layers/edge-upsample.ts) on cpu and wasm
 * against a float64 reference written from its definition (N = nearest, B = bilinear with PyTorch's
 * align_corners=False taps, d = mean_c (head(B) - head(N))^2, out = N + exp(-d / tau^2) (B - N)): forward on
 * an input with flat regions, small steps and a sharp edge (so that the weight takes values near 1, in
 * between and near 0), and the gradient against central differences of the float64 reference; and the
 * generator's skip wired to it.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { edgeUpsample2x, EDGE_TAU } from '../src/models/layers/edge-upsample.js';
import { Rng } from '../src/util/rng.js';
import { bilinearTaps as taps } from './helpers/bilinear.js';
import { describeEachBackend } from './helpers/backends.js';

/** The layer in float64 for u [N,H,W,C] (flat, row-major), with the blend weights w [N,2H,2W]. */
function ref(u: ArrayLike<number>, [n, h, w, c]: number[], head: 'linear' | 'tanh', tau: number): { out: Float64Array; weights: Float64Array } {
  const out = new Float64Array(n * 4 * h * w * c);
  const weights = new Float64Array(n * 4 * h * w);
  const f = head === 'tanh' ? Math.tanh : (v: number) => v;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < 2 * h; i++)
      for (let j = 0; j < 2 * w; j++) {
        const near: number[] = [];
        const bil: number[] = [];
        for (let k = 0; k < c; k++) {
          near.push(u[((b * h + (i >> 1)) * w + (j >> 1)) * c + k]);
          let s = 0;
          for (const [si, wi] of taps(i, h)) for (const [sj, wj] of taps(j, w)) s += wi * wj * u[((b * h + si) * w + sj) * c + k];
          bil.push(s);
        }
        const d = near.reduce((a, v, k) => a + (f(bil[k]) - f(v)) ** 2, 0) / c;
        const wt = Math.exp(-d / (tau * tau));
        weights[(b * 2 * h + i) * 2 * w + j] = wt;
        for (let k = 0; k < c; k++) out[((b * 2 * h + i) * 2 * w + j) * c + k] = near[k] + wt * (bil[k] - near[k]);
      }
  return { out, weights };
}

/** A 2 x 4 x 4 x 3 input: a flat region, a region of small colour steps, and a jump from -1 to 1 (an edge). */
function planted(): { u: number[]; shape: [number, number, number, number] } {
  const rng = new Rng(11, 'edge-upsample');
  const shape: [number, number, number, number] = [2, 4, 4, 3];
  const u: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        for (let k = 0; k < 3; k++) u.push(j < 2 ? 0.2 + (b === 0 ? 0 : 0.15 * rng.normal()) + 0.05 * k : i < 2 ? 1.2 : -1.2);
  return { u, shape };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describeEachBackend('edgeUpsample2x', () => {
  it('equals its float64 definition for both heads, blending close colours and keeping edges', () => {
    const { u, shape } = planted();
    for (const head of ['linear', 'tanh'] as const) {
      const { out, weights } = ref(u, shape, head, EDGE_TAU);
      // The planted input exercises the whole range of the weight.
      expect(Math.max(...weights), head).toBeGreaterThan(0.99);
      expect(Math.min(...weights), head).toBeLessThan(0.01);
      expect(weights.some((v) => v > 0.2 && v < 0.8), head).toBe(true);
      const y = tf.tidy(() => edgeUpsample2x(tf.tensor4d(u, shape), head));
      expect(y.shape).toEqual([2, 8, 8, 3]);
      expect(maxDiff(y.dataSync(), out), head).toBeLessThan(1e-5);
      y.dispose();
    }
  });

  it('its gradient matches central differences of the float64 definition, without leaking tensors', () => {
    const { u, shape } = planted();
    const g = Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.37));
    const loss = (v: number[]) => ref(v, shape, 'tanh', EDGE_TAU).out.reduce((a, x, i) => a + x * g[i], 0);
    const before = tf.memory().numTensors;
    const grad = tf.tidy(() => {
      const gt = tf.tensor4d(g, [2, 8, 8, 3]);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(edgeUpsample2x(a as tf.Tensor4D, 'tanh'), gt)))(tf.tensor4d(u, shape)).dataSync();
    });
    expect(tf.memory().numTensors).toBe(before);
    const eps = 1e-6;
    let worst = 0;
    for (let i = 0; i < u.length; i++) {
      const up = [...u];
      const dn = [...u];
      up[i] += eps;
      dn[i] -= eps;
      worst = Math.max(worst, Math.abs(grad[i] - (loss(up) - loss(dn)) / (2 * eps)));
    }
    expect(worst).toBeLessThan(2e-3);
  });
});
