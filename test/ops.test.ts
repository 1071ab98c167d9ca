/**
 * conv2d / deconv2d (src/ops) against independent float64 references: forward values against direct
 * loops (ops.reference.ts), input and filter gradients against float64 central finite differences of
 * those loops, on seeded random shapes, on cpu and wasm. Every rebuilt-kernel plan is also checked on
 * its own, and double backprop (R1 / gradient penalty) against finite differences.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { arr4, dot, finiteDiff, refConv2d, refDeconv2d, relErr, type Arr4 } from './ops.reference.js';
import { conv2d, deconv2d, leakyRelu, tanh, type Pad } from '../src/ops/index.js';
import { conv2dBackpropFilter, type FilterGradPlan } from '../src/ops/filter_grad.js';
import { conv2dBackpropInput, type InputGradPlan } from '../src/ops/input_grad.js';
import { initBackend } from '../src/backend/index.js';
import { kernelPlan, registerFastKernels } from '../src/ops/kernels.js';
import { Rng } from '../src/util/rng.js';

type Shape4 = [number, number, number, number];
const TOL = 1e-4;

interface Case {
  op: 'conv2d' | 'deconv2d';
  x: Shape4;
  /** Filter shape in the op's own layout: conv [k,k,Cin,Cout], deconv [k,k,Cout,Cin]. */
  w: Shape4;
  s: number;
  pad: Pad;
}

function randArr(rng: Rng, shape: Shape4): Arr4 {
  return arr4(shape, rng.normals(shape[0] * shape[1] * shape[2] * shape[3]));
}

const tensor = (a: Arr4) => tf.tensor4d(Float32Array.from(a.data), a.shape);

function ref(c: Case, x: Arr4, w: Arr4): Arr4 {
  return c.op === 'conv2d' ? refConv2d(x, w, c.s, c.pad) : refDeconv2d(x, w, c.s, c.pad);
}

function run(c: Case, x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  return c.op === 'conv2d' ? conv2d(x, w, c.s, c.pad) : deconv2d(x, w, c.s, c.pad);
}

/** Random geometries: kernel 1..5, stride 1 or 2, both paddings, non-square, a few channels. */
function randomCases(rng: Rng, op: Case['op'], count: number): Case[] {
  const cases: Case[] = [];
  while (cases.length < count) {
    const k = 1 + rng.int(5);
    const s = 1 + rng.int(2);
    const pad: Pad = rng.int(2) === 0 ? 'same' : 'valid';
    const n = 1 + rng.int(2);
    const cin = 1 + rng.int(4);
    const cout = 1 + rng.int(4);
    const h = (op === 'conv2d' ? k : 1) + rng.int(5);
    const wd = (op === 'conv2d' ? k : 1) + rng.int(5);
    cases.push({ op, x: [n, h, wd, cin], w: op === 'conv2d' ? [k, k, cin, cout] : [k, k, cout, cin], s, pad });
  }
  return cases;
}

/** The geometries the models use (src/models): layer-1 deconv from 1x1, k4/k3/k5 s2 'same', k=s=P heads, k3 s1, k1. */
const MODEL_CASES: Case[] = [
  { op: 'deconv2d', x: [2, 1, 1, 5], w: [4, 4, 3, 5], s: 4, pad: 'valid' },
  { op: 'deconv2d', x: [1, 1, 1, 3], w: [8, 8, 2, 3], s: 8, pad: 'valid' },
  { op: 'deconv2d', x: [2, 4, 4, 3], w: [4, 4, 2, 3], s: 2, pad: 'same' },
  { op: 'deconv2d', x: [2, 3, 3, 3], w: [3, 3, 2, 3], s: 2, pad: 'same' },
  { op: 'deconv2d', x: [1, 3, 3, 2], w: [5, 5, 3, 2], s: 2, pad: 'same' },
  { op: 'deconv2d', x: [2, 3, 3, 4], w: [2, 2, 3, 4], s: 2, pad: 'valid' },
  { op: 'deconv2d', x: [2, 2, 2, 4], w: [4, 4, 3, 4], s: 4, pad: 'valid' },
  { op: 'conv2d', x: [2, 8, 8, 3], w: [4, 4, 3, 4], s: 2, pad: 'same' },
  { op: 'conv2d', x: [2, 8, 8, 3], w: [2, 2, 3, 4], s: 2, pad: 'valid' },
  { op: 'conv2d', x: [2, 8, 8, 3], w: [4, 4, 3, 4], s: 4, pad: 'valid' },
  { op: 'conv2d', x: [2, 5, 5, 3], w: [3, 3, 3, 4], s: 1, pad: 'same' },
  { op: 'conv2d', x: [2, 4, 4, 5], w: [1, 1, 5, 3], s: 1, pad: 'same' },
  // Output channels divisible by 8: on wasm these run the SIMD patch kernels (forward for kernel = stride,
  // filter gradient, input gradient / deconv with few channels), including kernel = stride with padding.
  { op: 'conv2d', x: [2, 8, 8, 3], w: [4, 4, 3, 8], s: 2, pad: 'same' },
  { op: 'conv2d', x: [2, 8, 8, 6], w: [4, 4, 6, 16], s: 4, pad: 'valid' },
  { op: 'conv2d', x: [2, 9, 9, 3], w: [3, 3, 3, 8], s: 3, pad: 'same' },
  { op: 'conv2d', x: [1, 10, 6, 3], w: [2, 2, 3, 8], s: 2, pad: 'valid' },
  { op: 'deconv2d', x: [2, 2, 2, 8], w: [4, 4, 3, 8], s: 4, pad: 'valid' },
];

/**
 * 'same' padding with 1 < kernel < stride where the last window ends before the input does: tfjs-wasm's
 * own Conv2D returns zeros there (src/ops/shape.ts, explicitSamePad), and so does a deconv's input
 * gradient, which is that Conv2D. Non-square and uneven sizes, so each axis is checked on its own.
 */
const SAME_SHORT_CASES: Case[] = [
  { op: 'conv2d', x: [2, 12, 12, 2], w: [2, 2, 2, 3], s: 3, pad: 'same' },
  { op: 'conv2d', x: [1, 12, 13, 3], w: [3, 3, 3, 8], s: 4, pad: 'same' },
  { op: 'conv2d', x: [2, 13, 12, 2], w: [2, 2, 2, 4], s: 3, pad: 'same' },
  { op: 'deconv2d', x: [2, 4, 4, 3], w: [2, 2, 2, 3], s: 3, pad: 'same' },
  { op: 'deconv2d', x: [1, 3, 2, 2], w: [3, 3, 3, 2], s: 4, pad: 'same' },
];

const label = (c: Case) => `${c.op} x[${c.x}] w[${c.w}] s${c.s} ${c.pad}`;

/** Gradients of L = sum(op(x, w) * dy) w.r.t. x and w, by tf autodiff and by float64 finite differences. */
function gradientErrors(c: Case, rng: Rng): { dx: number; dw: number } {
  const x = randArr(rng, c.x);
  const w = randArr(rng, c.w);
  const y = ref(c, x, w);
  const dy = randArr(rng, y.shape);
  // L is bilinear, so central differences with a large step are exact up to float64 rounding.
  const fdX = finiteDiff((v) => dot(ref(c, { shape: c.x, data: v }, w).data, dy.data), x.data, 0.5);
  const fdW = finiteDiff((v) => dot(ref(c, x, { shape: c.w, data: v }).data, dy.data), w.data, 0.5);
  const [gx, gw] = tf.tidy(() => {
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => run(c, a as tf.Tensor4D, b as tf.Tensor4D))([tensor(x), tensor(w)], tensor(dy));
    return g.map((t) => t.dataSync());
  });
  return { dx: relErr(gx, fdX), dw: relErr(gw, fdW) };
}

describeEachBackend('ops: conv2d and deconv2d', (backend) => {
  const seed = backend === 'cpu' ? 11 : 12;

  it('forward values match the float64 reference on random shapes and the model geometries', () => {
    const rng = new Rng(seed, 'fwd');
    const cases = [...randomCases(rng, 'conv2d', 12), ...randomCases(rng, 'deconv2d', 12), ...MODEL_CASES];
    for (const c of cases) {
      const x = randArr(rng, c.x);
      const w = randArr(rng, c.w);
      const want = ref(c, x, w);
      const got = tf.tidy(() => run(c, tensor(x), tensor(w)));
      expect(got.shape, label(c)).toEqual(want.shape);
      expect(relErr(got.dataSync(), want.data), label(c)).toBeLessThan(TOL);
      got.dispose();
    }
  });

  it('input and filter gradients match float64 finite differences on random shapes', () => {
    const rng = new Rng(seed, 'grad');
    for (const c of [...randomCases(rng, 'conv2d', 10), ...randomCases(rng, 'deconv2d', 10)]) {
      const e = gradientErrors(c, rng);
      expect(e.dx, `${label(c)} dx`).toBeLessThan(TOL);
      expect(e.dw, `${label(c)} dw`).toBeLessThan(TOL);
    }
  });

  it('gradients match at the model geometries', () => {
    const rng = new Rng(seed, 'model');
    for (const c of MODEL_CASES) {
      const e = gradientErrors(c, rng);
      expect(e.dx, `${label(c)} dx`).toBeLessThan(TOL);
      expect(e.dw, `${label(c)} dw`).toBeLessThan(TOL);
    }
  });

  it("'same' padding with 1 < kernel < stride: forward and both gradients match the reference", () => {
    const rng = new Rng(seed, 'same-short');
    for (const c of SAME_SHORT_CASES) {
      const x = randArr(rng, c.x);
      const w = randArr(rng, c.w);
      const want = ref(c, x, w);
      const got = tf.tidy(() => run(c, tensor(x), tensor(w)).dataSync());
      expect(relErr(got, want.data), label(c)).toBeLessThan(TOL);
      const e = gradientErrors(c, rng);
      expect(e.dx, `${label(c)} dx`).toBeLessThan(TOL);
      expect(e.dw, `${label(c)} dw`).toBeLessThan(TOL);
    }
  });

  it('every filter-gradient and input-gradient plan matches finite differences', () => {
    const rng = new Rng(seed, 'plans');
    const convs: Case[] = [...MODEL_CASES.filter((c) => c.op === 'conv2d'), ...randomCases(rng, 'conv2d', 6),
      { op: 'conv2d', x: [2, 9, 7, 2], w: [2, 2, 2, 3], s: 2, pad: 'valid' }, // k = s with leftover rows
      { op: 'conv2d', x: [1, 9, 9, 2], w: [5, 5, 2, 3], s: 3, pad: 'same' },
      // One tap block per phase (ceil(k/s) = 1, packX's matMul branch) with rows cut or padded.
      { op: 'conv2d', x: [2, 7, 6, 2], w: [1, 1, 2, 3], s: 2, pad: 'same' },
      { op: 'conv2d', x: [1, 8, 7, 3], w: [2, 2, 3, 2], s: 3, pad: 'valid' },
      // Output channels divisible by 8, so the wasm patch kernels take the filter gradient too; odd sizes,
      // kernel < stride, kernel = stride with leftover rows, and a pixel count that is not a multiple of 4.
      { op: 'conv2d', x: [2, 9, 7, 3], w: [4, 4, 3, 8], s: 2, pad: 'same' },
      { op: 'conv2d', x: [1, 8, 8, 6], w: [4, 4, 6, 8], s: 4, pad: 'valid' },
      { op: 'conv2d', x: [2, 7, 9, 2], w: [3, 3, 2, 16], s: 2, pad: 'same' },
      { op: 'conv2d', x: [1, 9, 10, 3], w: [2, 2, 3, 8], s: 2, pad: 'valid' },
      { op: 'conv2d', x: [2, 5, 6, 1], w: [1, 1, 1, 8], s: 2, pad: 'same' },
      { op: 'conv2d', x: [1, 6, 6, 5], w: [5, 5, 5, 8], s: 1, pad: 'same' }];
    const onWasm = tf.getBackend() === 'wasm';
    for (const c of convs) {
      const x = randArr(rng, c.x);
      const w = randArr(rng, c.w);
      const dy = randArr(rng, refConv2d(x, w, c.s, c.pad).shape);
      const fdW = finiteDiff((v) => dot(refConv2d(x, { shape: c.w, data: v }, c.s, c.pad).data, dy.data), w.data, 0.5);
      const fdX = finiteDiff((v) => dot(refConv2d({ shape: c.x, data: v }, w, c.s, c.pad).data, dy.data), x.data, 0.5);
      const nonOverlapping = c.w[0] === c.s && c.pad === 'valid';
      const fPlans: FilterGradPlan[] = nonOverlapping ? ['matmul', 'dilated', 'packX'] : ['dilated', 'packX'];
      if (onWasm && c.w[3] % 8 === 0) fPlans.push('patch');
      for (const plan of fPlans) {
        const g = tf.tidy(() => conv2dBackpropFilter(tensor(x), tensor(dy), { strides: c.s, pad: c.pad, filterShape: c.w }, plan).dataSync());
        expect(relErr(g, fdW), `${label(c)} filter plan ${plan}`).toBeLessThan(TOL);
      }
      const iPlans: InputGradPlan[] = nonOverlapping ? ['matmul', 'subpixel'] : ['subpixel'];
      if (c.x[1] % c.s === 0 && c.x[2] % c.s === 0) iPlans.push('phases');
      if (onWasm) iPlans.push('patch');
      for (const plan of iPlans) {
        const g = tf.tidy(() => conv2dBackpropInput(tensor(dy), tensor(w), { strides: c.s, pad: c.pad, inputShape: c.x }, plan).dataSync());
        expect(relErr(g, fdX), `${label(c)} input plan ${plan}`).toBeLessThan(TOL);
      }
    }
  });

  it('double backprop through conv2d (R1 / gradient penalty) matches finite differences', () => {
    // D(x) = sum(c * conv(act(conv(x, w1)), w2)), penalty P(w1, w2) = sum((dD/dx)^2), as in R1 and WGAN-GP.
    // act is src/ops' twice-differentiable tanh (tf.tanh's second derivative is wrong in tfjs 4.22).
    const rng = new Rng(seed, 'r1');
    const layers: [Case, Case][] = [
      [{ op: 'conv2d', x: [2, 6, 6, 2], w: [4, 4, 2, 3], s: 2, pad: 'same' }, { op: 'conv2d', x: [2, 3, 3, 3], w: [3, 3, 3, 2], s: 1, pad: 'same' }],
      [{ op: 'conv2d', x: [2, 4, 4, 2], w: [2, 2, 2, 3], s: 2, pad: 'valid' }, { op: 'conv2d', x: [2, 2, 2, 3], w: [1, 1, 3, 2], s: 1, pad: 'same' }],
    ];
    for (const [l1, l2] of layers) {
      const x = randArr(rng, l1.x);
      const w1 = randArr(rng, l1.w);
      const w2 = randArr(rng, l2.w);
      const cOut = randArr(rng, refConv2d(refConv2d(x, w1, l1.s, l1.pad), w2, l2.s, l2.pad).shape);
      // Float64 penalty: dD/dx = deconv1((1 - tanh^2(h1)) * deconv2(c)), deconv being conv's adjoint.
      const penalty = (a1: Arr4, a2: Arr4) => {
        const h1 = refConv2d(x, a1, l1.s, l1.pad);
        const back2 = refDeconv2d(cOut, a2, l2.s, l2.pad);
        const g1 = arr4(h1.shape, h1.data.map((v, i) => (1 - Math.tanh(v) ** 2) * back2.data[i]));
        const gx = refDeconv2d(g1, a1, l1.s, l1.pad);
        return dot(gx.data, gx.data);
      };
      const fd1 = finiteDiff((v) => penalty({ shape: l1.w, data: v }, w2), w1.data, 1e-5);
      const fd2 = finiteDiff((v) => penalty(w1, { shape: l2.w, data: v }), w2.data, 1e-5);
      const [g1, g2] = tf.tidy(() => {
        const xt = tensor(x);
        const ct = tensor(cOut);
        const p = (a: tf.Tensor, b: tf.Tensor) => {
          const d = (xx: tf.Tensor) => tf.sum(tf.mul(ct, conv2d(tanh(conv2d(xx as tf.Tensor4D, a as tf.Tensor4D, l1.s, l1.pad)) as tf.Tensor4D, b as tf.Tensor4D, l2.s, l2.pad)));
          return tf.sum(tf.square(tf.grad(d)(xt)));
        };
        return tf.grads(p)([tensor(w1), tensor(w2)]).map((t) => t.dataSync());
      });
      expect(relErr(g1, fd1), `${label(l1)} d penalty / d w1`).toBeLessThan(TOL);
      expect(relErr(g2, fd2), `${label(l2)} d penalty / d w2`).toBeLessThan(TOL);
    }
  });

  it('double backprop through conv2d and leakyRelu (the DCGAN discriminator) matches finite differences', () => {
    const rng = new Rng(seed, 'r1-lrelu');
    const l1: Case = { op: 'conv2d', x: [2, 6, 6, 2], w: [4, 4, 2, 3], s: 2, pad: 'same' };
    const l2: Case = { op: 'conv2d', x: [2, 3, 3, 3], w: [3, 3, 3, 2], s: 2, pad: 'valid' };
    const x = randArr(rng, l1.x);
    const w1 = randArr(rng, l1.w);
    const w2 = randArr(rng, l2.w);
    const cOut = randArr(rng, [2, 1, 1, 2]);
    const slope = (v: number) => (v > 0 ? 1 : 0.2);
    const penalty = (a1: Arr4, a2: Arr4) => {
      const h1 = refConv2d(x, a1, l1.s, l1.pad);
      const back2 = refDeconv2d(cOut, a2, l2.s, l2.pad);
      const gx = refDeconv2d(arr4(h1.shape, h1.data.map((v, i) => slope(v) * back2.data[i])), a1, l1.s, l1.pad);
      return dot(gx.data, gx.data);
    };
    // Piecewise bilinear: a modest step stays inside one linear piece unless a pre-activation is ~0.
    const fd1 = finiteDiff((v) => penalty({ shape: l1.w, data: v }, w2), w1.data, 1e-4);
    const fd2 = finiteDiff((v) => penalty(w1, { shape: l2.w, data: v }), w2.data, 1e-4);
    const [g1, g2] = tf.tidy(() => {
      const xt = tensor(x);
      const ct = tensor(cOut);
      const p = (a: tf.Tensor, b: tf.Tensor) => {
        const d = (xx: tf.Tensor) => tf.sum(tf.mul(ct, conv2d(leakyRelu(conv2d(xx as tf.Tensor4D, a as tf.Tensor4D, l1.s, l1.pad), 0.2), b as tf.Tensor4D, l2.s, l2.pad)));
        return tf.sum(tf.square(tf.grad(d)(xt)));
      };
      return tf.grads(p)([tensor(w1), tensor(w2)]).map((t) => t.dataSync());
    });
    expect(relErr(g1, fd1)).toBeLessThan(TOL);
    expect(relErr(g2, fd2)).toBeLessThan(TOL);
  });

  it('matMul with transposed operands (every dense-layer gradient) matches a float64 product', () => {
    const rng = new Rng(seed, 'matmul');
    for (const [batch, m, k, n] of [[0, 5, 7, 3], [0, 33, 17, 65], [3, 4, 6, 5]]) {
      for (const [ta, tb] of [[true, false], [false, true], [true, true], [false, false]]) {
        const lead = batch ? [batch] : [];
        const aShape = [...lead, ...(ta ? [k, m] : [m, k])];
        const bShape = [...lead, ...(tb ? [n, k] : [k, n])];
        const a = rng.normals(aShape.reduce((p, q) => p * q, 1));
        const b = rng.normals(bShape.reduce((p, q) => p * q, 1));
        const want = new Float64Array(Math.max(batch, 1) * m * n);
        for (let t = 0; t < Math.max(batch, 1); t++)
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let acc = 0;
              for (let l = 0; l < k; l++) {
                const av = a[t * m * k + (ta ? l * m + i : i * k + l)];
                const bv = b[t * k * n + (tb ? j * k + l : l * n + j)];
                acc += av * bv;
              }
              want[(t * m + i) * n + j] = acc;
            }
        const got = tf.tidy(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb).dataSync());
        expect(relErr(got, want), `matMul [${aShape}] x [${bShape}] ${ta} ${tb}`).toBeLessThan(TOL);
      }
    }
  });

  it('leaves no tensors behind (forward, gradients, double backprop)', () => {
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([4, 4, 3, 4]) as tf.Tensor4D;
    const wd = tf.randomNormal([4, 4, 3, 4]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose(conv2d(x, w, 2, 'same'));
      tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))([x, w]));
      const y = tf.randomNormal([2, 4, 4, 4]) as tf.Tensor4D;
      tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => deconv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))([y, wd]));
      tf.dispose(tf.grad((b: tf.Tensor) => tf.sum(tf.square(tf.grad((xx: tf.Tensor) => conv2d(xx as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))(x))))(w));
      tf.tidy(() => {
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b))([tf.reshape(x, [8, 48]), tf.reshape(w, [48, 4])]);
      });
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, wd]);
  });

  it('rejects mismatched shapes with a message naming the function', () => {
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => conv2d(x, tf.zeros([3, 3, 2, 4]) as tf.Tensor4D, 1, 'same')).toThrow(/conv2d: x has 3 channels/);
    expect(() => deconv2d(x, tf.zeros([3, 3, 4, 2]) as tf.Tensor4D, 2, 'same')).toThrow(/deconv2d: x has 3 channels/);
    expect(() => conv2d(tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D, tf.zeros([3, 3, 3, 4]) as tf.Tensor4D, 1, 'same')).toThrow(/conv2d: x must be rank 4/);
    x.dispose();
  });
});

describe('ops: kernel registration', () => {
  it('wasm gets the filter-gradient kernel it lacks and the rebuilt input-gradient kernel; cpu keeps its own', async () => {
    await initBackend('wasm');
    registerFastKernels('wasm'); // idempotent
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(Object.keys(kernelPlan('wasm'))).toEqual(expect.arrayContaining(['conv2d', 'deconv2d', 'conv2d filter gradient']));
    expect(kernelPlan('cpu').deconv2d).toMatch(/cpu/);
    // A filter gradient on wasm, checked against the cpu backend's own kernel.
    const rng = new Rng(5, 'reg');
    const x = randArr(rng, [2, 8, 8, 3]);
    const w = randArr(rng, [4, 4, 3, 5]);
    const grad = () => tf.tidy(() => tf.grad((b: tf.Tensor) => tf.sum(tf.square(conv2d(tensor(x), b as tf.Tensor4D, 2, 'same'))))(tensor(w)).dataSync());
    const onWasm = grad();
    await initBackend('cpu');
    const onCpu = grad();
    expect(relErr(onWasm, onCpu)).toBeLessThan(TOL);
  });

  it("wasm agrees with cpu where tfjs-wasm's own 'same' conv returns zeros (1 < kernel < stride)", async () => {
    // Forward, and a deconv's input gradient (a Conv2D of the same geometry), both as the cpu backend has them.
    const run = () =>
      SAME_SHORT_CASES.map((c) =>
        tf.tidy(() => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => (c.op === 'conv2d' ? conv2d : deconv2d)(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad));
          const x = tensor(randArr(new Rng(7, label(c)), c.x));
          const w = tensor(randArr(new Rng(8, label(c)), c.w));
          const y = (c.op === 'conv2d' ? conv2d : deconv2d)(x, w, c.s, c.pad);
          return [y, ...g([x, w])].map((t) => t.dataSync());
        }),
      );
    await initBackend('wasm');
    const onWasm = run();
    await initBackend('cpu');
    const onCpu = run();
    SAME_SHORT_CASES.forEach((c, i) => {
      for (let j = 0; j < 3; j++) {
        expect(Math.max(...onCpu[i][j].map(Math.abs)), `${label(c)} output ${j} is not all zeros on cpu`).toBeGreaterThan(0);
        expect(relErr(onWasm[i][j], onCpu[i][j]), `${label(c)} output ${j}`).toBeLessThan(TOL);
      }
    });
  });
});
