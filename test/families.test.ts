/**
 * The multi-resolution model families (src/train/families.ts, docs/families.md): LAPGAN's Laplacian
 * pyramid reconstructs its image and its generator is that reconstruction; ProGAN's fade-in is the previous
 * resolution's network at alpha 0 and the new block alone at alpha 1, in G, in D and for real images; and
 * every family trains a few steps on a tiny planted source, changes exactly its stage's variables, resumes
 * bit-identically and keeps the number of live tensors flat.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { tinyConfig } from './train-fixtures.js';
import { maxAbsDiff, planted, tempDir } from './family-fixtures.js';
import { train, resumeTraining, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { createLapganGenerator, laplacianPyramid, reconstructPyramid } from '../src/models/lapgan.js';
import { createProganDiscriminators, createProganGenerator, fadeReal, type ProganShape } from '../src/models/progan.js';
import { avgPool2x } from '../src/models/family-layers.js';
import { srganContentLoss } from '../src/models/srgan.js';
import { upsample2x } from '../src/ops/index.js';
import { loadRun, sampleRun } from '../src/train/run.js';
import { fadeAlpha, type StageRecord } from '../src/train/stages.js';
import { resolveConfig } from '../src/train/config.js';
import { Rng } from '../src/util/rng.js';

const tmp = async (): Promise<string> => tempDir('fsrgan-families-');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('LAPGAN', () => {
  it('the pyramid of residuals reconstructs the image pyramid (to float32 rounding), and a wrong residual does not', () => {
    const src = planted();
    const xs = src.batch(6);
    const lap = laplacianPyramid(xs);
    const back = reconstructPyramid(lap);
    // (x - u) + u is x up to one float32 rounding of each operation: at most 2 ulp of the largest value.
    for (let l = 0; l < xs.length; l++) {
      const scale = tf.tidy(() => tf.max(tf.abs(xs[l])).dataSync()[0]);
      expect(maxAbsDiff(back[l], xs[l])).toBeLessThanOrEqual(2 * 2 ** -23 * 2 * scale);
    }
    // The residuals are the detail: not zero, and a residual from other images breaks the reconstruction.
    expect(tf.tidy(() => tf.max(tf.abs(lap[2])).dataSync()[0])).toBeGreaterThan(1e-3);
    const swapped = [lap[0], lap[1], tf.reverse(lap[2], 0) as tf.Tensor4D];
    const wrong = reconstructPyramid(swapped);
    expect(maxAbsDiff(wrong[2], xs[2])).toBeGreaterThan(1e-3);
    tf.dispose([...xs, ...lap, ...back, swapped[2], ...wrong]);
  });

  it("the generator's levels are u(x_{l-1}) + G_l: its own Laplacian residuals rebuild it, and conditioning uses the real level below", () => {
    const g = createLapganGenerator({ resolutions: [4, 8, 16], imageChannels: 3, zDim: 4, widths: [4, 4, 4], noiseChannels: 1 }, new Rng(1, 'g'));
    const z = tf.tensor4d(new Rng(2, 'z').normals(3 * g.params.shape.zDim), [3, 1, 1, g.params.shape.zDim]);
    const { x } = g.forward!(z, 3);
    const lap = laplacianPyramid(x);
    const back = reconstructPyramid(lap);
    expect(maxAbsDiff(back[2], x[2])).toBeLessThan(5e-7);
    // Conditioned on real images: the levels below are the real ones and level 3 is built on the real x_2.
    const real = planted().batch(3);
    const c = g.forward!(z, 3, { real });
    expect(maxAbsDiff(c.x[1], real[1])).toBe(0);
    const resid = tf.tidy(() => tf.sub(c.x[2], upsample2x(real[1])));
    // Same z, so the same noise map: the residual differs from the chain's only through its input.
    expect(maxAbsDiff(resid, lap[2])).toBeGreaterThan(0);
    tf.dispose([z, ...x, ...lap, ...back, ...real, ...c.x, resid]);
    for (const v of g.vars.values()) v.dispose();
  });
});

describe('ProGAN fade-in', () => {
  const shape: ProganShape = { resolutions: [4, 8, 16], imageChannels: 3, zDim: 8, widths: [8, 6, 4], group: 2 };

  it('G: alpha 0 is the previous resolution upsampled, alpha 1 the new block alone (the old rgb head has no effect)', () => {
    const g = createProganGenerator(shape, new Rng(3, 'g'));
    const z = tf.tensor4d(new Rng(4, 'z').normals(4 * 8), [4, 1, 1, 8]);
    for (const level of [2, 3]) {
      const prev = g.forward!(z, level - 1).x;
      const at0 = g.forward!(z, level, { alpha: 0 }).x;
      const up = upsample2x(prev[level - 2]);
      expect(maxAbsDiff(at0[level - 1], up)).toBe(0);
      const at1 = g.forward!(z, level, { alpha: 1 }).x;
      const half = g.forward!(z, level, { alpha: 0.5 }).x;
      // Alpha 1: perturbing the previous level's rgb head changes nothing; at alpha 0.5 it does.
      const old = g.vars.get(`g.rgb${shape.resolutions[level - 2]}.w`)!;
      const saved = old.clone();
      old.assign(tf.mul(saved, 3));
      const at1b = g.forward!(z, level, { alpha: 1 }).x;
      const halfB = g.forward!(z, level, { alpha: 0.5 }).x;
      old.assign(saved);
      expect(maxAbsDiff(at1[level - 1], at1b[level - 1])).toBe(0);
      expect(maxAbsDiff(half[level - 1], halfB[level - 1])).toBeGreaterThan(1e-4);
      expect(maxAbsDiff(at1[level - 1], up)).toBeGreaterThan(1e-4);
      tf.dispose([...prev, ...at0, up, ...at1, ...half, saved, ...at1b, ...halfB]);
    }
    z.dispose();
    for (const v of g.vars.values()) v.dispose();
  });

  it('D: alpha 0 is the previous D on the pooled image, alpha 1 the new block alone (the old fromRGB has no effect)', () => {
    const discs = createProganDiscriminators(shape, new Rng(5, 'd'));
    const x = tf.tensor4d(new Rng(6, 'x').normals(4 * 16 * 16 * 3), [4, 16, 16, 3]);
    const d16 = discs.get(16)!;
    const d8 = discs.get(8)!;
    const pooled = avgPool2x(x);
    const at0 = d16.forward!(x, { alpha: 0 });
    const prev = d8.forward!(pooled, { alpha: 1 });
    expect(maxAbsDiff(at0, prev)).toBe(0);
    const at1 = d16.forward!(x, { alpha: 1 });
    const from8 = d16.vars.get('d.from8.w')!;
    const saved = from8.clone();
    from8.assign(tf.mul(saved, 3));
    const at1b = d16.forward!(x, { alpha: 1 });
    const halfB = d16.forward!(x, { alpha: 0.5 });
    from8.assign(saved);
    const half = d16.forward!(x, { alpha: 0.5 });
    expect(maxAbsDiff(at1, at1b)).toBe(0);
    expect(maxAbsDiff(half, halfB)).toBeGreaterThan(1e-5);
    // Stage 3's D trains every block and both fromRGB layers; stage 2's does not see r16's.
    expect([...d16.vars.keys()].filter((n) => n.startsWith('d.from'))).toEqual(['d.from8.w', 'd.from8.b', 'd.from16.w', 'd.from16.b']);
    expect([...d8.vars.keys()].some((n) => n.includes('16'))).toBe(false);
    tf.dispose([x, pooled, at0, prev, at1, saved, at1b, halfB, half]);
    for (const v of discs.get(16)!.vars.values()) v.dispose();
  });

  it('real images are blended the same way, and alpha ramps over the fade fraction of a stage', () => {
    const xs = planted().batch(2);
    const at0 = fadeReal(xs, 3, 0);
    const at1 = fadeReal(xs, 3, 1);
    const up = upsample2x(xs[1]);
    expect(maxAbsDiff(at0[2], up)).toBe(0);
    expect(maxAbsDiff(at1[2], xs[2])).toBe(0);
    expect(maxAbsDiff(at0[1], xs[1])).toBe(0);
    tf.dispose([...xs, ...at0, ...at1, up]);
    const stage = { fade: 0.5, steps: 10 } as Parameters<typeof fadeAlpha>[0];
    expect([0, 1, 5, 9].map((t) => fadeAlpha(stage, t))).toEqual([0, 0.2, 1, 1]);
    expect(fadeAlpha({ ...stage, fade: undefined }, 0)).toBe(1);
  });
});

describe('SRGAN content loss', () => {
  it('is pixel MSE plus feature MSE with their weights, and zero for the real image itself', () => {
    const xs = planted().batch(3);
    const [real, fake] = [xs[2], tf.tidy(() => tf.add(xs[2], 0.5) as tf.Tensor4D)];
    const phi = (x: tf.Tensor4D) => tf.mul(x, 2);
    const at = (f: tf.Tensor4D, w: { pixel: number; feature: number }) => tf.tidy(() => srganContentLoss(f, real, phi, w).dataSync()[0]);
    expect(at(real, { pixel: 1, feature: 1 })).toBe(0);
    expect(at(fake, { pixel: 1, feature: 0 })).toBeCloseTo(0.25, 5);
    expect(at(fake, { pixel: 0, feature: 1 })).toBeCloseTo(1, 5);
    expect(at(fake, { pixel: 2, feature: 0.5 })).toBeCloseTo(1, 5);
    tf.dispose([...xs, fake]);
  });
});

describe('families: configs', () => {
  it('bad values and unsupported combinations are UserErrors naming the field and the fix', () => {
    const base = { data: 'emoji', generator: { family: 'lapgan', resolutions: [8, 16, 32], channels: [8, 8, 8] } };
    expect(() => resolveConfig({ ...base, train: { mode: 'random-lower' } })).toThrow(/generator.family 'lapgan' trains in train.mode 'layerwise' or 'end-to-end', got 'random-lower'/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, channels: [8, 8] } })).toThrow(/generator.channels must have one width per resolution \(3\)/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'progan' }, families: { progan: { fade: 2 } } })).toThrow(/families.progan.fade must be in \[0, 1\]/);
    expect(() => resolveConfig({ ...base, families: { lapgan: { noiseChanels: 1 } } })).toThrow(/noiseChannels/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'progann' } })).toThrow(/progan/);
    expect(resolveConfig({ ...base, generator: { ...base.generator, family: 'progan' }, preset: 'progan' }).objective).toMatchObject({ name: 'wgan-gp', drift: 0.001 });
  });
});

async function stageRecords(dir: string): Promise<StageRecord[]> {
  const levels = (await readdir(join(dir, 'stages'))).sort();
  return Promise.all(levels.map(async (l) => JSON.parse(await readFile(join(dir, 'stages', l, 'stage.json'), 'utf8')) as StageRecord));
}

const FAMILY_CASES: [string, Record<string, unknown>, number][] = [
  ['lapgan', { train: { mode: 'layerwise' }, objective: { r1: 0.5 } }, 3],
  ['lapgan', { train: { mode: 'end-to-end' } }, 1],
  ['srgan', { discriminator: { augment: ['translation'] } }, 3],
  ['stacked', { train: { emaBeta: 0.9 } }, 2],
  ['progan', { preset: 'progan', families: { progan: { stddevGroup: 2 } } }, 3],
];

describe('families train, resume exactly and keep memory flat [wasm]', () => {
  for (const [family, over, nStages] of FAMILY_CASES) {
    const label = `${family}${(over.train as { mode?: string })?.mode === 'end-to-end' ? ' (jointly)' : ''}`;
    it(`${label}: ${nStages} stage(s), each changes its variables only; a resume is bit-identical; live tensors stay flat`, async () => {
      const steps = nStages === 1 ? [1, 1, 12] : nStages === 2 ? [3, 1, 9] : [3, 3, 6];
      const cfg = tinyConfig({ ...over, generator: { family, channels: [4, 4, 4] }, train: { ...(over.train as object), stepsByLevel: steps }, log: { checkpointEvery: 5 } });
      const a = await tmp();
      const counts: Record<number, number> = {};
      const probe: TrainHook = { every: 1, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
      await train(cfg, a, { source: planted(), hooks: [probe] });
      // 12 G steps in every case: [1, 1, 12] is one stage of 12 (jointly), stacked skips level 2 (3 + 9).
      const total = 12;
      // Within the last stage (its optimiser state allocated), the live tensors do not grow.
      expect(counts[total - 3]).toBeGreaterThan(0);
      expect(counts[total]).toBe(counts[total - 3]);
      const recs = await stageRecords(a);
      expect(recs).toHaveLength(nStages);
      for (const r of recs) {
        expect(r.unchangedTrained).toEqual([]);
        expect(Object.keys(r.frozenHashesStart).filter((n) => r.frozenHashesStart[n] !== r.frozenHashesEnd![n])).toEqual([]);
      }
      // Interrupted at step 7 (mid-stage), resumed: the same bits.
      const b = await tmp();
      const ctl = new AbortController();
      const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
      expect(await train(cfg, b, { source: planted(), hooks: [stop], signal: ctl.signal })).toMatchObject({ interrupted: true, step: 7 });
      expect(await resumeTraining(b, { source: planted() })).toMatchObject({ completed: true, step: total });
      const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
      const [sa, sb] = [await state(a), await state(b)];
      expect(sb.weightsSha256).toBe(sa.weightsSha256);
      expect(sb.rng).toEqual(sa.rng);
      // The run loads back and samples deterministically at the top resolution.
      const run = await loadRun(b, { source: false });
      const x1 = sampleRun(run, { n: 3, seed: 1 });
      const x2 = sampleRun(run, { n: 3, seed: 1 });
      expect(x1.shape).toEqual([3, 16, 16, 3]);
      expect(maxAbsDiff(x1, x2)).toBe(0);
      expect(Number.isFinite(tf.sum(x1).dataSync()[0])).toBe(true);
      tf.dispose([x1, x2]);
      run.dispose();
    });
  }
});
