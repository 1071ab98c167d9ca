/**
 * The parent's handle on one run process (child.ts): forks it with tsx's loader, hands it one job at a
 * time and resolves with the summary, restarting the process when it died. Both executors use it: the
 * local one keeps `--jobs` of them, a `fsrgan worker` one per concurrent job. The child's environment is
 * the parent's without the queue address and password (a run never sees a credential), and its output
 * lines reach the parent's log with the worker's tag.
 */
import type { ChildProcess } from 'node:child_process';
import { closeChild, forkTs } from '../util/child.js';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CA_ENV, PASSWORD_ENV, QUEUE_ENV } from './connection.js';
import type { Who } from './runner.js';
import type { RunSummary } from './summary.js';

export type ToChild = { type: 'run'; job: unknown; root: string; who: Who } | { type: 'stop' };
export type FromChild =
  | { type: 'ready' }
  | { type: 'progress'; id: string; step: number; steps: number }
  | { type: 'log'; id: string; line: string }
  | { type: 'done'; id: string; summary: RunSummary }
  | { type: 'failed'; id: string; kind: 'user' | 'interrupted' | 'error'; message: string; stack: string };

/** Why a job did not give a summary: bad input, interrupted on request, an error, or the process died. */
export class RunFailure extends Error {
  constructor(
    message: string,
    readonly kind: 'user' | 'interrupted' | 'error' | 'crash',
    readonly stack2 = '',
  ) {
    super(message);
    this.name = 'RunFailure';
  }
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The environment of a run process: the parent's, less the queue's address and credentials. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of [QUEUE_ENV, PASSWORD_ENV, CA_ENV]) delete out[k];
  return out;
}

export interface RunProcessOptions {
  /** Root of the run directories (`<root>/runs/<id>`). */
  root: string;
  who: Who;
  /** Lines the child prints or logs, prefixed by the caller. */
  log: (line: string) => void;
}

interface Pending {
  id: string;
  resolve: (s: RunSummary) => void;
  reject: (e: RunFailure) => void;
  onProgress: (step: number, steps: number) => void;
}

export class RunProcess {
  private child: ChildProcess | null = null;
  private pending: Pending | null = null;

  constructor(private readonly o: RunProcessOptions) {}

  /** The child's pid (null when none runs). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  private start(): ChildProcess {
    const child = forkTs(CHILD, TSX, this.o.log, childEnv());
    child.on('message', (m: FromChild) => {
      const p = this.pending;
      if (m.type === 'log') this.o.log(m.line);
      if (!p || !('id' in m) || m.id !== p.id) return;
      if (m.type === 'progress') p.onProgress(m.step, m.steps);
      else if (m.type === 'done') {
        this.pending = null;
        p.resolve(m.summary);
      } else if (m.type === 'failed') {
        this.pending = null;
        p.reject(new RunFailure(m.message, m.kind, m.stack));
      }
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(new RunFailure(`the run process ended (${signal ?? `exit code ${code}`}) while running ${p.id}`, 'crash'));
    });
    return child;
  }

  /** Runs one job (a payload the child validates) and resolves with its summary. */
  run(job: unknown, id: string, onProgress: (step: number, steps: number) => void = () => {}): Promise<RunSummary> {
    if (this.pending) throw new Error(`RunProcess: already running ${this.pending.id}`);
    this.child ??= this.start();
    const child = this.child;
    return new Promise<RunSummary>((resolve, reject) => {
      this.pending = { id, resolve, reject, onProgress };
      child.send({ type: 'run', job, root: this.o.root, who: this.o.who } satisfies ToChild);
    });
  }

  /** Asks the running job to checkpoint and stop (it fails with kind 'interrupted'). */
  stop(): void {
    if (this.child?.connected) this.child.send({ type: 'stop' } satisfies ToChild);
  }

  /** Ends the process at once (a worker that lost its job's lock). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Ends the idle process (it exits when its IPC channel closes). */
  close(): Promise<void> {
    const child = this.child;
    this.child = null;
    return child ? closeChild(child) : Promise.resolve();
  }
}
