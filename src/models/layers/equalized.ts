/**
 * Equalised learning rate (Karras et al. 2018, "Progressive Growing of GANs", section 4.1): weights are
 * stored as w ~ N(0, 1) and scaled at run time by He's constant c = gain / sqrt(fan_in), w_hat = c w. With
 * an adaptive optimiser (Adam normalises each update by its gradient's scale) the effective update of w_hat
 * is then c times that of w, so every layer learns at the same speed relative to its own weight scale,
 * whatever its fan-in. The forward value equals a He-initialised layer's; only the dynamics change.
 */
import * as tf from '@tensorflow/tfjs';

/** He's constant gain / sqrt(fan_in) (He et al. 2015; gain sqrt 2 for ReLU-family layers). */
export function heScale(fanIn: number, gain = Math.SQRT2): number {
  if (!(fanIn > 0)) throw new Error(`heScale: fan_in must be > 0, got ${fanIn}`);
  return gain / Math.sqrt(fanIn);
}

/** The run-time weight c * w of a layer stored with unit-variance weights (use inside tf.tidy or a tape). */
export function equalizedWeight<T extends tf.Tensor>(w: T, fanIn: number, gain = Math.SQRT2): T {
  return tf.mul(w, heScale(fanIn, gain)) as T;
}

/**
 * Fan-in of a weight stored as [..., fan_out] (conv [k,k,Cin,Cout] -> k*k*Cin; dense [F, out] -> F); for a
 * transposed conv [k,k,Cout,Cin] pass the fan-in explicitly instead.
 */
export function fanInOf(shape: readonly number[]): number {
  return shape.slice(0, -1).reduce((a, b) => a * b, 1);
}
