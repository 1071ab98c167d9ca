/**
 * Birthday-paradox support estimate (Arora & Zhang 2017, "Do GANs Learn the Distribution? Some Theory and
 * Empirics", section 3): in a batch of s samples from a distribution over N equally likely outcomes, a
 * duplicate appears with probability about 1/2 once s ~ sqrt(N); so if batches of size s contain a
 * near-duplicate pair with probability >= 1/2, the support is about s^2. The paper judged duplicates by eye
 * among the closest pairs of each batch; fsrgan needs a rule, and calibrates it on real data: two samples are
 * duplicates when their squared feature distance is at most tau, the `quantile`-quantile (default 1e-4) of
 * the squared distances between distinct real images. So real data reads about 1/quantile by construction,
 * and what the estimate shows is how much smaller the generator's support is than the real one's at the
 * same notion of "the same image": a generator collapsed onto K modes reads about K (docs/metrics.md).
 *
 * Reported per set: s50, the smallest batch size whose batches hold a duplicate with probability >= 1/2
 * (estimated from `trials` seeded batches per size, binary search), support = s50^2 (the paper's rule, which
 * is 2 ln 2 = 1.39 times N for N equally likely modes), and the duplicate rate over all pairs p with the
 * closed form N = 1/p for N equally likely modes.
 */
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { gramTiles, sampleIndices, selectRows, sqNorms, type Features } from './features.js';

export const DEFAULT_SUPPORT = { quantile: 1e-4, samples: 2048, trials: 200 };

export interface SupportOptions {
  /** The duplicate threshold as a quantile of squared distances between distinct real samples. */
  quantile: number;
  /** Samples per set used for the pairs (all pairs of them are examined). */
  samples: number;
  /** Batches drawn per batch size in the birthday test. */
  trials: number;
  seed: number;
}

/** The birthday test on one set. */
export interface BirthdayResult {
  /** Samples examined. */
  n: number;
  /** Pairs at squared distance <= tau. */
  duplicatePairs: number;
  /** duplicatePairs / (n(n-1)/2). */
  pairRate: number;
  /** 1 / pairRate: N for N equally likely modes (Infinity when no pair is a duplicate). */
  supportFromPairs: number;
  /** Smallest batch size with P(duplicate) >= 1/2; null when even a batch of all n samples stays below 1/2. */
  s50: number | null;
  /** s50^2 (Arora & Zhang's estimate); null with s50. */
  support: number | null;
  /** Without s50: the support is above about n^2 (the largest batch had P(duplicate) < 1/2). */
  supportAbove: number | null;
}

export interface SupportResult {
  /** Squared feature distance at or below which two samples count as duplicates. */
  tau: number;
  real: BirthdayResult;
  fake: BirthdayResult;
}

/** fn(i, j, squared distance) for every pair i < j of a set (tiles of the upper triangle). */
function forEachPair(f: Features, fn: (i: number, j: number, d2: number) => void): void {
  const norms = sqNorms(f);
  gramTiles(f, f, 512, true, (i0, rows, j0, cols, g) => {
    for (let i = 0; i < rows; i++) {
      const a = i0 + i;
      for (let j = 0; j < cols; j++) {
        const b = j0 + j;
        if (b > a) fn(a, b, Math.max(0, norms[a] + norms[b] - 2 * g[i * cols + j]));
      }
    }
  });
}

/** The `quantile`-quantile of the squared distances over all pairs of distinct samples of `f`. */
export function duplicateThreshold(f: Features, quantile: number): number {
  if (!(quantile > 0 && quantile < 1)) throw new UserError(`support.quantile must be in (0, 1), got ${quantile}.`);
  const pairs = (f.n * (f.n - 1)) / 2;
  if (pairs * quantile < 1) {
    throw new UserError(`support.quantile ${quantile} needs more than ${Math.ceil(Math.sqrt(2 / quantile))} real samples (got ${f.n}); raise support.quantile or support.samples.`);
  }
  const all = new Float32Array(pairs);
  let o = 0;
  forEachPair(f, (_i, _j, d2) => (all[o++] = d2));
  all.sort();
  return all[Math.min(pairs - 1, Math.floor(quantile * pairs))];
}

/** Neighbour lists of the duplicate graph (pairs at squared distance <= tau). */
function duplicateGraph(f: Features, tau: number): { adj: number[][]; pairs: number } {
  const adj: number[][] = Array.from({ length: f.n }, () => []);
  let pairs = 0;
  forEachPair(f, (i, j, d2) => {
    if (d2 <= tau) {
      adj[i].push(j);
      adj[j].push(i);
      pairs++;
    }
  });
  return { adj, pairs };
}

/** Fraction of `trials` random batches of size s holding a duplicate pair. */
function duplicateProbability(adj: number[][], s: number, trials: number, seed: number): number {
  const n = adj.length;
  // The same random stream for every batch size: trial t's batch of size s is then the first s of the same
  // partial shuffle, so batches are nested in s and the estimated probability grows with s (a steady binary search).
  const rng = new Rng(seed, 'metrics/support/batches');
  const stamp = new Int32Array(n).fill(-1);
  let hits = 0;
  for (let t = 0; t < trials; t++) {
    const batch = sampleIndices(n, s, rng);
    for (let k = 0; k < batch.length; k++) stamp[batch[k]] = t;
    found: for (let k = 0; k < batch.length; k++) {
      for (const j of adj[batch[k]]) {
        if (stamp[j] === t) {
          hits++;
          break found;
        }
      }
    }
  }
  return hits / trials;
}

/** The birthday test of one set against a duplicate threshold tau. */
export function birthdayTest(f: Features, tau: number, trials: number, seed: number): BirthdayResult {
  const { adj, pairs } = duplicateGraph(f, tau);
  const pairRate = pairs / ((f.n * (f.n - 1)) / 2);
  const base = { n: f.n, duplicatePairs: pairs, pairRate, supportFromPairs: pairs > 0 ? 1 / pairRate : Infinity };
  if (duplicateProbability(adj, f.n, 1, seed) < 0.5) return { ...base, s50: null, support: null, supportAbove: f.n * f.n };
  // Binary search for the smallest s with P(duplicate in a batch of s) >= 1/2; P grows with s.
  let lo = 1;
  let hi = f.n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (duplicateProbability(adj, mid, trials, seed) >= 0.5) hi = mid;
    else lo = mid;
  }
  return { ...base, s50: hi, support: hi * hi, supportAbove: null };
}

/**
 * Support estimates of the real and the generated set at one duplicate threshold, calibrated on `real`. The
 * threshold comes from one seeded subset of the real set and the real estimate from a disjoint one when
 * the real set is large enough (else the same subset).
 */
export function supportEstimate(real: Features, fake: Features, opts: SupportOptions): SupportResult & { realDisjoint: boolean } {
  if (!(Number.isInteger(opts.samples) && opts.samples >= 4)) throw new UserError(`support.samples must be an integer >= 4, got ${opts.samples}.`);
  if (!(Number.isInteger(opts.trials) && opts.trials >= 1)) throw new UserError(`support.trials must be a positive integer, got ${opts.trials}.`);
  const m = Math.min(opts.samples, real.n);
  const perm = sampleIndices(real.n, real.n, new Rng(opts.seed, 'metrics/support/real'));
  const realDisjoint = real.n >= 2 * m;
  const calib = selectRows(real, perm.subarray(0, m));
  const test = realDisjoint ? selectRows(real, perm.subarray(m, 2 * m)) : calib;
  const tau = duplicateThreshold(calib, opts.quantile);
  const fk = fake.n > opts.samples ? selectRows(fake, sampleIndices(fake.n, opts.samples, new Rng(opts.seed, 'metrics/support/fake'))) : fake;
  if (fk.n < 2) throw new UserError(`the support estimate needs at least 2 generated samples, got ${fk.n}.`);
  return { tau, real: birthdayTest(test, tau, opts.trials, opts.seed), fake: birthdayTest(fk, tau, opts.trials, opts.seed), realDisjoint };
}
