/**
 * Recovery of the teacher (docs/theory.md 3.4, synthetic data): the learned output dictionaries A_l against
 * the teacher's A*_l up to a permutation of atoms (Hungarian on |cos|; the learner may be wider, so every
 * teacher atom gets a distinct learned atom), per layer; and, when sparsity reports of both generators
 * are given, the relative error of the learned hidden-layer statistics.
 */
import type * as tf from '@tensorflow/tfjs';
import type { GeneratorParams } from '../models/generator.js';
import { bankColumns, type Method } from './common.js';
import { matchBanks } from './alignment.js';
import type { SparsityReport } from './sparsity.js';

export interface RecoveryOptions {
  /** An atom counts as recovered when its matched |cos| exceeds this. */
  threshold: number;
}

export const DEFAULT_RECOVERY: RecoveryOptions = { threshold: 0.9 };

export interface DictionaryRecovery {
  /** Mean matched |cos| over teacher atoms. */
  meanMatched: number;
  /** Fraction of teacher atoms whose matched |cos| > threshold. */
  recovered: number;
  /** Mean signed cos over the matching (ReLU codes are non-negative, so sign flips are real errors). */
  meanSigned: number;
  /** Matched |cos| of each teacher atom, in teacher order. */
  perAtom: number[];
  /** matchedTo[i] = learned atom matched to teacher atom i. */
  matchedTo: number[];
}

export interface LayerRecovery extends DictionaryRecovery {
  layer: number;
  resolution: number;
  teacherAtoms: number;
  learnedAtoms: number;
  /** |learned - teacher| / teacher of hidden-layer statistics (null without sparsity reports). */
  stats: { meanActive: number; activeFraction: number; hoyer: number } | null;
}

export interface RecoveryReport {
  kind: 'recovery';
  method: Method;
  layers: LayerRecovery[];
}

/** Recovery of one dictionary: `learned` [P,P,3,C'] (or columns) against `teacher` [P,P,3,C]. */
export function dictionaryRecovery(learned: tf.Tensor | Float64Array[], teacher: tf.Tensor | Float64Array[], threshold = DEFAULT_RECOVERY.threshold): DictionaryRecovery {
  const t = bankColumns(teacher, 'dictionaryRecovery');
  const m = matchBanks(t, bankColumns(learned, 'dictionaryRecovery'), 'dictionaryRecovery');
  const perAtom = new Array<number>(t.length).fill(0);
  const signed = new Array<number>(t.length).fill(0);
  const matchedTo = new Array<number>(t.length).fill(-1);
  for (const [i, j, c] of m.pairs) {
    perAtom[i] = Math.abs(c);
    signed[i] = c;
    matchedTo[i] = j;
  }
  // A narrower learner leaves teacher atoms unmatched: they count as |cos| 0.
  return {
    meanMatched: perAtom.reduce((a, b) => a + b, 0) / t.length,
    recovered: perAtom.filter((c) => c > threshold).length / t.length,
    meanSigned: signed.reduce((a, b) => a + b, 0) / t.length,
    perAtom,
    matchedTo,
  };
}

const rel = (a: number, b: number) => (b !== 0 ? Math.abs(a - b) / Math.abs(b) : Math.abs(a - b));

/**
 * Per layer recovery of a learner's output heads against a teacher's (same resolutions and patch).
 * `learnedStats`/`teacherStats`: sparsity reports of the two generators (same layers), optional.
 */
export function teacherRecovery(
  learned: GeneratorParams,
  teacher: GeneratorParams,
  options: Partial<RecoveryOptions> = {},
  learnedStats?: SparsityReport,
  teacherStats?: SparsityReport,
): RecoveryReport {
  const o = { ...DEFAULT_RECOVERY, ...options };
  const rs = teacher.shape.resolutions;
  if (learned.shape.patch !== teacher.shape.patch) throw new Error(`teacherRecovery: learner patch ${learned.shape.patch} differs from the teacher's ${teacher.shape.patch}`);
  const layers = rs.map((r, l): LayerRecovery => {
    const lb = learned.blocks[r];
    if (!lb) throw new Error(`teacherRecovery: the learner has no block at resolution ${r}`);
    const d = dictionaryRecovery(lb.out, teacher.blocks[r].out, o.threshold);
    const ls = learnedStats?.layers[l];
    const ts = teacherStats?.layers[l];
    return {
      layer: l + 1,
      resolution: r,
      teacherAtoms: teacher.shape.channels[l],
      learnedAtoms: learned.shape.channels[l],
      ...d,
      stats:
        ls && ts
          ? { meanActive: rel(ls.exact.meanActive, ts.exact.meanActive), activeFraction: rel(ls.exact.activeFraction, ts.exact.activeFraction), hoyer: rel(ls.hoyer, ts.hoyer) }
          : null,
    };
  });
  return {
    kind: 'recovery',
    method: {
      computation:
        'per layer: out-weight atoms flattened and normalised, Hungarian matching of teacher atoms to distinct learned atoms on |cos|; stats = relative error of exact active count, active fraction and Hoyer',
      params: { threshold: o.threshold, withStats: Boolean(learnedStats && teacherStats) },
    },
    layers,
  };
}
