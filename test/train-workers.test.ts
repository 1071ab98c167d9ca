/**
 * `fsrgan train --workers N` (src/train/replicas.ts): data-parallel replicas in worker threads. For a
 * given N and seed a run is bit-identical to itself, also across an interruption and a resume and across a
 * divergence rollback (the workers are re-synchronised from the trainer's session); it agrees with the
 * one-replica run to float tolerance (the averaged shard gradients are the full-batch gradient), also when
 * the batch does not split evenly; live tensors stay flat. With a synthetic teacher every replica draws its
 * own rows of each batch from a copy of the source (PyramidSource.batchRows); other sources are drawn by
 * the trainer's thread and handed out.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { resumeTraining, train, type TrainHook } from '../src/train/trainer.js';
import { TeacherSource } from '../src/data/teacher.js';
import { buildTeacher, disposeTeacher, resolveTeacherConfig } from '../src/teacher/index.js';
import { UserError } from '../src/util/errors.js';
import { metricsWithoutTimings, NanSource, newestState } from './reliability-fixtures.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';

const dirs: string[] = [];
const sources: PlantedSource[] = [];
beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(async () => {
  sources.forEach((s) => s.dispose());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-workers-'));
  dirs.push(d);
  return d;
}
function planted(): PlantedSource {
  const s = new PlantedSource();
  sources.push(s);
  return s;
}
function nan(calls: number[]): NanSource {
  const s = new NanSource(calls);
  sources.push(s);
  return s;
}
const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));

/**
 * Largest difference between two runs' logged losses, relative to max(|value|, 0.01). Losses, not weights:
 * Adam's first steps move a weight by about lr * sign(g), so a gradient that is zero up to rounding can
 * move one weight differently without the networks computing anything different.
 */
async function lossDiff(a: string, b: string): Promise<number> {
  const [la, lb] = [await metricsWithoutTimings(a), await metricsWithoutTimings(b)];
  expect(la.map((l) => l.step)).toEqual(lb.map((l) => l.step));
  let worst = 0;
  la.forEach((l, i) => {
    for (const k of ['lossD', 'lossG', 'penalty']) {
      const [x, y] = [l[k] as number, lb[i][k] as number];
      worst = Math.max(worst, Math.abs(x - y) / Math.max(Math.abs(y), 0.01));
    }
  });
  return worst;
}

// Every variant the step shards: R1, EMA, DiffAugment, a pair D, WGAN-GP with two D steps, spectral norm, crops.
const VARIANTS: [string, Record<string, unknown>][] = [
  ['ns + lazy R1 + EMA + augment', { objective: { r1: 1, r1Every: 2 }, train: { emaBeta: 0.8 }, discriminator: { augment: ['color', 'translation', 'cutout'] } }],
  ['wgan-gp + 2 D steps + SN + crop', { objective: { name: 'wgan-gp' }, discriminator: { spectralNorm: true, crop: 4 }, train: { dSteps: 2 } }],
];

describe('trainer with data-parallel replicas [wasm]', () => {
  for (const [label, over] of VARIANTS) {
    it(`${label}: 2 workers are bit-identical to themselves and close to 1 worker`, async () => {
      const cfg = tinyConfig({ ...over, train: { ...(over as { train?: object }).train, steps: 3 } });
      const [a, b, one] = [await tmp(), await tmp(), await tmp()];
      await train(cfg, a, { source: planted(), workers: 2 });
      await train(cfg, b, { source: planted(), workers: 2 });
      await train(cfg, one, { source: planted(), workers: 1 });
      const [sa, sb, s1] = [await state(a), await state(b), await state(one)];
      expect(sb.weightsSha256).toBe(sa.weightsSha256);
      expect(await metricsWithoutTimings(b)).toEqual(await metricsWithoutTimings(a));
      expect(sa.workers).toBe(2);
      expect(s1.workers).toBeUndefined();
      // Same draws (data, latents, augmentations), only the float sums differ.
      expect(sa.rng).toEqual(s1.rng);
      expect(sa.source).toEqual(s1.source);
      expect(sa.weightsSha256).not.toBe(s1.weightsSha256);
      expect(await lossDiff(a, one)).toBeLessThan(1e-4);
    });
  }

  it('a batch that does not split evenly (5 images on 2 workers) weights the shards: close to 1 worker', async () => {
    const cfg = tinyConfig({ train: { batch: 5, steps: 3, emaBeta: 0.5 }, objective: { r1: 1 } });
    const [a, one] = [await tmp(), await tmp()];
    await train(cfg, a, { source: planted(), workers: 2 });
    await train(cfg, one, { source: planted(), workers: 1 });
    expect(await lossDiff(a, one)).toBeLessThan(1e-4);
  });

  for (const [where, stopAt] of [['mid-stage', 5], ['at a stage boundary', 4]] as const) {
    it(`an interrupted 2-worker run resumed ${where} ends bit-identical to an uninterrupted one`, async () => {
      const cfg = tinyConfig({ objective: { r1: 1 }, train: { steps: 4, emaBeta: 0.8 }, discriminator: { augment: ['translation'] }, log: { checkpointEvery: 3 } });
      const a = await tmp();
      await train(cfg, a, { source: planted(), workers: 2 });
      const b = await tmp();
      const ctl = new AbortController();
      const stop: TrainHook = { every: stopAt, fn: () => (ctl.abort(), {}) };
      expect(await train(cfg, b, { source: planted(), workers: 2, hooks: [stop], signal: ctl.signal })).toMatchObject({ interrupted: true, step: stopAt });
      // No --workers: the run goes on with the 2 its checkpoints record.
      expect(await resumeTraining(b, { source: planted() })).toMatchObject({ completed: true, step: 12 });
      expect((await state(b)).weightsSha256).toBe((await state(a)).weightsSha256);
      expect(await metricsWithoutTimings(b)).toEqual(await metricsWithoutTimings(a));
    });
  }

  it('a 2-worker run that dies before its first periodic checkpoint resumes from step 0 with 2 workers, exactly', async () => {
    const cfg = tinyConfig({ train: { steps: 4 }, log: { checkpointEvery: 1000 } });
    const a = await tmp();
    await train(cfg, a, { source: planted(), workers: 2 });
    const b = await tmp();
    // A crash (not Ctrl-C: no checkpoint on the way out) at step 2 leaves only the step-0 checkpoint.
    const crash: TrainHook = { every: 2, fn: () => { throw new Error('crash'); } };
    await expect(train(cfg, b, { source: planted(), workers: 2, hooks: [crash] })).rejects.toThrow('crash');
    expect((await state(b)).step).toBe(0);
    expect((await state(b)).workers).toBe(2);
    await resumeTraining(b, { source: planted() });
    expect((await state(b)).weightsSha256).toBe((await state(a)).weightsSha256);
  });

  it('a rollback re-synchronises the workers: the run is the same with and without an interruption after it', async () => {
    const cfg = tinyConfig({ train: { steps: 5 }, log: { checkpointEvery: 3 } });
    const a = await tmp();
    expect(await train(cfg, a, { source: nan([5]), workers: 2, onMessage: () => undefined })).toMatchObject({ completed: true, step: 15 });
    const events = (await metricsWithoutTimings(a)).filter((l) => l.event);
    expect(events).toEqual([expect.objectContaining({ event: 'non-finite', step: 5, action: 'rollback', toStep: 3 })]);
    const b = await tmp();
    const ctl = new AbortController();
    const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
    await train(cfg, b, { source: nan([5]), workers: 2, hooks: [stop], signal: ctl.signal, onMessage: () => undefined });
    await resumeTraining(b, { source: nan([]), onMessage: () => undefined });
    expect((await newestState(b)).weightsSha256).toBe((await newestState(a)).weightsSha256);
  });

  it('live tensors are the same after step 10 and step 60 with 2 workers', async () => {
    const cfg = tinyConfig({ objective: { r1: 1 }, train: { emaBeta: 0.9, stepsByLevel: [60, 1, 1] }, log: { every: 50 } });
    const counts: Record<number, number> = {};
    const probe: TrainHook = { every: 10, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
    await train(cfg, await tmp(), { source: planted(), workers: 2, hooks: [probe] });
    expect(counts[10]).toBeGreaterThan(0);
    expect(counts[60]).toBe(counts[10]);
  });

  it('with a teacher source every replica draws its own rows: deterministic, exact across a resume, close to 1 worker', async () => {
    const teacher = buildTeacher(resolveTeacherConfig({ resolutions: [8, 16], channels: [8, 12], zDim: 6, targetActive: [2, 3], calibrationSamples: 256, seed: 11 }));
    try {
      const cfg = tinyConfig({ generator: { resolutions: [8, 16], channels: [8, 12], zDim: 6, kernel: 4, patch: 4 }, objective: { r1: 1 }, train: { steps: 4, batch: 6 }, log: { checkpointEvery: 3 } });
      const source = () => new TeacherSource(teacher, cfg.seed);
      const [a, b, c, one] = [await tmp(), await tmp(), await tmp(), await tmp()];
      await train(cfg, a, { source: source(), teacher, workers: 2 });
      await train(cfg, b, { source: source(), teacher, workers: 2 });
      await train(cfg, one, { source: source(), teacher, workers: 1 });
      const ctl = new AbortController();
      const stop: TrainHook = { every: 5, fn: () => (ctl.abort(), {}) };
      await train(cfg, c, { source: source(), teacher, workers: 2, hooks: [stop], signal: ctl.signal });
      await resumeTraining(c, { source: source(), teacher });
      const [sa, sb, sc, s1] = [await state(a), await state(b), await state(c), await state(one)];
      expect(sb.weightsSha256).toBe(sa.weightsSha256);
      expect(sc.weightsSha256).toBe(sa.weightsSha256);
      expect(await metricsWithoutTimings(c)).toEqual(await metricsWithoutTimings(a));
      // Rows drawn apart advance the source as whole batches do.
      expect(sa.source).toEqual(s1.source);
      expect(await lossDiff(a, one)).toBeLessThan(1e-4);
    } finally {
      disposeTeacher(teacher);
    }
  });

  it('more workers than images per step is a UserError', async () => {
    await expect(train(tinyConfig({ train: { batch: 2 } }), await tmp(), { source: planted(), workers: 3 })).rejects.toThrow(UserError);
  });
});
