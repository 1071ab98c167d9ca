/**
 * One sweep job, inside a run process (child.ts): train the run into `<root>/runs/<id>` (or resume it, or
 * find it complete), measure it against held-out data through the run's analysis cache
 * (src/train/rundir.ts, shared with `fsrgan analyze` and `reproduce`), and answer its summary.
 *
 * The run directory is a normal one (`fsrgan train --resume`, `fsrgan analyze` work on it) plus:
 * - `sweep-run.json`, the completion marker, created exclusively (link(2)): whoever creates it completed
 *   the run, and nobody trains a run that has it, so a run is completed once however often it is asked for;
 * - `sweep-events.jsonl`, one line per start, resume, completion and measurement, with the machine
 *   (os.hostname), worker id and pid that did it;
 * - `sweep-summary-<measureKey>.json`, the summary for `fsrgan sweep report`.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, link, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeldOutTeacherSource, heldOutSource, sourceSize } from '../data/index.js';
import { analyzeRun, type RunPieces } from '../analysis/pipeline.js';
import { measurement } from '../analysis/registry.js';
import { listCheckpoints } from '../train/checkpoint.js';
import { openTrainData } from '../train/data.js';
import { loadRun } from '../train/run.js';
import { cachedAnalyses, hasRunConfig, readRunConfig, runPaths } from '../train/rundir.js';
import { resumeTraining, train, type TrainOptions } from '../train/trainer.js';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { outputError, UserError } from '../util/errors.js';
import type { SweepJob } from './job.js';
import { runSteps } from '../experiments/plan.js';
import { runId } from './spec.js';
import { flattenAnalyses, type RunEvent, type RunSummary, type StatValue } from './summary.js';

export const MARKER = 'sweep-run.json';
export const EVENTS = 'sweep-events.jsonl';

/** Who works on a run: the machine and the worker (a `fsrgan worker` id, or local/<n>). */
export interface Who {
  machine: string;
  worker: string;
}

export interface RunHooks {
  /** Aborting checkpoints and stops the training (RunInterrupted). */
  signal?: AbortSignal;
  onProgress?: (step: number, steps: number) => void;
  log?: (line: string) => void;
}

/** The training stopped because it was asked to (Ctrl-C, a worker shutting down); it resumes later. */
export class RunInterrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunInterrupted';
  }
}

export const runDirOf = (root: string, id: string) => join(root, 'runs', id);
export const summaryPath = (dir: string, measureKey: string) => join(dir, `sweep-summary-${measureKey}.json`);

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Whether the run is complete (its marker names it). */
export async function isCompleted(dir: string, id: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as { id?: unknown }).id === id;
  } catch {
    return false;
  }
}

/** The events recorded in a run directory ([] when none); a partial last line (a killed writer) is skipped. */
export async function readEvents(dir: string): Promise<RunEvent[]> {
  const text = await readFile(join(dir, EVENTS), 'utf8').catch(() => '');
  const out: RunEvent[] = [];
  for (const line of text.split('\n')) {
    try {
      if (line.trim()) out.push(JSON.parse(line) as RunEvent);
    } catch {
      // a line cut by a kill
    }
  }
  return out;
}

async function record(dir: string, who: Who, event: RunEvent['event'], step: number | null): Promise<RunEvent> {
  const e: RunEvent = { event, machine: who.machine, worker: who.worker, pid: process.pid, time: new Date().toISOString(), step };
  await appendFile(join(dir, EVENTS), JSON.stringify(e) + '\n');
  return e;
}

/** G steps of the newest checkpoint (null: none readable). */
async function checkpointStep(dir: string): Promise<number | null> {
  const [newest] = await listCheckpoints(dir).catch(() => [] as string[]);
  if (!newest) return null;
  try {
    const s = JSON.parse(await readFile(join(newest, 'state.json'), 'utf8')) as { step?: unknown };
    return typeof s.step === 'number' ? s.step : null;
  } catch {
    return null;
  }
}

/** Creates the completion marker unless it exists; true when this call created it. */
async function markCompleted(dir: string, id: string, who: Who, backend: string): Promise<boolean> {
  const tmp = join(dir, `.${MARKER}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, JSON.stringify({ id, completed: new Date().toISOString(), machine: who.machine, worker: who.worker, backend }, null, 2) + '\n');
  try {
    await link(tmp, join(dir, MARKER));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The backend the run was created on (run.json). */
async function runBackend(dir: string): Promise<string> {
  try {
    const b = (JSON.parse(await readFile(runPaths(dir).run, 'utf8')) as { backend?: unknown }).backend;
    return typeof b === 'string' ? b : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The training options of a job. Its `workers` (cores per run, docs/sweeps.md "Cores per run") is the
 * trainer's `workers` (data-parallel replicas, `fsrgan train --workers`), passed on resume too, so that a
 * run trains with the same replica count on every executor and machine.
 */
function trainOptions(job: SweepJob, hooks: RunHooks): TrainOptions {
  let last = 0;
  const total = runSteps(job.config);
  const opts: TrainOptions & { workers?: number } = {
    signal: hooks.signal,
    onMessage: (m) => hooks.log?.(m),
    onProgress: (e) => {
      if (e.kind !== 'step' || !hooks.onProgress) return;
      const now = Date.now();
      if (now - last >= 500 || e.stageStep === e.stageSteps) {
        last = now;
        hooks.onProgress(e.step, total);
      }
    },
  };
  opts.workers = job.workers;
  return opts;
}

/** Trains (or resumes, or finds complete) the job's run, measures it and returns its summary. */
export async function runJob(job: SweepJob, root: string, who: Who, hooks: RunHooks = {}): Promise<RunSummary> {
  const t0 = performance.now();
  const dir = runDirOf(root, job.id);
  await mkdirs(dir).catch((e) => {
    throw outputError(e, dir, 'the run directory');
  });
  let status: RunSummary['status'] = 'reused';
  if (await isCompleted(dir, job.id)) {
    await record(dir, who, 'reused', null);
  } else {
    const resume = await hasRunConfig(dir);
    if (resume) {
      const held = runId(await readRunConfig(dir));
      if (held !== job.id) throw new UserError(`'${dir}' holds the run ${held}, not ${job.id}: the folder was renamed or edited; move it away.`);
    }
    await record(dir, who, resume ? 'resume' : 'start', resume ? await checkpointStep(dir) : 0);
    const opts = trainOptions(job, hooks);
    const res = resume ? await resumeTraining(dir, opts) : await train(job.config, dir, opts);
    if (!res.completed) {
      if (hooks.signal?.aborted) throw new RunInterrupted(`${job.id} interrupted at step ${res.step} (checkpoint saved; it resumes from there)`);
      throw new Error(`training ${job.id} stopped at step ${res.step} without completing`);
    }
    if (await markCompleted(dir, job.id, who, await runBackend(dir))) {
      await record(dir, who, 'completed', res.step);
      status = resume ? 'resumed' : 'trained';
    }
  }
  const stats = await measureRun(job, dir, hooks.log ?? (() => {}));
  await record(dir, who, 'measured', null);
  const summary: RunSummary = {
    id: job.id,
    group: job.group,
    axes: job.axes,
    seed: job.seed,
    measureKey: job.measureKey,
    backend: await runBackend(dir),
    stats,
    status,
    events: await readEvents(dir),
    seconds: (performance.now() - t0) / 1000,
  };
  await writeFileAtomic(summaryPath(dir, job.measureKey), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The job's analyses of the finished run, against held-out data, through the run's analysis cache. */
async function measureRun(job: SweepJob, dir: string, log: (line: string) => void): Promise<Record<string, StatValue>> {
  const loaded = await loadRun(dir, { source: false });
  try {
    const config = loaded.config;
    const pieces: RunPieces = { dir, config, generator: loaded.generator, discriminators: loaded.discriminators, source: null, teacher: loaded.teacher, outputs: loaded.outputs };
    let c = job.analysis;
    if (job.analyses.some((w) => measurement(w).realData)) {
      // As reproduce measures (src/experiments/run.ts): the teacher's held-out stream, or the dataset's held-out split.
      pieces.source = loaded.teacher
        ? new HeldOutTeacherSource(loaded.teacher, config.seed, config.generator.resolutions.length)
        : heldOutSource((await openTrainData(config, log)).source, null, config.seed);
      const n = sourceSize(pieces.source);
      if (n !== null && n < c.samples) c = { ...c, samples: n };
    }
    const files = await cachedAnalyses(loaded, job.analyses, c, { generator: 'learner', real: 'held-out' }, (missing) => analyzeRun(pieces, missing, c, log), log);
    return flattenAnalyses(files);
  } finally {
    loaded.dispose();
  }
}

/** The stored summary of a run for a measure key (null when there is none, or it is unreadable). */
export async function readSummary(dir: string, measureKey: string): Promise<RunSummary | null> {
  const p = summaryPath(dir, measureKey);
  if (!(await exists(p))) return null;
  try {
    return JSON.parse(await readFile(p, 'utf8')) as RunSummary;
  } catch {
    return null;
  }
}
