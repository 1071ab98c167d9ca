/**
 * The derived-filter cache (src/ops/derived.ts) and wasm's data-sharing Identity kernel (kernels.ts):
 * a derived filter is built once per source value, follows a variable's new values, is freed with its
 * source, and never shows up in tf.memory().numTensors; a clone outlives the tensor it was cloned from.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { conv2dBackpropInput } from '../src/ops/input_grad.js';
import { derivedFilter, derivedSources } from '../src/ops/derived.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';

/** A derived filter for the test: the source reversed, times 2. */
function reversed(src: tf.Tensor, calls: { n: number }): tf.Tensor1D {
  return derivedFilter<tf.Rank.R1>(src, 'test reversed', [src.size], (from, to) => {
    calls.n++;
    for (let i = 0; i < from.length; i++) to[i] = 2 * from[from.length - 1 - i];
  });
}

const refCount = (id: tf.DataId) => (tf.engine().backend as unknown as { refCount(id: tf.DataId): number }).refCount(id);

describeEachBackend('derived filters', () => {
  it('are built once per source value, follow a variable, and are freed with their source', () => {
    const calls = { n: 0 };
    const init = tf.tensor1d([1, 2, 3]);
    const v = tf.variable(init);
    init.dispose();
    const sources = derivedSources();
    const buffers = tf.memory().numDataBuffers;
    const tensors = tf.memory().numTensors;

    const first = tf.tidy(() => Array.from(reversed(v, calls).dataSync()));
    expect(first).toEqual([6, 4, 2]);
    /** The derived data's id (the wrapper tensor is disposed by the tidy, the data stays cached). */
    const dataOf = (): tf.DataId => {
      let id: tf.DataId = {};
      tf.tidy(() => {
        id = reversed(v, calls).dataId;
      });
      return id;
    };
    let id = dataOf();
    expect(calls.n).toBe(1); // the second use hit the cache
    expect(derivedSources()).toBe(sources + 1);
    expect(tf.memory().numTensors).toBe(tensors); // the cache holds data, not tensors
    expect(refCount(id)).toBe(1);

    // A new value (assign) is a new source: a new derived filter, and the old one is freed.
    const next = tf.tensor1d([5, 7, 11]);
    v.assign(next);
    next.dispose();
    expect(refCount(id)).toBe(0);
    expect(tf.tidy(() => Array.from(reversed(v, calls).dataSync()))).toEqual([22, 14, 10]);
    expect(calls.n).toBe(2);
    id = dataOf();

    v.dispose();
    expect(refCount(id)).toBe(0);
    expect(derivedSources()).toBe(sources);
    expect(tf.memory().numDataBuffers).toBe(buffers - 1); // v's own buffer went too
  });

  it('leave numTensors flat around the transposed convolution while the filter lives', () => {
    const rng = new Rng(3);
    const w = tf.tensor4d(rng.normals(3 * 3 * 16 * 8), [3, 3, 16, 8]);
    const dy = tf.tensor4d(rng.normals(2 * 4 * 4 * 8), [2, 4, 4, 8]);
    const attrs = { strides: 2, pad: 'same' as const, inputShape: [2, 8, 8, 16] as [number, number, number, number] };
    const before = tf.memory().numTensors;
    const a = conv2dBackpropInput(dy, w, attrs, 'phases');
    const b = conv2dBackpropInput(dy, w, attrs, 'phases'); // from the cached phase filters
    expect(tf.memory().numTensors).toBe(before + 2);
    const ref = tf.conv2dTranspose(dy, w, attrs.inputShape, 2, 'same'); // same op, tfjs's own kernel path on cpu
    const diff = (x: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, ref))).dataSync()[0]);
    expect(diff(a)).toBeLessThan(1e-4);
    expect(diff(b)).toBe(diff(a));
    tf.dispose([a, b, ref, w, dy]);
  });

  it('a clone (wasm shares the data) keeps its values after the original is disposed', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
  });
});
