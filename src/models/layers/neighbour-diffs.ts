/**
 * Neighbour differences as extra input channels of a discriminator (discriminator.neighbourDiffs;
 * docs/findings.md, "Emoji: a discriminator that sees neighbour differences"):
 *
 *   nd(x) = [x, |x(i, j+1) - x(i, j)|, |x(i+1, j) - x(i, j)|]      x [N,H,W,C] -> [N,H,W,3C]
 *
 * the differences taken per channel and zero in the last column (horizontal) and last row (vertical).
 * What the eye calls mottled (colours that change from pixel to pixel inside a shape) is the distribution
 * of these differences: real icons have many exact zeros and a few large jumps, a mottled G many middling
 * ones. D's first layer could build |a| from two opposite filters (leaky(a) + leaky(-a) = (1 - slope)|a|),
 * but learns to slowly or not at all; given |dx| and |dy| as inputs, it tells a flat patch from a noisy one with
 * one filter, and G's gradient then says where its patches are not flat. A departure in D only: G and the
 * model of docs/theory.md section 1 are untouched.
 */
import * as tf from '@tensorflow/tfjs';

/** [x, |dx|, |dy|] along channels (see the file comment); use in tf.tidy or a tape (twice differentiable, as R1 needs). */
export function neighbourDiffs(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const dx = tf.abs(tf.sub(x.slice([0, 0, 1, 0], [n, h, w - 1, c]), x.slice([0, 0, 0, 0], [n, h, w - 1, c])));
    const dy = tf.abs(tf.sub(x.slice([0, 1, 0, 0], [n, h - 1, w, c]), x.slice([0, 0, 0, 0], [n, h - 1, w, c])));
    return tf.concat([x, tf.pad(dx, [[0, 0], [0, 0], [0, 1], [0, 0]]), tf.pad(dy, [[0, 0], [0, 1], [0, 0], [0, 0]])], 3) as tf.Tensor4D;
  });
}
