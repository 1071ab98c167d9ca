/**
 * StyleGAN's per-pixel noise inputs (Karras et al. 2019, section 3.2): one single-channel map of
 * uncorrelated N(0, 1) noise per layer and image, broadcast to every feature map with a learned
 * per-channel scale, added after each convolution:
 *
 *   y_{x,y,c} = h_{x,y,c} + s_c n_{x,y}
 *
 * The scales start at 0 (the official code), so the noise enters only as far as training finds it useful;
 * with s = 0 the output does not depend on n at all. The maps are drawn by the caller (fsrgan: as parts of
 * the run's latent vector, so the seed fixes them).
 */
import * as tf from '@tensorflow/tfjs';

/** h [N,H,W,C], noise [N,H,W,1], scale [C] -> [N,H,W,C]. */
export function addNoise(h: tf.Tensor4D, noise: tf.Tensor4D, scale: tf.Tensor): tf.Tensor4D {
  if (noise.shape[1] !== h.shape[1] || noise.shape[2] !== h.shape[2] || noise.shape[3] !== 1) {
    throw new Error(`addNoise: noise [${noise.shape}] does not match features [${h.shape}] (want [N,${h.shape[1]},${h.shape[2]},1])`);
  }
  return tf.tidy(() => tf.add(h, tf.mul(noise, scale.reshape([1, 1, 1, -1]))) as tf.Tensor4D);
}
