/**
 * ProGAN's building blocks (src/models/layers/) against independent float64 computations: pixel norm, the
 * minibatch standard deviation channel (values and a finite-difference gradient), and the equalised
 * learning rate's run-time scale (forward and the gradient's chain-rule factor).
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { pixelNorm } from '../src/models/layers/pixel-norm.js';
import { minibatchStddev, stddevGroupSize } from '../src/models/layers/minibatch-stddev.js';
import { equalizedWeight, fanInOf, heScale } from '../src/models/layers/equalized.js';
import { Rng } from '../src/util/rng.js';

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(tol * Math.max(1, Math.abs(want[i])));
};

/** Float64 minibatch stddev of NHWC values: strided groups (image k in group k mod M), biased std + 1e-8. */
function mbstdRef(x: number[], [n, h, w, c]: number[], groupSize: number): number[] {
  let g = Math.min(groupSize, n);
  while (n % g) g--;
  const m = n / g;
  const at = (k: number, p: number) => x[k * h * w * c + p];
  const per = new Array(m).fill(0);
  for (let j = 0; j < m; j++) {
    const members = Array.from({ length: g }, (_, i) => i * m + j);
    let acc = 0;
    for (let p = 0; p < h * w * c; p++) {
      const mu = members.reduce((s, k) => s + at(k, p), 0) / g;
      const v = members.reduce((s, k) => s + (at(k, p) - mu) ** 2, 0) / g;
      acc += Math.sqrt(v + 1e-8);
    }
    per[j] = acc / (h * w * c);
  }
  const out: number[] = [];
  for (let k = 0; k < n; k++) for (let p = 0; p < h * w; p++) {
    for (let ch = 0; ch < c; ch++) out.push(x[(k * h * w + p) * c + ch]);
    out.push(per[k % m]);
  }
  return out;
}

describeEachBackend('ProGAN layers', () => {
  it('pixelNorm divides each pixel by the RMS of its channels (NHWC and [n, c])', () => {
    const rng = new Rng(1);
    const vals = rng.normals(2 * 3 * 3 * 5, 2);
    const x = tf.tensor4d(vals, [2, 3, 3, 5]);
    const y = pixelNorm(x);
    const want: number[] = [];
    for (let p = 0; p < 18; p++) {
      const v = vals.slice(p * 5, p * 5 + 5);
      const rms = Math.sqrt(v.reduce((s, a) => s + a * a, 0) / 5 + 1e-8);
      want.push(...v.map((a) => a / rms));
    }
    close(y.dataSync(), want);
    const x2 = tf.tensor2d([3, 4, 0, 0], [2, 2]);
    const y2 = pixelNorm(x2, 0);
    // [3,4]: rms = sqrt(25/2); the zero row stays 0 with eps (checked separately: eps 0 gives NaN there).
    close(y2.dataSync().slice(0, 2), [3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)]);
    const y3 = pixelNorm(x2);
    close(y3.dataSync().slice(2), [0, 0]);
    tf.dispose([x, y, x2, y2, y3]);
  });

  it('minibatchStddev appends the group stddev channel (float64 reference; group sizes clipped)', () => {
    expect([stddevGroupSize(8, 4), stddevGroupSize(6, 4), stddevGroupSize(5, 4), stddevGroupSize(2, 4), stddevGroupSize(1, 4)]).toEqual([4, 3, 1, 2, 1]);
    const rng = new Rng(2);
    for (const [n, gs] of [[8, 4], [6, 4], [3, 2]] as const) {
      const shape = [n, 2, 3, 4];
      const vals = Array.from(rng.normals(n * 24));
      const x = tf.tensor4d(vals, shape as [number, number, number, number]);
      const y = minibatchStddev(x, gs);
      expect(y.shape).toEqual([n, 2, 3, 5]);
      close(y.dataSync(), mbstdRef(vals, shape, gs), 1e-4);
      tf.dispose([x, y]);
    }
  });

  it('minibatchStddev: gradient of a weighted sum matches a central finite difference (float64)', () => {
    const rng = new Rng(3);
    const shape = [4, 2, 2, 3];
    const vals = Array.from(rng.normals(48));
    const wts = Array.from(rng.normals(4 * 2 * 2 * 4));
    const f64 = (v: number[]) => mbstdRef(v, shape, 2).reduce((s, a, i) => s + a * wts[i], 0);
    const x = tf.tensor4d(vals, shape as [number, number, number, number]);
    const wt = tf.tensor4d(wts, [4, 2, 2, 4]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(minibatchStddev(t as tf.Tensor4D, 2), wt)))(x);
    const got = g.dataSync();
    const h = 1e-5;
    const fd = vals.map((_, i) => {
      const p = [...vals];
      const q = [...vals];
      p[i] += h;
      q[i] -= h;
      return (f64(p) - f64(q)) / (2 * h);
    });
    close(got, fd, 2e-3);
    tf.dispose([x, wt, g]);
  });

  it('minibatchStddev of a collapsed batch is ~0 and keeps no tensors', () => {
    const before = tf.memory().numTensors;
    const x = tf.ones([4, 2, 2, 3]) as tf.Tensor4D;
    const y = minibatchStddev(x);
    const last = tf.tidy(() => tf.slice(y, [0, 0, 0, 3], [-1, -1, -1, 1]).dataSync());
    for (const v of last) expect(v).toBeLessThan(2e-4);
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('equalised learning rate: forward is c w, dL/dw = c dL/dw_hat, c = gain / sqrt(fan_in)', () => {
    expect(heScale(9)).toBeCloseTo(Math.SQRT2 / 3, 12);
    expect(heScale(16, 1)).toBe(0.25);
    expect(() => heScale(0)).toThrow(/fan_in/);
    expect(fanInOf([3, 3, 8, 16])).toBe(72);
    const rng = new Rng(4);
    const wv = rng.normals(6);
    const xv = rng.normals(6);
    const c = heScale(3);
    const w = tf.tensor2d(wv, [3, 2]);
    const x = tf.tensor2d(xv, [2, 3]);
    // L = sum((x c w)^2)/2: dL/dw = c x^T (x c w); closed form computed in float64 below.
    const g = tf.grad((t: tf.Tensor) => tf.mul(0.5, tf.sum(tf.square(tf.matMul(x, equalizedWeight(t as tf.Tensor2D, 3))))))(w);
    const y = [0, 1].flatMap((i) => [0, 1].map((j) => [0, 1, 2].reduce((s, k) => s + xv[i * 3 + k] * c * wv[k * 2 + j], 0)));
    const want = [0, 1, 2].flatMap((k) => [0, 1].map((j) => c * [0, 1].reduce((s, i) => s + xv[i * 3 + k] * y[i * 2 + j], 0)));
    close(g.dataSync(), want);
    tf.dispose([w, x, g]);
  });
});

describeEachBackend('pixel norm in the FSR generator', () => {
  it('generator.pixelNorm: every hidden layer is the pixel norm of the plain ReLU layer; images follow from it', async () => {
    const { createLearner, disposeLearner } = await import('../src/models/learner.js');
    const { generatorForward } = await import('../src/models/generator.js');
    const shape = { resolutions: [4, 8], channels: [5, 6], zDim: 3, kernel: 2, patch: 2, imageChannels: 3 };
    const g = createLearner(shape, new Rng(5), { gain: 1.4, outGain: 1, bias: 0 });
    const pn = { ...g.params, shape: { ...shape, pixelNorm: true } };
    const z = tf.tensor4d(Array.from(new Rng(6).normals(4 * 3)), [4, 1, 1, 3]);
    const plain = generatorForward(g.params, z);
    const normed = generatorForward(pn, z);
    // Layer 1 sees z in both: s_1 = PN(plain s_1) exactly.
    const want = pixelNorm(plain.s[0]);
    close(normed.s[0].dataSync(), want.dataSync(), 1e-5);
    // Zeros of the ReLU stay zeros.
    const a = plain.s[0].dataSync();
    const b = normed.s[0].dataSync();
    for (let i = 0; i < a.length; i++) if (a[i] === 0) expect(b[i]).toBe(0);
    expect(normed.x[1].shape).toEqual([4, 8, 8, 3]);
    tf.dispose([z, want, ...plain.s, ...plain.x, ...normed.s, ...normed.x]);
    disposeLearner(g);
  });
});
