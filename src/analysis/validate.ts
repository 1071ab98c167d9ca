/**
 * Type guards for analysis results, so that `<runDir>/analysis/<what>.json` can be parsed against the
 * exported types (notebooks, tests). JSON cannot hold NaN or Infinity: `toJson` writes them as the
 * strings "NaN", "Infinity", "-Infinity" and `parseJson` turns them back into numbers.
 */
import type { AlignmentReport } from './alignment.js';
import type { LocalityReport } from './locality.js';
import type { MomentReport } from './moments.js';
import type { RecoveryReport } from './recovery.js';
import type { SparsityReport } from './sparsity.js';
import type { SwdReport } from './swd.js';

type Schema =
  | 'number'
  | 'string'
  | 'boolean'
  | { literal: string }
  | { array: Schema }
  | { tuple: Schema[] }
  | { object: Record<string, Schema> }
  | { record: Schema }
  | { nullable: Schema }
  | { anyOf: Schema[] };

/** Problems of `v` against `s` (empty when it conforms); paths like `layers[0].exact.meanActive`. */
function problems(v: unknown, s: Schema, path: string): string[] {
  if (s === 'number') return typeof v === 'number' ? [] : [`${path} must be a number`];
  if (s === 'string') return typeof v === 'string' ? [] : [`${path} must be a string`];
  if (s === 'boolean') return typeof v === 'boolean' ? [] : [`${path} must be a boolean`];
  if ('literal' in s) return v === s.literal ? [] : [`${path} must be '${s.literal}'`];
  if ('nullable' in s) return v === null ? [] : problems(v, s.nullable, path);
  if ('anyOf' in s) return s.anyOf.some((x) => problems(v, x, path).length === 0) ? [] : [`${path} has none of the allowed types`];
  if ('array' in s) {
    if (!Array.isArray(v)) return [`${path} must be an array`];
    return v.flatMap((x, i) => problems(x, s.array, `${path}[${i}]`));
  }
  if ('tuple' in s) {
    if (!Array.isArray(v) || v.length !== s.tuple.length) return [`${path} must be an array of ${s.tuple.length}`];
    return s.tuple.flatMap((x, i) => problems(v[i], x, `${path}[${i}]`));
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${path} must be an object`];
  const o = v as Record<string, unknown>;
  if ('record' in s) return Object.entries(o).flatMap(([k, x]) => problems(x, s.record, `${path}.${k}`));
  return Object.entries(s.object).flatMap(([k, x]) => (k in o ? problems(o[k], x, `${path}.${k}`) : [`${path}.${k} is missing`]));
}

const num = 'number' as const;
const str = 'string' as const;
const arr = (a: Schema): Schema => ({ array: a });
const obj = (o: Record<string, Schema>): Schema => ({ object: o });
const method = obj({ computation: str, params: { record: { anyOf: [num, str, 'boolean'] } } });
const counts = obj({ meanActive: num, stdActive: num, activeFraction: num, histogram: arr(num) });
const orderError = obj({ order: num, relError: num, absError: num, normReal: num, noiseFloor: { nullable: num } });
const matchStats = obj({ meanMatched: num, meanBest: num, meanAll: num });

const SCHEMAS = {
  sparsity: obj({
    kind: { literal: 'sparsity' },
    method,
    layers: arr(
      obj({ layer: num, resolution: num, channels: num, positions: num, exact: counts, relative: counts, hoyer: num, emptyFraction: num, maxActivation: num }),
    ),
  }),
  moments: obj({
    kind: { literal: 'moments' },
    method,
    levels: arr(
      obj({
        resolution: num,
        patchesReal: num,
        patchesFake: num,
        orders: arr(orderError),
        cross: { nullable: orderError },
        code: { nullable: obj({ source: str, features: num, orders: arr(orderError) }) },
      }),
    ),
  }),
  alignment: obj({
    kind: { literal: 'alignment' },
    method,
    reference: num,
    target: num,
    dim: num,
    observed: matchStats,
    random: obj({ meanMatched: num, stdMatched: num, meanBest: num, meanAll: num, draws: num }),
    pairs: arr({ tuple: [num, num, num] }),
  }),
  recovery: obj({
    kind: { literal: 'recovery' },
    method,
    layers: arr(
      obj({
        layer: num,
        resolution: num,
        teacherAtoms: num,
        learnedAtoms: num,
        meanMatched: num,
        recovered: num,
        meanSigned: num,
        perAtom: arr(num),
        matchedTo: arr(num),
        stats: { nullable: obj({ meanActive: num, activeFraction: num, hoyer: num }) },
      }),
    ),
  }),
  locality: obj({
    kind: { literal: 'locality' },
    method,
    layers: arr(
      obj({
        layer: num,
        resolution: num,
        positions: arr({ tuple: [num, num] }),
        profile: arr(obj({ distance: num, meanAbsChange: num, relative: num, pixels: num })),
        observedRadius: num,
        receptiveRadius: num,
      }),
    ),
  }),
  swd: obj({ kind: { literal: 'swd' }, method, levels: arr(obj({ resolution: num, patch: num, descriptors: num, swd: num })) }),
} satisfies Record<string, Schema>;

/** The measurements, by the name used in `--what` and in `<what>.json`. */
export const ANALYSES = ['sparsity', 'moments', 'alignment', 'recovery', 'locality', 'swd'] as const;
export type AnalysisName = (typeof ANALYSES)[number];

export interface ReportTypes {
  sparsity: SparsityReport;
  moments: MomentReport;
  alignment: AlignmentReport;
  recovery: RecoveryReport;
  locality: LocalityReport;
  swd: SwdReport;
}

/**
 * The content of `<what>.json`: one report per subject (e.g. sparsity: "teacher", "learner",
 * "random-init"; alignment: "D_r8 vs G_r8"), plus where it came from.
 */
export interface AnalysisFile<W extends AnalysisName = AnalysisName> {
  what: W;
  /** The run directory or teacher config analysed. */
  source: string;
  /** tfjs backend and seconds taken. */
  backend: string;
  seconds: number;
  results: Record<string, ReportTypes[W]>;
}

/** Problems of `v` as a report of kind `what` (empty when valid). */
export function reportProblems(what: AnalysisName, v: unknown): string[] {
  return problems(v, SCHEMAS[what], what);
}

export const isSparsityReport = (v: unknown): v is SparsityReport => reportProblems('sparsity', v).length === 0;
export const isMomentReport = (v: unknown): v is MomentReport => reportProblems('moments', v).length === 0;
export const isAlignmentReport = (v: unknown): v is AlignmentReport => reportProblems('alignment', v).length === 0;
export const isRecoveryReport = (v: unknown): v is RecoveryReport => reportProblems('recovery', v).length === 0;
export const isLocalityReport = (v: unknown): v is LocalityReport => reportProblems('locality', v).length === 0;
export const isSwdReport = (v: unknown): v is SwdReport => reportProblems('swd', v).length === 0;

/** Problems of `v` as the content of `<what>.json`. */
export function analysisFileProblems(v: unknown): string[] {
  const top = problems(v, obj({ what: str, source: str, backend: str, seconds: num, results: { record: obj({}) } }), 'file');
  if (top.length) return top;
  const f = v as { what: string; results: Record<string, unknown> };
  if (!(ANALYSES as readonly string[]).includes(f.what)) return [`file.what must be one of ${ANALYSES.join(', ')}`];
  return Object.entries(f.results).flatMap(([k, r]) => problems(r, SCHEMAS[f.what as AnalysisName], `file.results.${k}`));
}

export function isAnalysisFile(v: unknown): v is AnalysisFile {
  return analysisFileProblems(v).length === 0;
}

/** JSON text with non-finite numbers as strings (see parseJson). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x), 2);
}

/** Parses JSON written by toJson, restoring "NaN" / "Infinity" / "-Infinity" to numbers. */
export function parseJson(text: string): unknown {
  return JSON.parse(text, (_k, x) => (x === 'NaN' ? NaN : x === 'Infinity' ? Infinity : x === '-Infinity' ? -Infinity : x));
}

/** Parses `<what>.json` text and checks it; throws an Error listing the first problems. */
export function parseAnalysisFile(text: string): AnalysisFile {
  const v = parseJson(text);
  const p = analysisFileProblems(v);
  if (p.length) throw new Error(`parseAnalysisFile: ${p.slice(0, 5).join('; ')}`);
  return v as AnalysisFile;
}
