/**
 * The trainer on a tiny planted source: each mode trains exactly its variables, freezing is verified
 * (and a violation fails), memory stays flat, resume is bit-identical, checkpoints fall back, loadRun and
 * sampling are deterministic.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { describeEachBackend } from './helpers/backends.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { train, resumeTraining, type TrainHook } from '../src/train/trainer.js';
import { loadLatestCheckpoint, listCheckpoints } from '../src/train/checkpoint.js';
import { createLearner, disposeLearner } from '../src/models/learner.js';
import { configShape } from '../src/train/session.js';
import { hashVars, type StageRecord } from '../src/train/stages.js';
import { loadRun, sampleRun } from '../src/train/run.js';
import { gridPng } from '../src/util/png.js';
import { Rng } from '../src/util/rng.js';
import type { TrainConfig } from '../src/train/config.js';

const sources: PlantedSource[] = [];
const dirs: string[] = [];
afterAll(async () => {
  sources.forEach((s) => s.dispose());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
function planted(): PlantedSource {
  const s = new PlantedSource();
  sources.push(s);
  return s;
}
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-train-'));
  dirs.push(d);
  return d;
}

async function finalTensors(dir: string): Promise<Record<string, tf.Tensor>> {
  const ck = await loadLatestCheckpoint(dir);
  if (!ck) throw new Error('no checkpoint');
  return ck.tensors;
}

function initHashes(cfg: TrainConfig): Record<string, string> {
  const l = createLearner(configShape(cfg, 3), new Rng(cfg.seed, 'init-g'), cfg.generator.init);
  const h = hashVars(l.vars, [...l.vars.keys()]);
  disposeLearner(l);
  return h;
}

async function stageRecords(dir: string): Promise<StageRecord[]> {
  const levels = (await readdir(join(dir, 'stages'))).sort();
  return Promise.all(levels.map(async (l) => JSON.parse(await readFile(join(dir, 'stages', l, 'stage.json'), 'utf8')) as StageRecord));
}

const ALL = ['g.r4.deconv', 'g.r4.bias', 'g.r4.out', 'g.r8.deconv', 'g.r8.bias', 'g.r8.out', 'g.r16.deconv', 'g.r16.bias', 'g.r16.out'];

describeEachBackend('trainer', () => {
  const expected: Record<string, string[]> = {
    layerwise: ALL,
    // The random lower layers are calibrated at the stage start (data-free), then frozen.
    'random-lower': ['g.r4.deconv', 'g.r4.bias', 'g.r8.deconv', 'g.r8.bias', 'g.r16.deconv', 'g.r16.bias', 'g.r16.out'],
    'end-to-end': ['g.r4.deconv', 'g.r4.bias', 'g.r8.deconv', 'g.r8.bias', 'g.r16.deconv', 'g.r16.bias', 'g.r16.out'],
  };
  for (const mode of Object.keys(expected)) {
    it(`${mode}: exactly the intended variables change, frozen hashes match`, async () => {
      const cfg = tinyConfig({ train: { mode, steps: 2 } });
      const dir = await tmp();
      await train(cfg, dir, { source: planted() });
      const init = initHashes(cfg);
      const t = await finalTensors(dir);
      const learner = createLearner(configShape(cfg, 3), new Rng(0), cfg.generator.init);
      for (const n of ALL) learner.vars.get(n)!.assign(t[n]);
      const fin = hashVars(learner.vars, ALL);
      disposeLearner(learner);
      tf.dispose(Object.values(t));
      expect(ALL.filter((n) => fin[n] !== init[n])).toEqual(expected[mode]);
      const recs = await stageRecords(dir);
      expect(recs.map((r) => r.level)).toEqual(mode === 'layerwise' ? [1, 2, 3] : [3]);
      for (const r of recs) {
        expect(r.frozenHashesEnd).toEqual(r.frozenHashesStart);
        expect(r.unchangedTrained).toEqual([]);
        expect(Object.keys(r.frozenHashesStart).sort()).toEqual(ALL.filter((n) => !r.trainedLayers.includes(n)).sort());
        for (const n of r.trainedLayers) expect(r.trainedHashesEnd![n]).not.toBe(r.trainedHashesStart[n]);
      }
      if (mode === 'layerwise') {
        // Stage l starts from what stage l-1 ended with, and untouched levels are still at init.
        expect(recs[1].frozenHashesStart['g.r4.out']).toBe(recs[0].trainedHashesEnd!['g.r4.out']);
        expect(recs[2].frozenHashesStart['g.r8.deconv']).toBe(recs[1].trainedHashesEnd!['g.r8.deconv']);
        expect(recs[0].frozenHashesStart['g.r16.out']).toBe(init['g.r16.out']);
      }
    });
  }

  it('a frozen tensor that changes during a stage fails the run loudly', async () => {
    const cfg = tinyConfig({ train: { steps: 2 } });
    const tamper: TrainHook = {
      every: 3,
      fn: (ctx) => {
        const v = ctx.learner.vars.get('g.r4.out')!;
        tf.tidy(() => v.assign(tf.add(v, 1e-3)));
        return {};
      },
    };
    await expect(train(cfg, await tmp(), { source: planted(), hooks: [tamper] })).rejects.toThrow(/stage 2: frozen variables changed during the stage: g\.r4\.out/);
  });

  it('discriminator.augmentFrom: stages below it train exactly as without augmentation, the stage at it differently', async () => {
    const hashes = async (over: Record<string, unknown>) => {
      const dir = await tmp();
      await train(tinyConfig({ train: { steps: 3 }, ...over }), dir, { source: planted() });
      return Promise.all([1, 2, 3].map(async (l) => (JSON.parse(await readFile(join(dir, 'stages', String(l), 'stage.json'), 'utf8')) as StageRecord).trainedHashesEnd));
    };
    const plain = await hashes({});
    const top = await hashes({ discriminator: { augment: ['translation', 'cutout'], augmentFrom: 16 } });
    expect(top[0]).toEqual(plain[0]);
    expect(top[1]).toEqual(plain[1]);
    expect(top[2]).not.toEqual(plain[2]);
  });

  it('sampling a resolution the run has not trained yet is a UserError, not random-init images (issue 22 case 8)', async () => {
    const dir = await tmp();
    const ctl = new AbortController();
    await train(tinyConfig({ train: { steps: 4 } }), dir, { source: planted(), hooks: [{ every: 6, fn: () => (ctl.abort(), {}) }], signal: ctl.signal });
    const run = await loadRun(dir, { source: false });
    try {
      expect(run.outputs).toEqual([4, 8]);
      expect(() => sampleRun(run, { n: 2, seed: 0, resolution: 16 })).toThrow(/has not trained resolution 16 yet \(stopped at step 6; trained: 4, 8\)/);
      const x = sampleRun(run, { n: 2, seed: 0, resolution: 8 });
      expect(x.shape).toEqual([2, 8, 8, 3]);
      x.dispose();
    } finally {
      run.dispose();
    }
  });

  it('temp folders and files of killed writes are removed when a run starts again or resumes (issue 22 case 8)', async () => {
    const dir = await tmp();
    const litter = async () => {
      await mkdir(join(dir, 'checkpoints', '.tmp-step-00000000-99999'), { recursive: true });
      await mkdir(join(dir, 'stages', '1'), { recursive: true });
      await writeFile(join(dir, '.run.json.tmp-99999'), 'x');
      await writeFile(join(dir, 'stages', '1', '.stage.json.tmp-99999'), 'x');
    };
    const left = async () =>
      [...(await readdir(dir)), ...(await readdir(join(dir, 'checkpoints'))), ...(await readdir(join(dir, 'stages', '1')))].filter((n) => n.includes('.tmp-'));
    await litter(); // a start killed before config.json existed
    const ctl = new AbortController();
    await train(tinyConfig({}), dir, { source: planted(), hooks: [{ every: 2, fn: () => (ctl.abort(), {}) }], signal: ctl.signal });
    expect(await left()).toEqual([]);
    await litter(); // a resumed run killed mid-write
    await resumeTraining(dir, { source: planted() });
    expect(await left()).toEqual([]);
  });

  for (const damage of ['deleted', 'damaged'] as const) {
    it(`a resume whose stage record was ${damage} rebuilds it with a warning and ends as an uninterrupted run`, async () => {
      const cfg = tinyConfig({ train: { steps: 4 }, log: { checkpointEvery: 3 } });
      const a = await tmp();
      await train(cfg, a, { source: planted() });
      const b = await tmp();
      const ctl = new AbortController();
      await train(cfg, b, { source: planted(), hooks: [{ every: 6, fn: () => (ctl.abort(), {}) }], signal: ctl.signal });
      const file = join(b, 'stages', '2', 'stage.json');
      if (damage === 'deleted') await rm(file);
      else await writeFile(file, '{"level": 2, "frozenHash');
      const said: string[] = [];
      const second = await resumeTraining(b, { source: planted(), onMessage: (m) => said.push(m) });
      expect(second).toMatchObject({ completed: true, step: 12 });
      expect(said.join('\n')).toMatch(damage === 'deleted' ? /stage\.json: it is missing; rebuilt from the checkpoint at step 6/ : /stage\.json: it is damaged .*rebuilt/);
      const rec = JSON.parse(await readFile(file, 'utf8')) as StageRecord;
      expect(rec).toMatchObject({ level: 2, rebuiltAtStep: 6, startStep: 4, endStep: 8 });
      expect(rec.frozenHashesEnd).toEqual(rec.frozenHashesStart);
      const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
      expect((await state(b)).weightsSha256).toBe((await state(a)).weightsSha256);
    });
  }

  for (const [label, over, stopAt] of [
    ['mid-stage, ragan + R1 + EMA', { objective: { name: 'ragan', r1: 0.5 }, train: { emaBeta: 0.8, steps: 4 } }, 5],
    ['at a stage boundary, wgan-gp + SN + crop', { objective: { name: 'wgan-gp' }, discriminator: { spectralNorm: true, crop: 4 }, train: { dSteps: 2, steps: 4 } }, 4],
    ['mid-stage 2 (pair D), DiffAugment color + translation + cutout', { discriminator: { augment: ['color', 'translation', 'cutout'] }, objective: { r1: 1 }, train: { steps: 4 } }, 6],
  ] as [string, Record<string, unknown>, number][]) {
    it(`an interrupted run resumed ${label} ends bit-identical to an uninterrupted one`, async () => {
      const cfg = tinyConfig({ ...over, log: { checkpointEvery: 3 } });
      const a = await tmp();
      await train(cfg, a, { source: planted() });
      const b = await tmp();
      const ctl = new AbortController();
      const stop: TrainHook = { every: stopAt, fn: () => (ctl.abort(), {}) };
      const first = await train(cfg, b, { source: planted(), hooks: [stop], signal: ctl.signal });
      expect(first).toMatchObject({ interrupted: true, step: stopAt });
      const second = await resumeTraining(b, { source: planted() });
      expect(second).toMatchObject({ completed: true, step: 12 });
      const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
      const [sa, sb] = [await state(a), await state(b)];
      expect(sb.weightsSha256).toBe(sa.weightsSha256);
      expect(sb.rng).toEqual(sa.rng);
      expect(sb.source).toEqual(sa.source);
      const metrics = async (d: string) =>
        (await readFile(join(d, 'metrics.jsonl'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => {
            const { wallTime: _w, imagesPerSec: _i, ...rest } = JSON.parse(l);
            return rest;
          });
      expect(await metrics(b)).toEqual(await metrics(a));
      expect(await stageRecords(b)).toEqual(await stageRecords(a));
    });
  }

  it('a corrupt newest checkpoint is skipped for the previous one', async () => {
    const cfg = tinyConfig({ train: { steps: 2 } });
    const dir = await tmp();
    await train(cfg, dir, { source: planted() });
    const [newest, previous] = await listCheckpoints(dir);
    await writeFile(join(newest, 'weights.bin'), 'garbage');
    const warnings: string[] = [];
    const ck = await loadLatestCheckpoint(dir, (m) => warnings.push(m));
    expect(ck!.path).toBe(previous);
    expect(warnings[0]).toMatch(/weights\.bin is truncated \(7 of \d+ bytes\)/);
    tf.dispose(Object.values(ck!.tensors));
  });

  it('loadRun returns G, EMA and every D; sampling is deterministic in the seed', async () => {
    // emaFreeze off: the last stage's raw weights stay raw, so G and its EMA differ.
    const cfg = tinyConfig({ train: { steps: 2, emaBeta: 0.5, emaFreeze: false } });
    const dir = await tmp();
    await train(cfg, dir, { source: planted() });
    const run = await loadRun(dir, { source: false });
    expect(run.completed).toBe(true);
    expect(run.step).toBe(6);
    expect([...run.discriminators.keys()]).toEqual([4, 8, 16]);
    expect(run.generator.blocks[16].out.shape).toEqual([2, 2, 3, 4]);
    expect(run.ema).not.toBeNull();
    expect(run.outputs).toEqual([4, 8, 16]);
    const png = (seed: number, ema = false) => {
      const x = sampleRun(run, { n: 4, seed, ema });
      const bytes = gridPng(x);
      x.dispose();
      return bytes;
    };
    expect(png(1).equals(png(1))).toBe(true);
    expect(png(1).equals(png(2))).toBe(false);
    expect(png(1, true).equals(png(1))).toBe(false);
    run.dispose();
  });
});

// Not numerical: one backend is enough (wasm, what runs here); on cpu 200 steps take ~40 s.
describe('trainer memory [wasm]', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  for (const variant of ['ns+r1+sn+ema', 'wgan-gp+crop', 'lsgan+augment']) {
    it(`live tensors are the same after step 10 and step 200 (${variant})`, async () => {
      const over =
        variant === 'ns+r1+sn+ema'
          ? { objective: { name: 'ns', r1: 1 }, discriminator: { spectralNorm: true }, train: { emaBeta: 0.9 } }
          : variant === 'wgan-gp+crop'
            ? { objective: { name: 'wgan-gp' }, discriminator: { crop: 4 }, train: { dSteps: 2 } }
            : { objective: { name: 'lsgan' }, discriminator: { augment: ['color', 'translation', 'cutout'] } };
      const cfg = tinyConfig({ ...over, train: { ...(over as { train?: object }).train, stepsByLevel: [200, 1, 1] }, log: { every: 50 } });
      const counts: Record<number, number> = {};
      const probe: TrainHook = {
        every: 10,
        fn: (ctx) => {
          counts[ctx.step] = tf.memory().numTensors;
          return {};
        },
      };
      await train(cfg, await tmp(), { source: planted(), hooks: [probe] });
      expect(counts[10]).toBeGreaterThan(0);
      expect(counts[200]).toBe(counts[10]);
    });
  }
});
