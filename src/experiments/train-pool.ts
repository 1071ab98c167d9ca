/**
 * `reproduce --jobs N`: the planned runs are independent, so N processes (train-child.ts) train and measure
 * them side by side, each run on `workers` replicas (default 1). On wasm and cpu a replica computes on one
 * thread, and N one-replica processes use N cores better than one process of N replicas, which waits at
 * every step for the slowest replica and averages gradients (docs/speed.md). A run is the same bits as
 * `fsrgan train --workers <workers>` of its config, whichever process trains it.
 *
 * The longest runs (in G steps) start first, so that no process is left with a long run at the end.
 * A failed run stops the pool: the running ones finish, then the first failure is thrown (a UserError for
 * bad input, as in the one-process loop). Every run's folder is its own, and a complete one is found
 * complete, so `reproduce` run again continues where an interrupted pool stopped.
 */
import type { ChildProcess } from 'node:child_process';
import { closeChild, forkTs } from '../util/child.js';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { AnalysisConfig } from '../analysis/pipeline.js';
import { UserError } from '../util/errors.js';
import { sourceRoot } from '../parallel/pool.js';
import { runSteps, type PlannedRun } from './plan.js';
import type { RunStatus } from './run.js';

/** One run for a child: everything ensureRun and measureRun need, as JSON. */
export interface ChildJob {
  run: PlannedRun;
  dir: string;
  tag: string;
  train: boolean;
  workers: number;
  analysis: AnalysisConfig;
  /** The backend to initialise (initBackend's request). */
  backend: string;
}

export type FromTrainChild =
  | { type: 'ready' }
  | { type: 'log'; id: string; line: string }
  | { type: 'done'; id: string; status: RunStatus; seconds: number; analysisSeconds: number }
  | { type: 'failed'; id: string; user: boolean; message: string; stack: string };

export interface PooledRun {
  status: RunStatus;
  /** Training seconds of this call (0 when the run was complete already). */
  seconds: number;
  /** Seconds the child spent measuring it. */
  analysisSeconds: number;
}

export interface PoolOptions {
  /** reproduce's output folder (runs in <out>/runs/<id>). */
  out: string;
  jobs: number;
  /** Replicas per run (default 1). */
  workers?: number;
  train: boolean;
  analysis: AnalysisConfig;
  backend: string;
  log: (line: string) => void;
}

/**
 * The child entry and tsx's loader, found from the checkout (sourceRoot, as the replica pool finds its worker),
 * not from import.meta: notebooks load this module through tslab's CommonJS compilation, where it does not exist.
 */
function childEntry(): { child: string; tsx: string } {
  const root = sourceRoot();
  return { child: join(root, 'src', 'experiments', 'train-child.ts'), tsx: pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href };
}

/** Trains and measures `runs` in `o.jobs` processes; resolves with how each went, by run id. */
export async function trainInProcesses(runs: PlannedRun[], o: PoolOptions): Promise<Map<string, PooledRun>> {
  const order = runs.map((run, i) => ({ run, i })).sort((a, b) => runSteps(b.run.config) - runSteps(a.run.config) || a.i - b.i);
  const done = new Map<string, PooledRun>();
  let failure: Error | null = null;
  const n = Math.max(1, Math.min(o.jobs, order.length));
  const worker = async (): Promise<void> => {
    let child: ChildProcess | null = null;
    try {
      for (let next = order.shift(); next && !failure; next = order.shift()) {
        const { run, i } = next;
        child ??= start(o.log);
        const job: ChildJob = { run, dir: join(o.out, 'runs', run.id), tag: `[${i + 1}/${runs.length} ${run.name} s${run.seed}]`, train: o.train, workers: o.workers ?? 1, analysis: o.analysis, backend: o.backend };
        try {
          done.set(run.id, await runIn(child, job));
        } catch (e) {
          failure ??= e as Error;
          if ((e as { crashed?: boolean }).crashed) child = null;
        }
      }
    } finally {
      if (child) await closeChild(child);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  if (failure) throw failure;
  return done;
}

function start(log: (line: string) => void): ChildProcess {
  const { child: entry, tsx } = childEntry();
  const child = forkTs(entry, tsx, log);
  child.on('message', (m: FromTrainChild) => {
    if (m.type === 'log') log(m.line);
  });
  return child;
}

function runIn(child: ChildProcess, job: ChildJob): Promise<PooledRun> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromTrainChild) => {
      if (!('id' in m) || m.id !== job.run.id || m.type === 'log') return;
      cleanup();
      if (m.type === 'done') resolve({ status: m.status, seconds: m.seconds, analysisSeconds: m.analysisSeconds });
      else if (m.user) reject(new UserError(m.message));
      else reject(Object.assign(new Error(`${job.run.id}: ${m.message}`), { stack: m.stack || undefined }));
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(Object.assign(new Error(`the training process ended (${signal ?? `exit code ${code}`}) while running ${job.run.id}; run reproduce again to resume it`), { crashed: true }));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send({ type: 'run', job });
  });
}
