/**
 * The losses the conditional families add to a GAN objective (docs/conditional.md), as pure functions of
 * D's outputs so that tests can check them against hand computations:
 *
 *   ACGAN (Odena et al. 2017):  L_D = obj.d(D(x), D(G(z,y))) + lambda [CE(aux(x), y) + CE(aux(G(z,y)), y)]
 *                               L_G = obj.g(., D(G(z,y)))    + lambda  CE(aux(G(z,y)), y)
 *   GAN-CLS (Reed et al. 2016): D judges three pairings: {real, right text} s_r, {fake, right text} s_f and
 *                               {real, wrong text} s_w;  L_D = w obj.d(s_r, s_w) + (1 - w) obj.d(s_r, s_f)
 *
 * With the non-saturating objective and w = 1/2, GAN-CLS's L_D is Reed et al.'s
 * -log s_r - (log(1 - s_w) + log(1 - s_f)) / 2 (in logits: softplus(-s_r) + (softplus(s_w) + softplus(s_f)) / 2),
 * and with every additive objective (ns, minimax, lsgan, hinge, wgan) the real term is counted once.
 * CE(logits, y) = mean_i [logsumexp_k logits_ik - logits_iy_i], the softmax cross-entropy.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective } from './objectives.js';

/** The objectives whose D loss is a sum of a real term and a fake term (what the matching-aware form needs). */
export const ADDITIVE_OBJECTIVES = ['ns', 'minimax', 'lsgan', 'hinge', 'wgan'] as const;

/** Mean softmax cross-entropy of logits [N, K] against integer labels [N]. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.cast(labels, 'int32'), k)), 1);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), picked)) as tf.Scalar;
  });
}

/** GAN-CLS's D loss from the three pairings' logits (each [N]); `wrongWeight` is w above (Reed et al.: 1/2). */
export function matchingAwareDLoss(obj: Objective, sReal: tf.Tensor1D, sFake: tf.Tensor1D, sWrong: tf.Tensor1D, wrongWeight: number): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mul(wrongWeight, obj.d(sReal, sWrong)), tf.mul(1 - wrongWeight, obj.d(sReal, sFake))) as tf.Scalar);
}

/** ACGAN's D loss: the objective's plus lambda times the class cross-entropy on real and on generated images. */
export function acganDLoss(obj: Objective, dr: tf.Tensor1D, df: tf.Tensor1D, clsReal: tf.Tensor2D, clsFake: tf.Tensor2D, labels: tf.Tensor1D, lambda: number): tf.Scalar {
  return tf.tidy(() => tf.add(obj.d(dr, df), tf.mul(lambda, tf.add(softmaxCrossEntropy(clsReal, labels), softmaxCrossEntropy(clsFake, labels)))) as tf.Scalar);
}

/** ACGAN's G loss: the objective's plus lambda times the class cross-entropy of its images. */
export function acganGLoss(obj: Objective, dr: tf.Tensor1D, df: tf.Tensor1D, clsFake: tf.Tensor2D, labels: tf.Tensor1D, lambda: number): tf.Scalar {
  return tf.tidy(() => tf.add(obj.g(dr, df), tf.mul(lambda, softmaxCrossEntropy(clsFake, labels))) as tf.Scalar);
}

/** The "wrong text" of each row: the condition of the next row (a batch rolled by one), [N, dim]. */
export function rollRows(c: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => (c.shape[0] < 2 ? c.clone() : (tf.concat([tf.slice(c, [1, 0], [-1, -1]), tf.slice(c, [0, 0], [1, -1])], 0) as tf.Tensor2D)));
}
