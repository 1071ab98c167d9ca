/**
 * Data-parallel replicas on several cores (docs/engine.md: wasm computes on one thread in Node, and its own
 * threading cannot be enabled robustly, so each core gets its own wasm backend). Rank 0 runs on the calling
 * thread (or, with `rank0: 'worker'`, in a worker like the rest), ranks 1..world-1 in worker threads that
 * load the TypeScript sources through tsx. See replica.ts for the program contract and docs/speed.md for
 * measurements.
 *
 *   const pool = await ReplicaPool.start(createMyReplica, { module: '/abs/my_program.ts', exportName: 'createMyReplica', init, world: 2 });
 *   const results = await pool.step((rank) => shardOf(rank));
 *   await pool.close();
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { findRepoRoot } from '../data/cache.js';
import { allocSharedMean } from './allreduce.js';
import { PoolContext, type Replica, type ReplicaFactory } from './replica.js';
import type { FromWorker, ToWorker, WorkerBoot } from './worker.js';

export interface PoolOptions<Init> {
  /** Absolute path of the module that exports the factory (worker threads import it). */
  module: string;
  /** Name of the exported factory in `module`. */
  exportName: string;
  /** Passed to every replica's factory (structured-cloned into the workers). */
  init: Init;
  /** Number of replicas, rank 0 included (usually the number of cores). */
  world: number;
  /** Backend request for the workers; default: the calling thread's current tfjs backend. */
  backend?: string;
  /** Barrier timeout (a replica that stopped responding fails the step instead of hanging). */
  timeoutMs?: number;
  /** Repository root holding src/parallel/worker.ts and node_modules/tsx; default: found from the cwd. */
  root?: string;
  /**
   * Run rank 0 on the calling thread (default) or in a worker like the others. In a worker every rank
   * has an isolate and a wasm heap of its own: the calling thread's may hold other models and a bigger
   * JS heap, and then rank 0 is the one the others wait for (docs/speed.md).
   */
  rank0?: 'caller' | 'worker';
}

/**
 * The checkout whose src/ the workers load: $FSRGAN_ROOT (bin/fsrgan.mjs sets it to its own, so that
 * fsrgan run from any folder finds itself), else the fsrgan package above the working directory.
 */
export function sourceRoot(): string {
  return process.env.FSRGAN_ROOT || findRepoRoot();
}

/** Cores this machine offers (the default world size). */
export function coreCount(): number {
  return Math.max(1, cpus().length);
}

/** The worker bootstrap: register tsx's ESM loader, then import the TypeScript worker entry. */
function bootCode(root: string): string {
  const req = createRequire(join(root, 'package.json'));
  let api = req.resolve('tsx/esm/api');
  const esm = api.replace(/\.c?js$/, '.mjs');
  if (existsSync(esm)) api = esm;
  const entry = join(root, 'src', 'parallel', 'worker.ts');
  if (!existsSync(entry)) throw new Error(`ReplicaPool: worker entry ${entry} not found (pass options.root)`);
  return `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(entry).href)}); })` +
    `.catch((e) => { require('node:worker_threads').parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }); });`;
}

class Remote {
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private readonly queue: FromWorker[] = [];
  private failure: Error | null = null;

  constructor(readonly worker: Worker, readonly rank: number) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') return this.die(new Error(`replica ${rank}: ${m.message}${m.stack ? `\n${m.stack}` : ''}`));
      const w = this.waiting;
      this.waiting = null;
      if (w) w.resolve(m);
      else this.queue.push(m);
    });
    worker.on('error', (e) => this.die(new Error(`replica ${rank} crashed: ${e.message}`)));
    worker.on('exit', (code) => this.die(new Error(`replica ${rank} exited (code ${code})`)));
  }

  private die(e: Error): void {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.failure);
  }

  /** The next message from the worker (after posting `m`, if given). */
  next(m?: ToWorker): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    if (m) this.worker.postMessage(m);
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise<FromWorker>((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  get error(): Error | null {
    return this.failure;
  }
}

async function expect<T extends FromWorker['type']>(p: Promise<FromWorker>, type: T): Promise<Extract<FromWorker, { type: T }>> {
  const m = await p;
  if (m.type !== type) throw new Error(`ReplicaPool: expected '${type}' from a worker, got '${m.type}'`);
  return m as Extract<FromWorker, { type: T }>;
}

export class ReplicaPool<Msg, Res> {
  private closed = false;

  private constructor(
    readonly world: number,
    private readonly local: Replica<Msg, Res> | null,
    private readonly ctx: PoolContext,
    private readonly remotes: Remote[],
  ) {}

  /**
   * Starts `world - 1` workers plus the local replica (from `local`, which must be `module`'s `exportName`),
   * or `world` workers with `rank0: 'worker'`.
   */
  static async start<Init, Msg, Res>(local: ReplicaFactory<Init, Msg, Res>, opts: PoolOptions<Init>): Promise<ReplicaPool<Msg, Res>> {
    const world = opts.world;
    if (!Number.isInteger(world) || world < 1) throw new Error(`ReplicaPool.start: world must be a positive integer, got ${world}`);
    const backend = opts.backend ?? tf.getBackend();
    const inCaller = (opts.rank0 ?? 'caller') === 'caller';
    const code = world > 1 || !inCaller ? bootCode(opts.root ?? sourceRoot()) : '';
    const remotes: Remote[] = [];
    const ready: Promise<Extract<FromWorker, { type: 'ready' }>>[] = [];
    for (let rank = inCaller ? 1 : 0; rank < world; rank++) {
      const boot: WorkerBoot = {
        fsrganReplica: true, module: opts.module, exportName: opts.exportName, init: opts.init, rank, world, backend, timeoutMs: opts.timeoutMs,
      };
      const r = new Remote(new Worker(code, { eval: true, workerData: boot }), rank);
      remotes.push(r);
      ready.push(expect(r.next(), 'ready'));
    }
    const ctx = new PoolContext(0, world, opts.timeoutMs);
    let replica: Replica<Msg, Res> | null = null;
    try {
      if (inCaller) replica = await local(opts.init, ctx);
      const sizes = [...(replica ? [replica.reduceFloats] : []), ...(await Promise.all(ready)).map((m) => m.reduceFloats)];
      if (new Set(sizes).size !== 1) throw new Error(`ReplicaPool.start: replicas report different reduce sizes (${sizes.join(', ')})`);
      const layout = allocSharedMean(world, sizes[0]);
      ctx.attach(layout);
      await Promise.all(remotes.map((r) => expect(r.next({ type: 'attach', layout }), 'attached')));
    } catch (e) {
      replica?.dispose();
      await Promise.all(remotes.map((r) => r.worker.terminate()));
      throw e;
    }
    return new ReplicaPool(world, replica, ctx, remotes);
  }

  /** One step on every replica; `msgOf(rank)` is rank's share. Resolves to the results by rank. */
  async step(msgOf: (rank: number) => Msg): Promise<Res[]> {
    if (this.closed) throw new Error('ReplicaPool.step: the pool is closed');
    const pending = this.remotes.map((r) => expect(r.next({ type: 'step', msg: msgOf(r.rank) }), 'result'));
    // Keep a failed worker from surfacing as an unhandled rejection while rank 0 is still computing.
    pending.forEach((p) => p.catch(() => undefined));
    let mine: Res[] = [];
    try {
      if (this.local) mine = [this.local.step(msgOf(0))];
    } catch (e) {
      this.ctx.abort();
      await Promise.allSettled(pending);
      const remote = this.remotes.find((r) => r.error)?.error;
      throw remote ?? e;
    }
    const others = await Promise.all(pending);
    return [...mine, ...others.map((m) => m.res as Res)];
  }

  /** Disposes every replica and stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.local?.dispose();
    await Promise.all(
      this.remotes.map(async (r) => {
        try {
          if (!r.error) await expect(r.next({ type: 'close' }), 'closed');
        } finally {
          await r.worker.terminate();
        }
      }),
    );
  }
}
