/**
 * The learned Gaussian-mixture latent of the first layer (src/models/layers/latent-mixture.ts, generator.mixture)
 * against independent references: the normal quantile against a float64 CDF integrated by Simpson's rule, the
 * component of each z against floor(K Phi(z_0)) with that CDF and equally likely over draws, and the first
 * layer of a learner with the mixture against s_1 = ReLU(spread W_z z + sqrt(zDim) W_k - b_1) written out in
 * float64 from the learner's own weights, on cpu and wasm; and the config field's errors.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { mixtureComponents, mixtureInput, normalQuantile } from '../src/models/layers/latent-mixture.js';
import { createLearner, disposeLearner, learnerFromTensors } from '../src/models/learner.js';
import { generatorForward, type GeneratorShape } from '../src/models/generator.js';
import { resolveConfig } from '../src/train/config.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';

/** Phi(x) by Simpson's rule on the density over [-12, x] (float64; independent of the rational approximation). */
function cdf(x: number): number {
  const lo = -12;
  const n = 20000;
  const h = (x - lo) / n;
  const f = (t: number) => Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  let s = f(lo) + f(x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(lo + i * h);
  return (s * h) / 3;
}

describe('normalQuantile', () => {
  it('inverts the normal CDF in both tails and the centre', () => {
    for (const p of [1e-6, 0.01, 0.02425, 0.1, 0.3, 0.5, 0.77, 0.975, 0.999, 1 - 1e-5]) {
      const q = normalQuantile(p);
      expect(Math.abs(cdf(q) - p) / Math.min(p, 1 - p), `p = ${p}`).toBeLessThan(1e-6);
    }
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 7);
    expect(() => normalQuantile(0)).toThrow(/\(0, 1\)/);
  });
});

describeEachBackend('latent mixture', () => {
  it('picks component floor(K Phi(z_0)) as a one-hot row, each equally likely', () => {
    const k = 5;
    const n = 20000;
    const zDim = 3;
    const z = new Rng(3, 'mixture-test').normals(n * zDim);
    const rows = tf.tidy(() => mixtureComponents(tf.tensor4d(z, [n, 1, 1, zDim]), k).arraySync());
    const counts = new Array(k).fill(0);
    rows.forEach((row, i) => {
      expect(row.reduce((a, v) => a + v, 0)).toBe(1);
      const got = row.indexOf(1);
      counts[got]++;
      // The component is floor(K Phi(z_0)) by the float64 CDF (checked on the first 100 draws, none of which
      // lies within float32 rounding of a threshold, where the two may differ).
      const want = Math.min(k - 1, Math.floor(k * cdf(z[i * zDim])));
      if (i < 100) expect(got, `z_0 = ${z[i * zDim]}`).toBe(want);
    });
    // Binomial(n, 1/K): sd = sqrt(n p (1 - p)) = 57; 4 sd.
    for (const c of counts) expect(Math.abs(c - n / k)).toBeLessThan(4 * Math.sqrt((n * (k - 1)) / (k * k)));
  });

  it("gives the first layer ReLU(spread W_z z + sqrt(zDim) W_k - b_1), the learner's own weights in float64", () => {
    const shape: GeneratorShape = { resolutions: [4, 8], channels: [3, 2], zDim: 4, kernel: 4, patch: 2, imageChannels: 3, mixture: { components: 3, spread: 0.3 } };
    const learner = createLearner(shape, new Rng(5, 'mixture-learner'));
    const w = learner.vars.get('g.r4.deconv')!;
    expect(w.shape).toEqual([2, 2, 3, 4 + 3]);
    learner.vars.get('g.r4.bias')!.assign(tf.tensor1d([0.1, -0.2, 0.05]));
    const n = 6;
    const z = new Rng(6, 'mixture-z').normals(n * 4);
    const zt = tf.tensor4d(z, [n, 1, 1, 4]);
    const out = generatorForward(learner.params, zt);
    const s1 = out.s[0].dataSync();
    const W = w.dataSync(); // [i, j, c, d]
    const b = [0.1, -0.2, 0.05];
    let worst = 0;
    for (let m = 0; m < n; m++) {
      const comp = Math.min(2, Math.floor(3 * cdf(z[m * 4])));
      const input = [...z.slice(m * 4, m * 4 + 4)].map((v) => 0.3 * v);
      for (let q = 0; q < 3; q++) input.push(q === comp ? Math.sqrt(4) : 0);
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++)
          for (let c = 0; c < 3; c++) {
            let pre = 0;
            for (let d = 0; d < 7; d++) pre += W[((i * 2 + j) * 3 + c) * 7 + d] * input[d];
            worst = Math.max(worst, Math.abs(Math.max(0, pre - b[c]) - s1[((m * 2 + i) * 2 + j) * 3 + c]));
          }
    }
    expect(worst).toBeLessThan(1e-5);
    // The layers above read s_1 as always; the learner round-trips through its tensors (checkpoints).
    expect(out.x[1].shape).toEqual([n, 8, 8, 3]);
    const copy = learnerFromTensors(shape, Object.fromEntries(learner.vars));
    const again = generatorForward(copy.params, zt);
    expect(Array.from(again.x[1].dataSync())).toEqual(Array.from(out.x[1].dataSync()));
    tf.dispose([zt, ...out.s, ...out.x, ...again.s, ...again.x]);
    disposeLearner(learner);
    disposeLearner(copy);
  });

  it('scales z by spread and the one-hot by sqrt(zDim)', () => {
    const z = [0.5, -1, 2, 0.25, -3, 1, 0, 1];
    const m = tf.tidy(() => mixtureInput(tf.tensor4d(z, [2, 1, 1, 4]), { components: 2, spread: 0.5 }).arraySync());
    // z_0 = 0.5 > 0 = Phi^-1(1/2): component 1; z_0 = -3: component 0.
    expect(m[0][0][0]).toEqual([0.25, -0.5, 1, 0.125, 0, 2]);
    expect(m[1][0][0]).toEqual([-1.5, 0.5, 0, 0.5, 2, 0]);
  });
});

describe('generator.mixture config', () => {
  const resolve = (set: Record<string, unknown>, extra: Record<string, unknown> = {}) => () => resolveConfig({ data: 'emoji', generator: { mixture: set }, ...extra });
  it('accepts K >= 2 and off, and names the field and the fix otherwise', () => {
    expect(resolve({ components: 0 })().generator.mixture.components).toBe(0);
    expect(resolve({ components: 16, spread: 0.2 })().generator.mixture).toEqual({ components: 16, spread: 0.2 });
    expect(resolve({ components: 1 })).toThrow(/generator\.mixture\.components must be 0 \(off\) or a whole number of at least 2, got 1/);
    expect(resolve({ components: 4, spread: 0 })).toThrow(/generator\.mixture\.spread must be above 0/);
    expect(resolve({ components: 4 }, { data: 'experiments/teacher-small.json', train: { mode: 'oracle-lower' } })).toThrow(/oracle-lower/);
    expect(resolve({ components: 4 }, { generator: { family: 'dcgan', mixture: { components: 4 } } })).toThrow(/fsr learner's first-layer latent/);
  });
});
