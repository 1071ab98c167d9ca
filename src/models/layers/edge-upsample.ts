/**
 * Edge-aware 2x upsampling for the generator's skip (generator.skipUpsample = 'edge'; docs/findings.md,
 * "Emoji: the cells at the top are the first level's pixels"): bilinear where neighbouring pixels of the
 * level below are close in colour, nearest where they differ,
 *
 *   N = nearest2x(u),  B = bilinear2x(u),  d = mean_c (head(B) - head(N))^2   (per pixel, over channels)
 *   w = exp(-d / tau^2),  out = N + w (B - N)
 *
 * with head = tanh for a tanh head (distances in image units) and the identity for a linear one. B - N at a
 * pixel is a quarter of the difference to its neighbour along each axis, so tau = EDGE_TAU = 0.1 blends
 * neighbours that differ by less than about 0.4 (of the [-1, 1] range) and leaves edges (a colour against
 * white differs by ~1, so w ~ exp(-6)) as sharp as nearest. Why: with a nearest skip the upper stages
 * paint outlines but leave the interiors of shapes as the level below's pixels, so the first level's
 * mottling shows as 4x4 cells at r32; a bilinear skip removes the cells but blurs every edge.
 * Differentiable in u (w too); a departure in G (a config field), like the skip itself.
 */
import * as tf from '@tensorflow/tfjs';
import { upsample2x, upsampleBilinear2x } from '../../ops/index.js';

/** Colour difference scale of the blend weight, in head-output units (see the file comment). */
export const EDGE_TAU = 0.1;

/** out = N + w (B - N) of the file comment; u [N,H,W,C] -> [N,2H,2W,C]. Use in tf.tidy or a tape. */
export function edgeUpsample2x(u: tf.Tensor4D, head: 'linear' | 'tanh' = 'linear', tau = EDGE_TAU): tf.Tensor4D {
  return tf.tidy(() => {
    const near = upsample2x(u);
    const bil = upsampleBilinear2x(u);
    const diff = head === 'tanh' ? tf.sub(tf.tanh(bil), tf.tanh(near)) : tf.sub(bil, near);
    const d = tf.mean(tf.square(diff), 3, true);
    const w = tf.exp(tf.mul(d, -1 / (tau * tau)));
    return tf.add(near, tf.mul(w, tf.sub(bil, near))) as tf.Tensor4D;
  });
}
