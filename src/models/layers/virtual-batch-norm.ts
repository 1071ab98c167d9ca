/**
 * Virtual batch normalisation (Salimans et al. 2016, "Improved techniques for training GANs", section 3.5):
 * each example is normalised with the statistics of a reference batch fixed at the start of training,
 * together with itself, so that an output does not depend on the other examples of its minibatch (batch
 * norm's cross-sample coupling). As in their code, with R reference examples whose per-feature means and
 * mean squares are mu_r and nu_r, and example i's own mean x_i and mean square x_i^2 over its positions
 * (none for x [N, F]; the spatial positions of a feature map [N, H, W, C], as their conv code reduces over
 * [1, 2]):
 *
 *   mu_i = (x_i + R mu_r) / (R + 1),  nu_i = (x_i^2 + R nu_r) / (R + 1),
 *   out_i = gamma (x_i - mu_i) / sqrt(nu_i - mu_i^2 + eps) + beta.
 *
 * The reference batch itself is batch-normalised with its own statistics (referenceBatchNorm), which are
 * recomputed from the current weights at every forward pass (the reference inputs are what is fixed). Used
 * by the 2-D lab's MLP G (src/toy/model.ts) and the FSR learner (src/models/generator.ts).
 */
import * as tf from '@tensorflow/tfjs';

/** Every axis but the batch and the feature (last) axis: those an example's own statistics average over. */
const spatialAxes = (rank: number) => Array.from({ length: rank - 2 }, (_, i) => i + 1);

/** Virtual batch norm of x [N, ..., F] with the reference statistics [F] of R examples; see the file comment. */
export function virtualBatchNorm<T extends tf.Tensor>(x: T, refMean: tf.Tensor1D, refMeanSq: tf.Tensor1D, refSize: number, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): T {
  return tf.tidy(() => {
    const w = 1 / (refSize + 1);
    const axes = spatialAxes(x.rank);
    // [N, F] (the lab's MLP): an example's statistics are its own values, as before this file existed.
    const own = axes.length ? tf.mean(x, axes, true) : x;
    const ownSq = axes.length ? tf.mean(tf.square(x), axes, true) : tf.square(x);
    const mu = tf.add(tf.mul(w, own), tf.mul(1 - w, refMean));
    const nu = tf.add(tf.mul(w, ownSq), tf.mul(1 - w, refMeanSq));
    const inv = tf.rsqrt(tf.add(tf.sub(nu, tf.square(mu)), eps));
    return tf.add(tf.mul(gamma, tf.mul(tf.sub(x, mu), inv)), beta) as T;
  });
}

/**
 * Batch norm of the reference batch x [R, ..., F] with its own per-feature statistics (over the batch and
 * every position), and those statistics [F]. Use inside tf.tidy or a gradient tape.
 */
export function referenceBatchNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): { out: T; mean: tf.Tensor1D; meanSq: tf.Tensor1D } {
  const axes = [0, ...spatialAxes(x.rank)];
  const mean = tf.mean(x, axes.length > 1 ? axes : 0) as tf.Tensor1D;
  const meanSq = tf.mean(tf.square(x), axes.length > 1 ? axes : 0) as tf.Tensor1D;
  const inv = tf.rsqrt(tf.add(tf.sub(meanSq, tf.square(mean)), eps));
  const out = tf.add(tf.mul(gamma, tf.mul(tf.sub(x, mean), inv)), beta) as T;
  return { out, mean, meanSq };
}
