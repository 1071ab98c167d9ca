/**
 * Images of a conditional generator (docs/conditional.md): a grid with one row per condition (a class, or
 * a text) and one column per latent, the same latents in every row, so that a column shows what the
 * condition alone changes; and the rows of a run's sample grids (every class; four training names and
 * four held-out names of a text run).
 */
import * as tf from '@tensorflow/tfjs';
import { learnerForward, type Learner } from '../models/learner.js';
import type { PyramidSource } from '../data/source.js';
import { gridTexts, oneHotRows, textRows, type ConditionSpace } from './conditions.js';

/**
 * G's images at pyramid level `level` (1-based) for every (condition row i, latent j), row-major:
 * image i * m + j has latent z_j [m,1,1,zDim] and condition c_i [R, dim]. Returns [R * m, r, r, C].
 */
export function crossGrid(g: Learner, level: number, z: tf.Tensor4D, c: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const m = z.shape[0];
    const rows = c.shape[0];
    const zz = tf.tile(z, [rows, 1, 1, 1]) as tf.Tensor4D;
    const cc = tf.gather(c, tf.tensor1d(Array.from({ length: rows * m }, (_, k) => Math.floor(k / m)), 'int32')) as tf.Tensor2D;
    return learnerForward(g, zz, level, { cond: cc }).x[level - 1];
  });
}

/** The rows of a run's sample grids: their conditions [R, dim] and what each row is. */
export function gridRows(space: ConditionSpace, source: PyramidSource | null): { cond: tf.Tensor2D; labels: string[] } {
  if (space.kind === 'class') return { cond: oneHotRows(space.classNames.map((_, i) => i), space.dim), labels: [...space.classNames] };
  const t = gridTexts(source);
  const labels = [...t.train.map((s) => `train: ${s}`), ...t.heldOut.map((s) => `held out: ${s}`)];
  return { cond: textRows([...t.train, ...t.heldOut], space.dim), labels };
}
