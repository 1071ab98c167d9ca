/**
 * What the model-family tests share (test/families.test.ts, test/families-style.test.ts, the conditional
 * tests): planted sources disposed and temporary folders removed when the importing file ends, the largest
 * elementwise difference of two tensors, and a tiny labelled image set.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll } from 'vitest';
import type { ImageSet } from '../src/data/dataset.js';
import { PlantedSource } from './train-fixtures.js';

export { tempDir } from './temp-dirs.js';

const sources: PlantedSource[] = [];
afterAll(() => sources.forEach((s) => s.dispose()));

/** A tiny planted source, disposed when the file's tests end. */
export function planted(): PlantedSource {
  const s = new PlantedSource();
  sources.push(s);
  return s;
}

export const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/** 24 images at 16x16 in 3 classes (a red square, a green bar, a blue dot, at shifting places), each with a name. */
export function labelledSet(): ImageSet {
  const n = 24;
  const r = 16;
  const pixels = new Uint8Array(n * r * r * 3).fill(255);
  const colors = [[220, 30, 30], [30, 180, 30], [30, 30, 220]];
  const names: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    const o = (i * 5) % 6;
    for (let y = 0; y < r; y++)
      for (let x = 0; x < r; x++) {
        const inside = k === 0 ? x >= o && x < o + 8 && y >= 4 && y < 12 : k === 1 ? y >= o + 4 && y < o + 7 : (x - 8) ** 2 + (y - 8) ** 2 < 9 + o;
        if (inside) pixels.set(colors[k], ((i * r + y) * r + x) * 3);
      }
    labels.push(k);
    names.push(`${['red square', 'green bar', 'blue dot'][k]} ${['small', 'big', 'round', 'thin'][i % 4]}`);
  }
  return { name: 'labelled-test', count: n, resolution: r, channels: 3, pixels, labels: Int32Array.from(labels), classNames: ['square', 'bar', 'dot'], names, license: 'CC0-1.0', attribution: '', provenance: {} };
}
