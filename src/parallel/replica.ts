/**
 * The contract between a data-parallel pool (pool.ts) and the program each replica runs. A replica
 * program is a module exporting a factory; the pool calls it once per replica (rank 0 on the calling
 * thread, ranks 1.. in worker threads, each with its own tfjs backend). Every step, each replica computes
 * gradients on its shard of the batch, replaces them by the mean over replicas with `allReduceMean`, and
 * applies the same deterministic update, so all replicas hold bit-identical parameters.
 */
import { SharedMean, type SharedMeanLayout } from './allreduce.js';

export interface ReplicaContext {
  readonly rank: number;
  readonly world: number;
  /**
   * Replaces `v` by the mean of the replicas' `v` (bit-identical on every replica). Every replica must
   * make the same sequence of calls with the same lengths; blocks until all have called.
   */
  allReduceMean(v: Float32Array): void;
  /**
   * allReduceMean in two halves, for work that does not need the mean: `allReduceStart(v)` contributes v
   * without waiting, `allReduceFinish()` waits and replaces v by the mean. One open reduction at a time;
   * leave v unchanged in between.
   */
  allReduceStart(v: Float32Array): void;
  allReduceFinish(): void;
}

export interface Replica<Msg, Res> {
  /** The longest vector this replica passes to allReduceMean (sizes the shared memory). */
  readonly reduceFloats: number;
  /** One step; `msg` is this replica's share of the work. Synchronous: the replicas meet in allReduceMean. */
  step(msg: Msg): Res;
  /** Frees tensors (called when the pool closes). */
  dispose(): void;
}

export type ReplicaFactory<Init, Msg, Res> = (init: Init, ctx: ReplicaContext) => Replica<Msg, Res> | Promise<Replica<Msg, Res>>;

/** A ReplicaContext whose shared memory is attached after every replica reported its size. */
export class PoolContext implements ReplicaContext {
  private mean: SharedMean | null = null;

  constructor(readonly rank: number, readonly world: number, private readonly timeoutMs?: number) {}

  attach(layout: SharedMeanLayout): void {
    this.mean = new SharedMean(layout, this.rank, this.timeoutMs);
  }

  allReduceMean(v: Float32Array): void {
    this.allReduceStart(v);
    this.allReduceFinish();
  }

  allReduceStart(v: Float32Array): void {
    if (this.world > 1) this.shared('allReduceStart').start(v);
  }

  allReduceFinish(): void {
    if (this.world > 1) this.shared('allReduceFinish').finish();
  }

  private shared(fn: string): SharedMean {
    if (!this.mean) throw new Error(`${fn}: called before the pool attached its shared memory (not during the factory)`);
    return this.mean;
  }

  /** Makes the other replicas' pending allReduceMean throw. */
  abort(): void {
    this.mean?.abort();
  }
}
