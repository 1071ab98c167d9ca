import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { areaResize, poolPyramid, pyramidResolutions } from '../src/data/pyramid.js';
import { ImageDataset, type ImageSet } from '../src/data/dataset.js';
import { Rng } from '../src/util/rng.js';

/** Independent float64 2x2 average pool of [n,r,r,c] data. */
function pool2(data: ArrayLike<number>, n: number, r: number, c: number): Float64Array {
  const h = r / 2;
  const out = new Float64Array(n * h * h * c);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < h; x++)
        for (let ch = 0; ch < c; ch++) {
          const at = (yy: number, xx: number) => data[((i * r + yy) * r + xx) * c + ch];
          out[((i * h + y) * h + x) * c + ch] = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4;
        }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function randomSet(count: number, r: number, seed: number): ImageSet {
  const rng = new Rng(seed, 'fixture');
  return {
    name: 'random',
    count,
    resolution: r,
    channels: 3,
    pixels: Uint8Array.from({ length: count * r * r * 3 }, () => rng.int(256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    classNames: ['a', 'b', 'c'],
    license: 'CC0',
    attribution: '',
    provenance: {},
  };
}

describeEachBackend('pyramid consistency', () => {
  it('poolPyramid levels are 2x2 average pools of the level above (float64 reference)', () => {
    const rng = new Rng(7, 'pool');
    const n = 3;
    const data = rng.normals(n * 16 * 16 * 3);
    const top = tf.tensor4d(data, [n, 16, 16, 3]);
    const levels = poolPyramid(top, 3);
    expect(levels.map((x) => x.shape[1])).toEqual([4, 8, 16]);
    expect(maxAbsDiff(levels[2].dataSync(), data)).toBe(0);
    let ref: ArrayLike<number> = data;
    for (const [l, r] of [[1, 16], [0, 8]] as const) {
      ref = pool2(ref, n, r, 3);
      expect(maxAbsDiff(levels[l].dataSync(), ref)).toBeLessThan(1e-5);
    }
    tf.dispose([top, ...levels]);
  });

  it('ImageDataset batches: x_{l-1} = 2x2 average pool of x_l, top level = pixels/127.5 - 1', () => {
    const set = randomSet(10, 32, 1);
    const ds = new ImageDataset(set, { seed: 3, heldOutFraction: 0.2, minResolution: 4 });
    const peek = new ImageDataset(set, { seed: 3, heldOutFraction: 0.2, minResolution: 4 });
    const idx = peek.nextIndices(5);
    const before = tf.memory().numTensors;
    const levels = ds.batch(5);
    expect(tf.memory().numTensors - before).toBe(4);
    expect(levels.map((x) => x.shape)).toEqual([4, 8, 16, 32].map((r) => [5, r, r, 3]));
    const per = 32 * 32 * 3;
    const top = new Float64Array(5 * per);
    idx.forEach((k, i) => {
      for (let j = 0; j < per; j++) top[i * per + j] = set.pixels[k * per + j] / 127.5 - 1;
    });
    expect(maxAbsDiff(levels[3].dataSync(), top)).toBeLessThan(1e-6);
    for (let l = 3; l > 0; l--) {
      const r = levels[l].shape[1];
      expect(maxAbsDiff(levels[l - 1].dataSync(), pool2(levels[l].dataSync(), 5, r, 3))).toBeLessThan(1e-6);
    }
    for (const x of levels) {
      const d = x.dataSync();
      expect(Math.min(...d)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...d)).toBeLessThanOrEqual(1);
    }
    tf.dispose(levels);
  });

  it('gray ImageSets are served as RGB with equal channels', () => {
    const rng = new Rng(2);
    const set: ImageSet = { ...randomSet(4, 8, 2), channels: 1, pixels: Uint8Array.from({ length: 4 * 64 }, () => rng.int(256)) };
    const ds = new ImageDataset(set, { seed: 0, heldOutFraction: 0, minResolution: 2 });
    const levels = ds.batch(4);
    const d = levels[2].dataSync();
    for (let p = 0; p < d.length; p += 3) expect(d[p] === d[p + 1] && d[p] === d[p + 2]).toBe(true);
    tf.dispose(levels);
  });
});

describe('areaResize and resolutions', () => {
  it('integer factors are block averages', () => {
    const rng = new Rng(5);
    const src = Float64Array.from({ length: 12 * 12 * 2 }, () => rng.uniform());
    const out = areaResize(src, 12, 12, 2, 4, 4);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 2; c++) {
          let s = 0;
          for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) s += src[((3 * y + dy) * 12 + 3 * x + dx) * 2 + c];
          expect(out[(y * 4 + x) * 2 + c]).toBeCloseTo(s / 9, 12);
        }
  });

  it('fractional factors weight pixels by covered area (3 -> 2 pixels, planted answer)', () => {
    // Output pixel 0 covers source [0, 1.5): all of pixel 0 and half of pixel 1.
    const out = areaResize([3, 6, 9], 1, 3, 1, 1, 2);
    expect(out[0]).toBeCloseTo((3 + 0.5 * 6) / 1.5, 12);
    expect(out[1]).toBeCloseTo((0.5 * 6 + 9) / 1.5, 12);
    const rng = new Rng(9);
    const src = Float64Array.from({ length: 50 * 50 }, () => rng.uniform());
    const o = areaResize(src, 50, 50, 1, 32, 32);
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    expect(mean(o)).toBeCloseTo(mean(src), 12);
  });

  it('pyramidResolutions lists r_1..r_L and rejects a non power-of-two ratio', () => {
    expect(pyramidResolutions(32, 4)).toEqual([4, 8, 16, 32]);
    expect(pyramidResolutions(28, 7)).toEqual([7, 14, 28]);
    expect(() => pyramidResolutions(24, 5)).toThrow(/minResolution 5 times a power of two/);
    expect(() => pyramidResolutions(8, 16)).toThrow(/minResolution must be an integer between 1 and resolution/);
  });
});
