/**
 * Training-time measurements (config.analysis, src/train/analysis-hooks.ts): the keys land in
 * metrics.jsonl, the numbers are those of the analysis module on the held-out set and the run's G, and
 * logging them leaves training bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { PlantedSource, tinyConfig, TINY_SHAPE } from './train-fixtures.js';
import { train, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { loadRun } from '../src/train/run.js';
import { heldOutSource, LevelsSource } from '../src/data/index.js';
import { generatorImages, sourceImages } from '../src/analysis/pipeline.js';
import { momentMetrics } from '../src/analysis/moments.js';
import { alignmentMetrics } from '../src/analysis/alignment.js';
import { discFirstLayer } from '../src/models/discriminator.js';
import type { PyramidSource } from '../src/data/source.js';

/** The planted source with a held-out side: the same generator, another sample stream. */
class SplitPlanted extends PlantedSource {
  heldOuts: PlantedSource[] = [];
  /** When set, the held-out side reports this many images (a finite split, like ImageDataset.size). */
  heldOutSize: number | null = null;
  heldOut(): PyramidSource {
    const h = new PlantedSource(TINY_SHAPE, this.seed + 1000);
    if (this.heldOutSize !== null) Object.defineProperty(h, 'size', { value: this.heldOutSize });
    this.heldOuts.push(h);
    return h;
  }
  override dispose(): void {
    super.dispose();
    this.heldOuts.forEach((h) => h.dispose());
  }
}

const sources: PlantedSource[] = [];
const dirs: string[] = [];
afterAll(async () => {
  sources.forEach((s) => s.dispose());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
function planted(): SplitPlanted {
  const s = new SplitPlanted();
  sources.push(s);
  return s;
}
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-ahooks-'));
  dirs.push(d);
  return d;
}
async function lines(dir: string): Promise<Record<string, number>[]> {
  return (await readFile(join(dir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}

const ANALYSIS = { analysis: { every: 2, samples: 16 }, train: { steps: 4 }, log: { every: 1000 } };

describeEachBackend('training-time analysis hooks', () => {
  it('a run with analysis.every logs moment errors per order and resolution, floors once per level, and D-G alignment', async () => {
    const dir = await tmp();
    await train(tinyConfig(ANALYSIS), dir, { source: planted() });
    const ls = await lines(dir);
    // Steps 2 and 4 of each of the 3 stages.
    expect(ls.map((l) => l.step)).toEqual([2, 4, 6, 8, 10, 12]);
    const stage = (s: number) => ls.filter((l) => l.stage === s);
    for (const [s, rs] of [[1, [4]], [2, [4, 8]], [3, [4, 8, 16]]] as [number, number[]][]) {
      for (const l of stage(s)) {
        for (const r of rs) for (const o of [1, 2, 3, 4]) expect(l[`moments/r${r}/o${o}`], `stage ${s} r${r} o${o}`).toBeGreaterThanOrEqual(0);
        expect(Object.keys(l).filter((k) => k.startsWith('moments/r')).every((k) => rs.some((r) => k.startsWith(`moments/r${r}/`)))).toBe(true);
        const r = rs[rs.length - 1];
        expect(l[`alignment/r${r}/matched`]).toBeGreaterThan(0);
        expect(l[`alignment/r${r}/matched`]).toBeLessThanOrEqual(1);
        expect(l['analysis/seconds']).toBeGreaterThanOrEqual(0);
      }
      // The floor and the random reference: in the first line of the stage only.
      const [first, second] = stage(s);
      expect(first[`moments/r${rs[rs.length - 1]}/o2_floor`]).toBeGreaterThan(0);
      expect(first[`alignment/r${rs[rs.length - 1]}/random`]).toBeGreaterThan(0);
      expect(Object.keys(second).some((k) => k.endsWith('_floor') || k.endsWith('/random'))).toBe(false);
      if (s >= 2) expect(stage(s)[0]['moments/r8/cross']).toBeGreaterThanOrEqual(0);
    }
  });

  it('the logged numbers are momentMetrics and alignmentMetrics on the held-out images and the run at that step', async () => {
    const dir = await tmp();
    const cfg = tinyConfig(ANALYSIS);
    await train(cfg, dir, { source: planted() });
    const last = (await lines(dir)).at(-1)!;
    const run = await loadRun(dir, { source: false });
    const other = planted();
    const real = sourceImages(heldOutSource(other, null, cfg.seed), cfg.analysis.samples);
    const fake = generatorImages(run.generator, cfg.analysis.samples, cfg.seed, 3);
    const m = momentMetrics(real, fake, { patch: cfg.generator.patch, seed: cfg.seed, noiseFloor: false });
    for (const [k, v] of Object.entries(m)) expect(last[k], k).toBeCloseTo(v, 10);
    // The same images from the TRAINING stream give other numbers: the log really uses the held-out side.
    const train2 = sourceImages(other, cfg.analysis.samples);
    expect(momentMetrics(train2, fake, { patch: 2, seed: cfg.seed })['moments/r16/o2']).not.toBeCloseTo(last['moments/r16/o2'], 6);
    const d = run.discriminators.get(16)!;
    const w = tf.tidy(() => tf.slice(discFirstLayer(d), [0, 0, 3, 0], [-1, -1, 3, -1]));
    expect(last['alignment/r16/matched']).toBeCloseTo(alignmentMetrics(w, run.generator.blocks[16].out)['alignment/matched'], 10);
    w.dispose();
    run.dispose();
  });

  it('a held-out split smaller than analysis.samples is used once, without repeating images', async () => {
    const dir = await tmp();
    const cfg = tinyConfig(ANALYSIS);
    const src = planted();
    src.heldOutSize = 6;
    await train(cfg, dir, { source: src });
    const last = (await lines(dir)).at(-1)!;
    const run = await loadRun(dir, { source: false });
    const real = sourceImages(heldOutSource(planted(), null, cfg.seed), 6);
    const fake = generatorImages(run.generator, cfg.analysis.samples, cfg.seed, 3);
    const m = momentMetrics(real, fake, { patch: cfg.generator.patch, seed: cfg.seed, noiseFloor: false });
    expect(last['moments/r16/o2']).toBeCloseTo(m['moments/r16/o2'], 10);
    run.dispose();
  });

  it('the measurements leave no tensors behind (live tensors flat between firings)', async () => {
    const counts: [number, number][] = [];
    const probe: TrainHook = { every: 2, fn: (ctx) => (counts.push([ctx.step, tf.memory().numTensors]), {}) };
    await train(tinyConfig({ ...ANALYSIS, train: { steps: 8 } }), await tmp(), { source: planted(), hooks: [probe] });
    // The probe runs before the analysis of the same step; from step 4 on, every earlier firing is done.
    const stage1 = counts.filter(([step]) => step >= 4 && step <= 8).map(([, n]) => n);
    expect(stage1).toHaveLength(3);
    expect(new Set(stage1).size).toBe(1);
  });

  it('training with analysis on is bit-identical to training with it off', async () => {
    const [a, b] = [await tmp(), await tmp()];
    const over = { objective: { r1: 0.5 }, discriminator: { crop: 4 }, train: { steps: 4, emaBeta: 0.5 }, log: { every: 3 } };
    await train(tinyConfig(over), a, { source: planted() });
    await train(tinyConfig({ ...over, analysis: { every: 2, samples: 16 } }), b, { source: planted() });
    const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
    const [sa, sb] = [await state(a), await state(b)];
    expect(sb.weightsSha256).toBe(sa.weightsSha256);
    expect(sb.rng).toEqual(sa.rng);
    expect(sb.source).toEqual(sa.source);
    // Losses at the steps both runs logged are equal.
    const la = await lines(a);
    const lb = new Map((await lines(b)).map((l) => [l.step, l]));
    expect(la.length).toBeGreaterThan(2);
    for (const l of la) {
      expect(lb.get(l.step)?.lossD, `step ${l.step}`).toBe(l.lossD);
      expect(lb.get(l.step)?.lossG).toBe(l.lossG);
    }
  });
});

it('LevelsSource serves the lowest levels of its source, and its held-out side too', () => {
  const a = planted();
  const b = planted();
  const t = new LevelsSource(a, 2);
  expect(t.resolutions).toEqual([4, 8]);
  const xs = t.batch(3);
  const ys = b.batch(3);
  expect(xs.map((x) => x.shape[1])).toEqual([4, 8]);
  for (let l = 0; l < 2; l++) expect(Array.from(xs[l].dataSync())).toEqual(Array.from(ys[l].dataSync()));
  const h = heldOutSource(t, null, 0);
  expect(h.resolutions).toEqual([4, 8]);
  const hs = h.batch(3);
  expect(Array.from(hs[1].dataSync())).not.toEqual(Array.from(ys[1].dataSync()));
  tf.dispose([...xs, ...ys, ...hs, ...b.batch(0 + 1)]);
});

it('a source without a held-out split is a user error naming config.analysis.every', () => {
  const p = new PlantedSource();
  sources.push(p);
  expect(() => heldOutSource(p, null, 0)).toThrow(/held-out.*config\.analysis\.every = 0/);
  expect(() => tinyConfig({ analysis: { every: -1 } })).toThrow(/config\.analysis\.every must be an integer >= 0/);
  expect(() => tinyConfig({ analysis: { samples: 2 } })).toThrow(/config\.analysis\.samples must be an integer >= 4/);
});
