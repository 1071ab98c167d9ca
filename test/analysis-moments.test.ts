import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { momentMatching, momentMetrics, pairImages, type CodeMap } from '../src/analysis/moments.js';
import { unitDirections, type ImageArray } from '../src/analysis/common.js';
import { upsample2x } from '../src/models/discriminator.js';
import { isMomentReport } from '../src/analysis/validate.js';
import { Rng } from '../src/util/rng.js';

/** n images r x r x 3 with i.i.d. N(mu, sigma^2) pixels. */
function gaussImages(n: number, r: number, mu: number, sigma: number, seed: number): ImageArray {
  const rng = new Rng(seed, 'test/moments');
  const data = new Float32Array(n * r * r * 3);
  for (let i = 0; i < data.length; i++) data[i] = mu + sigma * rng.normal();
  return { data, n, h: r, w: r, c: 3 };
}

const tensor = (a: ImageArray) => tf.tensor4d(a.data, [a.n, a.h, a.w, a.c]);

/**
 * Closed-form moments of a patch x in R^d with i.i.d. N(mu, s^2) entries: E[x] = mu 1,
 * E[xx^T] = s^2 I + mu^2 11^T, and u.x ~ N(mu sum(u), s^2) so E[(u.x)^3] = m^3 + 3 m s^2,
 * E[(u.x)^4] = m^4 + 6 m^2 s^2 + 3 s^4 with m = mu sum(u).
 */
function closedForm(d: number, mu: number, s: number, dirs: Float64Array, k: number) {
  const o1 = new Float64Array(d).fill(mu);
  const o2 = new Float64Array(d * d).map((_, i) => mu * mu + (i % (d + 1) === 0 ? s * s : 0));
  const sums = Array.from({ length: k }, (_, q) => dirs.subarray(q * d, (q + 1) * d).reduce((a, b) => a + b, 0));
  const o3 = Float64Array.from(sums, (su) => (mu * su) ** 3 + 3 * mu * su * s * s);
  const o4 = Float64Array.from(sums, (su) => (mu * su) ** 4 + 6 * (mu * su) ** 2 * s * s + 3 * s ** 4);
  return [o1, o2, o3, o4];
}

function rel(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => ((num += (x - b[i]) ** 2), (den += x * x)));
  return Math.sqrt(num / den);
}

describeEachBackend('moment matching', () => {
  it('relative errors of two Gaussian samples match the closed form, and the floor is small', () => {
    const opts = { patch: 4, directions: 16, seed: 3, cross: false };
    const real = gaussImages(1000, 8, 0.5, 1, 1);
    const fake = gaussImages(1000, 8, 0.8, 1.3, 2);
    const [rt, ft] = [tensor(real), tensor(fake)];
    const rep = momentMatching([rt], [ft], opts);
    tf.dispose([rt, ft]);
    const d = 48;
    const dirs = unitDirections(16, d, 3, 'analysis/moment-directions');
    const cr = closedForm(d, 0.5, 1, dirs, 16);
    const cf = closedForm(d, 0.8, 1.3, dirs, 16);
    const lv = rep.levels[0];
    expect(lv.patchesReal).toBe(4000);
    expect(lv.orders.map((o) => o.order)).toEqual([1, 2, 3, 4]);
    for (let c = 0; c < 4; c++) {
      const expected = rel(cr[c], cf[c]);
      expect(Math.abs(lv.orders[c].relError - expected) / expected).toBeLessThan(0.06);
      // Two halves of one distribution: far below the real-vs-fake gap.
      expect(lv.orders[c].noiseFloor!).toBeLessThan(0.2 * expected);
    }
    expect(isMomentReport(rep)).toBe(true);
  });

  it('identical sets give exactly zero error', () => {
    const a = gaussImages(20, 8, 0.1, 1, 4);
    const rep = momentMatching([a], [a], { patch: 4, directions: 8 });
    for (const o of rep.levels[0].orders) expect(o.relError).toBe(0);
  });

  it('cross-resolution moment of independent levels: E[x y^T] = mu_x mu_y 11^T', () => {
    const n = 1000;
    const real = [gaussImages(n, 8, 1, 1, 5), gaussImages(n, 16, 1, 1, 6)];
    const fake = [gaussImages(n, 8, 1.5, 1, 7), gaussImages(n, 16, 1, 1, 8)];
    const rep = momentMatching(real, fake, { patch: 4, directions: 4, maxOrder: 2 });
    // ||11^T (1*1 - 1.5*1)|| / ||11^T * 1|| = 0.5.
    expect(rep.levels[0].cross).toBeNull();
    expect(Math.abs(rep.levels[1].cross!.relError - 0.5)).toBeLessThan(0.03);
    expect(rep.levels[1].cross!.noiseFloor!).toBeLessThan(0.05);
  });

  it('code space: identity atoms reproduce the image moments; ReLU codes match the rectified Gaussian mean', () => {
    const real = gaussImages(500, 8, 0.5, 1, 9);
    const fake = gaussImages(500, 8, -0.3, 1, 10);
    const d = 48;
    const eye = Array.from({ length: d }, (_, j) => Float64Array.from({ length: d }, (_, i) => (i === j ? 1 : 0)));
    const linear: CodeMap = { atoms: eye, bias: new Float64Array(d), leak: 1, input: 'single', source: 'identity' };
    const relu: CodeMap = { ...linear, leak: 0, source: 'relu' };
    const opts = { patch: 4, directions: 8, seed: 1, noiseFloor: false };
    const a = momentMatching([real], [fake], opts, { 8: linear });
    // Orders 1 and 2 do not depend on directions (codes draw their own, of the code dimension).
    for (const i of [0, 1]) expect(a.levels[0].code!.orders[i].relError).toBeCloseTo(a.levels[0].orders[i].relError, 5);
    const b = momentMatching([real], [fake], { ...opts, maxOrder: 1 }, { 8: relu });
    // E[ReLU(x)] for x ~ N(mu, 1): mu Phi(mu) + phi(mu).
    const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
    const Phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
    const m = (mu: number) => mu * Phi(mu) + phi(mu);
    expect(b.levels[0].code!.orders[0].relError).toBeCloseTo(Math.abs(m(0.5) - m(-0.3)) / m(0.5), 1);
  });

  it('pair images equal concat(upsample2x(x_{l-1}), x_l)', () => {
    const prev = gaussImages(2, 4, 0, 1, 11);
    const cur = gaussImages(2, 8, 0, 1, 12);
    const ref = tf.tidy(() => tf.concat([upsample2x(tensor(prev)), tensor(cur)], 3).dataSync());
    expect(Array.from(pairImages(prev, cur).data)).toEqual(Array.from(ref));
  });

  it('momentMetrics returns flat keys per resolution and order', () => {
    const real = [gaussImages(64, 8, 0, 1, 13), gaussImages(64, 16, 0, 1, 14)].map(tensor);
    const fake = [gaussImages(64, 8, 0.2, 1, 15), gaussImages(64, 16, 0.2, 1, 16)].map(tensor);
    const before = tf.memory().numTensors;
    const m = momentMetrics(real, fake, { patch: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(m).sort()).toEqual(
      ['moments/r8/o1', 'moments/r8/o2', 'moments/r8/o3', 'moments/r8/o4', 'moments/r16/o1', 'moments/r16/o2', 'moments/r16/o3', 'moments/r16/o4', 'moments/r16/cross'].sort(),
    );
    expect(m['moments/r8/o1']).toBeGreaterThan(0);
    tf.dispose([...real, ...fake]);
  });
});

/** Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = Math.sign(x);
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return s * y;
}
