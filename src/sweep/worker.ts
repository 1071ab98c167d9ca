/**
 * `fsrgan worker --queue URL`: a BullMQ worker that takes sweep jobs and runs each in a run process
 * (process.ts), `concurrency` at a time, into `<root>/runs/<id>`. It validates every job first (job.ts):
 * a payload that is not a valid config fails at once (UnrecoverableError, no retry) with the field named,
 * and the worker goes on with the other jobs. BullMQ's lock on an active job is renewed by this process
 * (whose event loop the training does not block: it runs in the child); when a worker dies, its lock
 * expires, the stalled-job check of the other workers puts the job back, and the next worker resumes the
 * run from its last checkpoint (shared storage) or starts it (local storage). A worker that loses a job's
 * lock (cut off from Redis too long) kills that run process, so two machines never train one run.
 */
import { readFile, rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { LOCK_FILE } from '../train/lock.js';
import { UserError } from '../util/errors.js';
import { openRedis, parseQueueUrl, QUEUE_NAME } from './connection.js';
import { validateJob, type SweepJob } from './job.js';
import { RunFailure, RunProcess } from './process.js';
import { runDirOf } from './runner.js';
import type { RunSummary } from './summary.js';

export interface WorkerOptions {
  url: string;
  /** Root of the run directories (`<root>/runs/<id>`): shared storage lets another machine resume a run. */
  root: string;
  /** Jobs run at once by this worker (each in its own process). */
  concurrency: number;
  /** This worker's id, recorded in every run it works on. */
  id: string;
  /** Seconds without a lock renewal after which a job counts as stalled (BullMQ lockDuration and stalledInterval). */
  stallSeconds: number;
  /** Exit when the queue has no waiting, delayed or active job left. */
  untilEmpty: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * A run directory's training lock left by a process on another machine: this worker holds the job's
 * BullMQ lock, which that process's worker lost (it is dead, or cut off and killing its run), so the
 * lock is stale; it is moved aside (same-host locks are judged by src/train/lock.ts itself).
 */
async function takeOverForeignLock(dir: string, log: (line: string) => void): Promise<void> {
  const path = join(dir, LOCK_FILE);
  let owner: { hostname?: unknown; pid?: unknown };
  try {
    owner = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return;
  }
  if (typeof owner.hostname !== 'string' || owner.hostname === hostname()) return;
  await rename(path, `${path}.stale-${`${owner.hostname}-${String(owner.pid)}`.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80)}`).catch(() => undefined);
  log(`took over ${dir} from pid ${String(owner.pid)} on ${owner.hostname}, whose worker lost the job`);
}

/** Runs the worker until the signal aborts it (or, with untilEmpty, the queue is empty); returns counts. */
export async function runWorker(o: WorkerOptions): Promise<{ completed: number; failed: number }> {
  const target = parseQueueUrl(o.url);
  const client = await openRedis(target, (l) => o.log(l));
  const n = o.concurrency;
  const procs = Array.from({ length: n }, (_, i) => new RunProcess({ root: o.root, who: { machine: hostname(), worker: n > 1 ? `${o.id}/${i + 1}` : o.id }, log: (l) => o.log(`  ${l}`) }));
  const free = [...procs];
  const byJob = new Map<string, RunProcess>();
  let completed = 0;
  let failed = 0;

  const processor = async (job: Job<unknown, RunSummary>, token?: string): Promise<RunSummary> => {
    let valid: SweepJob;
    try {
      valid = validateJob(job.data, job.id ?? null);
    } catch (e) {
      if (e instanceof UserError) throw new UnrecoverableError(e.message);
      throw e;
    }
    const dir = runDirOf(o.root, valid.id);
    await takeOverForeignLock(dir, o.log);
    const p = free.pop()!;
    byJob.set(job.id!, p);
    o.log(`${valid.id} (${valid.sweep}: ${valid.group}, seed ${valid.seed}): taken${job.attemptsMade || job.stalledCounter ? ` again (${job.attemptsMade} failed attempt(s), ${job.stalledCounter} stall(s))` : ''}`);
    try {
      return await p.run(valid, valid.id, (step, steps) => void job.updateProgress({ step, steps }).catch(() => undefined));
    } catch (e) {
      const f = e instanceof RunFailure ? e : new RunFailure(String((e as Error)?.message ?? e), 'error');
      if (f.kind === 'user') throw new UnrecoverableError(f.message);
      if (f.kind === 'interrupted' && token) {
        // Stopped on request (Ctrl-C, SIGTERM): back to the queue for any worker, no attempt used.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw new Error(f.message);
    } finally {
      byJob.delete(job.id!);
      free.push(p);
    }
  };

  const worker = new Worker<unknown, RunSummary>(QUEUE_NAME, processor, {
    connection: client,
    concurrency: n,
    lockDuration: o.stallSeconds * 1000,
    stalledInterval: o.stallSeconds * 1000,
    maxStalledCount: 3,
    autorun: false,
  });
  worker.on('completed', (job, s) => {
    completed++;
    o.log(`${job.id}: ${s.status} in ${s.seconds.toFixed(0)} s`);
  });
  worker.on('failed', (job, err) => {
    if (err instanceof WaitingError || err?.name === 'WaitingError') return;
    failed++;
    const final = !job || err instanceof UnrecoverableError || err?.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    o.log(`${job?.id ?? 'a job'} failed${final ? '' : ' (will be retried)'}: ${err?.message ?? err}`);
  });
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      byJob.get(id)?.kill();
      o.log(`${id}: lost the job's lock (cut off from the queue?): stopped its run process; another worker resumes it`);
    }
  });
  worker.on('stalled', (id) => o.log(`${id}: its worker stopped answering; back in the queue`));
  worker.on('error', (e) => o.log(`worker: ${String(e?.message ?? e).split('\n')[0].replace(String(target.options.password ?? '\u0000'), '***')}`));

  const counter = new Queue(QUEUE_NAME, { connection: client });
  counter.on('error', () => undefined);
  let poll: NodeJS.Timeout | null = null;
  const stop = () => {
    if (poll) clearInterval(poll);
    poll = null;
    for (const p of procs) p.stop();
    void worker.close();
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  if (o.untilEmpty) {
    let asking = false;
    poll = setInterval(() => {
      if (asking || byJob.size) return;
      asking = true;
      counter
        .getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')
        .then((c) => {
          if (Object.values(c).every((x) => x === 0) && byJob.size === 0) stop();
        }, () => undefined)
        .finally(() => (asking = false));
    }, 1000);
  }
  o.log(`worker ${o.id} on ${hostname()}: taking jobs from ${target.shown} (queue ${QUEUE_NAME}), ${n} at a time, runs in ${join(o.root, 'runs')}`);
  try {
    await worker.run();
  } finally {
    if (poll) clearInterval(poll);
    o.signal?.removeEventListener('abort', stop);
    await worker.close().catch(() => undefined);
    await counter.close().catch(() => undefined);
    await Promise.all(procs.map((p) => p.close()));
    client.disconnect();
  }
  return { completed, failed };
}
