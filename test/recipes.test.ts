/**
 * The stabilisation recipes of src/train/recipes.ts (docs/recipes.md) against independent computations:
 * float64 references, closed forms and finite differences, on the cpu and wasm backends.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import {
  addInstanceNoise,
  draganPenalty,
  drawTargets,
  featureMatchingLoss,
  HistoricalAverage,
  instanceNoiseSigma,
  minibatchDiscrimination,
  pack,
  referenceBatchNorm,
  targetDLoss,
  unrollParams,
  virtualBatchNorm,
} from '../src/train/recipes.js';
import { objectives } from '../src/train/objectives.js';
import { Rng } from '../src/util/rng.js';

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(tol * Math.max(1, Math.abs(want[i])));
};
const arr = (rng: Rng, n: number, s = 1) => Array.from(rng.normals(n, s));
const sp = (t: number) => Math.log1p(Math.exp(t));

describeEachBackend('recipes', () => {
  it('DRAGAN: penalty and its gradient in D weights on a planted quadratic D (float64, finite difference)', () => {
    // D(x) = 1/2 sum_k w_k x_k^2, grad_x D = w * x: P(w) = lambda mean_i (||w * (x_i + d_i)|| - 1)^2.
    const rng = new Rng(1);
    const [n, k, lambda] = [3, 4, 10];
    const xv = arr(rng, n * k);
    const dv = arr(rng, n * k, 0.3);
    const wv = arr(rng, k);
    const p64 = (w: number[]) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        let q = 0;
        for (let j = 0; j < k; j++) q += (w[j] * (xv[i * k + j] + dv[i * k + j])) ** 2;
        s += (Math.sqrt(q) - 1) ** 2;
      }
      return (lambda * s) / n;
    };
    const x = tf.tensor2d(xv, [n, k]);
    const d = tf.tensor2d(dv, [n, k]);
    const w = tf.variable(tf.tensor1d(wv));
    const f = (xx: tf.Tensor) => tf.mul(0.5, tf.sum(tf.mul(w, tf.square(xx)), 1)) as tf.Tensor1D;
    const val = draganPenalty(f, x, d, lambda);
    close(val.dataSync(), [p64(wv)], 1e-4);
    const { grads, value } = tf.variableGrads(() => draganPenalty(f, x, d, lambda), [w]);
    const h = 1e-5;
    const fd = wv.map((_, j) => {
      const a = [...wv];
      const b = [...wv];
      a[j] += h;
      b[j] -= h;
      return (p64(a) - p64(b)) / (2 * h);
    });
    close(grads[w.name].dataSync(), fd, 2e-3);
    tf.dispose([x, d, w, val, value, ...Object.values(grads)]);
  });

  it('label targets: smoothing, noise ranges and flip rate; target losses equal the float64 cross-entropy and reduce to ns/lsgan', () => {
    const rng = new Rng(2);
    const s = drawTargets(rng, 50, { smoothing: 0.1, noise: 0, flip: 0 });
    expect(new Set(s.real)).toEqual(new Set([Math.fround(0.9)]));
    expect(new Set(s.fake)).toEqual(new Set([0]));
    const nz = drawTargets(rng, 2000, { smoothing: 0.1, noise: 0.2, flip: 0 });
    for (const t of nz.real) expect(t >= 0.7 - 1e-6 && t <= 0.9 + 1e-6).toBe(true);
    for (const t of nz.fake) expect(t >= 0 && t <= 0.2 + 1e-6).toBe(true);
    const fl = drawTargets(rng, 20000, { smoothing: 0, noise: 0, flip: 0.1 });
    const flipped = fl.real.filter((t) => t === 0).length + fl.fake.filter((t) => t === 1).length;
    // Binomial(40000, 0.1): mean 4000, std 60.
    expect(Math.abs(flipped - 4000)).toBeLessThan(300);
    const DR = [0.5, -1.2, 2.0];
    const DF = [-0.3, 0.8, -2.5];
    const TR = [0.9, 0.8, 1];
    const TF = [0.1, 0, 0.2];
    const [dr, df, tr, tfk] = [DR, DF, TR, TF].map((a) => tf.tensor1d(a));
    const ce = (d: number[], t: number[]) => d.reduce((a, v, i) => a + (-t[i] * Math.log(1 / (1 + Math.exp(-v))) - (1 - t[i]) * Math.log(1 - 1 / (1 + Math.exp(-v)))), 0) / d.length;
    const lg = targetDLoss('logistic', dr, df, tr, tfk);
    close(lg.dataSync(), [ce(DR, TR) + ce(DF, TF)]);
    const ls = targetDLoss('lsgan', dr, df, tr, tfk);
    const sq = (d: number[], t: number[]) => d.reduce((a, v, i) => a + 0.5 * (v - t[i]) ** 2, 0) / d.length;
    close(ls.dataSync(), [sq(DR, TR) + sq(DF, TF)]);
    const [one, zero] = [tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D];
    const a = [targetDLoss('logistic', dr, df, one, zero), objectives.ns.d(dr, df), targetDLoss('lsgan', dr, df, one, zero), objectives.lsgan.d(dr, df)];
    close(a[0].dataSync(), a[1].dataSync());
    close(a[2].dataSync(), a[3].dataSync());
    expect(Math.abs(a[1].dataSync()[0] - (DR.reduce((x, v) => x + sp(-v), 0) / 3 + DF.reduce((x, v) => x + sp(v), 0) / 3))).toBeLessThan(1e-5);
    tf.dispose([dr, df, tr, tfk, lg, ls, one, zero, ...a]);
  });

  it('instance noise: linear annealing (closed form) and the drawn noise has the scheduled std', () => {
    expect(instanceNoiseSigma(0.2, 0, 100)).toBe(0.2);
    expect(instanceNoiseSigma(0.2, 50, 100)).toBeCloseTo(0.1, 12);
    expect(instanceNoiseSigma(0.2, 100, 100)).toBe(0);
    expect(instanceNoiseSigma(0, 5, 100)).toBe(0);
    const x = tf.zeros([4000, 2]);
    expect(addInstanceNoise(new Rng(3), x, 0)).toBe(x);
    const y = addInstanceNoise(new Rng(3), x, 0.5);
    const v = Array.from(y.dataSync());
    const sd = Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length);
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.02);
    tf.dispose([x, y]);
  });

  it('feature matching: value and gradient ||m_r - m_f||^2, d/df_j = -2 (m_r - m_f) / N (closed form)', () => {
    const rng = new Rng(4);
    const [n, k] = [5, 3];
    const rv = arr(rng, n * k);
    const fv = arr(rng, n * k);
    const m = (v: number[]) => Array.from({ length: k }, (_, j) => v.filter((_, i) => i % k === j).reduce((a, b) => a + b, 0) / n);
    const [mr, mf] = [m(rv), m(fv)];
    const fr = tf.tensor2d(rv, [n, k]);
    const ff = tf.tensor2d(fv, [n, k]);
    const val = featureMatchingLoss(fr, ff);
    close(val.dataSync(), [mr.reduce((a, v, j) => a + (v - mf[j]) ** 2, 0)]);
    const g = tf.grad((t: tf.Tensor) => featureMatchingLoss(fr, t))(ff);
    close(g.dataSync(), Array.from({ length: n * k }, (_, i) => (-2 * (mr[i % k] - mf[i % k])) / n));
    tf.dispose([fr, ff, val, g]);
  });

  it('minibatch discrimination: o_b(x_i) = sum_j exp(-||M_ib - M_jb||_1) (float64) and dT by finite differences', () => {
    const rng = new Rng(5);
    const [n, a, b, c] = [4, 3, 2, 2];
    const fv = arr(rng, n * a);
    const tv = arr(rng, a * b * c, 0.5);
    const ref = (t: number[]) => {
      const M = Array.from({ length: n }, (_, i) => Array.from({ length: b * c }, (_, q) => Array.from({ length: a }, (_, p) => fv[i * a + p] * t[p * b * c + q]).reduce((x, y) => x + y, 0)));
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push(...fv.slice(i * a, i * a + a));
        for (let kk = 0; kk < b; kk++) {
          let s = 0;
          for (let j = 0; j < n; j++) {
            let l1 = 0;
            for (let q = 0; q < c; q++) l1 += Math.abs(M[i][kk * c + q] - M[j][kk * c + q]);
            s += Math.exp(-l1);
          }
          out.push(s);
        }
      }
      return out;
    };
    const f = tf.tensor2d(fv, [n, a]);
    const t = tf.tensor2d(tv, [a, b * c]);
    const y = minibatchDiscrimination(f, t, b, c);
    expect(y.shape).toEqual([n, a + b]);
    close(y.dataSync(), ref(tv), 1e-4);
    const wts = arr(rng, n * (a + b));
    const wt = tf.tensor2d(wts, [n, a + b]);
    const g = tf.grad((tt: tf.Tensor) => tf.sum(tf.mul(minibatchDiscrimination(f, tt as tf.Tensor2D, b, c), wt)))(t);
    const h = 1e-5;
    const fd = tv.map((_, i) => {
      const p = [...tv];
      const q = [...tv];
      p[i] += h;
      q[i] -= h;
      const s = (v: number[]) => ref(v).reduce((acc, o, j) => acc + o * wts[j], 0);
      return (s(p) - s(q)) / (2 * h);
    });
    close(g.dataSync(), fd, 3e-3);
    tf.dispose([f, t, y, wt, g]);
  });

  it('historical averaging: the running mean of the recorded parameters and lambda ||theta - mean||^2 (float64)', () => {
    const h = new HistoricalAverage();
    const thetas = [[1, 2], [3, -2], [5, 6]];
    const v = tf.variable(tf.tensor1d(thetas[0]));
    const vars = new Map([['w', v as tf.Tensor]]);
    const p0 = h.penalty(vars, 2);
    expect(p0.dataSync()[0]).toBe(0);
    for (const t of thetas) {
      v.assign(tf.tensor1d(t));
      h.record(vars);
    }
    expect(h.updates).toBe(3);
    v.assign(tf.tensor1d([0, 0]));
    const p = h.penalty(vars, 2);
    // mean = (3, 2): 2 * (9 + 4) = 26.
    close(p.dataSync(), [26]);
    const g = tf.variableGrads(() => h.penalty(vars, 2), [v]);
    close(g.grads[v.name].dataSync(), [-12, -8]);
    tf.dispose([p0, p, v, g.value, ...Object.values(g.grads)]);
    h.dispose();
  });

  it('PacGAN packing: sample k*m + i lands in channels i*C.. of packed sample k (2-D and NHWC)', () => {
    const x = tf.tensor2d([0, 1, 10, 11, 20, 21, 30, 31], [4, 2]);
    const p = pack(x, 2);
    expect(p.shape).toEqual([2, 4]);
    close(p.dataSync(), [0, 1, 10, 11, 20, 21, 30, 31]);
    const v = Array.from({ length: 4 * 2 * 2 * 3 }, (_, i) => i);
    const x4 = tf.tensor4d(v, [4, 2, 2, 3]);
    const p4 = pack(x4, 2);
    expect(p4.shape).toEqual([2, 2, 2, 6]);
    const got = p4.arraySync() as number[][][][];
    for (let k = 0; k < 2; k++) for (let yy = 0; yy < 2; yy++) for (let xx = 0; xx < 2; xx++) for (let i = 0; i < 2; i++) for (let ch = 0; ch < 3; ch++) {
      expect(got[k][yy][xx][i * 3 + ch]).toBe(v[(((k * 2 + i) * 2 + yy) * 2 + xx) * 3 + ch]);
    }
    expect(pack(x, 1)).toBe(x);
    expect(() => pack(x, 3)).toThrow(/multiple/);
    tf.dispose([x, p, x4, p4]);
  });

  it('unrolled D: k SGD steps and the second-order term in G (closed form on a quadratic game)', () => {
    // L_D(theta) = 1/2 (theta - c phi)^2: theta_k = c phi + (1 - lr)^k (theta_0 - c phi).
    // G's loss theta_k^2 / 2: dG/dphi = theta_k * c (1 - (1 - lr)^k) with the second-order term, 0 without.
    const [c, lr, k, th0, ph] = [1.5, 0.3, 4, 2, 0.7];
    const q = (1 - lr) ** k;
    const thk = c * ph + q * (th0 - c * ph);
    const theta = tf.scalar(th0);
    const phi = tf.variable(tf.scalar(ph));
    const lossD = (p: tf.Tensor[]) => tf.mul(0.5, tf.square(tf.sub(p[0], tf.mul(c, phi)))) as tf.Scalar;
    const { value, grads } = tf.variableGrads(() => {
      const [t] = unrollParams([theta], lossD, k, lr);
      return tf.mul(0.5, tf.square(t)) as tf.Scalar;
    }, [phi]);
    close(value.dataSync(), [0.5 * thk * thk]);
    close(grads[phi.name].dataSync(), [thk * c * (1 - q)]);
    // First order: unrolled outside the tape, a constant for G.
    const fixed = tf.tidy(() => unrollParams([theta], lossD, k, lr)[0]);
    close(fixed.dataSync(), [thk]);
    const same = unrollParams([theta], lossD, 0, lr);
    close(same[0].dataSync(), [th0]);
    tf.dispose([theta, phi, value, ...Object.values(grads), fixed, ...same]);
  });

  it('virtual batch norm: per-example statistics mixed with the reference batch (float64)', () => {
    const rng = new Rng(6);
    const [n, r, f] = [3, 5, 2];
    const xv = arr(rng, n * f);
    const rv = arr(rng, r * f);
    const gv = [1.5, 0.5];
    const bv = [0.1, -0.2];
    const x = tf.tensor2d(xv, [n, f]);
    const rt = tf.tensor2d(rv, [r, f]);
    const [gamma, beta] = [tf.tensor1d(gv), tf.tensor1d(bv)];
    const ref = referenceBatchNorm(rt, gamma, beta);
    const y = virtualBatchNorm(x, ref.mean, ref.meanSq, r, gamma, beta);
    const want: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) {
      const col = rv.filter((_, q) => q % f === j);
      const mr = col.reduce((a, b) => a + b, 0) / r;
      const nr = col.reduce((a, b) => a + b * b, 0) / r;
      const xi = xv[i * f + j];
      const mu = (xi + r * mr) / (r + 1);
      const nu = (xi * xi + r * nr) / (r + 1);
      want.push((gv[j] * (xi - mu)) / Math.sqrt(nu - mu * mu + 1e-5) + bv[j]);
    }
    close(y.dataSync(), want, 1e-4);
    // The reference batch itself is batch-normalised: zero mean, unit variance before gamma, beta.
    const out = ref.out.dataSync();
    for (let j = 0; j < f; j++) {
      const col = Array.from(out).filter((_, q) => q % f === j).map((v) => (v - bv[j]) / gv[j]);
      expect(Math.abs(col.reduce((a, b) => a + b, 0) / r)).toBeLessThan(1e-5);
      expect(Math.abs(col.reduce((a, b) => a + b * b, 0) / r - 1)).toBeLessThan(1e-3);
    }
    tf.dispose([x, rt, gamma, beta, ref.out, ref.mean, ref.meanSq, y]);
  });
});
