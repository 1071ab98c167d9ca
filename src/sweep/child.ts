/**
 * A run process: started by process.ts (fork, with tsx's loader), it takes sweep jobs over IPC one at a
 * time, validates each (job.ts), trains and measures it (runner.ts) and answers with the summary. Its
 * parent (the local executor or a `fsrgan worker`) owns it: Ctrl-C reaches the parent, which sends
 * 'stop' (checkpoint and stop); when the parent dies, the IPC channel closes and this process exits at
 * once (the run lock is released on exit; the run resumes from its last checkpoint elsewhere).
 */
import { initBackend } from '../backend/index.js';
import { UserError } from '../util/errors.js';
import { validateJob } from './job.js';
import { RunInterrupted, runJob, type Who } from './runner.js';
import type { ToChild, FromChild } from './process.js';

let controller: AbortController | null = null;
let backend: string | undefined | null = null;

const send = (m: FromChild) => {
  if (process.connected) process.send!(m);
};

// The parent decides what a signal means (process.ts); a terminal's Ctrl-C reaches the whole group.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => controller?.abort());
process.on('disconnect', () => process.exit(3));

async function handle(job: unknown, root: string, who: Who): Promise<void> {
  controller = new AbortController();
  const id = job !== null && typeof job === 'object' && typeof (job as { id?: unknown }).id === 'string' ? (job as { id: string }).id : '?';
  try {
    const valid = validateJob(job, null);
    const want = valid.config.backend === 'auto' ? undefined : valid.config.backend;
    if (backend !== want) {
      await initBackend(want);
      backend = want;
    }
    const summary = await runJob(valid, root, who, {
      signal: controller.signal,
      onProgress: (step, steps) => send({ type: 'progress', id, step, steps }),
      log: (line) => send({ type: 'log', id, line }),
    });
    send({ type: 'done', id, summary });
  } catch (e) {
    // A run directory locked by another process (an earlier run process still ending) is worth a retry, not bad input.
    const locked = /is in use by another fsrgan train|is locked by pid/.test(String((e as Error)?.message));
    const kind = e instanceof UserError && !locked ? 'user' : e instanceof RunInterrupted ? 'interrupted' : 'error';
    const message = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 500);
    send({ type: 'failed', id, kind, message, stack: kind === 'error' ? String((e as Error)?.stack ?? '') : '' });
  } finally {
    controller = null;
  }
}

process.on('message', (m: ToChild) => {
  if (m.type === 'stop') controller?.abort();
  else if (m.type === 'run') void handle(m.job, m.root, m.who);
});
send({ type: 'ready' });
