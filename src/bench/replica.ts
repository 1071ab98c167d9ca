/**
 * The training sessions `fsrgan bench train` times (train.ts): a session of a training config at its top
 * stage, prepared as the trainer prepares a stage (calibration, fresh optimisers), fed N(0,1) stand-in
 * images, stepped by the trainer's own step. Also the replica program of the "independent" contender:
 * `world` such sessions in worker threads, each training alone on batch / world images.
 */
import { StandInSource } from '../data/standin.js';
import type { Replica, ReplicaContext } from '../parallel/replica.js';
import type { TrainConfig } from '../train/config.js';
import { StepGuard } from '../train/guard.js';
import { buildSession, copyLearner, disposeSession, openStageOptimizers, prepareStage, type Session } from '../train/session.js';
import { trainStep, type StepContext } from '../train/step.js';

export interface BenchSession {
  s: Session;
  dispose(): void;
}

/** A session of `config` at its last stage, as a run enters it, on stand-in images drawn from `seed`. */
export function benchSession(config: TrainConfig, seed: number): BenchSession {
  const source = new StandInSource(config.generator.resolutions, 3, config.train.batch, seed);
  const s = buildSession(config, 3, source);
  s.stageIndex = s.stages.length - 1;
  prepareStage(s, null);
  openStageOptimizers(s);
  if (s.ema) copyLearner(s.ema, s.learner);
  return {
    s,
    dispose: () => {
      disposeSession(s);
      source.dispose();
    },
  };
}

/** The context of the session's next step, as the trainer's loop builds it (with its divergence guard). */
export function stepContext(s: Session): StepContext {
  const stage = s.stages[s.stageIndex];
  const action = s.config.guard.onNonFinite;
  return {
    config: s.config, stage, learner: s.learner, ema: s.ema, disc: s.discs.get(stage.resolution)!, source: s.source!, rngs: s.rngs,
    optG: s.opt!.g, optD: s.opt!.d, guard: action === 'off' ? undefined : new StepGuard(action !== 'skip'), stageStep: s.stageStep,
  };
}

/** Counts a step taken, as the trainer's loop does (replicas re-synchronise when the count jumps). */
export function stepTaken(s: Session): void {
  s.step++;
  s.stageStep++;
}

export interface IndependentInit {
  config: TrainConfig;
  seed: number;
}

/**
 * A replica that trains alone on batch/world images per step and never exchanges gradients: `world` of
 * them at once measure what that many concurrent workers reach on this machine when nothing synchronises
 * them (shared caches, memory bandwidth, other tenants), the ceiling of the data-parallel replicas.
 */
export function createIndependentReplica(init: IndependentInit, ctx: ReplicaContext): Replica<{ steps: number }, number> {
  const batch = Math.max(1, Math.floor(init.config.train.batch / ctx.world));
  const b = benchSession({ ...init.config, train: { ...init.config.train, batch } }, init.seed + ctx.rank);
  return {
    reduceFloats: 1,
    step: ({ steps }) => {
      for (let i = 0; i < steps; i++) {
        trainStep(stepContext(b.s), false);
        stepTaken(b.s);
      }
      return steps;
    },
    dispose: () => b.dispose(),
  };
}
