/**
 * Type guards for analysis results, so that `<runDir>/analysis/<what>.json` can be parsed against the
 * exported types (notebooks, tests). Each report is checked against the schema its measurement declares
 * in the registry (registry.ts). JSON cannot hold NaN or Infinity: `toJson` writes them as the strings
 * "NaN", "Infinity", "-Infinity" and `parseJson` turns them back into numbers.
 */
import { findMeasurement, measurement, measurementNames, type AnalysisName, type ReportTypes } from './registry.js';
import { num, obj, schemaProblems, str } from './schema.js';

export { ANALYSES, type AnalysisName, type ReportTypes } from './registry.js';

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

/** The same for any registered measurement, built-in or added at run time (registerMeasurement). */
export interface AnyAnalysisFile {
  what: string;
  source: string;
  backend: string;
  seconds: number;
  results: Record<string, unknown>;
}

/** Problems of `v` as a report of kind `what` (empty when valid). */
export function reportProblems(what: string, v: unknown): string[] {
  return schemaProblems(v, measurement(what).schema, what);
}

export const isSparsityReport = (v: unknown): v is ReportTypes['sparsity'] => reportProblems('sparsity', v).length === 0;
export const isMomentReport = (v: unknown): v is ReportTypes['moments'] => reportProblems('moments', v).length === 0;
export const isAlignmentReport = (v: unknown): v is ReportTypes['alignment'] => reportProblems('alignment', v).length === 0;
export const isRecoveryReport = (v: unknown): v is ReportTypes['recovery'] => reportProblems('recovery', v).length === 0;
export const isLocalityReport = (v: unknown): v is ReportTypes['locality'] => reportProblems('locality', v).length === 0;
export const isSwdReport = (v: unknown): v is ReportTypes['swd'] => reportProblems('swd', v).length === 0;

/** Problems of `v` as the content of `<what>.json`. */
export function analysisFileProblems(v: unknown): string[] {
  const top = schemaProblems(v, obj({ what: str, source: str, backend: str, seconds: num, results: { record: obj({}) } }), 'file');
  if (top.length) return top;
  const f = v as { what: string; results: Record<string, unknown> };
  const m = findMeasurement(f.what);
  if (!m) return [`file.what must be one of ${measurementNames().join(', ')}`];
  return Object.entries(f.results).flatMap(([k, r]) => schemaProblems(r, m.schema, `file.results.${k}`));
}

export function isAnalysisFile(v: unknown): v is AnyAnalysisFile {
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
