/**
 * Running the measurements of docs/theory.md section 3 on whole models: a run directory's pieces (from
 * `loadRun` in src/train/run.ts) or a teacher alone. Each measurement of the registry (registry.ts)
 * becomes one AnalysisFile (validate.ts) with one report per subject ("learner", "random-init",
 * "teacher", "D_r8 vs G_r8", ...). The parameters are one config object (config.ts; docs/analysis.md).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import type { Teacher } from '../teacher/index.js';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { outputError, UserError } from '../util/errors.js';
import type { ImageArray } from './common.js';
import { DEFAULT_ANALYSIS, type AnalysisConfig } from './config.js';
import { generatorImages, sourceImages, type Log, type RunContext, type RunPieces, type TeacherContext } from './context.js';
import type { Measurement, Results } from './measurement.js';
import { measurement, measurementNames } from './registry.js';
import { toJson, type AnalysisFile, type AnyAnalysisFile } from './validate.js';

export { DEFAULT_ANALYSIS, resolveAnalysisConfig, type AnalysisConfig } from './config.js';
export { generatorImages, sourceImages, type Log, type RunPieces } from './context.js';

function timed(m: Measurement, source: string, log: Log, body: () => Results<unknown>): AnyAnalysisFile {
  const t0 = performance.now();
  log(`analyze: ${m.name} ...`);
  const results = body();
  const seconds = (performance.now() - t0) / 1000;
  log(`analyze: ${m.name} done in ${seconds.toFixed(1)} s`);
  return { what: m.name, source, backend: tf.getBackend(), seconds, results };
}

/**
 * Runs `what` on a loaded run: learner against real data, D against G, learner against teacher.
 * Generated images are taken at the levels in `run.outputs` only. The files come in the order of `what`
 * (typed as built-in files; one of a measurement added at run time has its own report type).
 */
export function analyzeRun(run: RunPieces, what: readonly string[], config: AnalysisConfig = DEFAULT_ANALYSIS, log: Log = () => {}): AnalysisFile[] {
  const c = config;
  const rs = run.generator.shape.resolutions;
  const upTo = Math.max(0, ...run.outputs.map((r) => rs.indexOf(r) + 1));
  let images: { real: ImageArray[]; fake: ImageArray[] } | null = null;
  const ctx: RunContext = {
    run,
    config: c,
    levels: rs.slice(0, upTo),
    pyramids: () => {
      if (!run.source) throw new UserError(`moments and swd need the run's data, which could not be opened for '${run.dir}'.`);
      if (upTo === 0) throw new UserError(`the run in '${run.dir}' has no trained stage yet: nothing to compare.`);
      // Real images first, then generated: the real ones are the source's first draw whatever else runs.
      images ??= { real: sourceImages(run.source, c.samples, c.chunk).slice(0, upTo), fake: generatorImages(run.learner?.forward ? run.learner : run.generator, c.samples, c.seed, upTo, c.chunk) };
      return images;
    },
  };
  return what.map((w) => {
    const m = measurement(w);
    // Drawing the images is not part of a measurement's seconds.
    if (m.realData) ctx.pyramids();
    return timed(m, run.dir, log, () => m.onRun(ctx));
  }) as AnalysisFile[];
}

/**
 * The teacher alone: sparsity and locality of the teacher (and of a random-init learner of its shape),
 * moments and SWD of two independent teacher samples (a sanity noise floor: both should be near the
 * floor), and recovery of the teacher against itself (1.0 by construction).
 */
export function analyzeTeacher(teacher: Teacher, what: readonly string[], config: AnalysisConfig = DEFAULT_ANALYSIS, label = 'teacher', log: Log = () => {}): AnalysisFile[] {
  const c = config;
  const t = teacher.params;
  const L = t.shape.resolutions.length;
  let halves: { a: ImageArray[]; b: ImageArray[] } | null = null;
  const ctx: TeacherContext = {
    teacher,
    config: c,
    pair: () => (halves ??= { a: generatorImages(t, c.samples, c.seed, L, c.chunk), b: generatorImages(t, c.samples, c.seed + 1, L, c.chunk) }),
  };
  const files: AnyAnalysisFile[] = [];
  for (const w of what) {
    const m = measurement(w);
    const onTeacher = m.onTeacher?.bind(m);
    if (!onTeacher) throw new UserError(m.noTeacher ?? `${m.name} cannot run on a teacher alone: analyse a run directory, not --teacher.`);
    if (m.realData) ctx.pair();
    files.push(timed(m, label, log, () => onTeacher(ctx)));
  }
  return files as AnalysisFile[];
}

/** Parses a --what list ("sparsity,moments") against the registry; a UserError names an unknown entry. */
export function parseWhat(list: string | undefined, dflt: readonly string[]): string[] {
  if (!list) return [...dflt];
  const items = list.split(',').map((s) => s.trim()).filter(Boolean);
  const known = measurementNames();
  for (const i of items) {
    if (!known.includes(i)) throw new UserError(`--what: unknown measurement '${i}'; use a comma-separated list of ${known.join(', ')}.`);
  }
  return items;
}

/** Writes each file as `<dir>/<what>.json`; returns the paths. */
export async function writeAnalysisFiles(dir: string, files: AnyAnalysisFile[]): Promise<string[]> {
  const paths: string[] = [];
  try {
    await mkdirs(dir);
    for (const f of files) {
      const p = join(dir, `${f.what}.json`);
      await writeFileAtomic(p, toJson(f) + '\n');
      paths.push(p);
    }
  } catch (e) {
    throw outputError(e, dir, 'the analysis folder');
  }
  return paths;
}
