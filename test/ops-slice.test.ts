/**
 * fsrgan's wasm Slice kernel (src/ops/slice.ts) against an independent reference: the element-by-element
 * definition out[i] = x[begin + i], on seeded random shapes of rank 1-5 and float32/int32/bool tensors.
 * Also checks that it no longer copies the whole input out of the heap (the stock kernel's readSync).
 * The Concat and SplitV kernels (pure copies too) must equal the cpu backend's exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { sliceInto } from '../src/ops/slice.js';
import { Rng } from '../src/util/rng.js';

/** Reference: visit every output index and read x at begin + index. */
function refSlice(x: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const total = size.reduce((a, b) => a * b, 1);
  for (let flat = 0; flat < total; flat++) {
    let rem = flat;
    let src = 0;
    let stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const i = rem % size[d];
      rem = Math.floor(rem / size[d]);
      src += (begin[d] + i) * stride;
      stride *= shape[d];
    }
    out.push(x[src]);
  }
  return out;
}

function randomCase(rng: Rng): { shape: number[]; begin: number[]; size: number[] } {
  const rank = 1 + rng.int(5);
  const shape = Array.from({ length: rank }, () => 1 + rng.int(6));
  const begin = shape.map((d) => rng.int(d));
  // Often take whole trailing axes, so the merged-run path is exercised too.
  const size = shape.map((d, i) => (rng.uniform() < 0.4 ? d - begin[i] : rng.int(d - begin[i] + 1)));
  return { shape, begin, size };
}

describe('sliceInto', () => {
  it('matches the element-wise definition on random shapes', () => {
    const rng = new Rng(7, 'slice');
    for (let t = 0; t < 300; t++) {
      const { shape, begin, size } = randomCase(rng);
      const n = shape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: n }, (_, i) => i + 0.5);
      const out = new Float32Array(size.reduce((a, b) => a * b, 1));
      sliceInto(x, shape, begin, size, out);
      expect(Array.from(out), JSON.stringify({ shape, begin, size })).toEqual(refSlice(x, shape, begin, size));
    }
  });
});

describe('Slice kernel [wasm]', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('tf.slice matches the reference for float32, int32 and bool', () => {
    const rng = new Rng(8, 'slice');
    for (let t = 0; t < 60; t++) {
      const { shape, begin, size } = randomCase(rng);
      const n = shape.reduce((a, b) => a * b, 1);
      const vals = Array.from({ length: n }, () => rng.int(1000) - 500);
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const src = dtype === 'bool' ? vals.map((v) => (v > 0 ? 1 : 0)) : vals;
        const x = tf.tensor(src, shape, dtype);
        const y = tf.slice(x, begin, size);
        expect(y.shape).toEqual(size);
        expect(y.dtype).toBe(dtype);
        expect(Array.from(y.dataSync()), `${dtype} ${JSON.stringify({ shape, begin, size })}`).toEqual(refSlice(src, shape, begin, size));
        tf.dispose([x, y]);
      }
    }
  });

  it('does not read the whole input out of the heap', () => {
    const x = tf.randomNormal([64, 16, 16, 64]);
    const backend = tf.backend() as unknown as { readSync: (...a: unknown[]) => unknown };
    const spy = vi.spyOn(backend, 'readSync');
    const y = tf.slice(tf.reshape(x, [-1]), 5, 1);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(y.dataSync()[0]).toBe(x.dataSync()[5]);
    tf.dispose([x, y]);
  });
});

describe('Concat and SplitV kernels [wasm] against the cpu backend', () => {
  it('tf.concat and tf.split give exactly what cpu gives, on random shapes, axes and dtypes', async () => {
    const rng = new Rng(9, 'concat');
    const cases = Array.from({ length: 40 }, () => {
      const rank = 1 + rng.int(5);
      const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
      const axis = rng.int(rank);
      // 1-4 inputs with their own sizes along the axis (0 included: empty inputs are skipped), and
      // a long axis now and then so that runs of 32 floats and more take the other path.
      const parts = Array.from({ length: 1 + rng.int(4) }, () => (rng.uniform() < 0.2 ? 40 : rng.int(4)));
      const dtype = (['float32', 'int32', 'bool'] as const)[rng.int(3)];
      return { shape, axis, parts, dtype, seed: rng.int(1e6) };
    });
    // The RGB pair (3 + 3 channels along the last axis) has a path of its own.
    cases.push({ shape: [2, 3, 4, 3], axis: 3, parts: [3, 3], dtype: 'float32', seed: 5 }, { shape: [5, 3], axis: 1, parts: [3, 3], dtype: 'int32', seed: 6 });
    const run = () =>
      cases.map((c) =>
        tf.tidy(() => {
          const r = new Rng(c.seed, 'vals');
          const xs = c.parts.map((p) => {
            const shape = c.shape.map((d, i) => (i === c.axis ? p : d));
            const n = shape.reduce((a, b) => a * b, 1);
            return tf.tensor(Array.from({ length: n }, () => (c.dtype === 'bool' ? r.int(2) : r.int(1000) - 500 + (c.dtype === 'float32' ? 0.25 : 0))), shape, c.dtype);
          });
          const y = tf.concat(xs, c.axis);
          const parts = c.parts.filter((p) => p > 0);
          const back = parts.length ? tf.split(y, parts, c.axis) : [];
          return [y, ...back].map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }));
        }),
      );
    await initBackend('wasm');
    const onWasm = run();
    await initBackend('cpu');
    const onCpu = run();
    await initBackend('wasm');
    cases.forEach((c, i) => expect(onWasm[i], JSON.stringify(c)).toEqual(onCpu[i]));
  });
});
