/**
 * Bilinear 2x upsampling [N,H,W,C] -> [N,2H,2W,C] with half-pixel centres and edges clamped: PyTorch's
 * F.interpolate(scale_factor=2, mode='bilinear', align_corners=False) and tf.image.resizeBilinear with
 * halfPixelCenters. Along each axis output 2i is 3/4 x[i] + 1/4 x[i-1] and output 2i+1 is
 * 3/4 x[i] + 1/4 x[i+1], the neighbour beyond an edge being the edge itself.
 *
 * Built from slices, concats, scalar products and reshapes, so it is differentiable to any order on every
 * backend (R1 differentiates a pair discriminator's input through it when the generator's skip uses it).
 * Unlike upsample2x, avgpool2x(bilinear2x(x)) is x smoothed by [1/8, 3/4, 1/8] per axis, not x itself.
 */
import * as tf from '@tensorflow/tfjs';

/** One axis (1 = height, 2 = width) of bilinear 2x upsampling. */
function alongAxis(x: tf.Tensor4D, axis: 1 | 2): tf.Tensor4D {
  const n = x.shape[axis];
  const first = axis === 1 ? tf.slice(x, [0, 0, 0, 0], [-1, 1, -1, -1]) : tf.slice(x, [0, 0, 0, 0], [-1, -1, 1, -1]);
  const last = axis === 1 ? tf.slice(x, [0, n - 1, 0, 0], [-1, 1, -1, -1]) : tf.slice(x, [0, 0, n - 1, 0], [-1, -1, 1, -1]);
  const head = axis === 1 ? tf.slice(x, [0, 0, 0, 0], [-1, n - 1, -1, -1]) : tf.slice(x, [0, 0, 0, 0], [-1, -1, n - 1, -1]);
  const tail = axis === 1 ? tf.slice(x, [0, 1, 0, 0], [-1, n - 1, -1, -1]) : tf.slice(x, [0, 0, 1, 0], [-1, -1, n - 1, -1]);
  const prev = n > 1 ? tf.concat([first, head], axis) : first;
  const next = n > 1 ? tf.concat([tail, last], axis) : last;
  const main = tf.mul(x, 0.75);
  const even = tf.add(main, tf.mul(prev, 0.25));
  const odd = tf.add(main, tf.mul(next, 0.25));
  const [b, h, w, c] = x.shape;
  // Interleave: stack a new axis right after `axis`, then fold it in.
  const both = tf.stack([even, odd], axis + 1);
  return tf.reshape(both, axis === 1 ? [b, 2 * h, w, c] : [b, h, 2 * w, c]);
}

/** Bilinear 2x upsampling of x [N,H,W,C] (see the header). */
export function upsampleBilinear2x(x: tf.Tensor4D): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`upsampleBilinear2x: x must be rank 4, got shape [${x.shape}]`);
  return tf.tidy(() => alongAxis(alongAxis(x, 1), 2));
}
