import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { levelSwd, patchSwd, sortFloat32, swdMetrics } from '../src/analysis/swd.js';
import { unitDirections, type ImageArray } from '../src/analysis/common.js';
import { isSwdReport } from '../src/analysis/validate.js';
import { Rng } from '../src/util/rng.js';

function gaussImages(n: number, r: number, shift: number, seed: number): ImageArray {
  const rng = new Rng(seed, 'test/swd');
  const data = new Float32Array(n * r * r * 3);
  for (let i = 0; i < data.length; i++) data[i] = shift + rng.normal();
  return { data, n, h: r, w: r, c: 3 };
}

/** E|u . v| for u uniform on the sphere in R^d: |v| Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)). */
function sphereMeanAbs(d: number): number {
  let lg = 0;
  // log Gamma(d/2) - log Gamma((d+1)/2) via lgamma by Stirling series (d >= 20 here).
  const lgamma = (x: number) => (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3);
  lg = lgamma(d / 2) - lgamma((d + 1) / 2);
  return Math.exp(lg) / Math.sqrt(Math.PI);
}

describeEachBackend('patch SWD', () => {
  it('an exact shift of the same images gives mean |u . v| over the directions, v = shift / std', () => {
    const real = gaussImages(200, 16, 0, 1);
    const delta = 0.3;
    const fake = { ...real, data: real.data.map((x) => x + delta) };
    const opts = { patch: 5, descriptorsPerImage: 16, directions: 64, seed: 2 };
    const res = levelSwd(real, fake, opts);
    const d = 5 * 5 * 3;
    const dirs = unitDirections(64, d, 2, 'analysis/swd-directions');
    // Pixels are N(0, 1): the per-channel std of the descriptors is 1 up to sampling (~0.5%).
    let expected = 0;
    for (let q = 0; q < 64; q++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += dirs[q * d + j] * delta;
      expected += Math.abs(s) / 64;
    }
    expect(Math.abs(res.swd - expected) / expected).toBeLessThan(0.02);
    expect(res.descriptors).toBe(200 * 16);
  });

  it('independent samples: identical distributions near 0, a shifted distribution near the closed form', () => {
    const a = tf.tensor4d(gaussImages(400, 16, 0, 3).data, [400, 16, 16, 3]);
    const b = tf.tensor4d(gaussImages(400, 16, 0, 4).data, [400, 16, 16, 3]);
    const c = tf.tensor4d(gaussImages(400, 16, 0.5, 5).data, [400, 16, 16, 3]);
    const opts = { patch: 7, descriptorsPerImage: 16, directions: 128, seed: 6 };
    const same = patchSwd([a], [b], opts);
    const shifted = patchSwd([a], [c], opts);
    tf.dispose([a, b, c]);
    const d = 7 * 7 * 3;
    const closed = 0.5 * Math.sqrt(d) * sphereMeanAbs(d);
    // Sampling noise of W1 with 6,400 overlapping crops is about 0.04.
    expect(same.levels[0].swd).toBeLessThan(0.15 * closed);
    expect(Math.abs(shifted.levels[0].swd - closed) / closed).toBeLessThan(0.1);
    expect(isSwdReport(shifted)).toBe(true);
  });

  it('levels below the patch size use the whole image; swdMetrics keys by resolution', () => {
    const lo = gaussImages(50, 4, 0, 7);
    const hi = gaussImages(50, 8, 0, 8);
    const rep = patchSwd([lo, hi], [lo, hi], { patch: 7, descriptorsPerImage: 4, directions: 8 });
    expect(rep.levels.map((l) => l.patch)).toEqual([4, 7]);
    // Identical sets (same crops): exactly zero.
    expect(rep.levels.map((l) => l.swd)).toEqual([0, 0]);
    expect(Object.keys(swdMetrics([lo, hi], [lo, hi]))).toEqual(['swd/r4', 'swd/r8']);
  });
});

describe('sortFloat32', () => {
  it('equals Float32Array.prototype.sort on mixed-sign values, zeros, ties and extremes', () => {
    const rng = new Rng(9, 'test/sort');
    for (const n of [0, 1, 2, 17, 5000]) {
      const a = new Float32Array(n).map(() => (rng.uniform() < 0.1 ? Math.round(rng.normal()) : rng.normal() * 10 ** rng.int(8)));
      if (n > 4) a.set([0, -0, 3.4e38, -3.4e38]);
      expect(Array.from(sortFloat32(a))).toEqual(Array.from(Float32Array.from(a).sort()));
    }
  });
});
