/**
 * The training loop, top to bottom: for each stage of the schedule, open its optimisers and hash the
 * frozen variables; run steps (log metrics and hooks, write sample grids and checkpoints at their
 * intervals; stop cleanly on abort); at the end hash again, fail loudly if a frozen tensor changed, and
 * checkpoint. A run directory holds config.json, run.json, teacher/ (synthetic data), metrics.jsonl,
 * stages/<level>/stage.json, checkpoints/ and samples/ (docs/training.md).
 */
import * as tf from '@tensorflow/tfjs';
import { appendFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Learner } from '../models/learner.js';
import { learnerForward } from '../models/learner.js';
import type { Discriminator } from '../models/discriminator.js';
import type { PyramidSource } from '../data/source.js';
import { writeGridPng } from '../report/png.js';
import { UserError } from '../util/errors.js';
import { resolveConfig, type TrainConfig } from './config.js';
import { requireCheckpoint, saveCheckpoint } from './checkpoint.js';
import { disposeTeacher, type Teacher } from '../teacher/index.js';
import { checkSourceMatches, loadRunTeacher, openTrainData, saveRunTeacher, teacherData, type TrainData } from './data.js';
import { buildSession, closeStageOptimizers, copyLearner, disposeSession, openStageOptimizers, restoreSession, sessionState, sessionTensors, type Session } from './session.js';
import { changedNames, hashVars, type Stage, type StageRecord } from './stages.js';
import { trainStep } from './step.js';

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
  kind: 'stage-start' | 'step' | 'stage-end' | 'done' | 'interrupted';
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
}

export interface TrainResult {
  runDir: string;
  step: number;
  completed: boolean;
  interrupted: boolean;
}

const pad8 = (n: number) => String(n).padStart(8, '0');

/** Starts a new run in `runDir` (which must not hold a run yet). */
export async function train(config: TrainConfig, runDir: string, opts: TrainOptions = {}): Promise<TrainResult> {
  const existing = await readdir(runDir).catch(() => [] as string[]);
  if (existing.includes('config.json')) throw new UserError(`'${runDir}' already holds a run: resume it with --resume ${runDir}, or choose another --out.`);
  const data: TrainData = opts.source ? { source: opts.source, teacher: opts.teacher ?? null } : await openTrainData(config, opts.onMessage);
  const { source } = data;
  if (opts.source) checkSourceMatches(config, source, opts.teacher?.config.channels);
  await mkdir(runDir, { recursive: true });
  await writeFile(join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFile(
    join(runDir, 'run.json'),
    JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, created: new Date().toISOString(), data: source.describe() }, null, 2) + '\n',
  );
  if (data.teacher) await saveRunTeacher(data.teacher, runDir);
  const session = buildSession(config, source.channels, source);
  try {
    return await runLoop(session, runDir, opts, data.teacher);
  } finally {
    disposeSession(session);
    if (!opts.source && data.teacher) disposeTeacher(data.teacher);
  }
}

/** Continues a run from its newest valid checkpoint; on the same backend the result is bit-identical. */
export async function resumeTraining(runDir: string, opts: TrainOptions = {}): Promise<TrainResult> {
  const raw = await readFile(join(runDir, 'config.json'), 'utf8').catch(() => {
    throw new UserError(`'${runDir}' is not a run directory (no config.json).`);
  });
  const config = resolveConfig(JSON.parse(raw));
  const ck = await requireCheckpoint(runDir);
  if (ck.state.backend !== tf.getBackend()) {
    opts.onMessage?.(`warning: the checkpoint was written on backend ${ck.state.backend}, resuming on ${tf.getBackend()}: not bit-identical.`);
  }
  // A synthetic run serves the teacher saved in the run (the same tensors, no rebuild).
  const saved = opts.source ? null : await loadRunTeacher(runDir);
  const data: TrainData = opts.source
    ? { source: opts.source, teacher: opts.teacher ?? null }
    : saved
      ? teacherData(config, saved)
      : await openTrainData(config, opts.onMessage);
  const session = buildSession(config, data.source.channels, data.source);
  try {
    restoreSession(session, ck);
    await truncateMetrics(runDir, session.step);
    return await runLoop(session, runDir, opts, data.teacher);
  } finally {
    disposeSession(session);
    if (!opts.source && data.teacher) disposeTeacher(data.teacher);
  }
}

/** Drops metrics lines written after the checkpoint a run resumes from, so the file matches an uninterrupted run. */
async function truncateMetrics(runDir: string, step: number): Promise<void> {
  const file = join(runDir, 'metrics.jsonl');
  const text = await readFile(file, 'utf8').catch(() => '');
  const keep = text.split('\n').filter((l) => l.trim() && (JSON.parse(l) as { step: number }).step <= step);
  await writeFile(file, keep.map((l) => l + '\n').join(''));
}

async function writeStageRecord(runDir: string, rec: StageRecord): Promise<void> {
  const dir = join(runDir, 'stages', String(rec.level));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'stage.json'), JSON.stringify(rec, null, 2) + '\n');
}

async function readStageRecord(runDir: string, level: number): Promise<StageRecord> {
  return JSON.parse(await readFile(join(runDir, 'stages', String(level), 'stage.json'), 'utf8')) as StageRecord;
}

/** Sample grids of G (and its EMA) at the fixed latents, one PNG per meaningful resolution. */
export async function writeSamples(s: Session, runDir: string, stage: Stage): Promise<void> {
  const dir = join(runDir, 'samples', `step-${pad8(s.step)}`);
  const upTo = s.shape.resolutions.indexOf(Math.max(...stage.outputs)) + 1;
  for (const [tag, g] of [['', s.learner], ['ema-', s.ema]] as const) {
    if (!g) continue;
    const xs = tf.tidy(() => learnerForward(g, s.sampleZ, upTo).x);
    for (const r of stage.outputs) await writeGridPng(join(dir, `${tag}r${r}.png`), xs[s.shape.resolutions.indexOf(r)], { scale: Math.max(1, Math.round(64 / r)) });
    tf.dispose(xs);
  }
}

async function checkpoint(s: Session, runDir: string): Promise<void> {
  const { tensors, temporaries } = sessionTensors(s);
  try {
    await saveCheckpoint(runDir, tensors, sessionState(s, tf.getBackend()));
  } finally {
    tf.dispose(temporaries);
  }
}

async function runLoop(s: Session, runDir: string, opts: TrainOptions, teacher: Teacher | null): Promise<TrainResult> {
  const { config } = s;
  const hooks = opts.hooks ?? [];
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
  while (s.stageIndex < s.stages.length) {
    const stage = s.stages[s.stageIndex];
    const disc = s.discs.get(stage.resolution)!;
    let record: StageRecord;
    if (s.stageStep === 0) {
      openStageOptimizers(s);
      // EMA restarts from the weights at each stage start, so the EMA generator of a stage is the frozen
      // lower layers plus the average of the trained ones (docs/training.md).
      if (s.ema) copyLearner(s.ema, s.learner);
      record = {
        level: stage.level,
        resolution: stage.resolution,
        mode: config.train.mode,
        discInput: stage.discInput,
        trainedLayers: stage.trained,
        frozenLayers: stage.frozen,
        frozenHashesStart: hashVars(s.learner.vars, stage.frozen),
        frozenHashesEnd: null,
        trainedHashesStart: hashVars(s.learner.vars, stage.trained),
        trainedHashesEnd: null,
        unchangedTrained: null,
        startStep: s.step,
        endStep: null,
      };
      await writeStageRecord(runDir, record);
    } else {
      record = await readStageRecord(runDir, stage.level);
    }
    emit(stage, { kind: 'stage-start' });
    let mark = { time: performance.now(), step: s.step };
    while (s.stageStep < stage.steps) {
      const next = s.step + 1;
      const firing = hooks.filter((h) => next % h.every === 0);
      const logNow = next % config.log.every === 0 || firing.length > 0 || s.stageStep + 1 === stage.steps;
      const losses = trainStep(
        { config, stage, learner: s.learner, ema: s.ema, disc, source: s.source!, rngs: s.rngs, optG: s.opt!.g, optD: s.opt!.d },
        logNow,
      );
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
        await appendFile(join(runDir, 'metrics.jsonl'), JSON.stringify(line) + '\n');
        emit(stage, { kind: 'step', lossD: losses.lossD, lossG: losses.lossG, imagesPerSec });
      }
      if (s.stageStep === stage.steps) break;
      if (s.step % config.log.sampleEvery === 0) await writeSamples(s, runDir, stage);
      if (s.step % config.log.checkpointEvery === 0 || opts.signal?.aborted) await checkpoint(s, runDir);
      if (opts.signal?.aborted) {
        emit(stage, { kind: 'interrupted' });
        return { runDir, step: s.step, completed: false, interrupted: true };
      }
    }
    // End of stage: verify freezing, then checkpoint at the boundary (stageIndex already advanced).
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
    await checkpoint(s, runDir);
    emit(stage, { kind: 'stage-end' });
    if (opts.signal?.aborted && s.stageIndex < s.stages.length) {
      emit(stage, { kind: 'interrupted' });
      return { runDir, step: s.step, completed: false, interrupted: true };
    }
  }
  emit(s.stages[s.stages.length - 1], { kind: 'done' });
  return { runDir, step: s.step, completed: true, interrupted: false };
}
