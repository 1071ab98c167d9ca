import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { generatorSparsity, sparsity } from '../src/analysis/sparsity.js';
import { generatorForward, type GeneratorParams } from '../src/models/generator.js';
import { isSparsityReport } from '../src/analysis/validate.js';
import { Rng } from '../src/util/rng.js';

/**
 * Planted layer [N,g,g,C]: position i has k_i "large" channels in [1, 2] and s_i "small" channels in
 * [0.03, 0.04] (below tau * max = 0.1 when a large one exists, above it otherwise), the rest exact zeros.
 */
function planted(n: number, g: number, c: number, seed: number) {
  const rng = new Rng(seed, 'test/sparsity');
  const data = new Float32Array(n * g * g * c);
  const large: number[] = [];
  const small: number[] = [];
  for (let p = 0; p < n * g * g; p++) {
    const k = rng.int(4);
    const s = rng.int(3);
    const ch = rng.permutation(c);
    for (let i = 0; i < k; i++) data[p * c + ch[i]] = 1 + rng.uniform();
    for (let i = k; i < k + s; i++) data[p * c + ch[i]] = 0.03 + 0.01 * rng.uniform();
    large.push(k);
    small.push(s);
  }
  return { data, large, small };
}

describeEachBackend('sparsity', () => {
  it('counts planted active channels exactly (exact zeros and tau * max)', () => {
    const [n, g, c] = [6, 4, 10];
    const { data, large, small } = planted(n, g, c, 1);
    const s = tf.tensor4d(data, [n, g, g, c]);
    const rep = sparsity([s], { tau: 0.1 }, [16]);
    s.dispose();
    const L = rep.layers[0];
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const exact = large.map((k, i) => k + small[i]);
    // A position with no large channel has max < 0.05, so its small channels are above tau * max.
    const rel = large.map((k, i) => (k > 0 ? k : small[i]));
    expect(L.positions).toBe(n * g * g);
    expect(L.exact.meanActive).toBeCloseTo(mean(exact), 10);
    expect(L.exact.activeFraction).toBeCloseTo(mean(exact) / c, 10);
    expect(L.relative.meanActive).toBeCloseTo(mean(rel), 10);
    for (let k = 0; k <= c; k++) expect(L.exact.histogram[k]).toBeCloseTo(exact.filter((x) => x === k).length / exact.length, 10);
    expect(L.emptyFraction).toBeCloseTo(exact.filter((x) => x === 0).length / exact.length, 10);
    expect(L.resolution).toBe(16);
    expect(isSparsityReport(rep)).toBe(true);
  });

  it('Hoyer measure: 1 for one-hot positions, 0 for constant positions', () => {
    const c = 8;
    const oneHot = new Float32Array(4 * c);
    for (let p = 0; p < 4; p++) oneHot[p * c + p] = 3;
    const flat = new Float32Array(4 * c).fill(0.5);
    const a = tf.tensor4d(oneHot, [1, 2, 2, c]);
    const b = tf.tensor4d(flat, [1, 2, 2, c]);
    const mixed = tf.concat([a, b]);
    const rep = sparsity([a, b, mixed]);
    expect(rep.layers[0].hoyer).toBeCloseTo(1, 10);
    expect(rep.layers[1].hoyer).toBeCloseTo(0, 10);
    expect(rep.layers[2].hoyer).toBeCloseTo(0.5, 10);
    tf.dispose([a, b, mixed]);
  });

  it('generatorSparsity streams chunks to the same answer as one full forward', () => {
    const rng = new Rng(3, 'test/sparsity-gen');
    const shape = { resolutions: [4, 8], channels: [6, 5], zDim: 4, kernel: 3, patch: 2, imageChannels: 3 };
    const params: GeneratorParams = {
      shape,
      blocks: {
        4: { deconv: tf.tensor4d(rng.normals(2 * 2 * 6 * 4), [2, 2, 6, 4]), bias: tf.tensor1d(rng.normals(6, 0.5)), out: tf.tensor4d(rng.normals(12 * 6), [2, 2, 3, 6]) },
        8: { deconv: tf.tensor4d(rng.normals(9 * 5 * 6), [3, 3, 5, 6]), bias: tf.tensor1d(rng.normals(5, 0.5)), out: tf.tensor4d(rng.normals(12 * 5), [2, 2, 3, 5]) },
      },
    };
    const z = tf.tensor4d(rng.normals(37 * 4), [37, 1, 1, 4]);
    const before = tf.memory().numTensors;
    const streamed = generatorSparsity(params, z, { chunk: 10 });
    expect(tf.memory().numTensors).toBe(before);
    const out = generatorForward(params, z);
    const full = sparsity(out.s, {}, shape.resolutions);
    for (let l = 0; l < 2; l++) {
      expect(streamed.layers[l].exact.meanActive).toBeCloseTo(full.layers[l].exact.meanActive, 10);
      expect(streamed.layers[l].relative.histogram).toEqual(full.layers[l].relative.histogram);
      expect(streamed.layers[l].hoyer).toBeCloseTo(full.layers[l].hoyer, 6);
      expect(streamed.layers[l].exact.meanActive).toBeGreaterThan(0);
    }
    tf.dispose([z, ...out.s, ...out.x, ...Object.values(params.blocks).flatMap((b) => [b.deconv, b.bias, b.out])]);
  });
});
