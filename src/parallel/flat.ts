/**
 * Moving a list of float32 tensors to and from one flat Float32Array (the unit replicas exchange and the
 * optimiser updates). On wasm, reads come straight from the wasm heap (no copy through dataSync).
 * Writes always go through Variable.assign of a new tensor, never in place: the wasm backend caches
 * XNNPACK operators (with their packed weights) per tensor id, and derived-filter caches key on the data
 * id, so a value must never change under an unchanged id.
 */
import * as tf from '@tensorflow/tfjs';
import { floatsOf } from '../ops/simd/heap.js';

/** Total number of elements. */
export function flatSize(ts: tf.Tensor[]): number {
  return ts.reduce((a, t) => a + t.size, 0);
}

/** Copies the tensors, in order, into `out` (allocated when absent); returns it. */
export function readFlat(ts: tf.Tensor[], out?: Float32Array): Float32Array {
  const n = flatSize(ts);
  const dst = out ?? new Float32Array(n);
  if (dst.length < n) throw new Error(`readFlat: output holds ${dst.length} floats, tensors have ${n}`);
  let o = 0;
  for (const t of ts) {
    dst.set(floatsOf(t), o);
    o += t.size;
  }
  return dst;
}

/** Overwrites the variables, in order, with consecutive ranges of `src` (one new tensor each). */
export function writeFlat(vars: tf.Variable[], src: Float32Array): void {
  const n = flatSize(vars);
  if (src.length < n) throw new Error(`writeFlat: source holds ${src.length} floats, variables need ${n}`);
  let o = 0;
  // The cpu backend keeps the array it is given (and src changes next step), so it needs a copy; wasm
  // copies the values into its heap anyway, and a copy here would allocate ~0.25 MB per filter per step.
  const copies = tf.getBackend() !== 'wasm';
  for (const v of vars) {
    const t = tf.tensor(copies ? src.slice(o, o + v.size) : src.subarray(o, o + v.size), v.shape, 'float32');
    v.assign(t);
    t.dispose();
    o += v.size;
  }
}
