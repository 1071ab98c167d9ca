/**
 * The recipes the image stages apply (docs/recipes.md) in a layerwise run of the tiny planted source: every
 * stage trains with finite losses, the penalty is logged, live tensors stay flat, and a recipe changes the
 * run while the recipe off leaves it as it was; virtual batch norm, equalised lr, historical averaging and
 * second-order unrolling keep frozen layers' outputs fixed and resume bit-identically. On cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { resumeTraining, train, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { generatorForward } from '../src/models/generator.js';
import { sampleLatents } from '../src/models/learner.js';
import { createDiscriminator, discFeatures, discForward, discWithParams, disposeDiscriminator } from '../src/models/discriminator.js';
import { Rng } from '../src/util/rng.js';

const sources: PlantedSource[] = [];
const dirs: string[] = [];
afterAll(async () => {
  sources.forEach((s) => s.dispose());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function run(over: Record<string, unknown>, hooks: TrainHook[] = []): Promise<{ lines: Record<string, number>[]; counts: Record<number, number> }> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-recipes-'));
  dirs.push(d);
  const s = new PlantedSource();
  sources.push(s);
  const counts: Record<number, number> = {};
  const probe: TrainHook = { every: 2, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
  const cfg = tinyConfig({ ...over, train: { ...((over.train as object) ?? {}), stepsByLevel: [6, 2, 2] } });
  await train(cfg, d, { source: s, hooks: [probe, ...hooks] });
  const lines = (await readFile(join(d, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).filter((l) => typeof l.lossD === 'number');
  return { lines, counts };
}

const RECIPES: [string, Record<string, unknown>][] = [
  ['dragan', { objective: { dragan: 10 } }],
  ['label smoothing (ns)', { objective: { labelSmoothing: 0.1 } }],
  ['noisy + flipped labels (lsgan)', { objective: { name: 'lsgan', labelNoise: 0.2, labelFlip: 0.1 } }],
  ['instance noise + dragan on wgan-gp', { objective: { name: 'wgan-gp', dragan: 5 }, discriminator: { instanceNoise: 0.2 } }],
  ['PacGAN2 + minibatch stddev on wgan-gp', { objective: { name: 'wgan-gp' }, discriminator: { pack: 2, minibatchStddev: 2 } }],
  ['minibatch discrimination + feature matching', { discriminator: { minibatchKernels: 4, minibatchKernelDims: 3 }, objective: { featureMatching: 1 } }],
  ['pixel norm in G', { generator: { pixelNorm: true } }],
  ['unrolled (first order) with spectral norm, hinge', { objective: { name: 'hinge' }, discriminator: { spectralNorm: true }, train: { unroll: 2, unrollLr: 0.1 } }],
  ['virtual batch norm + equalised lr in G and D', { generator: { virtualBatchNorm: true, equalizedLr: true }, discriminator: { equalizedLr: true } }],
  ['historical averaging, R1', { train: { historicalAveraging: 0.1 }, objective: { r1: 1 } }],
  ['neighbour differences in D, R1', { discriminator: { neighbourDiffs: true }, objective: { r1: 1 } }],
  ['mixture latent at the first layer (frozen with it, hash-verified)', { generator: { mixture: { components: 3, spread: 0.5 } } }],
  ['unrolled (second order), ragan + feature matching + EMA', { objective: { name: 'ragan', featureMatching: 1 }, train: { unroll: 2, unrollLr: 0.1, unrollSecondOrder: true, emaBeta: 0.9 } }],
];

/** The issue-19 recipes that needed new stage state (VBN's reference batch, historical means), all at once. */
const STATEFUL = { generator: { virtualBatchNorm: true, equalizedLr: true }, discriminator: { equalizedLr: true }, train: { historicalAveraging: 0.1, unroll: 2, unrollLr: 0.1, unrollSecondOrder: true, emaBeta: 0.8 } };

describeEachBackend('recipes in layerwise stages', () => {
  for (const [name, over] of RECIPES) {
    it(`${name}: every stage trains, losses finite, tensors flat`, async () => {
      const { lines, counts } = await run(over);
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const l of lines) expect(Number.isFinite(l.lossD) && Number.isFinite(l.lossG)).toBe(true);
      if ((over.objective as { dragan?: number } | undefined)?.dragan) expect(lines.some((l) => l.penalty > 0)).toBe(true);
      expect(counts[4]).toBe(counts[2]);
    });
  }

  it('D with packing, minibatch stddev and discrimination: shapes; discWithParams is D at the given parameters', () => {
    const cfg = { widths: [4, 6], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1, pack: 2, minibatchStddev: 2, minibatchKernels: 3, minibatchKernelDims: 2 };
    const d = createDiscriminator(8, 'single', 3, 2, cfg, new Rng(1));
    const plain = createDiscriminator(8, 'single', 3, 2, { ...cfg, pack: 1, minibatchStddev: 0, minibatchKernels: 0 }, new Rng(1));
    // The recipes off leave D's variables as they were; on, D reads 2 x 3 channels and the head 2x2x(6+1) + 3 features.
    expect([...plain.vars.keys()]).toEqual([...d.vars.keys()].filter((k) => !k.includes('mbd')));
    expect(d.convs[0].w.shape).toEqual([2, 2, 6, 4]);
    expect(d.head.w.shape).toEqual([2 * 2 * 7 + 3, 1]);
    const x = tf.randomNormal([4, 8, 8, 6], 0, 1, 'float32', 3) as tf.Tensor4D;
    const y = discForward(d, x);
    expect(y.shape).toEqual([4]);
    expect(discFeatures(d, x).shape).toEqual([4, 2 * 2 * 6]);
    const same = discForward(discWithParams(d, new Map()), x);
    expect(Array.from(same.dataSync())).toEqual(Array.from(y.dataSync()));
    const shifted = new Map([...d.vars].map(([k, v]) => [k, tf.mul(v, 0.5)]));
    const viaParams = discForward(discWithParams(d, shifted), x);
    for (const [k, v] of d.vars) v.assign(shifted.get(k)!);
    const assigned = discForward(d, x);
    const a = viaParams.dataSync();
    const b = assigned.dataSync();
    for (let i = 0; i < 4; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    tf.dispose([x, y, same, viaParams, assigned, ...shifted.values()]);
    disposeDiscriminator(d);
    disposeDiscriminator(plain);
  });

  it('VBN + equalised lr: a frozen layer\'s output (and so its reference statistics) stays fixed in later stages', async () => {
    const z = sampleLatents(new Rng(9), 3, 4);
    const seen: number[][] = [];
    const look: TrainHook = { every: 1, fn: (ctx) => {
      if (ctx.stageIndex > 0) seen.push(Array.from(tf.tidy(() => generatorForward(ctx.learner.params, z, 1).s[0]).dataSync()));
      return {};
    } };
    const { lines } = await run(STATEFUL, [look]);
    z.dispose();
    expect(lines.every((l) => Number.isFinite(l.lossG))).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const s of seen) expect(s).toEqual(seen[0]);
  });

  it('VBN, equalised lr, historical averaging and second-order unrolling: a run killed mid-stage 2 resumes bit-identically', async () => {
    const cfg = tinyConfig({ ...STATEFUL, train: { ...STATEFUL.train, stepsByLevel: [4, 4, 4] }, log: { checkpointEvery: 3 } });
    const a = await mkdtemp(join(tmpdir(), 'fsrgan-recipes-'));
    const b = await mkdtemp(join(tmpdir(), 'fsrgan-recipes-'));
    dirs.push(a, b);
    const src = () => {
      const s = new PlantedSource();
      sources.push(s);
      return s;
    };
    await train(cfg, a, { source: src() });
    const ctl = new AbortController();
    const first = await train(cfg, b, { source: src(), hooks: [{ every: 7, fn: () => (ctl.abort(), {}) }], signal: ctl.signal });
    expect(first).toMatchObject({ interrupted: true, step: 7 });
    // It resumes mid-stage 2, from a checkpoint holding the historical means (histG/*, histD/*).
    const second = await resumeTraining(b, { source: src() });
    expect(second).toMatchObject({ completed: true, step: 12 });
    const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
    expect((await state(b)).weightsSha256).toBe((await state(a)).weightsSha256);
    const metrics = async (d: string) => (await readFile(join(d, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => {
      const { wallTime: _w, imagesPerSec: _i, ...rest } = JSON.parse(l);
      return rest;
    });
    expect(await metrics(b)).toEqual(await metrics(a));
  });

  it('a recipe changes the run; the defaults leave it as it was (same losses as a config without the fields)', async () => {
    const base = await run({});
    const again = await run({ objective: { labelSmoothing: 0, dragan: 0 }, discriminator: { instanceNoise: 0 } });
    const noisy = await run({ discriminator: { instanceNoise: 0.5 } });
    expect(again.lines).toEqual(base.lines.map((l) => ({ ...l, wallTime: again.lines[base.lines.indexOf(l)].wallTime, imagesPerSec: again.lines[base.lines.indexOf(l)].imagesPerSec })));
    expect(noisy.lines[0].lossD).not.toBe(base.lines[0].lossD);
  });
});
