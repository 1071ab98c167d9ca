/**
 * StyleGAN's mapping network f: Z -> W (Karras et al. 2019, section 2): z is normalised to unit root mean
 * square (pixel norm, as the official code), then passes through `layers` fully connected layers of width
 * D with leaky ReLU (0.2). The paper uses 8 layers and a learning-rate multiplier of 0.01 on them: weights
 * are stored N(0, 1/lrMul^2) and scaled at run time by lrMul times He's constant (equalised learning rate,
 * src/models/layers/equalized.ts), biases by lrMul, so that Adam moves the mapping lrMul times as fast.
 *
 *   w = (dense_eq -> lrelu)^layers (pixelnorm(z))
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';
import { heScale } from './equalized.js';
import { pixelNorm } from './pixel-norm.js';

export interface MappingLayer {
  w: tf.Variable;
  b: tf.Variable;
}

/** The layers' variables [D_in, D] and [D], drawn from rng in order. */
export function createMapping(rng: Rng, zDim: number, wDim: number, layers: number, lrMul: number): MappingLayer[] {
  return Array.from({ length: layers }, (_, i) => {
    const din = i === 0 ? zDim : wDim;
    const w = tf.tensor2d(rng.normals(din * wDim, 1 / lrMul), [din, wDim]);
    const b = tf.zeros([wDim]);
    const out = { w: tf.variable(w), b: tf.variable(b) };
    tf.dispose([w, b]);
    return out;
  });
}

/** w [N, D] for z [N, zDim]. */
export function mappingForward(layers: MappingLayer[], z: tf.Tensor2D, lrMul: number): tf.Tensor2D {
  return tf.tidy(() => {
    let h = pixelNorm(z);
    for (const l of layers) {
      const a = tf.add(tf.matMul(h, tf.mul(l.w, heScale(l.w.shape[0]) * lrMul) as tf.Tensor2D), tf.mul(l.b, lrMul));
      h = tf.leakyRelu(a, 0.2) as tf.Tensor2D;
    }
    return h;
  });
}
