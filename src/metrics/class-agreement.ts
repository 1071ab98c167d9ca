/**
 * Whether a conditional generator draws the class it is asked for (docs/conditional.md): a classifier
 * trained on the real data (the dataset's feature extractor, extractor.ts, whose head has the dataset's
 * classes) labels each generated image, and the agreement is the fraction whose predicted class is the
 * requested one. Chance is 1/K for K classes; the classifier's own held-out accuracy on real images (its
 * model.json records it) is the ceiling to read it against.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import type { Extractor } from './extractor.js';

export interface ClassAgreement {
  /** Images judged. */
  n: number;
  /** Fraction whose predicted class is the requested one. */
  agreement: number;
  /** 1 / K. */
  chance: number;
  /** Agreement per requested class, by class name. */
  perClass: Record<string, number>;
  /** confusion[i][j]: images asked for class i that the classifier puts in class j (the run's class order). */
  confusion: number[][];
}

/**
 * The classifier's agreement with the requested classes. `images` [n,r,r,3] in [-1, 1]; `requested` [n]
 * indexes `classNames` (the run's classes), which must all be classes of the extractor (matched by name).
 */
export function classAgreement(extractor: Extractor, images: tf.Tensor4D, requested: ArrayLike<number>, classNames: string[]): ClassAgreement {
  const map = classNames.map((c) => extractor.classNames.indexOf(c));
  const missing = classNames.filter((_, i) => map[i] < 0);
  if (missing.length) throw new UserError(`the classifier '${extractor.name}' has no class ${missing.map((m) => `'${m}'`).join(', ')}: use the extractor of the run's dataset.`);
  const n = images.shape[0];
  if (requested.length !== n) throw new Error(`classAgreement: ${requested.length} requested classes for ${n} images`);
  const { features, logits } = extractor.apply(images);
  if (!logits) {
    features.dispose();
    throw new UserError(`the classifier '${extractor.name}' has no class head: use fsrgan's extractor of the dataset.`);
  }
  const pred = tf.tidy(() => tf.argMax(logits, 1).dataSync() as Int32Array);
  tf.dispose([features, logits]);
  const back = new Map(map.map((e, i) => [e, i]));
  const k = classNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const want = requested[i];
    const got = back.get(pred[i]) ?? k;
    confusion[want][got]++;
    if (got === want) hits++;
  }
  const perClass: Record<string, number> = {};
  classNames.forEach((c, i) => {
    const total = confusion[i].reduce((a, b) => a + b, 0);
    perClass[c] = total ? confusion[i][i] / total : NaN;
  });
  // Column k counts predictions outside the run's classes; drop it when unused.
  const trimmed = confusion.every((row) => row[k] === 0) ? confusion.map((row) => row.slice(0, k)) : confusion;
  return { n, agreement: hits / n, chance: 1 / k, perClass, confusion: trimmed };
}
