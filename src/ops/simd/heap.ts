/**
 * Access to tfjs-wasm's linear memory for the patch kernels: where a tensor's floats live, and new
 * uninitialised tensors to write into. Only the single-threaded wasm module qualifies (the threaded one
 * shares its memory, which the patch module does not import as shared); elsewhere `wasmHeap()` is null
 * and callers keep their tf-op plans.
 */
import * as tf from '@tensorflow/tfjs';
import { WasmJs, type WasmMemory } from './asm.js';

interface WasmBackendInternals {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

export interface WasmHeap {
  memory: WasmMemory;
  /** Byte offset of t's first float. */
  ptr(t: tf.Tensor): number;
  /** A new float32 tensor whose contents the caller overwrites (registered with the engine, so tidy owns it). */
  empty<R extends tf.Rank>(shape: number[]): tf.Tensor<R>;
  /** t's floats as a view of the heap: valid until the next allocation. */
  view(t: tf.Tensor): Float32Array;
}

/**
 * t's floats without a copy where the backend allows it (on wasm a view of the heap, valid until the
 * next allocation: read it first), else `dataSync()`.
 */
export function floatsOf(t: tf.Tensor): Float32Array {
  const b = tf.engine().backend as unknown as Partial<WasmBackendInternals>;
  if (t.dtype === 'float32' && tf.getBackend() === 'wasm' && typeof b.typedArrayFromHeap === 'function') return b.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}

/**
 * A new float32 tensor of `shape` whose values `fill` writes. On wasm `fill` writes straight into the
 * heap (no JS array, no copy); read input views inside `fill`, after this allocation.
 */
export function filledTensor<R extends tf.Rank>(shape: number[], fill: (out: Float32Array) => void): tf.Tensor<R> {
  const heap = wasmHeap();
  if (heap) {
    const t = heap.empty<R>(shape);
    fill(heap.view(t));
    return t;
  }
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(out);
  return tf.tensor<R>(out, shape as tf.ShapeMap[R], 'float32');
}

/** The current backend's heap when it is the single-threaded tfjs-wasm module, else null. */
export function wasmHeap(): WasmHeap | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.engine().backend as unknown as WasmBackendInternals;
  const memory = b.wasm?.asm?.memory;
  if (!(memory instanceof WasmJs.Memory) || !(memory.buffer instanceof ArrayBuffer)) return null;
  return {
    memory,
    ptr(t) {
      if (t.dtype !== 'float32') throw new Error(`wasmHeap.ptr: ${t.dtype} tensor, expected float32`);
      const d = b.dataIdMap.get(t.dataId);
      if (!d) throw new Error('wasmHeap.ptr: tensor is not on the wasm backend (disposed?)');
      return d.memoryOffset;
    },
    empty<R extends tf.Rank>(shape: number[]) {
      return tf.engine().makeTensorFromTensorInfo(b.makeOutput(shape, 'float32'), b as unknown as tf.KernelBackend) as tf.Tensor<R>;
    },
    view(t) {
      return b.typedArrayFromHeap(t);
    },
  };
}
