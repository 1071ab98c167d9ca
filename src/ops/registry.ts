/**
 * fsrgan's own differentiable ops (dense.ts, bias_act.ts, batch_norm.ts, upsample_concat.ts): each is a
 * tfjs kernel with a hand-written gradient, so that each input's gradient is computed only when needed
 * (lazily, unlike tf.customGrad) and the tf ops inside run untaped. kernels.ts registers them, with the
 * per-backend replacements of tfjs's own kernels, when a backend is initialised (src/backend).
 */
import * as tf from '@tensorflow/tfjs';

/** One op: its kernel (the same function on every backend) and its gradient. */
export interface OpDef {
  name: string;
  kernelFunc: tf.KernelFunc;
  gradient: Omit<tf.GradConfig, 'kernelName'>;
}

/** JS loops beat the backend's kernels on wasm and equal them on cpu; native TensorFlow keeps tf ops. */
export const jsLoops = (): boolean => tf.getBackend() !== 'tensorflow';

/** Runs op `def` on the active backend (whose kernels initBackend registered). */
export function runOp<T extends tf.Tensor>(def: OpDef, inputs: tf.NamedTensorMap, attrs?: object): T {
  if (!tf.getKernel(def.name, tf.getBackend())) {
    throw new Error(`${def.name}: not registered for backend '${tf.getBackend()}'; initialise backends with initBackend (src/backend)`);
  }
  return tf.engine().runKernel(def.name, inputs, attrs as tf.NamedAttrMap | undefined) as T;
}
