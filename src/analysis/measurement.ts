/**
 * The shape of one entry of the measurement registry (registry.ts): everything fsrgan needs to know about
 * a measurement (its name, the schema of its report, how it runs on a run and on a teacher alone, which
 * settings its numbers depend on, how it prints), so that adding one is one file plus one registry line.
 */
import type { AnalysisConfig } from './config.js';
import type { RunContext, TeacherContext } from './context.js';
import type { Schema } from './schema.js';

/** Results of one measurement: one report per subject ("learner", "random-init", "D_r8 vs G_r8", ...). */
export type Results<R> = Record<string, R>;

export interface Measurement<R = unknown, N extends string = string> {
  /** The name in `--what`, in `<what>.json` and as its reports' `kind`. */
  name: N;
  /** The schema of one report (schema.ts); `<what>.json` is checked against it. */
  schema: Schema;
  /**
   * It compares generated images with real ones: analyze opens the run's data for it, the images are drawn
   * once per call (RunContext.pyramids, TeacherContext.pair), and its cache key names which data was used.
   */
  realData?: boolean;
  /**
   * It needs real images and a feature extractor trained on them (the sample-quality metrics): it cannot run
   * on a synthetic teacher's runs, so `reproduce` plans it only on runs on image data.
   */
  imageData?: boolean;
  /** In the default `--what` of `fsrgan analyze <run>` and of `fsrgan analyze --teacher`. */
  defaults: { run: boolean; teacher: boolean };
  /** The parts of the analysis config its numbers depend on: they key the analysis cache (src/train/rundir.ts). */
  settings(c: AnalysisConfig): unknown;
  /** Its reports on a run; a UserError when the run lacks what it needs. */
  onRun(ctx: RunContext): Results<R>;
  /** Its reports on a teacher alone; absent when it cannot run there (then `noTeacher` says why). */
  onTeacher?(ctx: TeacherContext): Results<R>;
  /** The UserError message for `--teacher` when there is no onTeacher. */
  noTeacher?: string;
  /** Text lines (usually a table) describing its results. */
  format(results: [string, R][]): string[];
}

/** A measurement with its name's literal type kept (for ReportTypes in registry.ts). */
export function defineMeasurement<R, N extends string>(m: Measurement<R, N>): Measurement<R, N> {
  return m;
}

/** The named fields of the analysis config: the usual `settings` of a measurement. */
export function pick<K extends keyof AnalysisConfig>(c: AnalysisConfig, ...keys: K[]): Pick<AnalysisConfig, K> {
  return Object.fromEntries(keys.map((k) => [k, c[k]])) as Pick<AnalysisConfig, K>;
}
