/**
 * The training loop, top to bottom: for each stage of the schedule, open its optimisers and hash the
 * frozen variables; run steps (log metrics and hooks, write sample grids and checkpoints at their
 * intervals; stop cleanly on abort); at the end hash again, fail loudly if a frozen tensor changed, and
 * checkpoint. A run directory holds config.json, run.json, teacher/ (synthetic data), metrics.jsonl,
 * stages/<level>/stage.json, checkpoints/ and samples/ (docs/training.md; paths and readers: rundir.ts).
 *
 * Reliability (docs/reliability.md): a run directory has one writer (DIR/.lock); a new run becomes
 * resumable atomically (config.json is written last, after the step-0 checkpoint); every checkpoint
 * records the size of metrics.jsonl, and a resume truncates the log back to it; every update passes the
 * divergence guard before it is applied; full-disk errors stop the run with a message naming what is
 * intact.
 */
import * as tf from '@tensorflow/tfjs';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Learner } from '../models/learner.js';
import type { Discriminator } from '../models/discriminator.js';
import type { PyramidSource } from '../data/source.js';
import { UserError } from '../util/errors.js';
import { diskError, mkdirs, writeFileAtomic } from '../util/atomic.js';
import { resolveConfig, type TrainConfig } from './config.js';
import { findCheckpoint, listCheckpoints, saveCheckpoint, tidyCheckpoints } from './checkpoint.js';
import { allFinite, DivergenceError, guardEventLine, StepGuard, type NonFiniteUpdate } from './guard.js';
import { withRunLock } from './lock.js';
import { hasRunConfig, nextAfterStop, readRunConfig, runPaths, writeRunConfig, writeStageRecord } from './rundir.js';
import { openStageRecord, resumeStageRecord } from './stage-records.js';
import { MetricsLog } from './metrics.js';
import { disposeTeacher, type Teacher } from '../teacher/index.js';
import { checkSourceMatches, loadRunTeacher, openTrainData, saveRunTeacher, teacherData, type TrainData } from './data.js';
import { buildSession, closeStageOptimizers, copyLearner, disposeSession, openStageOptimizers, prepareStage, restoreSession, sessionState, sessionTensors, type Session } from './session.js';
import { changedNames, hashVars, type Stage, type StageRecord } from './stages.js';
export { writeSamples } from './samples.js';
import { startSteps, type StepRunner } from './replicas.js';
import { writeSamples } from './samples.js';
import { analysisHooks } from './analysis-hooks.js';

export interface HookContext {
  runDir: string;
  config: TrainConfig;
  /** G steps completed in the run. */
  step: number;
  stage: Stage;
  stageIndex: number;
  learner: Learner;
  ema: Learner | null;
  /** The current stage's D. */
  disc: Discriminator;
  discs: Map<number, Discriminator>;
  source: PyramidSource;
  /** The synthetic teacher when the data is one (for recovery / moment checks during training). */
  teacher: Teacher | null;
}

/** Called after every `every`-th step; its numbers are merged into that step's metrics.jsonl line. */
export interface TrainHook {
  every: number;
  fn(ctx: HookContext): Record<string, number> | Promise<Record<string, number>>;
}

export interface ProgressEvent {
  kind: 'stage-start' | 'step' | 'stage-end' | 'done' | 'interrupted' | 'rollback';
  level: number;
  resolution: number;
  stageIndex: number;
  stages: number;
  stageStep: number;
  stageSteps: number;
  step: number;
  lossD?: number;
  lossG?: number;
  imagesPerSec?: number;
}

export interface TrainOptions {
  hooks?: TrainHook[];
  /** Aborting finishes the current step, writes a checkpoint and returns (Ctrl-C in the CLI). */
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Messages for long preparations (dataset caching). */
  onMessage?: (line: string) => void;
  /** A data source to use instead of opening config.data (tests, notebooks); the caller owns it. */
  source?: PyramidSource;
  /** The teacher behind `source`, if synthetic (saved into the run's teacher/). */
  teacher?: Teacher;
  /** Data-parallel replicas, one per core (replicas.ts); default 1: this thread alone. */
  workers?: number;
}

export interface TrainResult {
  runDir: string;
  step: number;
  completed: boolean;
  interrupted: boolean;
}

/**
 * Starts a new run in `runDir` (which must not hold a run yet). The folder becomes a run only when
 * config.json appears, after run.json, the teacher and the step-0 checkpoint: a run killed earlier has
 * no config.json and is simply started again (leftovers are overwritten).
 */
export async function train(config: TrainConfig, runDir: string, opts: TrainOptions = {}): Promise<TrainResult> {
  const taken = () => new UserError(`'${runDir}' already holds a run: resume it with --resume ${runDir}, or choose another --out.`);
  if (await hasRunConfig(runDir)) {
    // A run that is being trained right now says so (the lock's message) rather than suggesting a resume.
    await withRunLock(runDir, async () => undefined, opts.onMessage);
    throw taken();
  }
  const data: TrainData = opts.source ? { source: opts.source, teacher: opts.teacher ?? null } : await openTrainData(config, opts.onMessage ?? ((m) => console.warn(m)));
  const { source } = data;
  try {
    if (opts.source) checkSourceMatches(config, source, opts.teacher?.config.channels);
    await mkdirs(runDir).catch((e: NodeJS.ErrnoException) => {
      throw e.code ? new UserError(`cannot create the run directory '${runDir}': ${e.message}. Choose another --out.`) : e;
    });
    return await withRunLock(
      runDir,
      async () => {
        if (await hasRunConfig(runDir)) throw taken();
        // A start killed before config.json existed may have left temp folders and files: start clean.
        await tidyCheckpoints(runDir, []);
        // The replicas are recorded from the step-0 checkpoint on: a run killed before the next resumes with them.
        const session: Session = { ...buildSession(config, source.channels, source), workers: opts.workers ?? 1 };
        const paths = runPaths(runDir);
        let metrics: MetricsLog | null = null;
        try {
          await writeFileAtomic(
            paths.run,
            JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, created: new Date().toISOString(), data: source.describe() }, null, 2) + '\n',
          );
          if (data.teacher) {
            await rm(paths.teacher, { recursive: true, force: true });
            await saveRunTeacher(data.teacher, runDir);
          }
          metrics = await MetricsLog.open(paths.metrics, 0);
          await checkpoint(session, runDir, metrics);
          await writeRunConfig(runDir, config);
          return await runLoop(session, runDir, opts, data.teacher, metrics);
        } catch (e) {
          throw diskError(e, `training stopped: cannot write into '${runDir}'`, (await hasRunConfig(runDir)) ? 'Checkpoints already written are intact.' : '', await nextAfterStop(runDir));
        } finally {
          await metrics?.close();
          disposeSession(session);
        }
      },
      opts.onMessage,
    );
  } finally {
    if (!opts.source && data.teacher) disposeTeacher(data.teacher);
  }
}

/**
 * Continues a run from its newest checkpoint that verifies (damaged newer ones are reported and set
 * aside); on the same backend the result is bit-identical to an uninterrupted run.
 */
export async function resumeTraining(runDir: string, opts: TrainOptions = {}): Promise<TrainResult> {
  const config = await readRunConfig(runDir);
  const say = opts.onMessage ?? ((m: string) => console.warn(m));
  return withRunLock(
    runDir,
    async () => {
      const { checkpoint: ck, skipped } = await findCheckpoint(runDir);
      for (const x of skipped) say(`warning: ${x.reason}${ck ? `; resuming from ${basename(ck.path)}` : ''}`);
      if (!ck) {
        throw new UserError(`no usable checkpoint in '${runDir}/checkpoints'${skipped.length ? `: ${skipped.map((x) => x.reason).join('; ')}` : ''}.`);
      }
      await tidyCheckpoints(runDir, skipped.map((x) => x.path));
      if (ck.state.backend !== tf.getBackend()) {
        say(`warning: the checkpoint was written on backend ${ck.state.backend}, resuming on ${tf.getBackend()}: not bit-identical.`);
      }
      // Unless told otherwise, a run goes on with the replicas it was trained with (its bits depend on them).
      const workers = opts.workers ?? ck.state.workers ?? 1;
      if (workers !== (ck.state.workers ?? 1)) say(`warning: the checkpoint was written by ${ck.state.workers ?? 1} worker(s), resuming with ${workers}: not bit-identical.`);
      // A synthetic run serves the teacher saved in the run (the same tensors, no rebuild).
      let data: TrainData;
      try {
        const saved = opts.source ? null : await loadRunTeacher(runDir);
        if (!opts.source && !saved && /\.json$/i.test(config.data)) say(`warning: ${runPaths(runDir).teacher} is missing: the teacher is rebuilt from ${config.data}, the same one only if that file is unchanged.`);
        data = opts.source ? { source: opts.source, teacher: opts.teacher ?? null } : saved ? teacherData(config, saved) : await openTrainData(config, opts.onMessage ?? ((m) => console.warn(m)));
      } catch (e) {
        tf.dispose(Object.values(ck.tensors));
        throw e;
      }
      const session = buildSession(config, data.source.channels, data.source);
      let metrics: MetricsLog | null = null;
      try {
        restoreSession(session, ck);
        metrics = await MetricsLog.open(runPaths(runDir).metrics, ck.state.metricsBytes, say);
        return await runLoop(session, runDir, { ...opts, workers }, data.teacher, metrics);
      } catch (e) {
        throw diskError(e, `training stopped: cannot write into '${runDir}'`, 'The last checkpoint is intact.', `resume with: fsrgan train --resume ${runDir}`);
      } finally {
        await metrics?.close();
        disposeSession(session);
        if (!opts.source && data.teacher) disposeTeacher(data.teacher);
      }
    },
    opts.onMessage,
  );
}

/** Checkpoints the session; the metrics log is fsynced first, so the size recorded is on disk. */
async function checkpoint(s: Session, runDir: string, metrics: MetricsLog, rollback = 0): Promise<void> {
  await metrics.sync();
  const { tensors, temporaries } = sessionTensors(s);
  try {
    await saveCheckpoint(runDir, tensors, sessionState(s, tf.getBackend(), metrics.bytes), { rollback });
  } finally {
    tf.dispose(temporaries);
  }
}

/** The first non-finite tensor a checkpoint of the session would hold (weights, EMA, D, optimiser), or null. */
function nonFiniteState(s: Session): NonFiniteUpdate[] {
  const { tensors, temporaries } = sessionTensors(s);
  try {
    if (allFinite(Object.values(tensors))) return [];
    return [{ update: 'checkpoint', tensor: Object.entries(tensors).find(([, t]) => !allFinite([t]))?.[0] ?? 'unknown' }];
  } finally {
    tf.dispose(temporaries);
  }
}

/**
 * A step had a rejected update and the action is not a plain skip: roll back to the newest checkpoint
 * with lower learning rates (a checkpoint of the new state is written at once, so a resume repeats
 * nothing), or throw a DivergenceError with the report.
 */
async function recover(s: Session, runDir: string, metrics: MetricsLog, stage: Stage, step: number, failures: NonFiniteUpdate[], say: (m: string) => void): Promise<void> {
  const g = s.config.guard;
  const action = g.onNonFinite;
  const stop = async (reason: string): Promise<never> => {
    await metrics.append(guardEventLine(step, stage.level, stage.resolution, failures, 'stop', { reason }));
    await metrics.sync();
    const newest = (await listCheckpoints(runDir))[0];
    throw new DivergenceError({ step, stage: stage.level, resolution: stage.resolution, failures, reason, lastCheckpoint: newest ? basename(newest) : null, runDir });
  };
  if (action === 'stop') await stop('guard.onNonFinite is "stop".');
  if (action === 'skip') {
    await stop(failures[0].update === 'checkpoint' ? 'A weight is already non-finite, which skipping updates cannot repair.' : `${g.maxSkips} steps in a row had an update dropped (guard.maxSkips).`);
  }
  if (s.guard.rollbacks >= g.maxRollbacks) await stop(`The run already rolled back ${s.guard.rollbacks} time(s) (guard.maxRollbacks = ${g.maxRollbacks}).`);
  const { checkpoint: ck, skipped } = await findCheckpoint(runDir);
  if (!ck) return stop('No checkpoint verifies, so there is nothing to roll back to.');
  await tidyCheckpoints(runDir, skipped.map((x) => x.path));
  const next = { lrScale: s.guard.lrScale * g.lrFactor, rollbacks: s.guard.rollbacks + 1, skipsInRow: 0 };
  restoreSession(s, ck);
  s.guard = next;
  if (s.opt) {
    s.opt.g.lr = s.config.train.lrG * next.lrScale;
    s.opt.d.lr = s.config.train.lrD * next.lrScale;
  }
  await metrics.truncate(ck.state.metricsBytes);
  await metrics.append(guardEventLine(step, stage.level, stage.resolution, failures, 'rollback', { toStep: ck.state.step, lrScale: next.lrScale, rollbacks: next.rollbacks }));
  await checkpoint(s, runDir, metrics, next.rollbacks);
  say(`non-finite update at step ${step} (${failures.map((f) => `${f.update}: ${f.tensor}`).join('; ')}): rolled back to step ${ck.state.step}, learning rates x${next.lrScale} (rollback ${next.rollbacks}/${g.maxRollbacks})`);
}

async function runLoop(s: Session, runDir: string, opts: TrainOptions, teacher: Teacher | null, metrics: MetricsLog): Promise<TrainResult> {
  const steps = await startSteps(s, opts.workers ?? 1);
  return stageLoop(s, runDir, opts, teacher, metrics, steps).finally(() => steps.close());
}

async function stageLoop(s: Session, runDir: string, opts: TrainOptions, teacher: Teacher | null, metrics: MetricsLog, steps: StepRunner): Promise<TrainResult> {
  const { config } = s;
  const hooks = [...(opts.hooks ?? []), ...analysisHooks(config)];
  const action = config.guard.onNonFinite;
  const say = opts.onMessage ?? ((m: string) => console.warn(m));
  const emit = (stage: Stage, e: Pick<ProgressEvent, 'kind' | 'lossD' | 'lossG' | 'imagesPerSec'>) =>
    opts.onProgress?.({
      level: stage.level,
      resolution: stage.resolution,
      stageIndex: s.stages.indexOf(stage),
      stages: s.stages.length,
      stageSteps: stage.steps,
      step: s.step,
      stageStep: s.stageIndex === s.stages.indexOf(stage) ? s.stageStep : stage.steps,
      ...e,
    });
  let clock = performance.now();
  const tick = () => {
    const now = performance.now();
    s.wallTime += (now - clock) / 1000;
    clock = now;
  };
  stages: while (s.stageIndex < s.stages.length) {
    const stage = s.stages[s.stageIndex];
    const disc = s.discs.get(stage.resolution)!;
    let record: StageRecord;
    if (s.stageStep === 0) {
      const calibration = prepareStage(s, teacher?.params ?? null);
      openStageOptimizers(s);
      // EMA restarts from the weights at each stage start, so the EMA generator of a stage is the frozen
      // lower layers plus the average of the trained ones (docs/training.md).
      if (s.ema) copyLearner(s.ema, s.learner);
      record = { ...openStageRecord(s, stage), calibration };
      await writeStageRecord(runDir, record);
    } else {
      record = await resumeStageRecord(runDir, s, stage, say);
    }
    emit(stage, { kind: 'stage-start' });
    let mark = { time: performance.now(), step: s.step };
    while (s.stageStep < stage.steps) {
      const next = s.step + 1;
      const firing = hooks.filter((h) => next % h.every === 0);
      const logNow = next % config.log.every === 0 || firing.length > 0 || s.stageStep + 1 === stage.steps;
      const guard = action === 'off' ? undefined : new StepGuard(action !== 'skip');
      const losses = await steps.step(
        { config, stage, learner: s.learner, ema: s.ema, disc, source: s.source!, rngs: s.rngs, optG: s.opt!.g, optD: s.opt!.d, guard, stageStep: s.stageStep, hist: s.hist },
        logNow,
      );
      if (guard?.failures.length) {
        if (action === 'skip' && s.guard.skipsInRow < config.guard.maxSkips) {
          s.guard.skipsInRow++;
          await metrics.append(guardEventLine(next, stage.level, stage.resolution, guard.failures, 'skip'));
        } else {
          await recover(s, runDir, metrics, stage, next, guard.failures, say);
          emit(stage, { kind: 'rollback' });
          clock = performance.now();
          continue stages;
        }
      } else if (guard) s.guard.skipsInRow = 0;
      s.step = next;
      s.stageStep++;
      tick();
      // Steps are synchronous: yield once per step so that Ctrl-C (the abort signal) is seen promptly.
      await new Promise((resolve) => setImmediate(resolve));
      if (losses) {
        const now = performance.now();
        const imagesPerSec = ((s.step - mark.step) * config.train.batch) / Math.max(1e-9, (now - mark.time) / 1000);
        mark = { time: now, step: s.step };
        const line: Record<string, number> = {
          stage: stage.level,
          resolution: stage.resolution,
          step: s.step,
          stageStep: s.stageStep,
          lossD: losses.lossD,
          lossG: losses.lossG,
          penalty: losses.penalty,
          lrG: s.opt!.g.lr,
          lrD: s.opt!.d.lr,
          wallTime: Math.round(s.wallTime * 1000) / 1000,
          imagesPerSec: Math.round(imagesPerSec * 10) / 10,
        };
        const ctx: HookContext = { runDir, config, step: s.step, stage, stageIndex: s.stageIndex, learner: s.learner, ema: s.ema, disc, discs: s.discs, source: s.source!, teacher };
        for (const h of firing) Object.assign(line, await h.fn(ctx));
        await metrics.append(line);
        emit(stage, { kind: 'step', lossD: losses.lossD, lossG: losses.lossG, imagesPerSec });
      }
      if (s.stageStep === stage.steps) break;
      if (s.step % config.log.sampleEvery === 0) await writeSamples(s, runDir, stage);
      if (s.step % config.log.checkpointEvery === 0 || opts.signal?.aborted) {
        // Updates are checked, but a hook (or a bug) could still plant a NaN: never write one to disk.
        const bad = action === 'off' ? [] : nonFiniteState(s);
        if (bad.length) {
          await recover(s, runDir, metrics, stage, s.step, bad, say);
          emit(stage, { kind: 'rollback' });
          clock = performance.now();
          continue stages;
        }
        await checkpoint(s, runDir, metrics);
      }
      if (opts.signal?.aborted) {
        emit(stage, { kind: 'interrupted' });
        return { runDir, step: s.step, completed: false, interrupted: true };
      }
    }
    // End of stage: verify freezing, then checkpoint at the boundary (stageIndex already advanced).
    const bad = action === 'off' ? [] : nonFiniteState(s);
    if (bad.length) {
      await recover(s, runDir, metrics, stage, s.step, bad, say);
      emit(stage, { kind: 'rollback' });
      clock = performance.now();
      continue;
    }
    // The layers this stage trained are frozen from now on at their EMA (train.emaFreeze).
    if (s.ema && config.train.emaFreeze) copyLearner(s.learner, s.ema, stage.trained);
    record.frozenHashesEnd = hashVars(s.learner.vars, stage.frozen);
    record.trainedHashesEnd = hashVars(s.learner.vars, stage.trained);
    record.unchangedTrained = stage.trained.filter((n) => record.trainedHashesStart[n] === record.trainedHashesEnd![n]);
    record.endStep = s.step;
    await writeStageRecord(runDir, record);
    const changed = changedNames(record.frozenHashesStart, record.frozenHashesEnd);
    if (changed.length) throw new Error(`stage ${stage.level}: frozen variables changed during the stage: ${changed.join(', ')} (see stages/${stage.level}/stage.json).`);
    await writeSamples(s, runDir, stage);
    closeStageOptimizers(s);
    s.stageIndex++;
    s.stageStep = 0;
    tick();
    await checkpoint(s, runDir, metrics);
    emit(stage, { kind: 'stage-end' });
    if (opts.signal?.aborted && s.stageIndex < s.stages.length) {
      emit(stage, { kind: 'interrupted' });
      return { runDir, step: s.step, completed: false, interrupted: true };
    }
  }
  emit(s.stages[s.stages.length - 1], { kind: 'done' });
  return { runDir, step: s.step, completed: true, interrupted: false };
}
