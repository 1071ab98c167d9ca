import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { blockForward, generatorLocality, layerLocality } from '../src/analysis/locality.js';
import { generatorForward, type GeneratorParams } from '../src/models/generator.js';
import { isLocalityReport } from '../src/analysis/validate.js';
import { Rng } from '../src/util/rng.js';

/** A random generator with hidden deconvolution kernel k (resolutions 8, 16, 32; patch 2). */
function randomGenerator(k: number, seed: number): GeneratorParams {
  const rng = new Rng(seed, 'test/locality');
  const shape = { resolutions: [8, 16, 32], channels: [6, 6, 6], zDim: 5, kernel: k, patch: 2, imageChannels: 3 };
  const blocks: GeneratorParams['blocks'] = {};
  shape.resolutions.forEach((r, l) => {
    const dshape: [number, number, number, number] = l === 0 ? [4, 4, 6, 5] : [k, k, 6, 6];
    blocks[r] = {
      deconv: tf.tensor4d(rng.normals(dshape.reduce((a, b) => a * b), 0.5), dshape),
      bias: tf.tensor1d(rng.normals(6, 0.1)),
      out: tf.tensor4d(rng.normals(2 * 2 * 3 * 6), [2, 2, 3, 6]),
    };
  });
  return { shape, blocks };
}

const disposeParams = (p: GeneratorParams) => tf.dispose(Object.values(p.blocks).flatMap((b) => [b.deconv, b.bias, b.out]));

describeEachBackend('patch locality', () => {
  it('blockForward reproduces generatorForward from s_{l-1}', () => {
    const g = randomGenerator(4, 1);
    const z = tf.tensor4d(new Rng(2).normals(3 * 5), [3, 1, 1, 5]);
    const full = generatorForward(g, z);
    const b = blockForward(g, full.s[1], 2);
    expect(tf.max(tf.abs(tf.sub(b.x, full.x[2]))).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(tf.sub(b.s, full.s[2]))).dataSync()[0]).toBe(0);
    tf.dispose([z, ...full.s, ...full.x, b.s, b.x]);
    disposeParams(g);
  });

  // A stride-2 'same' transposed conv with kernel k moves input position a to outputs 2a - pb .. 2a + k - 1 - pb
  // (pb = floor((k - 2) / 2)); the output head (kernel = stride = P) does not mix patches. So the change
  // of x_l must vanish exactly beyond Chebyshev distance 0 (k = 1, 2) or 1 (k = 3, 4) patches.
  for (const [k, radius] of [[1, 0], [2, 0], [3, 1], [4, 1]] as const) {
    it(`kernel ${k}: change is exactly zero beyond distance ${radius} and non-zero within`, () => {
      const g = randomGenerator(k, 10 + k);
      const z = tf.tensor4d(new Rng(3).normals(40 * 5), [40, 1, 1, 5]);
      const before = tf.memory().numTensors;
      const res = layerLocality(g, z, 2, { epsilon: 0.5, positions: 3, seed: 1, chunk: 16 });
      expect(tf.memory().numTensors).toBe(before);
      expect(res.receptiveRadius).toBe(radius);
      expect(res.observedRadius).toBe(radius);
      for (const e of res.profile) {
        if (e.distance > radius) expect(e.meanAbsChange).toBe(0);
        else expect(e.meanAbsChange).toBeGreaterThan(0);
      }
      expect(res.profile[0].relative).toBe(1);
      // 32x32 pixels per position, 3 positions.
      expect(res.profile.reduce((a, e) => a + e.pixels, 0)).toBe(3 * 32 * 32);
      tf.dispose(z);
      disposeParams(g);
    });
  }

  it('generatorLocality covers every layer >= 2 and validates', () => {
    const g = randomGenerator(3, 4);
    const z = tf.tensor4d(new Rng(4).normals(8 * 5), [8, 1, 1, 5]);
    const rep = generatorLocality(g, z, { positions: 2 });
    expect(rep.layers.map((l) => l.layer)).toEqual([2, 3]);
    expect(rep.layers[0].positions[0]).toEqual([2, 2]);
    expect(isLocalityReport(rep)).toBe(true);
    tf.dispose(z);
    disposeParams(g);
  });
});
