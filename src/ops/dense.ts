/**
 * dense(x, w) = x @ w with a hand-written gradient: every dense-layer gradient multiplies by a
 * transposed operand, and XNNPACK repacks its second operand on every call, so each gradient transposes
 * whichever side moves fewer floats explicitly and runs a plain matMul (docs/ops.md, "matMul gradients").
 */
import * as tf from '@tensorflow/tfjs';
import { runOp, type OpDef } from './registry.js';
import { asTensor, type KernelArgs } from './tensor_info.js';

export const DENSE: OpDef = {
  name: 'FsrganDense',
  kernelFunc: (({ inputs, backend }: KernelArgs) =>
    tf.tidy(() => tf.matMul(asTensor(inputs.x, backend) as tf.Tensor2D, asTensor(inputs.w, backend) as tf.Tensor2D))) as unknown as tf.KernelFunc,
  gradient: {
    inputsToSave: ['x', 'w'],
    gradFunc: (dy, saved) => {
      const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      const [n, cin] = x.shape;
      const cout = w.shape[1];
      return {
        x: () => (2 * cin * cout < 2 * n * cout + n * cin ? tf.matMul(g, tf.transpose(w)) : tf.transpose(tf.matMul(w, tf.transpose(g)))),
        w: () => tf.matMul(tf.transpose(x), g),
      };
    },
  },
};

/** x [N,cin] @ w [cin,cout]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) throw new Error(`dense: x [${x.shape}] does not fit w [${w.shape}]`);
  return runOp(DENSE, { x, w });
}
