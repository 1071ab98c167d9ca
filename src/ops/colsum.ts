/**
 * Reductions over every axis but the last, as JS loops over the tensor's floats (float64 accumulation):
 * tfjs's Sum over leading axes is a transpose plus a reduction, ~6 ns per float on wasm (docs/speed.md).
 * On native TensorFlow the tf ops are fast and are used instead.
 */
import * as tf from '@tensorflow/tfjs';
import { floatsOf } from './simd/heap.js';
import { jsLoops } from './registry.js';

/** Sum over every axis but the last: t [..., C] -> [C]. */
export function colSum(t: tf.Tensor): tf.Tensor1D {
  const c = t.shape[t.rank - 1];
  if (!jsLoops()) return tf.sum(t, t.shape.slice(0, -1).map((_, i) => i)) as tf.Tensor1D;
  const v = floatsOf(t);
  const acc = new Float64Array(c);
  for (let o = 0; o < v.length; o += c) for (let j = 0; j < c; j++) acc[j] += v[o + j];
  return tf.tensor1d(Float32Array.from(acc));
}

/** Sums of t and of t*u per channel (u same shape), in one pass. */
export function colSum2(t: tf.Tensor, u: tf.Tensor): [tf.Tensor1D, tf.Tensor1D] {
  if (!jsLoops()) return [colSum(t), colSum(tf.mul(t, u))];
  const c = t.shape[t.rank - 1];
  const a = floatsOf(t);
  const b = floatsOf(u);
  const s = new Float64Array(c);
  const p = new Float64Array(c);
  for (let o = 0; o < a.length; o += c) {
    for (let j = 0; j < c; j++) {
      s[j] += a[o + j];
      p[j] += a[o + j] * b[o + j];
    }
  }
  return [tf.tensor1d(Float32Array.from(s)), tf.tensor1d(Float32Array.from(p))];
}

/** Per-channel mean and biased variance of x [..., C], as [C] tensors. */
export function channelMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (!jsLoops()) {
    const m = tf.moments(x, x.shape.slice(0, -1).map((_, i) => i));
    return { mean: m.mean as tf.Tensor1D, variance: m.variance as tf.Tensor1D };
  }
  const c = x.shape[x.rank - 1];
  const v = floatsOf(x);
  const rows = v.length / c;
  const s = new Float64Array(c);
  const q = new Float64Array(c);
  for (let o = 0; o < v.length; o += c) {
    for (let j = 0; j < c; j++) {
      const e = v[o + j];
      s[j] += e;
      q[j] += e * e;
    }
  }
  const mean = new Float32Array(c);
  const variance = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const m = s[j] / rows;
    mean[j] = m;
    variance[j] = Math.max(q[j] / rows - m * m, 0);
  }
  return { mean: tf.tensor1d(mean), variance: tf.tensor1d(variance) };
}
