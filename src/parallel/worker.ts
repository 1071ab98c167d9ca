/**
 * Entry point of a replica worker thread (started by pool.ts through tsx). Loads its own tfjs backend,
 * imports the replica program, creates replica `rank`, then serves step messages until closed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { initBackend } from '../backend/index.js';
import type { ReplicaFactory } from './replica.js';
import { PoolContext } from './replica.js';
import type { SharedMeanLayout } from './allreduce.js';

/** What pool.ts passes as workerData. */
export interface WorkerBoot {
  fsrganReplica: true;
  module: string;
  exportName: string;
  init: unknown;
  rank: number;
  world: number;
  backend: string;
  timeoutMs?: number;
}

export type ToWorker = { type: 'attach'; layout: SharedMeanLayout } | { type: 'step'; msg: unknown } | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; reduceFloats: number; backend: string }
  | { type: 'attached' }
  | { type: 'result'; res: unknown }
  | { type: 'closed' }
  | { type: 'error'; message: string; stack?: string };

async function serve(boot: WorkerBoot): Promise<void> {
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  const fail = (e: unknown) => send({ type: 'error', message: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack });
  try {
    const choice = await initBackend(boot.backend);
    const mod = (await import(pathToFileURL(boot.module).href)) as Record<string, unknown>;
    const factory = mod[boot.exportName] as ReplicaFactory<unknown, unknown, unknown> | undefined;
    if (typeof factory !== 'function') throw new Error(`replica worker: ${boot.module} does not export a function '${boot.exportName}'`);
    const ctx = new PoolContext(boot.rank, boot.world, boot.timeoutMs);
    const replica = await factory(boot.init, ctx);
    port.on('message', (m: ToWorker) => {
      try {
        if (m.type === 'attach') {
          ctx.attach(m.layout);
          send({ type: 'attached' });
        } else if (m.type === 'step') {
          send({ type: 'result', res: replica.step(m.msg) });
        } else {
          replica.dispose();
          send({ type: 'closed' });
          port.close();
        }
      } catch (e) {
        ctx.abort();
        fail(e);
      }
    });
    send({ type: 'ready', reduceFloats: replica.reduceFloats, backend: choice.backend });
  } catch (e) {
    fail(e);
  }
}

const boot = workerData as WorkerBoot | undefined;
if (parentPort && boot?.fsrganReplica) void serve(boot);
