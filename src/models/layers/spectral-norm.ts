/**
 * Spectral normalisation (Miyato, Kataoka, Koyama & Yoshida 2018) of any weight, for the model families
 * that apply it to every layer of G and D (SAGAN, Zhang et al. 2019, section 4: on both networks). A
 * weight, as a matrix W [fan_in, fan_out] (its last axis the outputs), is used as W / sigma with
 * sigma = v^T W u, u [fan_out] and v [fan_in] persisted and refreshed by power iteration outside the
 * gradient (so dsigma/dW = v u^T, as in the paper and PyTorch). The one implementation: the FSR
 * discriminator (src/models/discriminator.ts), the FSR learner (src/models/generator.ts, learner.ts), SAGAN
 * and the 2-D lab (src/toy/model.ts) all call it.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';

/** The persisted power-iteration vectors of one weight (non-trainable variables). */
export interface SnVectors {
  u: tf.Variable;
  v: tf.Variable;
}

function asMatrix(w: tf.Tensor): tf.Tensor2D {
  const n = w.shape[w.shape.length - 1];
  return w.reshape([w.size / n, n]);
}

/** A non-trainable variable holding t's values (t disposed). */
function owned(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, false);
  t.dispose();
  return v;
}

/** u drawn from rng (unit), v = W u / ||W u||, so sigma = v^T W u is an estimate before any iteration. */
export function snVectors(w: tf.Tensor, rng: Rng): SnVectors {
  const n = w.shape[w.shape.length - 1];
  const raw = rng.normals(n);
  const norm = Math.sqrt(raw.reduce((a, b) => a + b * b, 0)) || 1;
  const u = owned(tf.tensor1d(raw.map((x) => x / norm)));
  const v = owned(
    tf.tidy(() => {
      const wu = tf.matMul(asMatrix(w), u.reshape([-1, 1])).reshape([-1]);
      return tf.div(wu, tf.add(tf.norm(wu), 1e-12));
    }),
  );
  return { u, v };
}

/** sigma = v^T W u (u, v constants). */
export function snSigma(w: tf.Tensor, s: { u: tf.Tensor; v: tf.Tensor }): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.mul(s.v.reshape([-1, 1]), tf.matMul(asMatrix(w), s.u.reshape([-1, 1])))) as tf.Scalar);
}

/**
 * W / sigma (use inside a tape or tf.tidy). Sigma is floored at 1e-30 so that a weight set to zero (the FSR
 * learner's heads that no stage trains, zeroed under generator.skip; session.ts) stays zero instead of
 * 0 / 0; for any sigma above the floor the value and the gradient are W / sigma's, bit for bit.
 */
export function snWeight<T extends tf.Tensor>(w: T, s: { u: tf.Tensor; v: tf.Tensor }): T {
  return tf.tidy(() => tf.div(w, tf.maximum(snSigma(w, s), 1e-30)) as T);
}

/** `iterations` power iterations on W: v <- W u / ||.||, u <- W^T v / ||.||, written back into s. */
export function snIterate(w: tf.Tensor, s: SnVectors, iterations = 1): void {
  tf.tidy(() => {
    const m = asMatrix(w);
    let u: tf.Tensor = s.u.reshape([-1, 1]);
    let v: tf.Tensor = s.v.reshape([-1, 1]);
    for (let i = 0; i < iterations; i++) {
      const wu = tf.matMul(m, u);
      v = tf.div(wu, tf.add(tf.norm(wu), 1e-12));
      const wv = tf.matMul(m, v, true, false);
      u = tf.div(wv, tf.add(tf.norm(wv), 1e-12));
    }
    s.u.assign(u.reshape([-1]));
    s.v.assign(v.reshape([-1]));
  });
}
