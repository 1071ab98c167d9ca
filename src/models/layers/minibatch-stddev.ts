/**
 * Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs", section 3): a
 * parameter-free statistic of the variation within a minibatch, appended to D's late features so that D
 * can tell a batch of too-similar (mode-collapsed) samples from a real one. For each group of G images
 * (ProGAN's official code: group size 4): the standard deviation of every feature at every position over
 * the group (biased, over G), averaged over features and positions to one number; that number is
 * replicated over the group's images and positions as one extra channel.
 *
 * Groups are strided as in the official code (image i belongs to group i mod (N/G)), and G is clipped to
 * the largest divisor of the batch N not above groupSize, so any batch works (N = 1 gives 0).
 */
import * as tf from '@tensorflow/tfjs';

/** The group size actually used for a batch of n: the largest divisor of n that is <= groupSize. */
export function stddevGroupSize(n: number, groupSize: number): number {
  let g = Math.max(1, Math.min(groupSize, n));
  while (n % g !== 0) g--;
  return g;
}

export function minibatchStddev(x: tf.Tensor4D, groupSize = 4): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = stddevGroupSize(n, groupSize);
  const m = n / g;
  return tf.tidy(() => {
    // [G, M, H, W, C]: image k = i*M + j is member i of group j = k mod M (strided groups).
    const y = x.reshape([g, m, h, w, c]);
    const centred = tf.sub(y, tf.mean(y, 0, true));
    // 1e-8 inside the root, as in ProGAN's code, keeps the gradient finite for a collapsed group.
    const sd = tf.sqrt(tf.add(tf.mean(tf.square(centred), 0), 1e-8)); // [M,H,W,C]
    const perGroup = tf.mean(sd, [1, 2, 3]); // [M]
    // Image k's value is its group's (k mod M): tile the M values G times along the batch.
    const col = tf.tile(tf.tile(perGroup, [g]).reshape([n, 1, 1, 1]), [1, h, w, 1]);
    return tf.concat([x, col], 3) as tf.Tensor4D;
  });
}
