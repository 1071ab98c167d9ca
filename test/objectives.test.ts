/**
 * Every GAN objective's value and gradient on planted logits against a hand computation in float64,
 * and the regularisers (R1, WGAN-GP, weight clipping, spectral norm) and Adam on planted cases.
 */
import * as tf from '@tensorflow/tfjs';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { gradientPenalty, objectives, OBJECTIVES, r1Penalty, type ObjectiveName } from '../src/train/objectives.js';
import { clipWeights, createDiscriminator, discForward, powerIterate } from '../src/models/discriminator.js';
import { snWeight } from '../src/models/layers/spectral-norm.js';
import { Adam } from '../src/train/adam.js';
import { ownVariable } from '../src/models/learner.js';
import { Rng } from '../src/util/rng.js';

const DR = [0.5, -1.2, 2.0, 0.3];
const DF = [-0.3, 0.8, -2.5, 1.7];
const N = 4;
const sig = (t: number) => 1 / (1 + Math.exp(-t));
const sp = (t: number) => Math.log1p(Math.exp(t));
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const relu = (t: number) => Math.max(0, t);

interface Hand {
  d: number;
  g: number;
  /** dD/ddr, dD/ddf, dG/ddf, dG/ddr */
  dDr: number[];
  dDf: number[];
  dGf: number[];
  dGr: number[];
}

/** Hand-derived values and gradients (each term differentiated on paper). */
function hand(name: ObjectiveName): Hand {
  const zero = [0, 0, 0, 0];
  switch (name) {
    case 'ns':
      return {
        d: mean(DR.map((r) => sp(-r))) + mean(DF.map(sp)),
        g: mean(DF.map((f) => sp(-f))),
        dDr: DR.map((r) => -sig(-r) / N),
        dDf: DF.map((f) => sig(f) / N),
        dGf: DF.map((f) => -sig(-f) / N),
        dGr: zero,
      };
    case 'minimax':
      return { ...hand('ns'), g: -mean(DF.map(sp)), dGf: DF.map((f) => -sig(f) / N) };
    case 'wgan':
    case 'wgan-gp':
      return { d: mean(DF) - mean(DR), g: -mean(DF), dDr: DR.map(() => -1 / N), dDf: DF.map(() => 1 / N), dGf: DF.map(() => -1 / N), dGr: zero };
    case 'lsgan':
      return {
        d: 0.5 * mean(DR.map((r) => (r - 1) ** 2)) + 0.5 * mean(DF.map((f) => f * f)),
        g: 0.5 * mean(DF.map((f) => (f - 1) ** 2)),
        dDr: DR.map((r) => (r - 1) / N),
        dDf: DF.map((f) => f / N),
        dGf: DF.map((f) => (f - 1) / N),
        dGr: zero,
      };
    case 'hinge':
      return {
        d: mean(DR.map((r) => relu(1 - r))) + mean(DF.map((f) => relu(1 + f))),
        g: -mean(DF),
        dDr: DR.map((r) => (1 - r > 0 ? -1 / N : 0)),
        dDf: DF.map((f) => (1 + f > 0 ? 1 / N : 0)),
        dGf: DF.map(() => -1 / N),
        dGr: zero,
      };
    case 'ragan': {
      // D = mean_i sp(-(r_i - mf)) + mean_j sp(f_j - mr); a_i = r_i - mf, b_j = f_j - mr.
      const mr = mean(DR);
      const mf = mean(DF);
      const a = DR.map((r) => r - mf);
      const b = DF.map((f) => f - mr);
      const sA = mean(a.map((t) => sig(-t)));
      const sB = mean(b.map(sig));
      // G = mean_j sp(-(f_j - mr)) + mean_i sp(r_i - mf), with c_j = f_j - mr and e_i = r_i - mf.
      const sC = mean(b.map((t) => sig(-t)));
      const sE = mean(a.map(sig));
      return {
        d: mean(a.map((t) => sp(-t))) + mean(b.map(sp)),
        g: mean(b.map((t) => sp(-t))) + mean(a.map(sp)),
        dDr: a.map((t) => -sig(-t) / N - sB / N),
        dDf: b.map((t) => sig(t) / N + sA / N),
        dGf: b.map((t) => -sig(-t) / N - sE / N),
        dGr: a.map((t) => sig(t) / N + sC / N),
      };
    }
  }
}

const close = (got: ArrayLike<number>, want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(tol * Math.max(1, Math.abs(want[i])));
};

describeEachBackend('objectives', () => {
  for (const name of OBJECTIVES) {
    it(`${name}: value and gradients match the hand computation`, () => {
      const h = hand(name);
      const obj = objectives[name];
      const dr = tf.tensor1d(DR);
      const df = tf.tensor1d(DF);
      const [vd, vg] = [obj.d(dr, df), obj.g(dr, df)];
      close([vd.dataSync()[0], vg.dataSync()[0]], [h.d, h.g]);
      const gd = tf.grads((a: tf.Tensor, b: tf.Tensor) => obj.d(a as tf.Tensor1D, b as tf.Tensor1D))([dr, df]);
      close(gd[0].dataSync(), h.dDr);
      close(gd[1].dataSync(), h.dDf);
      const gg = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.add(obj.g(a as tf.Tensor1D, b as tf.Tensor1D), tf.mul(0, tf.sum(a))))([dr, df]);
      close(gg[0].dataSync(), h.dGr);
      close(gg[1].dataSync(), h.dGf);
      tf.dispose([dr, df, vd, vg, ...gd, ...gg]);
    });
  }

  it('R1 on a planted quadratic D: value and its gradient in w (double backprop)', () => {
    // D(x) = 1/2 sum_k w_k x_k^2 per sample, so grad_x D = w * x and R1 = gamma/2 mean_i sum_k w_k^2 x_ik^2;
    // dR1/dw_k = gamma w_k mean_i x_ik^2.
    const gamma = 3;
    const wv = [0.5, -1.5, 2.0, 0.25];
    const xv = [1, 2, -1, 0.5, -2, 0.5, 1.5, 1];
    const x = tf.tensor4d(xv, [2, 1, 2, 2]);
    const w = tf.tensor4d(wv, [1, 1, 2, 2]);
    const pen = (ww: tf.Tensor) => r1Penalty((xx) => tf.mul(0.5, tf.sum(tf.mul(ww, tf.square(xx)), [1, 2, 3])) as tf.Tensor1D, x, gamma);
    const p = pen(w);
    const want = (gamma / 2) * mean([0, 1].map((i) => wv.reduce((s, wk, k) => s + wk * wk * xv[i * 4 + k] ** 2, 0)));
    close(p.dataSync(), [want]);
    const gw = tf.grad(pen)(w);
    close(gw.dataSync(), wv.map((wk, k) => gamma * wk * mean([xv[k] ** 2, xv[4 + k] ** 2])));
    tf.dispose([x, w, p, gw]);
  });

  it('WGAN-GP on a planted quadratic D: value at the interpolates and its gradient in w', () => {
    // xh_i = e_i real_i + (1 - e_i) fake_i; grad = w * xh; GP = lambda mean_i (||w * xh_i|| - 1)^2;
    // dGP/dw_k = lambda mean_i 2 (n_i - 1) w_k xh_ik^2 / n_i.
    const lambda = 10;
    const wv = [0.5, -1.5, 2.0, 0.25];
    const rv = [1, 2, -1, 0.5, -2, 0.5, 1.5, 1];
    const fv = [0, 1, 1, -0.5, 1, 1, 0.5, -1];
    const ev = [0.25, 0.75];
    const xh = [0, 1].map((i) => [0, 1, 2, 3].map((k) => ev[i] * rv[i * 4 + k] + (1 - ev[i]) * fv[i * 4 + k]));
    const norms = xh.map((row) => Math.sqrt(row.reduce((s, v, k) => s + (wv[k] * v) ** 2, 0)));
    const real = tf.tensor4d(rv, [2, 1, 2, 2]);
    const fake = tf.tensor4d(fv, [2, 1, 2, 2]);
    const e = tf.tensor1d(ev);
    const w = tf.tensor4d(wv, [1, 1, 2, 2]);
    const gp = (ww: tf.Tensor) => gradientPenalty((xx) => tf.mul(0.5, tf.sum(tf.mul(ww, tf.square(xx)), [1, 2, 3])) as tf.Tensor1D, real, fake, e, lambda);
    const p = gp(w);
    close(p.dataSync(), [lambda * mean(norms.map((n) => (n - 1) ** 2))]);
    const gw = tf.grad(gp)(w);
    close(gw.dataSync(), wv.map((wk, k) => lambda * mean([0, 1].map((i) => (2 * (norms[i] - 1) * wk * xh[i][k] ** 2) / norms[i]))));
    tf.dispose([real, fake, e, w, p, gw]);
  });

  it('R1 through a real discriminator agrees with central finite differences', () => {
    const d = createDiscriminator(4, 'single', 3, 2, { widths: [3], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1 }, new Rng(5, 'fd'));
    const x = tf.tensor4d(new Rng(6).normals(2 * 4 * 4 * 3), [2, 4, 4, 3]);
    const w = d.vars.get('d.r4.l1.w')!;
    const base = w.arraySync() as unknown as number[][][][];
    const penalty = () => r1Penalty((xx) => discForward(d, xx), x, 1);
    const { grads } = tf.variableGrads(penalty, [w]);
    const g = grads[w.name].dataSync();
    const h = 1e-2;
    for (const idx of [0, 5, 17, 30]) {
      const at = (delta: number) => {
        const flat = Float32Array.from(base.flat(3));
        flat[idx] += delta;
        w.assign(tf.tensor4d(flat, w.shape as [number, number, number, number]));
        const v = penalty();
        const out = v.dataSync()[0];
        v.dispose();
        return out;
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      expect(Math.abs(fd - g[idx])).toBeLessThan(0.03 * Math.max(0.05, Math.abs(fd)));
    }
    tf.dispose([x, ...Object.values(grads)]);
  });

  it('spectral norm: power iteration finds the top singular value (SVD in float64), dsigma/dW = v u^T', () => {
    const rng = new Rng(11);
    const d = createDiscriminator(4, 'single', 3, 2, { widths: [5], kernel: 3, leak: 0.2, spectralNorm: true, powerIterations: 1, gain: 1 }, rng);
    const layer = d.convs[0];
    const wMat = new Matrix(Array.from({ length: 12 }, (_, r) => Array.from(layer.w.dataSync().slice(r * 5, r * 5 + 5))));
    const top = new SingularValueDecomposition(wMat).diagonal[0];
    powerIterate(d, 200);
    const u = layer.u!.dataSync();
    const v = layer.v!.dataSync();
    const sigma = (ww: tf.Tensor) => tf.div(tf.sum(ww), tf.sum(snWeight(ww, { u: layer.u!, v: layer.v! })));
    const s = sigma(layer.w);
    expect(Math.abs(s.dataSync()[0] - top) / top).toBeLessThan(1e-4);
    // The normalised weight has top singular value 1.
    const wn = snWeight(layer.w, { u: layer.u!, v: layer.v! });
    const top1 = new SingularValueDecomposition(new Matrix(Array.from({ length: 12 }, (_, r) => Array.from(wn.dataSync().slice(r * 5, r * 5 + 5))))).diagonal[0];
    expect(Math.abs(top1 - 1)).toBeLessThan(1e-4);
    // sigma = v^T W u with u, v held constant: its gradient is the outer product v u^T.
    const sig1 = (ww: tf.Tensor) => tf.sum(tf.mul(tf.tensor2d(Array.from(v), [12, 1]), tf.matMul(ww.reshape([12, 5]), tf.tensor2d(Array.from(u), [5, 1]))));
    const g = tf.grad(sig1)(layer.w).dataSync();
    close(g, Array.from({ length: 60 }, (_, i) => v[Math.floor(i / 5)] * u[i % 5]));
    tf.dispose([s, wn]);
  });

  it('weight clipping bounds every D parameter to [-c, c] and leaves the rest', () => {
    const d = createDiscriminator(4, 'single', 3, 2, { widths: [2], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1 }, new Rng(2));
    const before = [...d.vars.values()].map((v) => Array.from(v.dataSync()));
    clipWeights(d, 0.1);
    [...d.vars.values()].forEach((v, i) => close(v.dataSync(), before[i].map((b) => Math.min(0.1, Math.max(-0.1, b)))));
  });

  it('Adam: three steps match the float64 recursion', () => {
    const w = ownVariable(tf.tensor1d([1, -2]));
    const adam = new Adam(new Map([['w', w]]), 0.1, 0.5, 0.9);
    const grads = [[0.5, -1], [1.5, 0.25], [-0.5, 2]];
    let wh = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    grads.forEach((g, t) => {
      const gt = tf.tensor1d(g);
      adam.apply({ w: gt });
      gt.dispose();
      wh = wh.map((x, k) => {
        m[k] = 0.5 * m[k] + 0.5 * g[k];
        v[k] = 0.9 * v[k] + 0.1 * g[k] ** 2;
        return x - (0.1 * (m[k] / (1 - 0.5 ** (t + 1)))) / (Math.sqrt(v[k] / (1 - 0.9 ** (t + 1))) + 1e-8);
      });
    });
    close(w.dataSync(), wh);
    adam.dispose();
    w.dispose();
  });
});
