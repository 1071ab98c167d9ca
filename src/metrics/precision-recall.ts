/**
 * Improved precision and recall (Kynkaanniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved Precision and
 * Recall Metric for Assessing Generative Models", section 2). Each set's manifold is the union of balls
 * around its samples, each ball's radius the distance to that sample's k-th nearest neighbour in its own
 * set (k = 3 in the paper). Precision: the fraction of generated samples inside the real manifold (are the
 * samples realistic?); recall: the fraction of real samples inside the generated manifold (is the real
 * distribution covered?). A generator that drops modes loses recall; one that makes junk loses precision.
 *
 * As the authors' code: squared Euclidean distances |a|^2 + |b|^2 - 2 a.b computed in tiles (a.b a float32
 * matMul on the tfjs backend, the norms float64), clamped at 0; a sample's own distance 0 counts as its first neighbour, so the
 * radius is the (k+1)-th smallest distance in its set; a point on a ball's boundary is inside.
 */
import { UserError } from '../util/errors.js';
import { checkPair, gramTiles, sqNorms, type Features } from './features.js';

export const DEFAULT_PR = { k: 3 };

export interface PrecisionRecall {
  precision: number;
  recall: number;
  k: number;
}

/** Tile side of the distance matrices (features.ts gramTiles). */
const TILE = 1024;

/**
 * Squared distance from each sample of `a` to its k-th nearest neighbour in `a` (itself excluded): the
 * squared radii of a's k-NN balls [n].
 */
export function knnRadii(a: Features, k: number): Float32Array {
  if (!(Number.isInteger(k) && k >= 1)) throw new UserError(`pr.k must be a positive integer, got ${k}.`);
  if (a.n <= k) throw new UserError(`k-NN radii with k = ${k} need more than ${k} samples, got ${a.n}; raise analysis.samples.`);
  const norms = sqNorms(a);
  // Per row, its k+1 smallest distances in ascending order (the first is the sample itself, at distance 0).
  const K = k + 1;
  const best = new Float64Array(a.n * K).fill(Infinity);
  const insert = (i: number, dist: number) => {
    const o = i * K;
    if (dist >= best[o + k]) return;
    let p = k;
    while (p > 0 && best[o + p - 1] > dist) (best[o + p] = best[o + p - 1]), p--;
    best[o + p] = dist;
  };
  gramTiles(a, a, TILE, true, (i0, rows, j0, cols, g) => {
    const diagonal = i0 === j0;
    for (let i = 0; i < rows; i++) {
      const ni = norms[i0 + i];
      for (let j = 0; j < cols; j++) {
        const dist = ni + norms[j0 + j] - 2 * g[i * cols + j];
        insert(i0 + i, dist);
        // An off-diagonal tile stands for its mirror image too (the distance matrix is symmetric).
        if (!diagonal) insert(j0 + j, dist);
      }
    }
  });
  const out = new Float32Array(a.n);
  for (let i = 0; i < a.n; i++) out[i] = Math.max(0, best[i * K + k]);
  return out;
}

/**
 * Precision and recall of `fake` against `real`. `realRadii` (squared, from knnRadii(real, k)) may be
 * passed in when cached with the real statistics; the generated set's radii are computed here.
 */
export function precisionRecall(real: Features, fake: Features, k: number, realRadii?: Float32Array): PrecisionRecall {
  checkPair(real, fake, 'precision/recall', k + 1);
  const rr = realRadii ?? knnRadii(real, k);
  if (rr.length !== real.n) throw new Error(`precisionRecall: ${rr.length} real radii for ${real.n} samples`);
  const rf = knnRadii(fake, k);
  const nr = sqNorms(real);
  const nf = sqNorms(fake);
  // Fake i is inside the real manifold when |f_i - r_j|^2 <= radius_j^2 for some j; real j is inside the
  // generated manifold when |f_i - r_j|^2 <= radius'_i^2 for some i: both from the same tiles of distances.
  const inside = new Uint8Array(fake.n);
  const covered = new Uint8Array(real.n);
  gramTiles(fake, real, TILE, false, (i0, rows, j0, cols, g) => {
    for (let i = 0; i < rows; i++) {
      const ni = nf[i0 + i];
      const ri = rf[i0 + i];
      let isInside = 0;
      for (let j = 0; j < cols; j++) {
        // Clamped at 0 as in the authors' code; the clamp matters only for (near) duplicates.
        const dist = Math.max(0, ni + nr[j0 + j] - 2 * g[i * cols + j]);
        if (dist <= rr[j0 + j]) isInside = 1;
        if (dist <= ri) covered[j0 + j] = 1;
      }
      inside[i0 + i] |= isInside;
    }
  });
  const count = (a: Uint8Array) => a.reduce((t, v) => t + v, 0);
  return { precision: count(inside) / fake.n, recall: count(covered) / real.n, k };
}
