import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { generatorForward, type GeneratorParams } from '../src/models/generator.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';

/** A tiny generator: resolutions [4, 8], patch 2 (grids 2, 4), channels [3, 2], zDim 2, kernel 4. */
function tinyParams(rng: Rng): GeneratorParams {
  const t = (shape: number[]) => tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1), 0.5), shape);
  const shape = { resolutions: [4, 8], channels: [3, 2], zDim: 2, kernel: 4, patch: 2, imageChannels: 3 };
  return {
    shape,
    blocks: {
      4: { deconv: t([2, 2, 3, 2]) as tf.Tensor4D, bias: t([3]) as tf.Tensor1D, out: t([2, 2, 3, 3]) as tf.Tensor4D },
      8: { deconv: t([4, 4, 2, 3]) as tf.Tensor4D, bias: t([2]) as tf.Tensor1D, out: t([2, 2, 3, 2]) as tf.Tensor4D },
    },
  };
}

describeEachBackend('generatorForward', () => {
  it('leaks no intermediate tensors outside tf.tidy and returns s_l, x_l of the documented shapes', () => {
    const p = tinyParams(new Rng(1));
    const z = tf.tensor4d(new Rng(2).normals(3 * 2), [3, 1, 1, 2]);
    const before = tf.memory().numTensors;
    const out = generatorForward(p, z);
    expect(out.s.map((t) => t.shape)).toEqual([[3, 2, 2, 3], [3, 4, 4, 2]]);
    expect(out.x.map((t) => t.shape)).toEqual([[3, 4, 4, 3], [3, 8, 8, 3]]);
    // exactly the 4 returned tensors are new
    expect(tf.memory().numTensors - before).toBe(4);
    tf.dispose([out.s, out.x, z]);
  });

  it('layer 1 is a dense map from z, and x_l[p] = A_l y_p (float64 reference)', async () => {
    const p = tinyParams(new Rng(3));
    const zArr = new Rng(4).normals(2);
    const z = tf.tensor4d(zArr, [1, 1, 1, 2]);
    const { s, x } = generatorForward(p, z, 1);
    const w = await p.blocks[4].deconv.data(); // [2,2,3,2]: [ky,kx,c,zin]
    const b = await p.blocks[4].bias.data();
    const a = await p.blocks[4].out.data(); // [2,2,3,3]: [py,px,rgb,c]
    const sGot = await s[0].data();
    const xGot = await x[0].data();
    for (let gy = 0; gy < 2; gy++)
      for (let gx = 0; gx < 2; gx++)
        for (let c = 0; c < 3; c++) {
          let v = -b[c];
          for (let i = 0; i < 2; i++) v += w[((gy * 2 + gx) * 3 + c) * 2 + i] * zArr[i];
          expect(sGot[(gy * 2 + gx) * 3 + c]).toBeCloseTo(Math.max(0, v), 5);
        }
    for (let y = 0; y < 4; y++)
      for (let xx = 0; xx < 4; xx++)
        for (let ch = 0; ch < 3; ch++) {
          const gy = y >> 1, gx = xx >> 1, py = y & 1, px = xx & 1;
          let v = 0;
          for (let c = 0; c < 3; c++) v += a[((py * 2 + px) * 3 + ch) * 3 + c] * sGot[(gy * 2 + gx) * 3 + c];
          expect(xGot[(y * 4 + xx) * 3 + ch]).toBeCloseTo(v, 5);
        }
    tf.dispose([s, x, z]);
  });
});
