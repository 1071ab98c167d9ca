/**
 * The trainer's recipe features on small synthetic teachers: the oracle-lower mode copies the teacher's
 * own lower layers in and keeps them frozen; train.emaFreeze freezes a finished stage at its EMA; lazy R1
 * applies the penalty every r1Every-th D step at r1Every times the weight; and the shipped recipe recovers
 * a planted dictionary (the test fails when learning breaks).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { buildTeacher, disposeTeacher, type Teacher } from '../src/teacher/index.js';
import { TeacherSource } from '../src/data/teacher.js';
import { defaultTeacherConfig, type TeacherConfig } from '../src/teacher/config.js';
import { resolveConfig } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';
import { loadRun } from '../src/train/run.js';
import { tensorHash, type StageRecord } from '../src/train/stages.js';
import { dictionaryRecovery } from '../src/analysis/recovery.js';

const dirs: string[] = [];
const teachers: Teacher[] = [];
beforeAll(() => initBackend('wasm'));
afterAll(async () => {
  teachers.forEach(disposeTeacher);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-recipe-'));
  dirs.push(d);
  return d;
}
function teacher(over: Partial<TeacherConfig>): Teacher {
  const t = buildTeacher({ ...defaultTeacherConfig, calibrationSamples: 512, ...over });
  teachers.push(t);
  return t;
}

const TWO_LEVELS: Partial<TeacherConfig> = { resolutions: [8, 16], channels: [6, 6], zDim: 6, targetActive: [1.5, 1.5] };

function config(over: Record<string, unknown>, sets: string[] = []) {
  const base = {
    data: 'planted-teacher.json',
    seed: 2,
    generator: { resolutions: [8, 16], channels: [8, 8], zDim: 6, kernel: 4, patch: 4 },
    discriminator: { widths: [16, 16] },
    objective: { r1: 1 },
    train: { batch: 8, steps: 6, emaBeta: 0.9 },
    log: { every: 1, checkpointEvery: 1000, sampleEvery: 1000, samples: 4 },
  };
  return resolveConfig({ ...base, ...over }, { sets });
}

describe('recipe features in the trainer [wasm]', () => {
  it('oracle-lower trains level l on the teacher\'s own frozen lower layers (zero-padded when wider)', async () => {
    const t = teacher(TWO_LEVELS);
    const cfg = config({}, ['train.mode=oracle-lower']);
    const dir = await tmp();
    await train(cfg, dir, { source: new TeacherSource(t, 1), teacher: t });
    const rec = JSON.parse(await readFile(join(dir, 'stages', '2', 'stage.json'), 'utf8')) as StageRecord;
    expect(rec.trainedLayers).toEqual(['g.r16.deconv', 'g.r16.bias', 'g.r16.out']);
    expect(rec.frozenHashesEnd).toEqual(rec.frozenHashesStart);
    const run = await loadRun(dir, { source: false });
    try {
      for (const part of ['deconv', 'bias', 'out'] as const) {
        const want = tf.tidy(() => {
          const w = t.params.blocks[8][part];
          const learned = run.generator.blocks[8][part];
          return tf.pad(w, learned.shape.map((d, i) => [0, d - w.shape[i]]) as Array<[number, number]>);
        });
        expect(tensorHash(run.generator.blocks[8][part])).toBe(tensorHash(want));
        want.dispose();
      }
      expect(run.outputs).toEqual([8, 16]);
    } finally {
      run.dispose();
    }
  });

  it('homeostasis.from: levels below it keep their learned biases, levels from it are re-set to the quantile', async () => {
    const t = teacher(TWO_LEVELS);
    const biases = async (sets: string[]) => {
      const dir = await tmp();
      await train(config({}, ['train.emaFreeze=false', ...sets]), dir, { source: new TeacherSource(t, 1), teacher: t });
      const run = await loadRun(dir, { source: false });
      try {
        return [8, 16].map((r) => tensorHash(run.generator.blocks[r].bias));
      } finally {
        run.dispose();
      }
    };
    const off = await biases([]);
    const from2 = await biases(['generator.homeostasis.active=0.25', 'generator.homeostasis.every=2', 'generator.homeostasis.from=2']);
    const from1 = await biases(['generator.homeostasis.active=0.25', 'generator.homeostasis.every=2']);
    // Level 1 is trained exactly as without homeostasis when it starts at level 2, and re-set when at 1.
    expect(from2[0]).toBe(off[0]);
    expect(from1[0]).not.toBe(off[0]);
    expect(from2[1]).not.toBe(off[1]);
    expect(() => config({}, ['generator.homeostasis.from=3'])).toThrow(/homeostasis\.from = 3 is above the top level \(2\)/);
  }, 60_000);

  it('oracle-lower needs a synthetic teacher', () => {
    expect(() => resolveConfig({ data: 'emoji', train: { mode: 'oracle-lower' } })).toThrow(/needs a synthetic teacher/);
  });

  it('emaFreeze: a finished stage\'s layers are its EMA, and the next stage builds on them', async () => {
    const t = teacher(TWO_LEVELS);
    const hashesOf = async (freeze: boolean) => {
      const dir = await tmp();
      await train(config({}, [`train.emaFreeze=${freeze}`]), dir, { source: new TeacherSource(t, 1), teacher: t });
      const recs = await Promise.all([1, 2].map(async (l) => JSON.parse(await readFile(join(dir, 'stages', String(l), 'stage.json'), 'utf8')) as StageRecord));
      const run = await loadRun(dir, { source: false });
      try {
        const ema = Object.fromEntries(['deconv', 'bias', 'out'].map((p) => [p, tensorHash(run.emaLearner!.vars.get(`g.r8.${p}`)!)]));
        return { recs, ema };
      } finally {
        run.dispose();
      }
    };
    const on = await hashesOf(true);
    // Stage 2 froze g.r8.* at stage 1's EMA: its start hashes are the EMA's values.
    for (const p of ['deconv', 'bias', 'out']) expect(on.recs[1].frozenHashesStart[`g.r8.${p}`]).toBe(on.ema[p]);
    // Without it the same run freezes stage 1's last raw iterate, which is not its EMA.
    const off = await hashesOf(false);
    for (const p of ['deconv', 'bias', 'out']) expect(off.recs[0].trainedHashesEnd![`g.r8.${p}`]).not.toBe(on.recs[0].trainedHashesEnd![`g.r8.${p}`]);
    expect(off.recs[1].frozenHashesStart['g.r8.out']).toBe(off.recs[0].trainedHashesEnd!['g.r8.out']);
  });

  it('lazy R1: the penalty term is logged on every r1Every-th D step only, at r1Every times the weight', async () => {
    const t = teacher({ ...TWO_LEVELS, resolutions: [8], channels: [6], targetActive: [1.5] });
    const dir = await tmp();
    const cfg = config({ generator: { resolutions: [8], channels: [8], zDim: 6, kernel: 4, patch: 4 } }, ['objective.r1Every=3', 'train.steps=7']);
    await train(cfg, dir, { source: new TeacherSource(t, 1), teacher: t });
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { stageStep: number; penalty: number });
    // D step k (0-based) of stage step s: with dSteps 1 it is s - 1; R1 on k = 0, 3, 6, i.e. steps 1, 4, 7.
    for (const l of lines) {
      if ([1, 4, 7].includes(l.stageStep)) expect(l.penalty).toBeGreaterThan(0);
      else expect(l.penalty).toBe(0);
    }
  });
});

describe('the recipe learns [wasm]', () => {
  it('recovers a planted dictionary at stage 1 (>= 7 of 8 atoms at |cos| > 0.9)', async () => {
    const t = teacher({ resolutions: [8], channels: [8], zDim: 8, targetActive: [1.5], coherenceBound: 0.3 });
    const cfg = resolveConfig({
      data: 'planted-teacher.json',
      seed: 1,
      generator: { resolutions: [8], channels: [8], zDim: 8, kernel: 4, patch: 4 },
      discriminator: { widths: [32, 64] },
      objective: { r1: 1 },
      train: { batch: 32, steps: 1500, lrG: 0.005, lrD: 0.005, beta1: 0, beta2: 0.9, emaBeta: 0.99 },
      log: { every: 500, checkpointEvery: 100000, sampleEvery: 100000, samples: 4 },
    });
    const dir = await tmp();
    await train(cfg, dir, { source: new TeacherSource(t, 1), teacher: t });
    const run = await loadRun(dir, { source: false });
    try {
      const rec = dictionaryRecovery(run.ema!.blocks[8].out, t.params.blocks[8].out);
      expect(rec.recovered).toBeGreaterThanOrEqual(7 / 8);
      expect(rec.meanMatched).toBeGreaterThan(0.9);
    } finally {
      run.dispose();
    }
  }, 120_000);

  it('recovers a planted level-2 dictionary on the teacher\'s own level 1, with bias homeostasis at the teacher\'s sparsity', async () => {
    const t = teacher({ resolutions: [8, 16], channels: [8, 8], zDim: 8, targetActive: [1.5, 1.5], coherenceBound: 0.3 });
    const cfg = resolveConfig({
      data: 'planted-teacher.json',
      seed: 1,
      generator: { resolutions: [8, 16], channels: [8, 8], zDim: 8, kernel: 4, patch: 4, homeostasis: { active: 1.5 / 8, every: 25 } },
      discriminator: { widths: [32, 64] },
      objective: { r1: 1 },
      train: { mode: 'oracle-lower', level: 2, batch: 32, steps: 1500, lrG: 0.005, lrD: 0.005, beta1: 0, beta2: 0.9, emaBeta: 0.99 },
      log: { every: 500, checkpointEvery: 100000, sampleEvery: 100000, samples: 4 },
    });
    const dir = await tmp();
    await train(cfg, dir, { source: new TeacherSource(t, 1), teacher: t });
    const run = await loadRun(dir, { source: false });
    try {
      const rec = dictionaryRecovery(run.ema!.blocks[16].out, t.params.blocks[16].out);
      console.log(`planted level 2: recovered ${rec.recovered}, matched ${rec.meanMatched}`);
      expect(rec.recovered).toBeGreaterThanOrEqual(7 / 8);
      expect(rec.meanMatched).toBeGreaterThan(0.9);
    } finally {
      run.dispose();
    }
  }, 120_000);
});
