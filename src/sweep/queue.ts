/**
 * The distributed executor's producer side, on BullMQ (Redis): `fsrgan sweep SPEC --queue URL` adds one
 * job per run (job id = run id, so adding a sweep twice adds nothing, and a run shared by two sweeps is
 * one job), follows the jobs' states (progress, ETA), and builds the report from the summaries the workers
 * stored as the jobs' return values. Retries: 3 attempts with exponential backoff from 10 s; a job a
 * validating worker rejected (not a valid config) fails at once. docs/sweeps.md.
 */
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { UserError } from '../util/errors.js';
import { openRedis, parseQueueUrl, QUEUE_NAME, type QueueTarget } from './connection.js';
import { jobOf, type SweepJob } from './job.js';
import type { ExecResult, RunFailureInfo } from './local.js';
import type { Progress } from './progress.js';
import type { Sweep } from './spec.js';
import { summaryProblems, type RunSummary } from './summary.js';

export const JOB_OPTIONS: JobsOptions = { attempts: 3, backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: false, removeOnFail: false };

export interface QueueHandle {
  target: QueueTarget;
  queue: Queue<SweepJob, RunSummary>;
  close(): Promise<void>;
}

/** Opens the queue (a UserError when it cannot be reached or refuses the credentials). */
export async function openQueue(url: string, log: (line: string) => void): Promise<QueueHandle> {
  const target = parseQueueUrl(url);
  const client: Redis = await openRedis(target, log);
  const queue = new Queue<SweepJob, RunSummary>(QUEUE_NAME, { connection: client });
  queue.on('error', () => undefined);
  return {
    target,
    queue,
    close: async () => {
      await queue.close().catch(() => undefined);
      client.disconnect();
    },
  };
}

/** A completed job's summary, when it is one for this sweep's measurements. */
function summaryOf(job: Job<SweepJob, RunSummary>, measureKey: string): RunSummary | null {
  const s = job.returnvalue;
  return s && summaryProblems(s).length === 0 && s.measureKey === measureKey && s.id === job.id ? s : null;
}

/** Adds the sweep's runs that the queue does not hold yet (or holds failed, or measured otherwise). */
export async function enqueueSweep(h: QueueHandle, sweep: Sweep): Promise<{ added: number; kept: number; requeued: number }> {
  let added = 0;
  let kept = 0;
  let requeued = 0;
  for (const run of sweep.runs) {
    const existing = await h.queue.getJob(run.id);
    let again = false;
    if (existing) {
      const state = await existing.getState();
      if (state === 'completed' && summaryOf(existing, sweep.measureKey)) {
        kept++;
        continue;
      }
      if (state === 'completed' || state === 'failed' || state === 'unknown') {
        await existing.remove();
        again = true;
      } else if (existing.data?.measureKey === sweep.measureKey) {
        kept++;
        continue;
      } else {
        throw new UserError(`the run ${run.id} is in the queue (${state}) with other analyses, from another sweep: wait until it finishes, then enqueue this sweep again.`);
      }
    }
    await h.queue.add(sweep.spec.name, jobOf(sweep, run), { ...JOB_OPTIONS, jobId: run.id });
    if (again) requeued++;
    else added++;
  }
  return { added, kept, requeued };
}

/** The summaries of the sweep's completed jobs, and its failed ones; with `progress`, states are shown. */
export async function queueState(h: QueueHandle, sweep: Sweep, progress?: Progress, seen = new Set<string>()): Promise<ExecResult & { pending: number }> {
  const summaries = new Map<string, RunSummary>();
  const failures: RunFailureInfo[] = [];
  let pending = 0;
  for (const run of sweep.runs) {
    const job = await h.queue.getJob(run.id);
    const state = job ? await job.getState() : 'missing';
    const s = job && state === 'completed' ? summaryOf(job, sweep.measureKey) : null;
    if (s) {
      summaries.set(run.id, s);
      if (!seen.has(run.id) && s.status !== 'reused') progress?.log(`${run.id} (${run.group}, seed ${run.seed}): ${s.status} in ${s.seconds.toFixed(0)} s by ${s.events.filter((e) => e.event === 'completed').map((e) => `${e.worker} on ${e.machine}`)[0] ?? '?'}`);
      progress?.set(run.id, 'done', { reused: s.status === 'reused' });
      seen.add(run.id);
    } else if (job && state === 'failed') {
      failures.push({ id: run.id, group: run.group, seed: run.seed, kind: /not a valid|^job /.test(job.failedReason ?? '') ? 'user' : 'error', message: job.failedReason ?? 'failed' });
      if (!seen.has(run.id)) progress?.log(`${run.id} (${run.group}, seed ${run.seed}) failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`);
      seen.add(run.id);
      progress?.set(run.id, 'failed');
    } else {
      pending++;
      if (state === 'active') {
        progress?.set(run.id, 'running');
        const p = job?.progress as { step?: unknown } | undefined;
        if (p && typeof p.step === 'number') progress?.step(run.id, p.step);
      } else progress?.set(run.id, 'waiting');
    }
  }
  return { summaries, failures, interrupted: false, pending };
}

/** Follows the sweep's jobs until every one is completed or failed (or the signal aborts the watch). */
export async function watchQueue(h: QueueHandle, sweep: Sweep, progress: Progress, signal?: AbortSignal, everyMs = 1000): Promise<ExecResult> {
  const seen = new Set<string>();
  for (;;) {
    const st = await queueState(h, sweep, progress, seen);
    if (st.pending === 0) return st;
    if (signal?.aborted) return { ...st, interrupted: true };
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, everyMs);
      signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}
