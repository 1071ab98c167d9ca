import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { describeEachBackend } from './helpers/backends.js';
import { filterImages, filterPairPng, filterTilesPng } from '../src/report/tiles.js';

/** A planted bank [P,P,C,F] (flat, tfjs order): distinct values, sign alternating by filter, offset 10k for filter k. */
function plantedBank(p: number, c: number, f: number): number[] {
  const w: number[] = [];
  for (let y = 0; y < p; y++)
    for (let x = 0; x < p; x++)
      for (let ch = 0; ch < c; ch++) for (let k = 0; k < f; k++) w.push((k + 1) * (y * p * c + x * c + ch + 1) * (k % 2 ? -1 : 1) + 10 * k);
  return w;
}

/** Expected 0..255 value of filter k at (y,x,c) under per-filter min..max normalisation, in float64. */
function expectedMinMax(w: number[], p: number, c: number, f: number, k: number, y: number, x: number, ch: number): number {
  const vals: number[] = [];
  for (let i = k; i < w.length; i += f) vals.push(w[i]);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  return Math.round(((w[((y * p + x) * c + ch) * f + k] - lo) / (hi - lo)) * 255);
}

describeEachBackend('filter tiles', () => {
  const P = 3;
  const C = 3;
  const F = 4;
  const w = plantedBank(P, C, F);

  it('filterImages reorders [P,P,C,F] to [K,P,P,C] in the given order; symmetric norm divides by max |w|', () => {
    const bank = tf.tensor4d(w, [P, P, C, F]);
    const imgs = filterImages(bank, [2, 0]);
    expect(imgs.shape).toEqual([2, P, P, C]);
    const d = imgs.arraySync();
    expect(d[0][1][2][0]).toBe(w[((1 * P + 2) * C + 0) * F + 2]);
    expect(d[1][0][0][2]).toBe(w[((0 * P + 0) * C + 2) * F + 0]);
    const sym = filterImages(bank, [1], 'symmetric').arraySync()[0].flat(2);
    const raw: number[] = [];
    for (let i = 1; i < w.length; i += F) raw.push(w[i]);
    const m = Math.max(...raw.map(Math.abs));
    sym.forEach((v, i) => expect(v).toBeCloseTo(raw[i] / m, 5));
    tf.dispose([bank, imgs]);
    expect(() => filterImages(tf.zeros([2, 2, 2, 1]) as tf.Tensor4D)).toThrow(/filterImages/);
  });

  it('filterTilesPng maps each filter to its own 0..255 range, upscaled', () => {
    const bank = tf.tensor4d(w, [P, P, C, F]);
    const before = tf.memory().numTensors;
    const png = PNG.sync.read(filterTilesPng(bank, [3, 1], { scale: 2, cols: 2, gap: 1 }));
    expect(tf.memory().numTensors).toBe(before);
    expect([png.width, png.height]).toEqual([2 * P * 2 + 3, P * 2 + 2]);
    for (const [tile, k] of [
      [0, 3],
      [1, 1],
    ])
      for (let y = 0; y < P * 2; y++)
        for (let x = 0; x < P * 2; x++)
          for (let ch = 0; ch < C; ch++) {
            const px = ((1 + y) * png.width + 1 + tile * (P * 2 + 1) + x) * 4 + ch;
            expect(png.data[px]).toBe(expectedMinMax(w, P, C, F, k, Math.floor(y / 2), Math.floor(x / 2), ch));
          }
    bank.dispose();
  });

  it('filterPairPng puts matched filters at the same position of the left and right panels', () => {
    const a = tf.tensor4d(w, [P, P, C, F]);
    const wb = w.map((v) => -v); // a second bank with different values per position
    const b = tf.tensor4d(wb, [P, P, C, F]);
    const pairs: [number, number][] = [
      [0, 2],
      [3, 1],
      [1, 0],
    ];
    const panelGap = 5;
    const png = PNG.sync.read(filterPairPng(a, b, pairs, { scale: 1, cols: 3, gap: 1, panelGap }));
    const panelW = 3 * P + 4;
    expect([png.width, png.height]).toEqual([2 * panelW + panelGap, P + 2]);
    pairs.forEach(([i, j], k) => {
      for (let y = 0; y < P; y++)
        for (let x = 0; x < P; x++) {
          const left = ((1 + y) * png.width + 1 + k * (P + 1) + x) * 4;
          const right = ((1 + y) * png.width + panelW + panelGap + 1 + k * (P + 1) + x) * 4;
          expect(png.data[left]).toBe(expectedMinMax(w, P, C, F, i, y, x, 0));
          expect(png.data[right]).toBe(expectedMinMax(wb, P, C, F, j, y, x, 0));
        }
    });
    // The gap between the panels is background white.
    for (let y = 0; y < png.height; y++) expect(png.data[(y * png.width + panelW + 2) * 4]).toBe(255);
    tf.dispose([a, b]);
  });
});
