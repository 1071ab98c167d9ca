/**
 * The local executor (the default): `jobs` run processes on this machine, each taking the next run of the
 * sweep until none is left. A complete run is found complete (and only measured, from its cache), an
 * interrupted one resumed. Ctrl-C (the signal) asks every process to checkpoint and stop; running the
 * same command again continues. docs/sweeps.md.
 */
import { hostname } from 'node:os';
import { jobOf } from './job.js';
import { RunFailure, RunProcess } from './process.js';
import type { Progress } from './progress.js';
import type { Sweep, SweepRun } from './spec.js';
import { isCompleted, readSummary, runDirOf } from './runner.js';
import { summaryProblems, type RunSummary } from './summary.js';

export interface RunFailureInfo {
  id: string;
  group: string;
  seed: number;
  kind: RunFailure['kind'];
  message: string;
}

export interface ExecResult {
  /** Summaries of the runs that finished, by id. */
  summaries: Map<string, RunSummary>;
  failures: RunFailureInfo[];
  /** Stopped on request before every run finished. */
  interrupted: boolean;
}

export interface LocalOptions {
  /** Root of the run directories (`<root>/runs/<id>`). */
  root: string;
  /** Concurrent run processes. */
  jobs: number;
  progress: Progress;
  signal?: AbortSignal;
  /** Lines the run processes print (default: dropped). */
  log?: (line: string) => void;
}

/** Runs every run of the sweep on this machine; never throws for a failed run (see `failures`). */
export async function runLocal(sweep: Sweep, o: LocalOptions): Promise<ExecResult> {
  const summaries = new Map<string, RunSummary>();
  const failures: RunFailureInfo[] = [];
  // Complete runs measured already for these analyses need no run process.
  const todo: SweepRun[] = [];
  for (const r of sweep.runs) {
    const dir = runDirOf(o.root, r.id);
    const stored = (await isCompleted(dir, r.id)) ? await readSummary(dir, sweep.measureKey) : null;
    if (stored && summaryProblems(stored).length === 0 && stored.id === r.id) {
      summaries.set(r.id, { ...stored, status: 'reused' });
      o.progress.set(r.id, 'done', { reused: true, quiet: true });
    } else todo.push(r);
  }
  if (summaries.size) o.progress.draw(true);
  if (!todo.length) return { summaries, failures, interrupted: false };
  const n = Math.max(1, Math.min(o.jobs, todo.length));
  const procs = Array.from({ length: n }, (_, i) => new RunProcess({ root: o.root, who: { machine: hostname(), worker: `local/${i + 1}` }, log: (l) => o.log?.(`[local/${i + 1}] ${l}`) }));
  let stopped = false;
  const onAbort = () => {
    stopped = true;
    for (const p of procs) p.stop();
  };
  o.signal?.addEventListener('abort', onAbort);
  if (o.signal?.aborted) onAbort();
  try {
    await Promise.all(
      procs.map(async (p, i) => {
        try {
          for (let run = todo.shift(); run && !stopped; run = todo.shift()) {
            const r = run;
            o.progress.set(r.id, 'running');
            try {
              const s = await p.run(jobOf(sweep, r), r.id, (step) => o.progress.step(r.id, step));
              summaries.set(r.id, s);
              if (s.status !== 'reused') o.progress.log(`${r.id} (${r.group}, seed ${r.seed}): ${s.status} in ${s.seconds.toFixed(0)} s by local/${i + 1}`);
              o.progress.set(r.id, 'done', { reused: s.status === 'reused' });
            } catch (e) {
              const f = e instanceof RunFailure ? e : new RunFailure(String((e as Error)?.message ?? e), 'error');
              if (f.kind === 'interrupted' || stopped) {
                o.progress.set(r.id, 'waiting');
                continue;
              }
              failures.push({ id: r.id, group: r.group, seed: r.seed, kind: f.kind, message: f.message });
              o.progress.log(`${r.id} (${r.group}, seed ${r.seed}) failed: ${f.message}`);
              o.progress.set(r.id, 'failed');
            }
          }
        } finally {
          await p.close();
        }
      }),
    );
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  return { summaries, failures, interrupted: stopped && summaries.size + failures.length < sweep.runs.length };
}
