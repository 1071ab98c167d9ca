/**
 * Replica programs for test/parallel.test.ts (worker threads import this file by path).
 */
import { Rng } from '../src/util/rng.js';
import { GanTrainer, type GanInit, type GanShard } from '../src/bench/gan.js';
import { readFlat } from '../src/parallel/flat.js';
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

export interface GanProbe {
  lossD: number;
  lossG: number;
  /** Gradients the optimiser consumed (after the all-reduce). */
  gradG: Float32Array;
  gradD: Float32Array;
  /** Every parameter after the step, as the backend holds it. */
  paramsG: Float32Array;
  paramsD: Float32Array;
}

export function probeStep(t: GanTrainer, s: GanShard): GanProbe {
  const losses = t.step(s.zD, s.zG);
  const { G, D } = t.lastGradients();
  return { ...losses, gradG: G, gradD: D, paramsG: readFlat(t.G.net.all), paramsD: readFlat(t.D.net.all) };
}

/** A GanTrainer replica that reports gradients and parameters after each step. */
export function createGanProbeReplica(init: GanInit, ctx: ReplicaContext): Replica<GanShard, GanProbe> {
  const t = new GanTrainer(init.arch, init.seed, ctx.rank, ctx.world, ctx);
  return { reduceFloats: t.reduceFloats, step: (s) => probeStep(t, s), dispose: () => t.dispose() };
}
