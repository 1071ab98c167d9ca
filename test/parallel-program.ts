/**
 * Replica programs for test/parallel.test.ts (worker threads import this file by path).
 */
import { Rng } from '../src/util/rng.js';
import type { Replica, ReplicaContext } from '../src/parallel/replica.js';

export interface SumInit {
  length: number;
  /** Replica `failRank` throws at step `failStep` (to test that failures surface instead of hanging). */
  failRank?: number;
  failStep?: number;
  /** Reduce in two halves (allReduceStart, then a second contribution computed, then allReduceFinish). */
  split?: boolean;
}

/** The vector replica `rank` contributes at `step`: normals from a seeded stream. */
export function sumContribution(rank: number, step: number, length: number): Float32Array {
  return new Rng(1000 * step + rank, 'sum-test').normals(length);
}

/** Each step all-reduces sumContribution(rank, step) and returns the mean it got. */
export function createSumReplica(init: SumInit, ctx: ReplicaContext): Replica<{ step: number }, Float32Array> {
  return {
    reduceFloats: init.length,
    step: ({ step }) => {
      if (ctx.rank === init.failRank && step === init.failStep) throw new Error(`boom at step ${step} on rank ${ctx.rank}`);
      const v = sumContribution(ctx.rank, step, init.length);
      if (!init.split) {
        ctx.allReduceMean(v);
        return v;
      }
      ctx.allReduceStart(v);
      // Other work (and other memory) between the halves must not disturb the reduction in flight.
      sumContribution(ctx.rank + 100, step, init.length);
      ctx.allReduceFinish();
      return v;
    },
    dispose: () => {},
  };
}
