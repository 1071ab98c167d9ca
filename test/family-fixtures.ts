/**
 * What the model-family tests share (test/families.test.ts, test/families-style.test.ts): planted sources
 * disposed and temporary folders removed when the importing file ends, and the largest elementwise
 * difference of two tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll } from 'vitest';
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
