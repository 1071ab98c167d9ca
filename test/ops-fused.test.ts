/**
 * fsrgan's own ops (src/ops: dense, biasAct, batchNorm, upsampleConcat, upsample2x) against float64 references, on
 * cpu and wasm: forward values and every input's gradient, with shapes that take the wasm SIMD paths
 * (channels divisible by 4, more rows than one float32 block) and the fallbacks (odd channels).
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { batchNorm, biasAct, dense, downsample2xSum, upsample2x, upsampleConcat } from '../src/ops/index.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';

// ---- float64 references ----
const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
function matmul64(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const o = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let p = 0; p < k; p++) o[i * m + j] += a[i * k + p] * b[p * m + j];
  return o;
}
const transpose64 = (a: Float64Array, r: number, c: number) => Float64Array.from({ length: r * c }, (_, i) => a[(i % r) * c + Math.floor(i / r)]);

/** Gradients of sum(f(inputs) * r) with respect to each input, by tf.grads. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], r: tf.Tensor): tf.Tensor[] {
  return tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
}

describeEachBackend('fsrgan ops against float64 references', () => {
  const rng = new Rng(11, 'fastops'); // the stream of the tests these came from (src/bench/fastops.ts)
  const rand = (shape: number[]) => tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1)), shape);

  it('dense: forward and both gradients, for both ways of computing dx', () => {
    for (const [n, cin, cout] of [[5, 7, 3], [2, 40, 30]]) {
      tf.tidy(() => {
        const x = rand([n, cin]);
        const w = rand([cin, cout]);
        const r = rand([n, cout]);
        const y64 = matmul64(f64(x), f64(w), n, cin, cout);
        expect(maxDiff(dense(x as tf.Tensor2D, w as tf.Tensor2D).dataSync(), y64)).toBeLessThan(1e-4);
        const [dx, dw] = gradsOf((a, b) => dense(a as tf.Tensor2D, b as tf.Tensor2D), [x, w], r);
        expect(maxDiff(dx.dataSync(), matmul64(f64(r), transpose64(f64(w), cin, cout), n, cout, cin))).toBeLessThan(1e-4);
        expect(maxDiff(dw.dataSync(), matmul64(transpose64(f64(x), n, cin), f64(r), cin, n, cout))).toBeLessThan(1e-4);
      });
    }
  });

  it('biasAct: relu(x - b), lrelu(x + b), linear x + b and bias-free lrelu, forward and gradients', () => {
    const cases = [
      { act: 'relu', sign: -1, bias: true }, { act: 'lrelu', sign: 1, bias: true }, { act: 'linear', sign: 1, bias: true }, { act: 'lrelu', sign: 1, bias: false },
    ] as const;
    // [5,4,4,8]: 80 rows, more than one float32 block of the wasm kernel's bias gradient (64 rows).
    for (const c of cases.flatMap((k) => [[3, 2, 2, 4], [5, 4, 4, 8], [2, 3, 1, 6]].map((shape) => ({ ...k, shape })))) {
      tf.tidy(() => {
        const [n, h, w, ch] = c.shape;
        const x = rand([n, h, w, ch]);
        const b = rand([ch]);
        const r = rand([n, h, w, ch]);
        const xv = f64(x);
        const bv = f64(b);
        const rv = f64(r);
        const slope = (z: number) => (c.act === 'linear' || z > 0 ? 1 : c.act === 'lrelu' ? 0.2 : 0);
        const z = xv.map((v, i) => v + (c.bias ? c.sign * bv[i % ch] : 0));
        const f = (a: tf.Tensor, bb?: tf.Tensor) => biasAct(a, c.bias ? (bb as tf.Tensor1D) : null, c.act, { sign: c.sign, alpha: 0.2 });
        expect(maxDiff(f(x, b).dataSync(), z.map((v) => v * slope(v)))).toBeLessThan(1e-5);
        const g = gradsOf(f, c.bias ? [x, b] : [x], r);
        const dz = z.map((v, i) => rv[i] * slope(v));
        expect(maxDiff(g[0].dataSync(), dz)).toBeLessThan(1e-5);
        if (c.bias) {
          const db = new Float64Array(ch);
          dz.forEach((v, i) => (db[i % ch] += c.sign * v));
          expect(maxDiff(g[1].dataSync(), db)).toBeLessThan(1e-4);
        }
      });
    }
  });

  it('batchNorm: forward, and gradients against central finite differences of a float64 version', () => {
    tf.tidy(() => {
      const [m, ch] = [6, 3];
      const x = rand([2, 3, 1, ch]);
      const gamma = rand([ch]);
      const beta = rand([ch]);
      const r = rand([2, 3, 1, ch]);
      const eps = 1e-5;
      const bn64 = (xv: Float64Array, gv: Float64Array, bv: Float64Array) => {
        const out = new Float64Array(xv.length);
        for (let j = 0; j < ch; j++) {
          let mean = 0;
          for (let i = 0; i < m; i++) mean += xv[i * ch + j] / m;
          let v = 0;
          for (let i = 0; i < m; i++) v += (xv[i * ch + j] - mean) ** 2 / m;
          for (let i = 0; i < m; i++) out[i * ch + j] = ((xv[i * ch + j] - mean) / Math.sqrt(v + eps)) * gv[j] + bv[j];
        }
        return out;
      };
      const ins = [f64(x), f64(gamma), f64(beta)];
      const rv = f64(r);
      const loss = (vs: Float64Array[]) => bn64(vs[0], vs[1], vs[2]).reduce((a, v, i) => a + v * rv[i], 0);
      expect(maxDiff(batchNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps).dataSync(), bn64(ins[0], ins[1], ins[2]))).toBeLessThan(1e-4);
      const g = gradsOf((a, gg, bb) => batchNorm(a, gg as tf.Tensor1D, bb as tf.Tensor1D, eps), [x, gamma, beta], r);
      ins.forEach((v, k) => {
        const fd = v.map((_, i) => {
          const h = 1e-6;
          const plus = ins.map((u) => u.slice());
          const minus = ins.map((u) => u.slice());
          plus[k][i] += h;
          minus[k][i] -= h;
          return (loss(plus) - loss(minus)) / (2 * h);
        });
        expect(maxDiff(g[k].dataSync(), fd)).toBeLessThan(2e-3);
      });
    });
  });

  // 3 + 3 channels (the stage pair) takes an unrolled path.
  it.each([[2, 3], [3, 3]])('upsampleConcat: forward and gradients of both inputs (%i + %i channels)', (c1, c2) => {
    tf.tidy(() => {
      const [n, h, w] = [2, 2, 3];
      const tap = rand([n, h, w, c1]);
      const x = rand([n, 2 * h, 2 * w, c2]);
      const r = rand([n, 2 * h, 2 * w, c1 + c2]);
      const [tv, xv, rv] = [f64(tap), f64(x), f64(r)];
      const want = new Float64Array(r.size);
      const dtap = new Float64Array(tap.size);
      const dx = new Float64Array(x.size);
      // For every output element, the one input element it copies.
      for (let b = 0; b < n; b++)
        for (let yy = 0; yy < 2 * h; yy++)
          for (let xx = 0; xx < 2 * w; xx++)
            for (let c = 0; c < c1 + c2; c++) {
              const o = ((b * 2 * h + yy) * 2 * w + xx) * (c1 + c2) + c;
              if (c < c1) {
                const s = ((b * h + Math.floor(yy / 2)) * w + Math.floor(xx / 2)) * c1 + c;
                want[o] = tv[s];
                dtap[s] += rv[o];
              } else {
                const s = ((b * 2 * h + yy) * 2 * w + xx) * c2 + c - c1;
                want[o] = xv[s];
                dx[s] += rv[o];
              }
            }
      expect(maxDiff(upsampleConcat(tap as tf.Tensor4D, x as tf.Tensor4D).dataSync(), want)).toBe(0);
      const [gt, gx] = gradsOf((a, b) => upsampleConcat(a as tf.Tensor4D, b as tf.Tensor4D), [tap, x], r);
      expect(maxDiff(gt.dataSync(), dtap)).toBeLessThan(1e-5);
      expect(maxDiff(gx.dataSync(), dx)).toBe(0);
    });
  });

  it('upsample2x and downsample2xSum: the same floats as the concat/reshape construction they replaced, to the second derivative', () => {
    // The construction every run before the op used; its gradient adds each 2x2 block as (a + b) + (c + d).
    const old = (x: tf.Tensor4D) => {
      const [n, h, w, c] = x.shape;
      const wide = tf.concat([x.reshape([n, h, w, 1, c]), x.reshape([n, h, w, 1, c])], 3).reshape([n, h, 1, 2 * w, c]);
      return tf.concat([wide, wide], 2).reshape([n, 2 * h, 2 * w, c]) as tf.Tensor4D;
    };
    const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
    for (const shape of [[2, 3, 5, 3], [1, 4, 4, 8], [3, 1, 2, 1]] as [number, number, number, number][]) {
      tf.tidy(() => {
        const x = rand(shape) as tf.Tensor4D;
        const r = rand([shape[0], 2 * shape[1], 2 * shape[2], shape[3]]);
        expect(bits(upsample2x(x))).toEqual(bits(old(x)));
        // Values spanning magnitudes, so that a different order of the block sums would show in the bits.
        const rr = tf.mul(r, tf.pow(10, tf.floor(tf.mul(rand(r.shape), 3))));
        const g = (up: (x: tf.Tensor4D) => tf.Tensor4D) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(up(a as tf.Tensor4D), rr)))(x);
        expect(bits(g(upsample2x))).toEqual(bits(g(old)));
        expect(bits(downsample2xSum(rr as tf.Tensor4D))).toEqual(bits(g(old)));
        // Second derivative: d/dx sum((d/dx sum(up(x)^2 * r))^2).
        const h = (up: (x: tf.Tensor4D) => tf.Tensor4D) =>
          tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.square(up(b as tf.Tensor4D)), rr)))(a))))(x);
        expect(bits(h(upsample2x))).toEqual(bits(h(old)));
      });
    }
  });

  it('leave no tensors behind (forward and gradients)', () => {
    const x = rand([4, 2, 2, 8]);
    const b = rand([8]);
    const w = rand([32, 3]);
    const tap = rand([4, 1, 1, 3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tf.dispose(tf.grads((a: tf.Tensor, bb: tf.Tensor) => tf.sum(biasAct(a, bb as tf.Tensor1D, 'lrelu')))([x, b]));
      tf.tidy(() => void tf.grads((a: tf.Tensor, bb: tf.Tensor) => tf.sum(biasAct(a, bb as tf.Tensor1D, 'relu', { sign: -1 })))([tf.reshape(x, [4, 4, 8]), b]));
      tf.dispose(tf.grads((a: tf.Tensor, bb: tf.Tensor) => tf.sum(batchNorm(a, bb as tf.Tensor1D, bb as tf.Tensor1D)))([x, b]));
      tf.tidy(() => void tf.grads((a: tf.Tensor, ww: tf.Tensor) => tf.sum(dense(a as tf.Tensor2D, ww as tf.Tensor2D)))([tf.reshape(x, [4, 32]), w]));
      tf.dispose(tf.grads((a: tf.Tensor, t: tf.Tensor) => tf.sum(upsampleConcat(t as tf.Tensor4D, a as tf.Tensor4D)))([x, tap]));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, b, w, tap]);
  });
});
