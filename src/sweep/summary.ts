/**
 * A run's summary: what the sweep report needs of one finished run (its point, seed, backend and every
 * number of its analyses, flattened to `<what>.<subject>.<path>`) and, apart, who produced it. It is the
 * run process's answer, stored in the run directory (`sweep-summary-<measureKey>.json`) and, with
 * `--queue`, as the BullMQ job's return value, so that a report can be built from either. JSON cannot hold
 * NaN or Infinity: such values are stored as the strings "NaN", "Infinity", "-Infinity".
 */
import type { AnyAnalysisFile } from '../analysis/validate.js';
import type { AxisValue } from './spec.js';

export type StatValue = number | 'NaN' | 'Infinity' | '-Infinity';

/** One piece of work on a run: who did it, where, when (docs/sweeps.md "Provenance"). */
export interface RunEvent {
  event: 'start' | 'resume' | 'completed' | 'measured' | 'reused';
  machine: string;
  worker: string;
  pid: number;
  time: string;
  /** G steps of the run when the event happened (null: unknown). */
  step: number | null;
}

export interface RunSummary {
  id: string;
  group: string;
  axes: Record<string, AxisValue>;
  seed: number;
  /** The analyses and settings measured (measureKeyOf). */
  measureKey: string;
  /** The tfjs backend the run was trained on. */
  backend: string;
  stats: Record<string, StatValue>;
  /** How this request found the run: trained now, resumed, or complete already. */
  status: 'trained' | 'resumed' | 'reused';
  /** Every event recorded in the run directory (sweep-events.jsonl), this request's included. */
  events: RunEvent[];
  /** Seconds this request took (training and measuring). */
  seconds: number;
}

export const encodeStat = (x: number): StatValue => (Number.isFinite(x) ? x : (String(x) as StatValue));
export const decodeStat = (v: StatValue): number => (typeof v === 'number' ? v : Number(v));

/** A label for an array element: r<resolution>, l<layer>, o<order>, or its index when those do not tell elements apart. */
function elementLabels(arr: unknown[]): string[] {
  for (const [key, prefix] of [['resolution', 'r'], ['layer', 'l'], ['order', 'o']] as const) {
    const vals = arr.map((e) => (e !== null && typeof e === 'object' && typeof (e as Record<string, unknown>)[key] === 'number' ? (e as Record<string, number>)[key] : null));
    if (vals.every((v) => v !== null) && new Set(vals).size === vals.length) return vals.map((v) => `${prefix}${v}`);
  }
  return arr.map((_e, i) => String(i));
}

function walk(v: unknown, path: string, out: Record<string, StatValue>): void {
  if (typeof v === 'number') out[path] = encodeStat(v);
  else if (Array.isArray(v)) {
    const labels = elementLabels(v);
    v.forEach((e, i) => walk(e, `${path}.${labels[i]}`, out));
  } else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, out);
}

/** Every number of the analyses' results, by `<what>.<subject>.<path>` (arrays by resolution or layer). */
export function flattenAnalyses(files: AnyAnalysisFile[]): Record<string, StatValue> {
  const out: Record<string, StatValue> = {};
  for (const f of files) for (const [subject, report] of Object.entries(f.results)) walk(report, `${f.what}.${subject}`, out);
  return out;
}

/** Whether a statistic name matches a pattern, where `*` stands for any run of characters. */
export function matchStat(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}

/** Problems of a value as a RunSummary (empty when it is one); the report checks what it reads. */
export function summaryProblems(v: unknown): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return ['not an object'];
  const s = v as Record<string, unknown>;
  const p: string[] = [];
  for (const k of ['id', 'group', 'measureKey', 'backend', 'status'] as const) if (typeof s[k] !== 'string') p.push(`${k} must be a string`);
  if (!Number.isInteger(s.seed)) p.push('seed must be an integer');
  if (s.axes === null || typeof s.axes !== 'object') p.push('axes must be an object');
  if (s.stats === null || typeof s.stats !== 'object') p.push('stats must be an object');
  else for (const [k, x] of Object.entries(s.stats as object)) if (typeof x !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(x as string)) p.push(`stats.${k} is not a number`);
  if (!Array.isArray(s.events)) p.push('events must be a list');
  return p;
}
