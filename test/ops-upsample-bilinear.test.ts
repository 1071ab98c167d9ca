/**
 * Bilinear 2x upsampling (src/ops/upsample_bilinear.ts) on cpu and wasm against a float64 reference written
 * from PyTorch's align_corners=False definition (source coordinate (i + 0.5) / 2 - 0.5, clamped at 0, two
 * taps weighted by the fraction), not from the even/odd form the op uses: forward, the gradient (the
 * reference's transpose) and a second derivative (2 U^T U v, what R1 through a skip needs).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { upsampleBilinear2x } from '../src/ops/index.js';
import { Rng } from '../src/util/rng.js';
import { bilinearTaps as taps } from './helpers/bilinear.js';

/** U x in float64 for x [N,H,W,C] (flat, row-major); `transpose` applies U^T to a [N,2H,2W,C] input instead. */
function ref(v: ArrayLike<number>, [n, h, w, c]: number[], transpose = false): Float64Array {
  const out = new Float64Array(transpose ? n * h * w * c : n * 4 * h * w * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < 2 * h; i++)
      for (let j = 0; j < 2 * w; j++)
        for (const [si, wi] of taps(i, h))
          for (const [sj, wj] of taps(j, w))
            for (let k = 0; k < c; k++) {
              const small = ((b * h + si) * w + sj) * c + k;
              const big = ((b * 2 * h + i) * 2 * w + j) * c + k;
              if (transpose) out[small] += wi * wj * v[big];
              else out[big] += wi * wj * v[small];
            }
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`upsampleBilinear2x on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it('equals the float64 definition, for odd, even and single-pixel sides', () => {
      const rng = new Rng(7, 'bilinear');
      for (const shape of [[2, 3, 5, 3], [1, 1, 1, 2], [3, 4, 4, 1], [1, 1, 6, 2]]) {
        const x = Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal());
        const y = tf.tidy(() => upsampleBilinear2x(tf.tensor4d(x, shape as [number, number, number, number])));
        expect(y.shape).toEqual([shape[0], 2 * shape[1], 2 * shape[2], shape[3]]);
        expect(maxDiff(y.dataSync(), ref(x, shape)), `[${shape}]`).toBeLessThan(1e-5);
        y.dispose();
      }
    });

    it('its gradient is the transpose, and it differentiates twice (2 U^T U v)', () => {
      const rng = new Rng(8, 'bilinear-grad');
      const shape = [2, 3, 4, 2] as [number, number, number, number];
      const size = shape.reduce((a, b) => a * b);
      const x = Array.from({ length: size }, () => rng.normal());
      const v = Array.from({ length: size }, () => rng.normal());
      const g = Array.from({ length: size * 4 }, () => rng.normal());
      const before = tf.memory().numTensors;
      const [dx, ddx] = tf.tidy(() => {
        const xt = tf.tensor4d(x, shape);
        const gt = tf.tensor4d(g, [shape[0], 2 * shape[1], 2 * shape[2], shape[3]]);
        const vt = tf.tensor4d(v, shape);
        const first = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(upsampleBilinear2x(a as tf.Tensor4D), gt)))(xt);
        // d/dx <d/dx sum(U x)^2, v> = 2 U^T U v.
        const inner = (a: tf.Tensor) => tf.grad((b: tf.Tensor) => tf.sum(tf.square(upsampleBilinear2x(b as tf.Tensor4D))))(a);
        const second = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(inner(a), vt)))(xt);
        return [first.dataSync(), second.dataSync()];
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(maxDiff(dx, ref(g, shape, true))).toBeLessThan(1e-5);
      const utuv = ref(ref(v, shape), shape, true).map((q) => 2 * q);
      expect(maxDiff(ddx, utuv)).toBeLessThan(1e-4);
    });
  });
}
