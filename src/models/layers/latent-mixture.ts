/**
 * A learned Gaussian-mixture latent for the first layer (generator.mixture; docs/findings.md), after
 * DeLiGAN (Gurumurthy, Sarvadevabhatla & Babu 2017, "DeLiGAN: Generative Adversarial Networks for Diverse
 * and Limited Data"), whose point is data like emoji: few images, many unlike kinds.
 *
 * The latent z ~ N(0, I) is kept (every caller draws it as before); the first layer reads it as a draw from a
 * mixture of K components. Component k = floor(K Phi(z_0)) (Phi the standard normal CDF, so k is uniform on
 * 0..K-1 and a function of z alone: no extra draw, the same z gives the same image everywhere), and the
 * first deconvolution sees
 *
 *   m(z) = [spread * z, sqrt(zDim) * e_k]                 [N,1,1,zDim + K]
 *   s_1 = ReLU(Deconv_1(m(z)) - b_1) = ReLU(spread W_z z + sqrt(zDim) W_k - b_1)
 *
 * W_k, the deconvolution's weights on the one-hot part, is component k's learned mean in pre-activation
 * space (one per position and channel); spread scales the shared within-component Gaussian. So s_1's
 * pre-activation is a K-component Gaussian mixture with learned means (DeLiGAN learns the means in z space;
 * here they live one linear map later, which is the same family when W_z has full rank, and needs no
 * variables beyond the deconvolution's, so freezing, EMA, checkpoints and hashes treat it as layer 1's).
 * The sqrt(zDim) makes a component's mean, at the deconvolution's init N(0, gain^2 / zDim), as large as
 * W_z z with spread 1, so that components start apart once spread < 1 (DeLiGAN starts sigma at 0.2), and
 * moves it as fast as the rest under Adam.
 *
 * Why: one ReLU layer over a unimodal z paints a continuum, and every image between two kinds of emoji is
 * a blend of both (pastel, mottled: docs/findings.md); a mixture with separated means puts little mass
 * between its components. Measured on emoji it trades recall for precision and raises SWD (findings.md).
 */
import * as tf from '@tensorflow/tfjs';

/** generator.mixture: K components (0 = off, the N(0, I) latent of docs/theory.md) and the within-component scale. */
export interface LatentMixture {
  components: number;
  spread: number;
}

/**
 * The standard normal quantile Phi^-1(p), p in (0, 1): Acklam's rational approximation (relative error
 * below 1.2e-9), the thresholds that split z_0 into K equally likely components.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  const lo = 0.02425;
  if (p < lo) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - lo) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** The K - 1 thresholds Phi^-1(j / K), j = 1..K-1: z_0 above exactly j of them is component j. */
export function mixtureThresholds(k: number): number[] {
  return Array.from({ length: k - 1 }, (_, j) => normalQuantile((j + 1) / k));
}

/** One-hot components [N,K] of latents z [N,1,1,zDim] (use in tf.tidy): e_k with k = #{thresholds below z_0}. */
export function mixtureComponents(z: tf.Tensor4D, k: number): tf.Tensor2D {
  const n = z.shape[0];
  const z0 = z.reshape([n, z.shape[3]]).slice([0, 0], [n, 1]);
  const index = tf.greater(z0, tf.tensor2d(mixtureThresholds(k), [1, k - 1])).toInt().sum(1);
  return tf.oneHot(index, k).toFloat() as tf.Tensor2D;
}

/** m(z) = [spread z, sqrt(zDim) e_k] [N,1,1,zDim+K], the first deconvolution's input (use in tf.tidy). */
export function mixtureInput(z: tf.Tensor4D, m: LatentMixture): tf.Tensor4D {
  const [n, , , zDim] = z.shape;
  const onehot = mixtureComponents(z, m.components).mul(Math.sqrt(zDim));
  return tf.concat([z.mul(m.spread), onehot.reshape([n, 1, 1, m.components])], 3) as tf.Tensor4D;
}
