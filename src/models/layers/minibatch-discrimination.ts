import * as tf from '@tensorflow/tfjs';

/**
 * Minibatch discrimination (Salimans et al. 2016, section 3.2): features f [N, A] times a learned tensor
 * T [A, B*C] give M_i [B, C]; c_b(x_i, x_j) = exp(-||M_ib - M_jb||_1) and o(x_i)_b = sum_j c_b(x_i, x_j)
 * (j over the whole batch, j = i included as in the paper's formula and its code). Returns [f, o] [N, A+B]:
 * a collapsed batch has large o, which D can learn to penalise.
 */
export function minibatchDiscrimination(f: tf.Tensor2D, t: tf.Tensor2D, kernels: number, dims: number): tf.Tensor2D {
  return tf.tidy(() => {
    const n = f.shape[0];
    const m = tf.matMul(f, t).reshape([n, kernels, dims]);
    // |M_i - M_j| summed over C: [N, N, B] by broadcasting [N,1,B,C] - [1,N,B,C].
    const diff = tf.sum(tf.abs(tf.sub(m.reshape([n, 1, kernels, dims]), m.reshape([1, n, kernels, dims]))), 3);
    const o = tf.sum(tf.exp(tf.neg(diff)), 1);
    return tf.concat([f, o], 1) as tf.Tensor2D;
  });
}
