/**
 * GAN objectives as pure functions of D's logits on real (dr [N]) and generated (df [N]) data, and the
 * gradient regularisers R1 and the WGAN-GP penalty as functions of D and its inputs. Both players
 * minimise: D minimises `d(dr, df)`, G minimises `g(dr, df)`. softplus(t) = log(1 + e^t), so
 * -log sigmoid(t) = softplus(-t) and -log(1 - sigmoid(t)) = softplus(t).
 */
import * as tf from '@tensorflow/tfjs';

export const OBJECTIVES = ['ns', 'minimax', 'wgan', 'wgan-gp', 'lsgan', 'hinge', 'ragan'] as const;
export type ObjectiveName = (typeof OBJECTIVES)[number];

export interface Objective {
  name: ObjectiveName;
  /** D's loss (scalar) from logits on real and generated data. */
  d(dr: tf.Tensor1D, df: tf.Tensor1D): tf.Scalar;
  /** G's loss (scalar); dr enters only for the relativistic objective. */
  g(dr: tf.Tensor1D, df: tf.Tensor1D): tf.Scalar;
}

const mean = (t: tf.Tensor) => tf.mean(t) as tf.Scalar;

/** GAN objectives by name (Goodfellow 2014; Arjovsky 2017; Gulrajani 2017; Mao 2017; Lim 2017; Jolicoeur-Martineau 2018). */
export const objectives: Record<ObjectiveName, Objective> = {
  // Non-saturating: D is the logistic classifier; G maximises log D(G(z)) instead of minimising log(1 - D(G(z))).
  ns: {
    name: 'ns',
    d: (dr, df) => tf.tidy(() => tf.add(mean(tf.softplus(tf.neg(dr))), mean(tf.softplus(df)))),
    g: (_dr, df) => tf.tidy(() => mean(tf.softplus(tf.neg(df)))),
  },
  // The original zero-sum game: G minimises log(1 - D(G(z))) = -softplus(df).
  minimax: {
    name: 'minimax',
    d: (dr, df) => tf.tidy(() => tf.add(mean(tf.softplus(tf.neg(dr))), mean(tf.softplus(df)))),
    g: (_dr, df) => tf.tidy(() => tf.neg(mean(tf.softplus(df)))),
  },
  // Wasserstein critic; the Lipschitz constraint is weight clipping (wgan) or the gradient penalty (wgan-gp).
  wgan: {
    name: 'wgan',
    d: (dr, df) => tf.tidy(() => tf.sub(mean(df), mean(dr))),
    g: (_dr, df) => tf.tidy(() => tf.neg(mean(df))),
  },
  'wgan-gp': {
    name: 'wgan-gp',
    d: (dr, df) => tf.tidy(() => tf.sub(mean(df), mean(dr))),
    g: (_dr, df) => tf.tidy(() => tf.neg(mean(df))),
  },
  // Least squares with targets real = 1, fake = 0 (G aims at 1); the 1/2 factors of Mao et al.
  lsgan: {
    name: 'lsgan',
    d: (dr, df) => tf.tidy(() => tf.add(tf.mul(0.5, mean(tf.square(tf.sub(dr, 1)))), tf.mul(0.5, mean(tf.square(df))))),
    g: (_dr, df) => tf.tidy(() => tf.mul(0.5, mean(tf.square(tf.sub(df, 1))))),
  },
  hinge: {
    name: 'hinge',
    d: (dr, df) => tf.tidy(() => tf.add(mean(tf.relu(tf.sub(1, dr))), mean(tf.relu(tf.add(1, df))))),
    g: (_dr, df) => tf.tidy(() => tf.neg(mean(df))),
  },
  // Relativistic average GAN, non-saturating form: is real data more realistic than the average fake?
  ragan: {
    name: 'ragan',
    d: (dr, df) =>
      tf.tidy(() => tf.add(mean(tf.softplus(tf.neg(tf.sub(dr, mean(df))))), mean(tf.softplus(tf.sub(df, mean(dr)))))),
    g: (dr, df) =>
      tf.tidy(() => tf.add(mean(tf.softplus(tf.neg(tf.sub(df, mean(dr))))), mean(tf.softplus(tf.sub(dr, mean(df)))))),
  },
};

/** Per-sample squared gradient norm ||dD/dx_i||^2 [N] of a scalar-per-sample function at x [N,...]. */
export function gradSqNorm(f: (x: tf.Tensor4D) => tf.Tensor1D, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    // sum over samples: each sample's logit depends only on its own input, so the gradient of the sum
    // at sample i is dD(x_i)/dx_i.
    const g = tf.grad((xx: tf.Tensor) => tf.sum(f(xx as tf.Tensor4D)))(x);
    return tf.sum(tf.square(g), [1, 2, 3]) as tf.Tensor1D;
  });
}

/**
 * R1's gamma for D update k of stage step `stageStep`: objective.r1 scaled by objective.r1Every on the updates
 * where lazy R1 is due (every r1Every-th D update of the stage), 0 elsewhere or when R1 is off.
 */
export function r1GammaAt(c: { objective: { r1: number; r1Every: number }; train: { dSteps: number } }, stageStep: number, k: number): number {
  const dStep = stageStep * c.train.dSteps + k;
  return c.objective.r1 > 0 && dStep % c.objective.r1Every === 0 ? c.objective.r1 * c.objective.r1Every : 0;
}

/** R1 penalty (Mescheder et al. 2018): gamma/2 * E ||grad_x D(x)||^2 on real data. */
export function r1Penalty(f: (x: tf.Tensor4D) => tf.Tensor1D, real: tf.Tensor4D, gamma: number): tf.Scalar {
  return tf.tidy(() => tf.mul(gamma / 2, tf.mean(gradSqNorm(f, real))) as tf.Scalar);
}

/**
 * WGAN-GP penalty (Gulrajani et al. 2017): lambda * E (||grad D(xh)|| - 1)^2 at xh = e*real + (1-e)*fake,
 * e [N] uniform in [0,1] per sample (passed in so that the caller's Rng fixes it).
 */
export function gradientPenalty(f: (x: tf.Tensor4D) => tf.Tensor1D, real: tf.Tensor4D, fake: tf.Tensor4D, e: tf.Tensor1D, lambda: number): tf.Scalar {
  return tf.tidy(() => {
    const ee = e.reshape([-1, 1, 1, 1]);
    const xh = tf.add(tf.mul(ee, real), tf.mul(tf.sub(1, ee), fake)) as tf.Tensor4D;
    const norm = tf.sqrt(tf.add(gradSqNorm(f, xh), 1e-12));
    return tf.mul(lambda, tf.mean(tf.square(tf.sub(norm, 1)))) as tf.Scalar;
  });
}
