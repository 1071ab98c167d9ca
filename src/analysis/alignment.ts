/**
 * Feature alignment (docs/theory.md 3.3): D_1's first-layer filters [P,P,3,F] against G's output atoms
 * [P,P,3,C] at the same patch geometry. Flatten, normalise, |cosine| matrix, best one-to-one matching
 * (Hungarian, rectangular allowed: min(F, C) pairs), mean matched |cosine|; next to the same statistic
 * with the reference bank replaced by seeded random Gaussian filters of its shape (averaged over draws).
 * For 48-dimensional filters one random pair has E|cos| ~ sqrt(2 / (pi * 48)) ~ 0.115.
 */
import type * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { bankColumns, meanStd, type Method } from './common.js';
import { maxWeightAssignment } from './hungarian.js';

export interface AlignmentOptions {
  /** Random reference banks drawn for the baseline. */
  randomDraws: number;
  seed: number;
}

export const DEFAULT_ALIGNMENT: AlignmentOptions = { randomDraws: 5, seed: 0 };

/** Matched statistics of one |cosine| matrix. */
export interface MatchStats {
  /** Mean |cos| over the min(F, C) Hungarian-matched pairs. */
  meanMatched: number;
  /** Mean over reference filters of their largest |cos| with any target (not one-to-one). */
  meanBest: number;
  /** Mean |cos| over all pairs. */
  meanAll: number;
}

export interface AlignmentReport {
  kind: 'alignment';
  method: Method;
  /** Filters in the reference bank (F) and the target bank (C), and their dimension. */
  reference: number;
  target: number;
  dim: number;
  observed: MatchStats;
  /** The same statistics with random Gaussian reference banks: mean and std over draws. */
  random: { meanMatched: number; stdMatched: number; meanBest: number; meanAll: number; draws: number };
  /** Matched pairs sorted by decreasing |cos|: [reference index, target index, signed cos]. */
  pairs: [number, number, number][];
}

function normalise(bank: Float64Array[], fn: string): Float64Array[] {
  return bank.map((v, i) => {
    let n = 0;
    for (let a = 0; a < v.length; a++) n += v[a] * v[a];
    n = Math.sqrt(n);
    if (n === 0) throw new Error(`${fn}: filter ${i} is all zeros`);
    return v.map((x) => x / n);
  });
}

/** Signed cosine matrix [a.length][b.length] of two banks of unit vectors. */
export function cosineMatrix(a: Float64Array[], b: Float64Array[]): Float64Array[] {
  return a.map((u) =>
    Float64Array.from(b, (v) => {
      let s = 0;
      for (let k = 0; k < u.length; k++) s += u[k] * v[k];
      return s;
    }),
  );
}

/** Hungarian-matched and best-match statistics of two banks (unnormalised columns are normalised). */
export function matchBanks(reference: Float64Array[], target: Float64Array[], fn = 'matchBanks'): MatchStats & { pairs: [number, number, number][] } {
  if (reference.length === 0 || target.length === 0) throw new Error(`${fn}: empty filter bank`);
  if (reference[0].length !== target[0].length) {
    throw new Error(`${fn}: filters have dimension ${reference[0].length} but atoms ${target[0].length}; compare banks of the same patch geometry [P,P,C]`);
  }
  const cos = cosineMatrix(normalise(reference, fn), normalise(target, fn));
  const abs = cos.map((r) => r.map(Math.abs));
  const { rowToCol, total } = maxWeightAssignment(abs);
  const pairs: [number, number, number][] = [];
  rowToCol.forEach((j, i) => j >= 0 && pairs.push([i, j, cos[i][j]]));
  pairs.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]));
  let best = 0;
  let all = 0;
  for (const r of abs) {
    best += Math.max(...r);
    for (const x of r) all += x;
  }
  return { meanMatched: total / pairs.length, meanBest: best / abs.length, meanAll: all / (abs.length * abs[0].length), pairs };
}

/** Random Gaussian bank with `count` filters of dimension `dim`. */
export function randomBank(count: number, dim: number, rng: Rng): Float64Array[] {
  return Array.from({ length: count }, () => Float64Array.from({ length: dim }, () => rng.normal()));
}

/**
 * Alignment of `reference` (e.g. D_1 first layer [P,P,3,F]) with `target` (e.g. G's out weight
 * [P,P,3,C]); either a tensor whose last axis indexes filters or the filters as float64 columns.
 */
export function featureAlignment(reference: tf.Tensor | Float64Array[], target: tf.Tensor | Float64Array[], options: Partial<AlignmentOptions> = {}): AlignmentReport {
  const o = { ...DEFAULT_ALIGNMENT, ...options };
  if (!(Number.isInteger(o.randomDraws) && o.randomDraws >= 1)) throw new Error(`featureAlignment: randomDraws must be a positive integer, got ${o.randomDraws}`);
  const ref = bankColumns(reference, 'featureAlignment');
  const tgt = bankColumns(target, 'featureAlignment');
  const observed = matchBanks(ref, tgt, 'featureAlignment');
  const rng = new Rng(o.seed, 'analysis/alignment-random');
  const draws = Array.from({ length: o.randomDraws }, () => matchBanks(randomBank(ref.length, ref[0].length, rng), tgt, 'featureAlignment'));
  const matched = meanStd(draws.map((d) => d.meanMatched));
  return {
    kind: 'alignment',
    method: {
      computation:
        'flatten filters, normalise, |cos| matrix reference x target, Hungarian max-weight matching of min(F,C) pairs; baseline: reference replaced by N(0,1) filters of the same shape',
      params: { randomDraws: o.randomDraws, seed: o.seed },
    },
    reference: ref.length,
    target: tgt.length,
    dim: ref[0].length,
    observed: { meanMatched: observed.meanMatched, meanBest: observed.meanBest, meanAll: observed.meanAll },
    random: {
      meanMatched: matched.mean,
      stdMatched: matched.std,
      meanBest: meanStd(draws.map((d) => d.meanBest)).mean,
      meanAll: meanStd(draws.map((d) => d.meanAll)).mean,
      draws: o.randomDraws,
    },
    pairs: observed.pairs,
  };
}

/**
 * Flat metrics for the trainer's hooks: {"alignment/matched", "alignment/random", "alignment/best"}.
 * Cost: one F x C cosine matrix and Hungarian per draw (64 x 64: about a millisecond each).
 */
export function alignmentMetrics(reference: tf.Tensor | Float64Array[], target: tf.Tensor | Float64Array[], options: Partial<AlignmentOptions> = {}): Record<string, number> {
  const r = featureAlignment(reference, target, { randomDraws: 1, ...options });
  return { 'alignment/matched': r.observed.meanMatched, 'alignment/random': r.random.meanMatched, 'alignment/best': r.observed.meanBest };
}
