/**
 * Filters derived from a filter (the phase sub-filters of the transposed convolution, transposed and
 * padded copies for the patch kernels), built once per filter value instead of once per call.
 *
 * Why: a training step calls the transposed convolution several times with the same weights (the fake
 * batch of the D step and the G step, frozen lower layers every step), and each new derived filter cost a
 * JS loop plus, on wasm, XNNPACK packing it into a new operator (~10 ns per weight: 0.7 ms for a
 * 3x3x64x128 filter whatever the batch). That fixed cost per call is what kept small per-replica batches
 * from scaling (docs/speed.md).
 *
 * A derived filter is plain backend data (not a tracked tensor) owned by its source's data: tensors are
 * immutable, so it stays valid until the source's data is freed, and then it is freed too (the backend's
 * disposeData is wrapped once per backend). `tf.memory().numTensors` therefore does not see the cache;
 * each use wraps the data in a tensor owned by the caller's tidy.
 */
import * as tf from '@tensorflow/tfjs';
import { floatsOf } from './simd/heap.js';
import { asTensor } from './tensor_info.js';

type DisposeData = (dataId: tf.DataId, force?: boolean) => boolean;
interface Hooked {
  /** Derived data by source data, then by key. */
  bySource: Map<tf.DataId, Map<string, tf.DataId>>;
}
const hooked = new WeakMap<tf.KernelBackend, Hooked>();

function cacheOf(backend: tf.KernelBackend): Hooked {
  const h = hooked.get(backend);
  if (h) return h;
  const state: Hooked = { bySource: new Map() };
  const b = backend as unknown as { disposeData: DisposeData };
  const original = b.disposeData.bind(backend) as DisposeData;
  b.disposeData = (dataId, force) => {
    const freed = original(dataId, force);
    const derived = freed ? state.bySource.get(dataId) : undefined;
    if (derived) {
      state.bySource.delete(dataId);
      // The engine keeps an entry for data a tensor ever wrapped; drop it with the data.
      for (const d of derived.values()) {
        original(d, true);
        tf.engine().removeDataId(d, backend);
      }
    }
    return freed;
  };
  hooked.set(backend, state);
  return state;
}

/**
 * The filter derived from `src` under `key` (which must name every parameter of `fill`), as a tensor
 * owned by the enclosing tidy. `fill(from, to)` writes the derived values into `to` (length = the size
 * of `shape`) from `src`'s floats `from` (on wasm a heap view: do not allocate tensors inside `fill`).
 */
export function derivedFilter<R extends tf.Rank>(src: tf.Tensor, key: string, shape: number[], fill: (from: Float32Array, to: Float32Array) => void): tf.Tensor<R> {
  if (src.dtype !== 'float32') throw new Error(`derivedFilter: ${src.dtype} source, expected float32`);
  const backend = tf.engine().backend;
  const cache = cacheOf(backend);
  let perKey = cache.bySource.get(src.dataId);
  let dataId = perKey?.get(key);
  if (!dataId) {
    const size = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(size);
    fill(floatsOf(src), out);
    dataId = backend.write(out, shape, 'float32');
    if (!perKey) cache.bySource.set(src.dataId, (perKey = new Map()));
    perKey.set(key, dataId);
  }
  return asTensor<R>({ dataId, shape, dtype: 'float32' }, backend);
}

/**
 * W [kh,kw,Cin,Cout] transposed to [Cout, rowLength], each row W's K = kh*kw*Cin column zero-padded to
 * `rowLength` (>= K): the matMul plan's W^T (rowLength K) and the patch input gradient's (whole v128s).
 */
export function transposedFilter(w: tf.Tensor4D, rowLength: number): tf.Tensor2D {
  const [kh, kw, cin, cout] = w.shape;
  const k = kh * kw * cin;
  if (rowLength < k) throw new Error(`transposedFilter: row length ${rowLength} is shorter than the filter's ${k} taps`);
  return derivedFilter<tf.Rank.R2>(w, `W^T ${rowLength}`, [cout, rowLength], (src, out) => {
    for (let e = 0; e < k; e++) for (let o = 0; o < cout; o++) out[o * rowLength + e] = src[e * cout + o];
  });
}

/** How many sources have derived filters cached on the active backend (for tests). */
export function derivedSources(): number {
  return hooked.get(tf.engine().backend)?.bySource.size ?? 0;
}
