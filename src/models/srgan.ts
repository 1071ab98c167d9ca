/**
 * SRGAN-style supervised super-resolution (Ledig et al. 2017, "Photo-Realistic Single Image
 * Super-Resolution Using a Generative Adversarial Network"), `generator.family = "srgan"`
 * (docs/families.md): the supervised upper bound for what a forward super-resolution stage must learn
 * without supervision.
 *
 *   level 1:   x_1 = G_1(z)                                 the unconditional GAN at r_1 (so the family samples from z)
 *   level l:   x_l = u(x_{l-1}) + G_l(u(x_{l-1}))          deterministic: no noise (SRGAN's G has none)
 *
 * G_l is LAPGAN's residual generator (lapgan.ts) without its noise map. Each level l >= 2 is trained on
 * the *real* x_{l-1} with the loss of SRGAN,
 *
 *   L_G = adversarial * L_adv(D_l(G_l(x_{l-1})))
 *       + pixel   * mean (G_l(x_{l-1}) - x_l)^2
 *       + feature * mean (phi(G_l(x_{l-1})) - phi(x_l))^2
 *
 * where phi is a feature space in which "perceptually" close images are close. SRGAN used VGG19's
 * conv5_4 features; pretrained VGG weights cannot be downloaded here, so phi is D_l's own first-layer
 * codes (leaky ReLU of its patch convolution, discCodes in discriminator.ts): the feature space the
 * adversary has learned for this level, as in feature matching (Salimans et al. 2016). D_l sees x_l alone,
 * as SRGAN's D sees the high-resolution image alone. Sample grids chain the levels from G_1's images; the
 * family comparison measures each level given the real level below (marked supervised there).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';
import type { Learner } from './learner.js';
import { createLapganGenerator } from './lapgan.js';

export interface SrganShape {
  resolutions: number[];
  imageChannels: number;
  zDim: number;
  widths: number[];
}

/** The SRGAN chain as a Learner: LAPGAN's generator without noise (forward(z, upTo, { real }) as there). */
export function createSrganGenerator(s: SrganShape, rng: Rng): Learner {
  return createLapganGenerator({ ...s, noiseChannels: 0 }, rng);
}

export interface ContentWeights {
  pixel: number;
  feature: number;
}

/**
 * SRGAN's content loss of generated images `fake` against their real targets `real` (same rows), in pixels
 * and in the feature space `phi` (which must be differentiable in its input). Use inside a gradient tape.
 */
export function srganContentLoss(fake: tf.Tensor4D, real: tf.Tensor4D, phi: (x: tf.Tensor4D) => tf.Tensor, w: ContentWeights): tf.Scalar {
  return tf.tidy(() => {
    let loss: tf.Scalar = tf.mul(w.pixel, tf.mean(tf.square(tf.sub(fake, real)))) as tf.Scalar;
    if (w.feature > 0) loss = tf.add(loss, tf.mul(w.feature, tf.mean(tf.square(tf.sub(phi(fake), phi(real)))))) as tf.Scalar;
    return loss;
  });
}
