/**
 * Activations that stay correct under double backprop (R1 and gradient penalties differentiate
 * dD/dx again). tfjs 4.22 gets this wrong for its own kernels (checked in test/ops-activations.test.ts):
 * - tf.leakyRelu's gradient uses `greater`, which has no gradient: the second pass throws.
 * - tf.tanh, tf.sigmoid, tf.exp and tf.elu take their gradient from the saved OUTPUT, which the tape
 *   records before the op itself, so the second pass treats it as a constant and is silently wrong.
 * These versions run the same forward kernel and express the gradient through the saved input with ops
 * whose own gradients exist (step, mul, the forward op itself).
 */
import * as tf from '@tensorflow/tfjs';

type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor;

/** An elementwise op whose gradient is `grad(dy, x)`, recorded from differentiable ops on the input. */
function withGrad(forward: (x: tf.Tensor) => tf.Tensor, grad: (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    const gradFunc: GradFn = (dy, [s]) => grad(dy, s);
    return { value: forward(x), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/** max(x, alpha*x), twice differentiable in tfjs. */
export function leakyRelu<T extends tf.Tensor>(x: T, alpha = 0.2): T {
  const f = withGrad((a) => tf.leakyRelu(a, alpha), (dy, a) => tf.mul(dy, tf.add(alpha, tf.mul(1 - alpha, tf.step(a)))));
  return f(x) as T;
}

/** tanh(x), twice differentiable in tfjs. */
export function tanh<T extends tf.Tensor>(x: T): T {
  return tanhOp(x) as T;
}
const tanhOp = withGrad(tf.tanh, (dy, a) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(a)))));

/** sigmoid(x), twice differentiable in tfjs. */
export function sigmoid<T extends tf.Tensor>(x: T): T {
  return sigmoidOp(x) as T;
}
const sigmoidOp = withGrad(tf.sigmoid, (dy, a) => {
  const s = tf.sigmoid(a);
  return tf.mul(dy, tf.mul(s, tf.sub(1, s)));
});
