/**
 * The condition space of a conditional run (docs/conditional.md): what c is for an image and for a user's
 * request. Class families (cgan, acgan) and the class-conditional FSR learner (generator.condition
 * 'class'): c = one-hot of the image's class among the run's class names
 * (the dataset's labels: Fashion-MNIST's 10 classes, emoji's categories, a folder's subfolders). text2img:
 * c = the hashed embedding (models/text-embed.ts) of the image's text (ImageSet.names: emoji's name and
 * short names). The real batch's conditions are also the generated batch's (so D's real and fake halves
 * share one class / text distribution), and the sample grids use fixed class rows or fixed names.
 */
import * as tf from '@tensorflow/tfjs';
import { ImageDataset } from '../data/dataset.js';
import type { PyramidSource } from '../data/source.js';
import { embedText } from '../models/text-embed.js';
import { isCondFamily } from '../models/conditional.js';
import { closest } from '../util/config.js';
import { UserError } from '../util/errors.js';
import type { TrainConfig } from './config.js';
import { isCondFsr } from './cfsr-config.js';

export interface ConditionSpace {
  kind: 'class' | 'text';
  /** Length of c. */
  dim: number;
  /** The run's classes (class families), in label order; [] for text. */
  classNames: string[];
}

/** One batch of a labelled source with its conditions: c [n, dim] and class labels [n] (float, for the cross-entropy). */
export interface ConditionedBatch {
  levels: tf.Tensor4D[];
  cond: tf.Tensor2D;
  labels: tf.Tensor1D;
}

/** Whether a config (its family, or generator.condition 'class') needs its dataset's class names to build (and to sample). */
export function needsClassNames(c: TrainConfig): boolean {
  return (c.generator.family === 'cgan' || c.generator.family === 'acgan' || c.generator.condition === 'class') && c.families.conditional.classNames.length === 0;
}

/** Whether a config draws conditional images: a conditional family, or the FSR learner with generator.condition 'class' or 'text'. */
export function isConditional(c: TrainConfig): boolean {
  return isCondFamily(c.generator.family) || isCondFsr(c);
}

/** Whether a config's condition is the image's text: the text2img family, or the FSR learner with generator.condition 'text'. */
export function isTextConditional(c: TrainConfig): boolean {
  return c.generator.family === 'text2img' || c.generator.condition === 'text';
}

function labelled(source: PyramidSource | null): ImageDataset | null {
  return source instanceof ImageDataset ? source : null;
}

/** The condition space of a conditional config, from the config and (class names, texts) its dataset. */
export function conditionSpace(c: TrainConfig, source: PyramidSource | null): ConditionSpace {
  const family = c.generator.family;
  if (!isConditional(c)) throw new Error(`conditionSpace: '${family}' is not a conditional family`);
  // What the messages name: the family, or the FSR learner's condition field.
  const what = isCondFamily(family) ? `config.generator.family '${family}'` : `config.generator.condition '${c.generator.condition}'`;
  const ds = labelled(source);
  if (source && !ds) {
    throw new UserError(`${what} needs a labelled image dataset (emoji, fashion-mnist or a folder of class subfolders); config.data '${c.data}' has no labels.`);
  }
  if (isTextConditional(c)) {
    if (ds && !ds.set.names) throw new UserError(`${what} needs a dataset whose images have names (emoji); '${c.data}' has none.`);
    return { kind: 'text', dim: c.families.conditional.textDim, classNames: [] };
  }
  const given = c.families.conditional.classNames;
  const names = given.length ? [...given] : (ds?.set.classNames ?? []);
  if (!names.length) throw new UserError(`${what} needs class names: train on a labelled dataset, or set families.conditional.classNames.`);
  if (ds && given.length && given.length !== ds.set.classNames.length) {
    throw new UserError(`config.families.conditional.classNames has ${given.length} names but the dataset '${c.data}' has ${ds.set.classNames.length} classes: leave it [] to use the dataset's.`);
  }
  return { kind: 'class', dim: names.length, classNames: names };
}

/** One-hot rows [labels.length, k]. */
export function oneHotRows(labels: ArrayLike<number>, k: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), k).toFloat() as tf.Tensor2D);
}

/** The text embeddings [texts.length, dim]. */
export function textRows(texts: readonly string[], dim: number): tf.Tensor2D {
  const data = new Float32Array(texts.length * dim);
  texts.forEach((t, i) => data.set(embedText(t, dim), i * dim));
  return tf.tensor2d(data, [texts.length, dim]);
}

/** The next batch of a labelled source with its conditions (the caller disposes every tensor). */
export function conditionedBatch(space: ConditionSpace, source: PyramidSource, n: number): ConditionedBatch {
  const ds = labelled(source);
  if (!ds) throw new UserError('a conditional family needs a labelled image dataset as its data (emoji, fashion-mnist or a folder of class subfolders).');
  const b = ds.batchWithLabels(n);
  const cond = space.kind === 'class' ? oneHotRows(b.labels, space.dim) : textRows(b.indices.map((i) => ds.set.names![i]), space.dim);
  return { levels: b.levels, cond, labels: tf.tensor1d(Float32Array.from(b.labels)) };
}

/** The label of a class name, or a UserError naming the field, the nearest name and the choices. */
export function classIndex(space: ConditionSpace, name: string, field = '--class'): number {
  if (space.kind !== 'class') throw new UserError(`${field} needs a class-conditional run (family cgan or acgan); this run is conditioned on text: use --text.`);
  const exact = space.classNames.indexOf(name);
  if (exact >= 0) return exact;
  const folded = space.classNames.findIndex((c) => c.toLowerCase() === name.toLowerCase());
  if (folded >= 0) return folded;
  const hint = closest(name, space.classNames);
  throw new UserError(`${field} '${name}' is not a class of this run${hint ? ` (did you mean '${hint}'?)` : ''}; the classes are: ${space.classNames.map((c) => `'${c}'`).join(', ')}.`);
}

/**
 * The texts of a text run's sample grids: `perSplit` names of the training images and as many of the
 * held-out ones (never trained on), evenly spaced in ImageSet order; [] without a labelled source.
 */
export function gridTexts(source: PyramidSource | null, perSplit = 4): { train: string[]; heldOut: string[] } {
  const ds = labelled(source);
  if (!ds?.set.names) return { train: [], heldOut: [] };
  // Evenly spaced through the split (ImageSet order runs category by category), so the rows span categories.
  const pick = (idx: readonly number[]) => {
    const step = Math.max(1, Math.floor(idx.length / perSplit));
    return [...new Set(Array.from({ length: Math.min(perSplit, idx.length) }, (_, k) => ds.set.names![idx[k * step]]))];
  };
  return { train: pick(ds.indices), heldOut: pick(ds.heldOut().indices) };
}

/**
 * Rows [n, dim] between two texts' embeddings: c_i = (1 - t_i) e(a) + t_i e(b), t_i = i / (n - 1) (Reed et
 * al.'s interpolation, unnormalised as theirs: the midpoints are what GAN-INT trains G on).
 */
export function textInterpolationRows(a: string, b: string, n: number, dim: number): tf.Tensor2D {
  return tf.tidy(() => {
    const ends = textRows([a, b], dim);
    const t = tf.tensor2d(Array.from({ length: n }, (_, i) => (n === 1 ? 0 : i / (n - 1))), [n, 1]);
    const ea = tf.slice(ends, [0, 0], [1, -1]);
    const eb = tf.slice(ends, [1, 0], [1, -1]);
    return tf.add(tf.mul(tf.sub(1, t), ea), tf.mul(t, eb)) as tf.Tensor2D;
  });
}
