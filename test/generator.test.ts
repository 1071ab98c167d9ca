import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { generatorForward, type GeneratorParams } from '../src/models/generator.js';
import { Rng } from '../src/util/rng.js';
import { edgeUpsample2x } from '../src/models/layers/edge-upsample.js';
import { upsample2x } from '../src/ops/index.js';
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

  it('with a skip, x_2 = up(x_1) + the level-2 painting, nearest or bilinear (float64 upsampling)', async () => {
    const z = tf.tensor4d(new Rng(6).normals(2 * 2), [2, 1, 1, 2]);
    const plain = generatorForward(tinyParams(new Rng(5)), z);
    const painted = await plain.x[1].data();
    for (const mode of ['nearest', 'bilinear'] as const) {
      const p = tinyParams(new Rng(5));
      p.shape = { ...p.shape, skip: true, ...(mode === 'bilinear' ? { skipUpsample: 'bilinear' as const } : {}) };
      const { s, x } = generatorForward(p, z);
      const low = await x[0].data();
      const got = await x[1].data();
      // Along one axis of length 4: nearest copies pixel o >> 1; bilinear (half-pixel centres, edges clamped)
      // takes 3/4 of it and 1/4 of the neighbour on o's side.
      const taps = (o: number): [number, number][] => {
        const i = o >> 1;
        if (mode === 'nearest') return [[i, 1]];
        const j = Math.min(3, Math.max(0, o % 2 === 0 ? i - 1 : i + 1));
        return [[i, 0.75], [j, 0.25]];
      };
      let worst = 0;
      for (let b = 0; b < 2; b++)
        for (let y = 0; y < 8; y++)
          for (let xx = 0; xx < 8; xx++)
            for (let ch = 0; ch < 3; ch++) {
              let up = 0;
              for (const [iy, wy] of taps(y)) for (const [ix, wx] of taps(xx)) up += wy * wx * low[((b * 4 + iy) * 4 + ix) * 3 + ch];
              const k = ((b * 8 + y) * 8 + xx) * 3 + ch;
              worst = Math.max(worst, Math.abs(got[k] - (up + painted[k])));
            }
      expect(worst, mode).toBeLessThan(1e-5);
      tf.dispose([s, x]);
    }
    // 'edge' (tested against its float64 definition in edge-upsample.test.ts): x_2 = edge-up(x_1) + painting.
    const p = tinyParams(new Rng(5));
    p.shape = { ...p.shape, skip: true, skipUpsample: 'edge' };
    const { s, x } = generatorForward(p, z);
    const want = tf.tidy(() => tf.add(edgeUpsample2x(x[0] as tf.Tensor4D, p.shape.head ?? 'linear'), plain.x[1]));
    const near = tf.tidy(() => tf.add(upsample2x(x[0] as tf.Tensor4D), plain.x[1]));
    expect(tf.max(tf.abs(tf.sub(x[1], want))).dataSync()[0]).toBeLessThan(1e-5);
    // ... and it is not simply nearest on this input.
    expect(tf.max(tf.abs(tf.sub(x[1], near))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([s, x, want, near]);
    tf.dispose([plain.s, plain.x, z]);
  });
});
