/**
 * Adaptive instance normalisation (Huang & Belongie 2017), StyleGAN's per-layer style modulation (Karras,
 * Laine & Aila 2019, "A Style-Based Generator Architecture for GANs", section 2, eq. 1): each feature map
 * x_i of each image is normalised to zero mean and unit variance over its positions, then scaled and biased
 * by the style y = (y_s, y_b), a learned affine map of w per layer:
 *
 *   AdaIN(x_i, y) = y_{s,i} (x_i - mu(x_i)) / sigma(x_i) + y_{b,i},   sigma = sqrt(var + eps), eps = 1e-8
 *
 * so the output's per-channel mean is y_b and its standard deviation |y_s| (up to eps): the style fixes
 * the first two moments of every feature map, and nothing of the previous layer's statistics survives.
 * This is StyleGAN 1's modulation; StyleGAN 2's weight demodulation (which removes AdaIN's droplet
 * artefacts) is not used here.
 */
import * as tf from '@tensorflow/tfjs';

/** x [N,H,W,C]; ys, yb [N,C] -> [N,H,W,C]. */
export function adain(x: tf.Tensor4D, ys: tf.Tensor2D, yb: tf.Tensor2D, eps = 1e-8): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const mu = tf.mean(x, [1, 2], true);
    const centred = tf.sub(x, mu);
    const normed = tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), [1, 2], true), eps)));
    return tf.add(tf.mul(normed, ys.reshape([n, 1, 1, c])), yb.reshape([n, 1, 1, c])) as tf.Tensor4D;
  });
}
