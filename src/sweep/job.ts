/**
 * A sweep job: everything a worker needs to train and measure one run, as plain data. The same object is
 * what the local executor hands its run processes and what `--queue` stores in BullMQ (job id = run id).
 * A worker trusts none of it: `validateJob` checks every field, resolves the config with the training
 * config's own checks (src/train/config.ts) and recomputes the run id from it, so a job can only ever
 * name a run to train, never a command or a path of its own choosing (the run directory is the worker's
 * `<out>/runs/<id>`). docs/sweeps.md.
 */
import { resolveAnalysisConfig, type AnalysisConfig } from '../analysis/pipeline.js';
import { findMeasurement } from '../analysis/registry.js';
import { resolveConfig, type TrainConfig } from '../train/config.js';
import { checkJsonDepth } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { measureKeyOf, NAME_RE, runId, type AxisValue, type Sweep, type SweepRun } from './spec.js';

/** The job format this fsrgan writes and reads. */
export const JOB_FORMAT = 1;
/** Largest job payload accepted (JSON characters). */
export const MAX_JOB_CHARS = 256 * 1024;

export interface SweepJob {
  v: typeof JOB_FORMAT;
  /** The sweep's name (logs only). */
  sweep: string;
  id: string;
  seed: number;
  group: string;
  axes: Record<string, AxisValue>;
  config: TrainConfig;
  workers: number;
  analyses: string[];
  analysis: AnalysisConfig;
  /** measureKeyOf(analyses, analysis): tells a summary measured for this job from one of another sweep. */
  measureKey: string;
}

const KEYS: (keyof SweepJob)[] = ['v', 'sweep', 'id', 'seed', 'group', 'axes', 'config', 'workers', 'analyses', 'analysis', 'measureKey'];

/** The job of one run of a sweep. */
export function jobOf(sweep: Sweep, run: SweepRun): SweepJob {
  const s = sweep.spec;
  return { v: JOB_FORMAT, sweep: s.name, id: run.id, seed: run.seed, group: run.group, axes: run.axes, config: run.config, workers: s.workers, analyses: s.analyses, analysis: s.analysis, measureKey: sweep.measureKey };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks a job payload (parsed JSON from the queue or a parent process) and returns it resolved; a
 * UserError names the job and the field. `jobId` is the queue's id of the job (null when there is none).
 */
export function validateJob(data: unknown, jobId: string | null): SweepJob {
  const name = jobId ?? (isObject(data) && typeof data.id === 'string' ? data.id : '?');
  const fail = (msg: string): never => {
    throw new UserError(`job ${String(name).slice(0, 80)}: ${msg}`);
  };
  if (!isObject(data)) return fail('the payload must be a JSON object (a sweep job written by fsrgan sweep --queue).');
  let size: number;
  try {
    checkJsonDepth(data, 'the payload');
    size = JSON.stringify(data).length;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (size > MAX_JOB_CHARS) fail(`the payload is ${size} characters, more than the ${MAX_JOB_CHARS} a job may have.`);
  for (const k of Object.keys(data)) if (!(KEYS as string[]).includes(k)) fail(`unknown field '${k.slice(0, 40)}'; a job has ${KEYS.join(', ')}.`);
  for (const k of KEYS) if (data[k] === undefined) fail(`the field '${k}' is missing.`);
  if (data.v !== JOB_FORMAT) fail(`v: this fsrgan reads jobs of format ${JOB_FORMAT}, got ${JSON.stringify(data.v)}; run the same fsrgan version on every machine.`);
  if (typeof data.sweep !== 'string' || !NAME_RE.test(data.sweep)) fail('sweep must be a plain word (letters, digits, ., _, -).');
  let config: TrainConfig;
  try {
    config = resolveConfig(data.config);
  } catch (e) {
    if (e instanceof UserError) return fail(`the payload is not a valid fsrgan config: ${e.message.replace(/^the config must/, 'config must')}`);
    throw e;
  }
  const id = runId(config);
  if (data.id !== id) fail(`id ${JSON.stringify(data.id)} is not the id of its config (${id}): the job was altered, or written by another fsrgan version.`);
  if (jobId !== null && jobId !== id) fail(`the queue's job id is not the run id of its config (${id}).`);
  if (data.seed !== config.seed) fail(`seed ${JSON.stringify(data.seed)} differs from config.seed ${config.seed}.`);
  if (typeof data.group !== 'string' || data.group.length > 400) fail('group must be a string of at most 400 characters.');
  if (!isObject(data.axes)) fail('axes must be an object of axis values.');
  if (!Number.isInteger(data.workers) || (data.workers as number) < 1 || (data.workers as number) > 1024) fail(`workers must be a whole number from 1 to 1024, got ${JSON.stringify(data.workers)}.`);
  if (!Array.isArray(data.analyses) || data.analyses.some((a) => typeof a !== 'string' || !findMeasurement(a))) {
    fail(`analyses must be a list of measurement names known to this fsrgan, got ${JSON.stringify(data.analyses).slice(0, 80)}.`);
  }
  let analysis: AnalysisConfig;
  try {
    analysis = resolveAnalysisConfig(data.analysis);
  } catch (e) {
    if (e instanceof UserError) return fail(`analysis: ${e.message}`);
    throw e;
  }
  const analyses = data.analyses as string[];
  if (data.measureKey !== measureKeyOf(analyses, analysis)) fail('measureKey does not match its analyses and analysis settings: the job was altered, or written by another fsrgan version.');
  return { v: JOB_FORMAT, sweep: data.sweep as string, id, seed: config.seed, group: data.group as string, axes: data.axes as Record<string, AxisValue>, config, workers: data.workers as number, analyses, analysis, measureKey: data.measureKey as string };
}
