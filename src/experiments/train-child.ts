/**
 * A training process of `reproduce --jobs N` (train-pool.ts forks it with tsx's loader): it takes planned
 * runs over IPC one at a time, trains (or resumes, or finds complete) each into its folder with ensureRun
 * and measures it with measureRun, which leaves the analyses and sample grids in the run's cache for the
 * parent to read. Its DataCache lives as long as the process, so a teacher is built once per process.
 * When the parent dies the IPC channel closes and this process exits; the run resumes from its last
 * checkpoint on the next `reproduce`.
 */
import { initBackend } from '../backend/index.js';
import { UserError } from '../util/errors.js';
import { DataCache, ensureRun, measureRun } from './run.js';
import type { ChildJob, FromTrainChild } from './train-pool.js';

const data = new DataCache();
let backend: string | null = null;

const send = (m: FromTrainChild) => {
  if (process.connected) process.send!(m);
};

process.on('disconnect', () => process.exit(3));

async function handle(job: ChildJob): Promise<void> {
  const log = (line: string) => send({ type: 'log', id: job.run.id, line });
  try {
    if (backend !== job.backend) {
      await initBackend(job.backend);
      backend = job.backend;
    }
    const how = await ensureRun(job.run, job.dir, data, job.train, job.tag, log, job.workers);
    const t = performance.now();
    // The parent measures again from the caches this call fills; only how the run went crosses the channel.
    await measureRun(job.run, job.dir, job.analysis, data, log);
    send({ type: 'done', id: job.run.id, status: how.status, seconds: how.seconds, analysisSeconds: (performance.now() - t) / 1000 });
  } catch (e) {
    const message = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 1000);
    send({ type: 'failed', id: job.run.id, user: e instanceof UserError, message, stack: e instanceof UserError ? '' : String((e as Error)?.stack ?? '') });
  }
}

process.on('message', (m: { type: 'run'; job: ChildJob }) => {
  if (m.type === 'run') void handle(m.job);
});
send({ type: 'ready' });
