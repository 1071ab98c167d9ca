/**
 * Pixel-wise feature normalisation (Karras et al. 2018, "Progressive Growing of GANs", section 4.2): each
 * feature vector (the channels at one pixel) is divided by its root mean square,
 *
 *   b_{x,y} = a_{x,y} / sqrt( (1/C) sum_j (a^j_{x,y})^2 + eps ),   eps = 1e-8,
 *
 * so that G's activations cannot escalate in magnitude when G and D compete; ProGAN applies it after every
 * conv of G in place of batch normalisation. Parameter-free; works for NHWC tensors and for [n, c] (the
 * channel axis is the last one in both).
 */
import * as tf from '@tensorflow/tfjs';

export function pixelNorm<T extends tf.Tensor>(x: T, eps = 1e-8): T {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const ms = tf.mean(tf.square(x), axis, true);
    return tf.mul(x, tf.rsqrt(tf.add(ms, eps))) as T;
  });
}
