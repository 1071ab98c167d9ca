/**
 * `fsrgan train --workers N`: synchronous data-parallel training on N cores (docs/training.md). tfjs-wasm
 * computes on one thread in Node, so each core gets a replica with its own backend (src/parallel: rank 0
 * is the trainer's own session on the calling thread, ranks 1.. are worker threads). Every step each
 * replica computes on its rows of the batch and the replicas average their gradients through shared
 * memory (shard.ts), so all of them apply the same update.
 *
 * The trainer's session stays the one truth: checkpoints, samples, hooks and the guard's recovery read
 * and change it as with one core. The workers' sessions are overwritten from it (weights, EMA, D, optimiser
 * state, Rng streams, counters) whenever it changed other than by the step they all took: at the first
 * step, at every stage start (calibration, fresh optimisers), after a rollback. Between those they stay
 * identical by construction: same update, same draws. Only the trainer's thread reads the data source: it
 * draws each step's real batches and hands every worker its rows.
 *
 * For a given N and seed runs are bit-identical (the mean is summed in rank order on every replica), and
 * a resume continues them exactly; N = 1 is the single-thread step itself. Different N give different bits
 * (float sums in another order), not different statistics.
 */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { openRecipe } from '../data/recipe.js';
import type { PyramidSource, SourceRecipe } from '../data/source.js';
import { ReplicaPool, sourceRoot } from '../parallel/pool.js';
import type { Replica, ReplicaContext } from '../parallel/replica.js';
import { floatsOf } from '../ops/simd/heap.js';
import type { CheckpointState } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { StepGuard } from './guard.js';
import { buildSession, disposeSession, openStageOptimizers, restoreSession, sessionState, sessionTensors, type Session } from './session.js';
import type { StepShard } from './shard.js';
import { condTrainStep } from './cond-step.js';
import { isConditional } from './conditions.js';
import { classStageStep } from './cfsr-step.js';
import { trainStep, type StepContext, type StepLosses } from './step.js';

/**
 * Replicas by default: one per core on wasm and cpu, which compute on one thread each (at most one per
 * image of a step); native TensorFlow already uses every core. (Until 2026-12-07 the default was 1: a
 * 2-worker run killed before its first periodic checkpoint resumed on 1 worker, because the step-0
 * checkpoint did not record the replicas; train() now records them from the start.)
 */
export function defaultWorkers(batch = Infinity, backend = tf.getBackend()): number {
  return maxWorkers(batch, backend);
}

/**
 * The default replicas of a run: one process where its step needs the whole batch (PacGAN's packing, the
 * unrolled GAN, historical averaging's running means: src/train/step.ts) or runs in one process (the
 * conditional families, cond-step.ts; the class-conditional FSR learner, cfsr-step.ts); else defaultWorkers.
 * `fsrgan train` and `reproduce` both use it.
 */
export function defaultWorkersFor(c: TrainConfig, backend = tf.getBackend()): number {
  const wholeBatch = c.discriminator.pack > 1 || c.train.unroll > 0 || c.train.historicalAveraging > 0 || isConditional(c);
  return wholeBatch ? 1 : defaultWorkers(c.train.batch, backend);
}

/** The most replicas worth running here: one per core on wasm and cpu (at most one per image); 1 on native TensorFlow. */
export function maxWorkers(batch = Infinity, backend = tf.getBackend()): number {
  return backend === 'tensorflow' ? 1 : Math.max(1, Math.min(availableParallelism(), batch));
}

/** Runs the trainer's steps, on one core or on replicas. */
export interface StepRunner {
  readonly workers: number;
  /** One step of `ctx` (the trainer's session); same contract as trainStep. */
  step(ctx: StepContext, record: boolean): Promise<StepLosses | null>;
  close(): Promise<void>;
}

/** What the workers are built from (structured-cloned into them). */
export interface ReplicaInit {
  config: TrainConfig;
  imageChannels: number;
  /** The trainer's data source, when every replica can draw its own rows of a batch from a copy of it. */
  source: SourceRecipe | null;
}

interface SyncMsg {
  kind: 'sync';
  state: CheckpointState;
  tensors: Record<string, { shape: number[]; dtype: tf.DataType; data: Float32Array | Int32Array }>;
}

interface StepMsg {
  kind: 'step';
  record: boolean;
  stageStep: number;
  /**
   * This rank's rows of each D update's real batch, level by level (up to the stage's level); empty when
   * the replicas draw their rows from their copies of the source.
   */
  real: { shape: number[]; data: Float32Array }[][];
}

type Msg = SyncMsg | StepMsg;

/** Rows [from, to) of `batch` images that replica `rank` of `world` computes on. */
export function shardRange(batch: number, rank: number, world: number): [number, number] {
  return [Math.floor((rank * batch) / world), Math.floor(((rank + 1) * batch) / world)];
}

/**
 * Floats of the longest vector a step reduces: a D's weights or a stage's trained G weights, plus the loss
 * and the penalty. The same on every replica (their sessions come from the same config).
 */
function reduceCapacity(s: Session): number {
  const size = (vs: Iterable<tf.Variable>) => [...vs].reduce((a, v) => a + v.size, 0);
  const d = Math.max(...[...s.discs.values()].map((disc) => size(disc.vars.values())));
  const g = Math.max(...s.stages.map((st) => size(st.trained.map((n) => s.learner.vars.get(n)!))));
  return Math.max(d, g) + 2;
}

function makeShard(s: Session, ctx: ReplicaContext): StepShard {
  const batch = s.config.train.batch;
  const [from, to] = shardRange(batch, ctx.rank, ctx.world);
  const n = reduceCapacity(s);
  return { from, to, batch, world: ctx.world, reducer: ctx, buffers: { D: new Float32Array(n), G: new Float32Array(n) } };
}

/**
 * What a replica's step draws real data from: its rows of each batch, drawn from its copy of the source
 * (`rows`), or handed to it by the trainer's thread (`batches`, in order).
 */
function feedSource(batches: tf.Tensor4D[][], rows?: { source: PyramidSource; shard: StepShard }): PyramidSource {
  const fail = () => {
    throw new Error('a replica feed serves batches only');
  };
  return {
    resolutions: [],
    channels: 0,
    batch: (n) => {
      if (rows) return rows.source.batchRows!(n, rows.shard.from, rows.shard.to);
      const b = batches.shift();
      if (!b) throw new Error('replica feed: the step asked for more batches than train.dSteps');
      return b;
    },
    getState: fail,
    setState: fail,
    describe: fail,
  };
}

/** Whether every replica can draw its own rows from a copy of `source`. */
const shardable = (source: PyramidSource | null): source is PyramidSource & Required<Pick<PyramidSource, 'batchRows' | 'recipe'>> =>
  source !== null && typeof source.batchRows === 'function' && typeof source.recipe === 'function';

/** The session's whole state, as the workers take it (every tensor copied out). */
function syncMessage(s: Session): SyncMsg {
  const { tensors, temporaries } = sessionTensors(s);
  try {
    const out: SyncMsg['tensors'] = {};
    for (const [name, t] of Object.entries(tensors)) out[name] = { shape: t.shape, dtype: t.dtype, data: t.dataSync() as Float32Array | Int32Array };
    return { kind: 'sync', state: sessionState(s, tf.getBackend(), 0), tensors: out };
  } finally {
    tf.dispose(temporaries);
  }
}

/** Overwrites a worker's session with the trainer's (restoreSession, then a stage start's fresh optimisers). */
function applySync(s: Session, m: SyncMsg): void {
  const tensors = Object.fromEntries(Object.entries(m.tensors).map(([name, t]) => [name, tf.tensor(t.data, t.shape, t.dtype)]));
  restoreSession(s, { state: m.state, tensors, weightsSha256: '', path: 'the trainer' });
  const optimisers = Object.keys(m.tensors).some((n) => n.startsWith('optG/'));
  if (optimisers && !s.opt) openStageOptimizers(s);
}

/** The worker side: a session of its own, overwritten by sync messages, stepping on the rows it is sent. */
export function createTrainReplica(init: ReplicaInit, ctx: ReplicaContext): Replica<Msg, null> {
  // A copy of the source, if any, is part of the session: sync messages set its state with the rest.
  const data = init.source ? openRecipe(init.source) : null;
  const s = buildSession(init.config, init.imageChannels, data?.source ?? null);
  const shard = makeShard(s, ctx);
  const action = init.config.guard.onNonFinite;
  return {
    reduceFloats: shard.buffers.D.length,
    step: (m) => {
      if (m.kind === 'sync') {
        applySync(s, m);
        return null;
      }
      const stage = s.stages[s.stageIndex];
      const real = m.real.map((levels) => levels.map((l) => tf.tensor4d(l.data, l.shape as [number, number, number, number])));
      // No EMA here: only the trainer's is ever read, and the next sync brings it.
      trainStep(
        {
          config: s.config, stage, learner: s.learner, ema: null, disc: s.discs.get(stage.resolution)!, rngs: s.rngs,
          source: feedSource(real, data ? { source: data.source, shard } : undefined),
          optG: s.opt!.g, optD: s.opt!.d, guard: action === 'off' ? undefined : new StepGuard(action !== 'skip'), stageStep: m.stageStep, shard,
        },
        m.record,
      );
      tf.dispose(real.flat());
      return null;
    },
    dispose: () => {
      disposeSession(s);
      data?.dispose();
    },
  };
}

/** A position in the run; a step moves it by one, anything else the workers must be told about. */
const where = (s: Session, ahead = 0) => `${s.stageIndex}/${s.stageStep + ahead}/${s.step + ahead}/${s.guard.rollbacks}`;

class ReplicaSteps implements StepRunner {
  private pool: ReplicaPool<Msg, StepLosses | null> | null = null;
  /** Where the workers' sessions are, when they are in step with the trainer's. */
  private synced: string | null = null;
  /** The trainer's context and rows for the step in flight (rank 0 runs it on this thread). */
  private current: { ctx: StepContext; real: tf.Tensor4D[][] } | null = null;

  constructor(private readonly s: Session, readonly workers: number) {}

  async start(root: string): Promise<void> {
    const init: ReplicaInit = { config: this.s.config, imageChannels: this.s.shape.imageChannels, source: shardable(this.s.source) ? this.s.source.recipe() : null };
    this.pool = await ReplicaPool.start((_: ReplicaInit, ctx: ReplicaContext) => this.local(ctx), {
      module: join(root, 'src', 'train', 'replicas.ts'), exportName: 'createTrainReplica', init, world: this.workers, root,
    });
  }

  /** Rank 0: the trainer's own session, stepping on its rows of the batches this thread drew. */
  private local(rc: ReplicaContext): Replica<Msg, StepLosses | null> {
    const shard = makeShard(this.s, rc);
    return {
      reduceFloats: shard.buffers.D.length,
      step: (m) => {
        if (m.kind === 'sync' || !this.current) return null;
        const { ctx, real } = this.current;
        const source = shardable(this.s.source) ? feedSource([], { source: this.s.source, shard }) : feedSource(real);
        return trainStep({ ...ctx, source, shard }, m.record);
      },
      dispose: () => undefined,
    };
  }

  async step(ctx: StepContext, record: boolean): Promise<StepLosses | null> {
    const s = this.s;
    const pool = this.pool!;
    if (this.synced !== where(s)) {
      const sync = syncMessage(s);
      await pool.step(() => sync);
    }
    const { batch, dSteps } = s.config.train;
    const level = ctx.stage.level;
    // Unless every replica draws its own rows: every D update's real batch, drawn here in the order one
    // replica draws them, cut into rows.
    const real: tf.Tensor4D[][] = [];
    const rows: StepMsg['real'][] = Array.from({ length: this.workers }, () => []);
    for (let k = 0; k < (shardable(s.source) ? 0 : dSteps); k++) {
      const levels = s.source!.batch(batch);
      for (let r = 1; r < this.workers; r++) {
        const [from, to] = shardRange(batch, r, this.workers);
        rows[r].push(levels.slice(0, level).map((x) => {
          const per = x.size / batch;
          return { shape: [to - from, ...x.shape.slice(1)], data: floatsOf(x).slice(from * per, to * per) };
        }));
      }
      const [, to0] = shardRange(batch, 0, this.workers);
      real.push(levels.slice(0, level).map((x) => tf.slice(x, [0, 0, 0, 0], [to0, -1, -1, -1])));
      tf.dispose(levels);
    }
    this.current = { ctx, real };
    try {
      const out = await pool.step((rank) => ({ kind: 'step', record, stageStep: ctx.stageStep ?? 0, real: rank === 0 ? [] : rows[rank] }));
      this.synced = where(s, 1);
      return out[0];
    } finally {
      this.current = null;
      tf.dispose(real.flat());
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = null;
  }
}

/**
 * The step runner for `workers` replicas (1: trainStep on this thread, exactly as before replicas existed).
 * `root`: the repository root holding src/ (workers load the TypeScript sources from it).
 */
export async function startSteps(s: Session, workers: number, root = sourceRoot()): Promise<StepRunner> {
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`startSteps: workers must be a positive integer, got ${workers}`);
  if (workers > s.config.train.batch) throw new UserError(`--workers ${workers} is more than train.batch = ${s.config.train.batch} images per step: use at most ${s.config.train.batch}.`);
  s.workers = workers;
  const space = s.cond;
  if (space) {
    // The conditional families' step (cond-step.ts) and the class-conditional FSR stage step (cfsr-step.ts) run in one process.
    const fsr = s.config.generator.family === 'fsr';
    if (workers > 1) throw new UserError(`${fsr ? `config.generator.condition '${s.config.generator.condition}'` : `config.generator.family '${s.config.generator.family}'`} trains in one process: use --workers 1.`);
    const step = fsr ? classStageStep : condTrainStep;
    return { workers: 1, step: async (ctx, record) => step(ctx, space, record), close: async () => undefined };
  }
  if (workers === 1) return { workers: 1, step: async (ctx, record) => trainStep(ctx, record), close: async () => undefined };
  const r = new ReplicaSteps(s, workers);
  await r.start(root);
  return r;
}
