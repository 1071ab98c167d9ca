/**
 * D's neighbour differences (discriminator.neighbourDiffs; src/models/layers/neighbour-diffs.ts): the layer
 * against a float64 loop, D's first layer on [x, |dx|, |dy|] against a D without the option fed the same
 * features by hand, discFirstLayer's image filters, and D's input gradient against central differences.
 * On cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { neighbourDiffs } from '../src/models/layers/neighbour-diffs.js';
import { createDiscriminator, discFirstLayer, discForward, disposeDiscriminator, type DiscriminatorConfig } from '../src/models/discriminator.js';
import { Rng } from '../src/util/rng.js';

/** [x, |dx|, |dy|] in float64, by loops over an NHWC array. */
function reference(x: Float64Array, n: number, h: number, w: number, c: number): Float64Array {
  const out = new Float64Array(n * h * w * 3 * c);
  const at = (b: number, i: number, j: number, k: number) => x[((b * h + i) * w + j) * c + k];
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let k = 0; k < c; k++) {
          const o = ((b * h + i) * w + j) * 3 * c;
          out[o + k] = at(b, i, j, k);
          out[o + c + k] = j + 1 < w ? Math.abs(at(b, i, j + 1, k) - at(b, i, j, k)) : 0;
          out[o + 2 * c + k] = i + 1 < h ? Math.abs(at(b, i + 1, j, k) - at(b, i, j, k)) : 0;
        }
  return out;
}

const CFG: DiscriminatorConfig = { widths: [5, 4], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1 };

describeEachBackend('neighbour differences in D', () => {
  it('equal [x, |dx|, |dy|] computed in float64 (last column and row zero)', () => {
    const [n, h, w, c] = [2, 5, 6, 3];
    const rng = new Rng(3);
    const x = Float64Array.from(rng.normals(n * h * w * c));
    const got = tf.tidy(() => neighbourDiffs(tf.tensor4d(Float32Array.from(x), [n, h, w, c])).dataSync());
    const want = reference(x, n, h, w, c);
    expect(got.length).toBe(want.length);
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
    expect(max).toBeLessThan(1e-5);
    // The planted structure: a constant image has no differences at all.
    const flat = tf.tidy(() => neighbourDiffs(tf.fill([1, 4, 4, 3], 0.7) as tf.Tensor4D).slice([0, 0, 0, 3], [1, 4, 4, 6]).abs().max().dataSync()[0]);
    expect(flat).toBe(0);
  });

  it("D's first layer convolves the differences: equal to a plain D fed [x, |dx|, |dy|]; its image filters come first", () => {
    const before = tf.memory().numTensors;
    for (const input of ['single', 'pair'] as const) {
      const d = createDiscriminator(8, input, 3, 2, { ...CFG, neighbourDiffs: true }, new Rng(5));
      const cin = input === 'pair' ? 6 : 3;
      expect(d.convs[0].w.shape).toEqual([2, 2, 3 * cin, 5]);
      // The same weights (same Rng stream) in a D whose input already has 3 cin channels.
      const plain = createDiscriminator(8, input, 9, 2, CFG, new Rng(5));
      expect(plain.convs[0].w.shape).toEqual([2, 2, 3 * cin, 5]);
      const x = tf.tensor4d(new Rng(6).normals(4 * 8 * 8 * cin), [4, 8, 8, cin]);
      const [a, b] = tf.tidy(() => [discForward(d, x).dataSync(), discForward(plain, neighbourDiffs(x)).dataSync()]);
      for (let i = 0; i < 4; i++) expect(a[i]).toBeCloseTo(b[i], 5);
      const first = discFirstLayer(d);
      expect(first.shape).toEqual([2, 2, cin, 5]);
      const want = tf.tidy(() => d.convs[0].w.slice([0, 0, 0, 0], [2, 2, cin, 5]));
      expect(Array.from(first.dataSync())).toEqual(Array.from(want.dataSync()));
      tf.dispose([x, first, want]);
      disposeDiscriminator(d);
      disposeDiscriminator(plain);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("D's input gradient through the differences matches central differences", () => {
    const d = createDiscriminator(4, 'single', 3, 2, { ...CFG, neighbourDiffs: true }, new Rng(8));
    const x0 = new Rng(9).normals(4 * 4 * 3);
    const f = (v: ArrayLike<number>) => tf.tidy(() => discForward(d, tf.tensor4d(Float32Array.from(v), [1, 4, 4, 3])).sum().dataSync()[0]);
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => discForward(d, x as tf.Tensor4D).sum())(tf.tensor4d(Float32Array.from(x0), [1, 4, 4, 3])).dataSync());
    const eps = 1e-2;
    let checked = 0;
    for (let i = 0; i < x0.length; i++) {
      const up = Array.from(x0);
      const down = Array.from(x0);
      up[i] += eps;
      down[i] -= eps;
      const fd = (f(up) - f(down)) / (2 * eps);
      expect(Math.abs(fd - g[i])).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
      checked++;
    }
    expect(checked).toBe(48);
    // Not the gradient of a D without the differences: the extra channels carry gradient.
    const plainW = createDiscriminator(4, 'single', 3, 2, CFG, new Rng(8));
    const g0 = tf.tidy(() => tf.grad((x: tf.Tensor) => discForward(plainW, x as tf.Tensor4D).sum())(tf.tensor4d(Float32Array.from(x0), [1, 4, 4, 3])).dataSync());
    let diff = 0;
    for (let i = 0; i < g.length; i++) diff = Math.max(diff, Math.abs(g[i] - g0[i]));
    expect(diff).toBeGreaterThan(1e-3);
    disposeDiscriminator(d);
    disposeDiscriminator(plainW);
  });
});
