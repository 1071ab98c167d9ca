/**
 * Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", section 4):
 *
 *   IS = exp( E_x KL( p(y|x) || p(y) ) ),  p(y) = E_x p(y|x),
 *
 * over the classes of the feature extractor (10 for Fashion-MNIST, 9 for emoji; 1,000 for an Inception
 * graph model), computed on `splits` equal parts of the samples and reported as mean and std over the
 * parts, as the reference code does (10 splits). It lies in [1, C]: 1 when every sample gets the same class
 * distribution, C when every sample is classified with certainty and the classes are used evenly. It does
 * not look at real data, so it rewards confident, class-balanced samples whatever they look like; read it
 * next to the same score of real images (docs/metrics.md).
 */
import { UserError } from '../util/errors.js';

export interface InceptionScoreResult {
  /** Mean over the splits. */
  score: number;
  /** Std over the splits (ddof 0, as the reference code). */
  std: number;
  splits: number;
  /** The score of each split. */
  values: number[];
}

/** Softmax of logits [n,C] (row-major) in float64, stabilised by each row's maximum. */
export function softmaxRows(logits: Float32Array | Float64Array, n: number, c: number): Float64Array {
  const p = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let k = 0; k < c; k++) max = Math.max(max, logits[i * c + k]);
    let z = 0;
    for (let k = 0; k < c; k++) z += p[i * c + k] = Math.exp(logits[i * c + k] - max);
    for (let k = 0; k < c; k++) p[i * c + k] /= z;
  }
  return p;
}

/** IS of class probabilities p(y|x) [n,C] (row-major, rows summing to 1), in `splits` consecutive parts. */
export function inceptionScore(probs: Float64Array, n: number, c: number, splits = 10): InceptionScoreResult {
  if (!(Number.isInteger(splits) && splits >= 1)) throw new UserError(`is.splits must be a positive integer, got ${splits}.`);
  if (n < splits) throw new UserError(`the Inception Score needs at least one sample per split (${splits} splits, ${n} samples); lower is.splits or raise analysis.samples.`);
  const values: number[] = [];
  for (let s = 0; s < splits; s++) {
    const lo = Math.floor((s * n) / splits);
    const hi = Math.floor(((s + 1) * n) / splits);
    const py = new Float64Array(c);
    for (let i = lo; i < hi; i++) for (let k = 0; k < c; k++) py[k] += probs[i * c + k];
    for (let k = 0; k < c; k++) py[k] /= hi - lo;
    let kl = 0;
    for (let i = lo; i < hi; i++) {
      for (let k = 0; k < c; k++) {
        const q = probs[i * c + k];
        // 0 log 0 = 0; py[k] >= q / (hi - lo) > 0 whenever q > 0.
        if (q > 0) kl += q * (Math.log(q) - Math.log(py[k]));
      }
    }
    values.push(Math.exp(kl / (hi - lo)));
  }
  const score = values.reduce((t, v) => t + v, 0) / splits;
  const std = Math.sqrt(values.reduce((t, v) => t + (v - score) ** 2, 0) / splits);
  return { score, std, splits, values };
}
