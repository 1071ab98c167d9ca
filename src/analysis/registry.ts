/**
 * The measurement registry: one entry per measurement (entries/<name>.ts, shaped by measurement.ts).
 * `fsrgan analyze`, the pipeline (pipeline.ts), the validators (validate.ts), the text tables (format.ts)
 * and the analysis cache (src/train/rundir.ts) all go through it, so a new measurement is its file in
 * entries/ plus one line in BUILTIN below (docs/analysis.md). Tests and notebooks may add one at run
 * time with registerMeasurement.
 */
import { alignment } from './entries/alignment.js';
import { locality } from './entries/locality.js';
import { moments } from './entries/moments.js';
import { recovery } from './entries/recovery.js';
import { sparsity } from './entries/sparsity.js';
import { swd } from './entries/swd.js';
import { fidEntry } from './entries/fid.js';
import { kidEntry } from './entries/kid.js';
import { isEntry } from './entries/is.js';
import { prEntry } from './entries/pr.js';
import { supportEntry } from './entries/support.js';
import type { Measurement } from './measurement.js';

/** The built-in measurements, in the order `--what` lists and runs them. */
export const BUILTIN = [
  sparsity,
  moments,
  alignment,
  recovery,
  locality,
  swd,
  fidEntry,
  kidEntry,
  isEntry,
  prEntry,
  supportEntry,
] as const;

type Builtin = (typeof BUILTIN)[number];

/** The names of the built-in measurements (what figures and claims can ask for). */
export type AnalysisName = Builtin['name'];

/** The report type of each built-in measurement, by name. */
export type ReportTypes = { [M in Builtin as M['name']]: M extends Measurement<infer R, string> ? R : never };

/** The built-in names, in registry order. */
export const ANALYSES: readonly AnalysisName[] = BUILTIN.map((m) => m.name);

const registry = new Map<string, Measurement>(BUILTIN.map((m) => [m.name, m as Measurement]));

/**
 * Adds a measurement (a test's or a notebook's own); returns a function that removes it again. A name
 * already taken, or one that is not a plain word, is refused: names become file names and `--what` items.
 */
export function registerMeasurement<R>(m: Measurement<R>): () => void {
  if (!/^[a-z][a-z0-9-]*$/.test(m.name)) throw new Error(`registerMeasurement: '${m.name}' is not a lower-case word (letters, digits, '-')`);
  if (registry.has(m.name)) throw new Error(`registerMeasurement: '${m.name}' is already registered`);
  registry.set(m.name, m as Measurement);
  return () => {
    if (registry.get(m.name) === m) registry.delete(m.name);
  };
}

/** The measurement of that name, or undefined. */
export function findMeasurement(name: string): Measurement | undefined {
  return registry.get(name);
}

/** The measurement of that name; an Error when there is none (names are checked at the boundary: parseWhat). */
export function measurement(name: string): Measurement {
  const m = registry.get(name);
  if (!m) throw new Error(`no measurement named '${name}' (known: ${measurementNames().join(', ')})`);
  return m;
}

/** Every registered name: the built-ins in registry order, then the added ones in the order added. */
export function measurementNames(): string[] {
  return [...registry.keys()];
}

/** The default `--what` of `fsrgan analyze <run>` ('run') or `--teacher` ('teacher'). */
export function defaultWhat(on: 'run' | 'teacher'): string[] {
  return [...registry.values()].filter((m) => m.defaults[on]).map((m) => m.name);
}
