/**
 * The class-conditional FSR learner's condition in G (generator.condition 'class'; docs/conditional.md):
 * a learned class-conditional shift of every hidden layer's pre-activation,
 *
 *   s_l = ReLU(Deconv_l(s_{l-1}) + E_l c - b_l)      c [N,K] one-hot, E_l [K,C_l] (variable g.r<r_l>.cls)
 *
 * the conditional-bias half of conditional batch norm (de Vries et al. 2017, "Modulating early visual
 * processing by language"; Dumoulin, Shlens & Kudlur 2017, conditional instance norm), without the
 * normalisation or the scale: the FSR learner has no batch norm, and a per-class scale would change each
 * channel's sparsity threshold b_l in proportion, where a shift moves it by a fixed amount per class. For a
 * one-hot c, E_l c is row k of E_l: class k's own bias offset on each channel. E_l starts at 0 (no draws),
 * so a class-conditional learner starts equal to the unconditional one of the same seed.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';

/**
 * generator.condition: 'none' (the unconditional learner), 'class' (E_l c in every hidden layer for the one-hot
 * class c, a projection D) or 'text' (the same with c the hashed embedding of the image's name, E_l [dim, C_l]:
 * a learned linear map of the text to each layer's bias offset).
 */
export const GENERATOR_CONDITIONS = ['none', 'class', 'text'] as const;

/** pre + E c, the shift broadcast over the positions of [N,g,g,C] (use in tf.tidy or a tape). */
export function classShift(pre: tf.Tensor4D, cond: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor4D {
  const shift = tf.matMul(cond, e).reshape([cond.shape[0], 1, 1, e.shape[1]]);
  return tf.add(pre, shift) as tf.Tensor4D;
}

/**
 * One-hot rows [n,k] of the classes in turn (row i: class i mod k): the condition of data-free passes
 * through a class-conditional G (calibration, bias homeostasis), class-balanced and with no draws, so that
 * replicas and resumes compute the same.
 */
export function balancedClassRows(n: number, k: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % k), 'int32'), k).toFloat() as tf.Tensor2D);
}

/**
 * The error of a conditional generator called without its condition [n, dim]: what reaches a conditional G
 * without one is code written for unconditional generators (analyses, FID), so it names the commands that fit.
 */
export function missingCondition(what: string, n: number, dim: number, got: tf.Tensor | undefined): UserError {
  return new UserError(
    `the ${what} generator needs a condition [${n}, ${dim}], got ${got ? `[${got.shape}]` : 'none'}: this measurement draws unconditional samples; measure a conditional run with \`fsrgan metrics conditional\` and sample it with \`fsrgan sample --class/--text\`.`,
  );
}
