/**
 * The attention and style layers (src/models/layers/: self-attention, spectral-norm, adain, noise-input,
 * mapping-network) and the StyleGAN synthesis built on them, against independent references: SAGAN's
 * block is the identity at gamma 0 and matches a float64 hand computation at gamma != 0; AdaIN gives each
 * channel the style's mean and standard deviation; spectral normalisation converges to the top singular
 * value of a float64 power iteration; noise with zero scales changes nothing, and noise at the finest side
 * only leaves every coarser block untouched; style mixing at crossover k takes w1 below k and w2 from k.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { attentionMap, attentionWidths, selfAttention } from '../src/models/layers/self-attention.js';
import { snIterate, snSigma, snVectors, snWeight } from '../src/models/layers/spectral-norm.js';
import { adain } from '../src/models/layers/adain.js';
import { addNoise } from '../src/models/layers/noise-input.js';
import { createMapping, mappingForward } from '../src/models/layers/mapping-network.js';
import { createStyleganGenerator, styleganLatent, styleganSides, styleganSynthesize, type StyleganShape } from '../src/models/stylegan.js';
import { splitLatent } from '../src/models/family-layers.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const rand = (rng: Rng, shape: number[], scale = 1) => tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1), scale), shape);
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());

describe('self-attention (SAGAN)', () => {
  const c = 16;
  const wd = attentionWidths(c);
  const weights = (rng: Rng, gamma: number) => ({
    q: rand(rng, [c, wd.qk], 0.5) as tf.Tensor2D,
    k: rand(rng, [c, wd.qk], 0.5) as tf.Tensor2D,
    h: rand(rng, [c, wd.h], 0.3) as tf.Tensor2D,
    o: rand(rng, [wd.h, c], 0.3) as tf.Tensor2D,
    gamma: tf.scalar(gamma),
  });

  it('is exactly the identity when gamma is 0, and not when gamma is not', () => {
    const rng = new Rng(1, 'attn');
    const x = rand(rng, [2, 4, 4, c]) as tf.Tensor4D;
    const w0 = weights(rng, 0);
    const y = selfAttention(x, w0);
    expect(maxAbsDiff(y, x)).toBe(0);
    const w1 = { ...w0, gamma: tf.scalar(0.5) };
    const y1 = selfAttention(x, w1);
    expect(maxAbsDiff(y1, x)).toBeGreaterThan(1e-3);
    tf.dispose([x, y, y1, ...Object.values(w0), w1.gamma]);
  });

  it('matches a float64 hand computation of y = gamma W_o sum_i softmax_i(q_j . k_i) h_i + x', () => {
    const rng = new Rng(2, 'attn');
    const [n, side] = [2, 3];
    const P = side * side;
    const x = rand(rng, [n, side, side, c]) as tf.Tensor4D;
    const w = weights(rng, 0.7);
    const y = f64(selfAttention(x, w));
    const beta = f64(attentionMap(x, w));
    const X = f64(x);
    const [Q, K, H, O] = [w.q, w.k, w.h, w.o].map(f64);
    const mat = (row: number, M: Float64Array, cols: number, b: number) => Array.from({ length: cols }, (_, j) => {
      let s = 0;
      for (let i = 0; i < c; i++) s += X[(b * P + row) * c + i] * M[i * cols + j];
      return s;
    });
    let worst = 0;
    let worstBeta = 0;
    for (let b = 0; b < n; b++) {
      const q = Array.from({ length: P }, (_, p) => mat(p, Q, wd.qk, b));
      const k = Array.from({ length: P }, (_, p) => mat(p, K, wd.qk, b));
      const h = Array.from({ length: P }, (_, p) => mat(p, H, wd.h, b));
      for (let j = 0; j < P; j++) {
        const s = k.map((ki) => ki.reduce((a, v, t) => a + v * q[j][t], 0));
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, v) => a + v, 0);
        const bj = e.map((v) => v / z);
        bj.forEach((v, i) => (worstBeta = Math.max(worstBeta, Math.abs(v - beta[(b * P + j) * P + i]))));
        const agg = Array.from({ length: wd.h }, (_, t) => bj.reduce((a, v, i) => a + v * h[i][t], 0));
        for (let ch = 0; ch < c; ch++) {
          let o = 0;
          for (let t = 0; t < wd.h; t++) o += agg[t] * O[t * c + ch];
          const want = 0.7 * o + X[(b * P + j) * c + ch];
          worst = Math.max(worst, Math.abs(want - y[(b * P + j) * c + ch]));
        }
      }
    }
    expect(worstBeta).toBeLessThan(1e-5);
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([x, ...Object.values(w)]);
  });
});

describe('spectral normalisation', () => {
  it('sigma converges to the top singular value of a float64 power iteration, and W / sigma has it at 1', () => {
    const rng = new Rng(3, 'sn');
    const w = rand(rng, [3, 3, 4, 6]);
    const s = snVectors(w, rng);
    snIterate(w, s, 60);
    // Float64 reference: power iteration on W^T W for the matrix [36, 6].
    const W = f64(w);
    const [m, k] = [36, 6];
    let v = Array.from({ length: k }, (_, i) => 1 + i);
    let top = 0;
    for (let it = 0; it < 500; it++) {
      const wv = Array.from({ length: m }, (_, r) => v.reduce((a, x, j) => a + W[r * k + j] * x, 0));
      const next = Array.from({ length: k }, (_, j) => wv.reduce((a, x, r) => a + W[r * k + j] * x, 0));
      const nn = Math.sqrt(next.reduce((a, x) => a + x * x, 0));
      top = Math.sqrt(nn / Math.sqrt(v.reduce((a, x) => a + x * x, 0)));
      v = next.map((x) => x / nn);
    }
    const sigma = snSigma(w, s);
    expect(Math.abs(sigma.dataSync()[0] - top) / top).toBeLessThan(1e-4);
    const normed = snWeight(w, s);
    const again = snSigma(normed, s);
    expect(again.dataSync()[0]).toBeCloseTo(1, 4);
    tf.dispose([w, s.u, s.v, sigma, normed, again]);
  });
});

describe('AdaIN (StyleGAN)', () => {
  it("gives each channel of each image the style's mean y_b and standard deviation |y_s|", () => {
    const rng = new Rng(4, 'adain');
    const [n, side, c] = [3, 5, 4];
    const x = tf.tidy(() => tf.add(tf.mul(rand(rng, [n, side, side, c]), 3), 2)) as tf.Tensor4D;
    const ys = rand(rng, [n, c], 2) as tf.Tensor2D;
    const yb = rand(rng, [n, c]) as tf.Tensor2D;
    const y = f64(adain(x, ys, yb));
    const [S, B] = [f64(ys), f64(yb)];
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < c; ch++) {
        const vals = Array.from({ length: side * side }, (_, p) => y[(b * side * side + p) * c + ch]);
        const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
        const sd = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length);
        expect(mean).toBeCloseTo(B[b * c + ch], 4);
        expect(sd).toBeCloseTo(Math.abs(S[b * c + ch]), 4);
      }
    }
    tf.dispose([x, ys, yb]);
  });
});

describe('mapping network and noise inputs', () => {
  it('the mapping is invariant to the scale of z (pixel norm first) and gives [N, D]', () => {
    const rng = new Rng(5, 'map');
    const layers = createMapping(rng, 6, 8, 3, 0.01);
    const z = rand(rng, [4, 6]) as tf.Tensor2D;
    const z2 = tf.mul(z, 3) as tf.Tensor2D;
    const [a, b] = [mappingForward(layers, z, 0.01), mappingForward(layers, z2, 0.01)];
    expect(a.shape).toEqual([4, 8]);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([z, z2, a, b, ...layers.flatMap((l) => [l.w, l.b])]);
  });

  it('adds s_c n_{x,y}: one map broadcast over channels, scaled per channel', () => {
    const h = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    const n = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = addNoise(h, n, tf.tensor1d([0, 1, -2]));
    expect(Array.from(y.dataSync())).toEqual([0, 1, -2, 0, 2, -4, 0, 3, -6, 0, 4, -8]);
    expect(() => addNoise(h, tf.zeros([1, 3, 3, 1]) as tf.Tensor4D, tf.ones([3]))).toThrow(/does not match/);
  });
});

describe('StyleGAN synthesis', () => {
  const shape: StyleganShape = { resolutions: [4, 8, 16], imageChannels: 3, zDim: 6, widths: [8, 6, 4], mappingLayers: 2, lrMul: 0.01 };
  const parts = styleganLatent(shape);
  const total = parts.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  const latents = (seed: number, n = 2) => tf.tensor4d(new Rng(seed, 'z').normals(n * total), [n, 1, 1, total]);
  /** z's own part with other latents' noise maps. */
  const withNoiseOf = (z: tf.Tensor4D, noise: tf.Tensor4D) =>
    tf.tidy(() => {
      const a = splitLatent(z, parts);
      const b = splitLatent(noise, parts);
      return tf.concat(parts.map((p) => (p.name === 'z' ? a.z : b[p.name]).reshape([z.shape[0], -1])), 1).reshape(z.shape) as tf.Tensor4D;
    });

  it('noise with zero scales (the init) changes nothing; noise at the finest side only changes only that side', () => {
    const g = createStyleganGenerator(shape, new Rng(6, 'g'));
    const z = latents(1);
    const z2 = withNoiseOf(z, latents(2));
    const a = styleganSynthesize(g.vars, shape, z);
    const b = styleganSynthesize(g.vars, shape, z2);
    expect(maxAbsDiff(a.x, b.x)).toBe(0);
    // Scales on at the finest side (16) only: the blocks at 4 and 8 are untouched, the image is not.
    for (const k of ['a', 'b']) g.vars.get(`g.s16${k}.noise`)!.assign(tf.fill([4], 0.5));
    const c = styleganSynthesize(g.vars, shape, z);
    const d = styleganSynthesize(g.vars, shape, z2);
    expect(styleganSides(shape)).toEqual([4, 8, 16]);
    expect(maxAbsDiff(c.features[0], d.features[0])).toBe(0);
    expect(maxAbsDiff(c.features[1], d.features[1])).toBe(0);
    expect(maxAbsDiff(c.features[2], d.features[2])).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(c.x, d.x)).toBeGreaterThan(1e-4);
    tf.dispose([z, z2, a.x, b.x, c.x, d.x, ...a.features, ...b.features, ...c.features, ...d.features]);
    for (const v of g.vars.values()) v.dispose();
  });

  it('style mixing at crossover k uses w1 below k and w2 from k', () => {
    const g = createStyleganGenerator(shape, new Rng(7, 'g'));
    // Non-zero noise scales, so that the test also shows the noise comes from the first latents.
    for (const [n, v] of g.vars) if (n.endsWith('.noise')) v.assign(tf.fill(v.shape, 0.3));
    const [z1, z2] = [latents(3), latents(4)];
    const one = styleganSynthesize(g.vars, shape, z1);
    const two = styleganSynthesize(g.vars, shape, withNoiseOf(z2, z1));
    const mixed = styleganSynthesize(g.vars, shape, z1, { mix: { z: z2, from: 8 } });
    // Below the crossover: w1's features exactly; from it on: not w1's.
    expect(maxAbsDiff(mixed.features[0], one.features[0])).toBe(0);
    expect(maxAbsDiff(mixed.features[1], one.features[1])).toBeGreaterThan(1e-3);
    // Crossover at the first side: every style is w2's (noise still z1's), i.e. z2's w with z1's noise.
    const all2 = styleganSynthesize(g.vars, shape, z1, { mix: { z: z2, from: 4 } });
    expect(maxAbsDiff(all2.x, two.x)).toBeLessThan(1e-6);
    // Crossover above the top: w1 everywhere; mixing with itself: unchanged.
    const none = styleganSynthesize(g.vars, shape, z1, { mix: { z: z2, from: 32 } });
    expect(maxAbsDiff(none.x, one.x)).toBe(0);
    tf.dispose([z1, z2, ...[one, two, mixed, all2, none].flatMap((o) => [o.x, ...o.features])]);
    for (const v of g.vars.values()) v.dispose();
  });
});
