/**
 * Self-attention (Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial
 * Networks", section 3). For features x [N,H,W,C] with positions i, j = 1..HW and 1x1 convolutions
 * (position-wise linear maps, computed here as one matrix product over the flattened positions):
 *
 *   q = x W_q,  k = x W_k      [HW, C'],  C' = max(1, C / 8)   (the paper's g and f)
 *   h = x W_h                  [HW, C_h], C_h = max(1, C / 2)  (the paper's h, halved as in its code)
 *   beta_{j,i} = exp(q_j . k_i) / sum_i' exp(q_j . k_i')        (row j: where output position j looks)
 *   o_j = (sum_i beta_{j,i} h_i) W_o                            (W_o [C_h, C], the paper's v)
 *   y = gamma o + x,           gamma a learned scalar starting at 0
 *
 * With gamma = 0 the block is the identity, so it starts as the network without attention and learns how
 * much non-local evidence to mix in (the paper's reason for the zero start). No biases (the paper's code
 * has none in these 1x1 convolutions).
 */
import * as tf from '@tensorflow/tfjs';

/** The block's weights: W_q, W_k [C, C'], W_h [C, C_h], W_o [C_h, C] and the scalar gamma [1]. */
export interface AttentionWeights {
  q: tf.Tensor2D;
  k: tf.Tensor2D;
  h: tf.Tensor2D;
  o: tf.Tensor2D;
  gamma: tf.Tensor;
}

/** C' and C_h of a block on C channels. */
export function attentionWidths(c: number): { qk: number; h: number } {
  return { qk: Math.max(1, Math.floor(c / 8)), h: Math.max(1, Math.floor(c / 2)) };
}

/** Positions as rows: [N,H,W,C] -> [N, HW, C]. */
const rows = (x: tf.Tensor4D) => x.reshape([x.shape[0], x.shape[1] * x.shape[2], x.shape[3]]) as tf.Tensor3D;

/** x [N,HW,C] times a position-wise matrix W [C, D] -> [N, HW, D] (a 1x1 convolution). */
function pointwise(x: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  const [n, p, c] = x.shape;
  return tf.matMul(x.reshape([n * p, c]), w).reshape([n, p, w.shape[1]]) as tf.Tensor3D;
}

/** The attention maps beta [N, HW, HW] (row j = query position j, softmax over key positions i). */
export function attentionMap(x: tf.Tensor4D, w: Pick<AttentionWeights, 'q' | 'k'>): tf.Tensor3D {
  return tf.tidy(() => {
    const r = rows(x);
    return tf.softmax(tf.matMul(pointwise(r, w.q), pointwise(r, w.k), false, true)) as tf.Tensor3D;
  });
}

/** y = gamma o + x (see the header); differentiable in x and every weight. */
export function selfAttention(x: tf.Tensor4D, w: AttentionWeights): tf.Tensor4D {
  return tf.tidy(() => {
    const beta = attentionMap(x, w);
    const o = pointwise(tf.matMul(beta, pointwise(rows(x), w.h)) as tf.Tensor3D, w.o);
    return tf.add(x, tf.mul(w.gamma, o.reshape(x.shape))) as tf.Tensor4D;
  });
}
