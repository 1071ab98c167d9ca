/**
 * Nearest-neighbour 2x upsampling [N,H,W,C] -> [N,2H,2W,C], built from concat/reshape so that it is
 * differentiable to any order (R1 and the gradient penalty differentiate through a pair D's input).
 * It is the adjoint of 2x2 average pooling up to a factor 4, and avgpool2x(upsample2x(x)) = x exactly,
 * which is why pyramids and the generator's skip use it.
 */
import * as tf from '@tensorflow/tfjs';

export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const wide = tf.concat([x.reshape([n, h, w, 1, c]), x.reshape([n, h, w, 1, c])], 3).reshape([n, h, 1, 2 * w, c]);
    return tf.concat([wide, wide], 2).reshape([n, 2 * h, 2 * w, c]);
  });
}
