/**
 * Kernel arguments and TensorInfo -> Tensor wrapping, for kernels built from tf ops (kernels.ts,
 * derived.ts, the ops of registry.ts). A module of its own so that those can import it without an import
 * cycle (tslab's CommonJS loader does not survive one).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Wraps a kernel input (a TensorInfo) as a Tensor owned by the enclosing tidy. The extra reference keeps
 * the caller's data alive when the tidy disposes the wrapper.
 */
export function asTensor<R extends tf.Rank = tf.Rank>(info: tf.TensorInfo | undefined, backend: tf.KernelBackend): tf.Tensor<R> {
  if (!info) throw new Error('fsrgan kernel: missing input');
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend) as tf.Tensor<R>;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };
