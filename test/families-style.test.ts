/**
 * The attention and style families (src/train/families-style.ts, docs/families.md): SAGAN and the
 * StyleGAN-style generator train a few steps on a tiny planted source, change every trained variable,
 * resume bit-identically, keep the number of live tensors flat and sample deterministically; SAGAN's
 * spectral-norm vectors are refreshed and its attention gammas leave 0; bad options are UserErrors naming
 * the field.
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
import { loadRun, sampleRun } from '../src/train/run.js';
import { resolveConfig } from '../src/train/config.js';
import type { StageRecord } from '../src/train/stages.js';
import { createLearner, learnerForward, sampleLatents } from '../src/models/learner.js';
import { Rng } from '../src/util/rng.js';

const tmp = async (): Promise<string> => tempDir('fsrgan-style-');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('sagan and stylegan: configs', () => {
  const base = { data: 'emoji', train: { mode: 'end-to-end' }, generator: { resolutions: [8, 16, 32], channels: [8, 8, 8] }, discriminator: { widths: [8, 8, 8] } };
  it('bad values are UserErrors naming the field and the fix; the sagan preset is the paper defaults', () => {
    const sagan = { ...base, generator: { ...base.generator, family: 'sagan' } };
    expect(() => resolveConfig({ ...sagan, train: { mode: 'layerwise' } })).toThrow(/generator.family 'sagan' trains in train.mode 'end-to-end', got 'layerwise'/);
    expect(() => resolveConfig({ ...sagan, families: { sagan: { attentionG: 12 } } })).toThrow(/families.sagan.attentionG = 12 is not a side of G's features \(4, 8, 16, 32/);
    expect(() => resolveConfig({ ...sagan, families: { sagan: { attentionD: 32 } } })).toThrow(/families.sagan.attentionD = 32 is not a side of D's features after its convs \(16, 8, 4/);
    expect(() => resolveConfig({ ...sagan, families: { sagan: { atentionG: 8 } } })).toThrow(/attentionG/);
    expect(() => resolveConfig({ ...sagan, train: { mode: 'end-to-end', emaBeta: 0.9 } })).toThrow(/train.emaBeta must be 0 for family 'sagan'/);
    const p = resolveConfig({ ...sagan, preset: 'sagan' });
    expect(p.objective.name).toBe('hinge');
    expect(p.train).toMatchObject({ lrG: 0.0001, lrD: 0.0004, beta1: 0, beta2: 0.9 });
    expect(p.families.sagan.spectralNorm).toBe(true);
    expect(() => resolveConfig({ ...sagan, discriminator: { ...base.discriminator, spectralNorm: true } })).toThrow(/family 'sagan' normalises G and D by families.sagan.spectralNorm/);
    const style = { ...base, generator: { ...base.generator, family: 'stylegan' } };
    expect(() => resolveConfig({ ...style, families: { stylegan: { mappingLayers: 0 } } })).toThrow(/families.stylegan.mappingLayers must be an integer >= 1/);
    expect(() => resolveConfig({ ...style, discriminator: { ...base.discriminator, spectralNorm: true } })).toThrow(/'stylegan' uses the equalised learning rate, not spectral norm/);
    // generator.spectralNorm (the FSR learner's and the 2-D lab's) stays refused for the other families, sagan included.
    expect(() => resolveConfig({ ...sagan, generator: { ...sagan.generator, spectralNorm: true } })).toThrow(/family 'sagan' normalises G and D by families.sagan.spectralNorm .*leave generator.spectralNorm false/);
    expect(() => resolveConfig({ ...style, generator: { ...style.generator, spectralNorm: true } })).toThrow(/generator.spectralNorm normalises the FSR learner's weights .*not family 'stylegan''s own G/);
  });
});

const CASES: [string, Record<string, unknown>][] = [
  ['sagan', { preset: 'sagan', families: { sagan: { attentionG: 8, attentionD: 4 } } }],
  ['stylegan', { objective: { r1: 1, r1Every: 2 }, families: { stylegan: { mappingLayers: 2 } } }],
];

describe('sagan and stylegan train, resume exactly and keep memory flat [wasm]', () => {
  for (const [family, over] of CASES) {
    it(`${family}: one stage changes every trained variable; a resume is bit-identical; live tensors stay flat`, async () => {
      const cfg = tinyConfig({ ...over, generator: { family, channels: [4, 4, 4] }, train: { mode: 'end-to-end', steps: 12 }, log: { checkpointEvery: 5 } });
      const a = await tmp();
      const counts: Record<number, number> = {};
      const probe: TrainHook = { every: 1, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
      await train(cfg, a, { source: planted(), hooks: [probe] });
      expect(counts[9]).toBeGreaterThan(0);
      expect(counts[12]).toBe(counts[9]);
      const levels = await readdir(join(a, 'stages'));
      expect(levels).toHaveLength(1);
      const rec = JSON.parse(await readFile(join(a, 'stages', levels[0], 'stage.json'), 'utf8')) as StageRecord;
      expect(rec.unchangedTrained).toEqual([]);
      expect(rec.trainedLayers.some((n) => n.includes('.sn.'))).toBe(false);
      // Interrupted at step 7, resumed: the same bits.
      const b = await tmp();
      const ctl = new AbortController();
      const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
      expect(await train(cfg, b, { source: planted(), hooks: [stop], signal: ctl.signal })).toMatchObject({ interrupted: true, step: 7 });
      expect(await resumeTraining(b, { source: planted() })).toMatchObject({ completed: true, step: 12 });
      const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
      const [sa, sb] = [await state(a), await state(b)];
      expect(sb.weightsSha256).toBe(sa.weightsSha256);
      expect(sb.rng).toEqual(sa.rng);
      const run = await loadRun(b, { source: false });
      const x1 = sampleRun(run, { n: 3, seed: 1 });
      const x2 = sampleRun(run, { n: 3, seed: 1 });
      expect(x1.shape).toEqual([3, 16, 16, 3]);
      expect(maxAbsDiff(x1, x2)).toBe(0);
      expect(Number.isFinite(tf.sum(x1).dataSync()[0])).toBe(true);
      if (family === 'sagan') {
        // The attention blocks learned to use attention (gamma left 0); the power iteration moved u.
        expect(Math.abs(run.learner.vars.get('g.attn.gamma')!.dataSync()[0])).toBeGreaterThan(0);
        expect(Math.abs(run.discriminators.get(16)!.vars.get('d.r16.attn.gamma')!.dataSync()[0])).toBeGreaterThan(0);
        expect(run.discriminators.get(16)!.state.size).toBeGreaterThan(0);
      } else {
        // Style mixing through sampleRun: mixing from the first side differs from plain sampling, from above the top does not.
        const m = sampleRun(run, { n: 3, seed: 1, mixFrom: 4 });
        const fine = sampleRun(run, { n: 3, seed: 1, mixFrom: 16 });
        expect(maxAbsDiff(m, x1)).toBeGreaterThan(1e-5);
        expect(maxAbsDiff(fine, m)).toBeGreaterThan(1e-5);
        expect(() => sampleRun(run, { n: 3, seed: 1, mixFrom: 32 })).toThrow(/--mix-from must be one of the synthesis sides 4, 8, 16, got 32/);
        tf.dispose([m, fine]);
      }
      tf.dispose([x1, x2]);
      run.dispose();
    });
  }
});

describe('self-attention in the layerwise FSR learner (generator.attention)', () => {
  it('draws the other layers as without it, is the plain learner while gamma is 0, and is refused where it does not fit', () => {
    const shape = { resolutions: [4, 8, 16], channels: [8, 8, 8], zDim: 4, kernel: 2, patch: 2, imageChannels: 3 };
    const plain = createLearner(shape, new Rng(1, 'g'));
    const attn = createLearner({ ...shape, attention: 8 }, new Rng(1, 'g'));
    for (const [n, v] of plain.vars) expect(maxAbsDiff(v, attn.vars.get(n)!)).toBe(0);
    expect([...attn.vars.keys()].filter((n) => n.includes('.attn.'))).toEqual(['g.r8.attn.q', 'g.r8.attn.k', 'g.r8.attn.h', 'g.r8.attn.o', 'g.r8.attn.gamma']);
    const z = sampleLatents(new Rng(2, 'z'), 3, 4);
    const a = learnerForward(plain, z);
    const b = learnerForward(attn, z);
    expect(maxAbsDiff(a.x[2], b.x[2])).toBe(0);
    attn.vars.get('g.r8.attn.gamma')!.assign(tf.tensor1d([0.5]));
    const c = learnerForward(attn, z);
    expect(maxAbsDiff(c.x[0], a.x[0])).toBe(0);
    expect(maxAbsDiff(c.x[1], a.x[1])).toBeGreaterThan(1e-5);
    tf.dispose([z, ...a.s, ...a.x, ...b.s, ...b.x, ...c.s, ...c.x]);
    for (const v of [...plain.vars.values(), ...attn.vars.values()]) v.dispose();
    const base = { data: 'emoji', generator: { resolutions: [8, 16, 32], channels: [8, 8, 8] } };
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, attention: 12 } })).toThrow(/generator.attention = 12 must be 0 or one of generator.resolutions \(8, 16, 32\)/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, attention: 16, family: 'progan' } })).toThrow(/generator.attention places attention in the fsr learner/);
  });

  it('layerwise: stage 2 trains its attention block with its layer, the other stages keep it frozen; resume is exact; memory flat', async () => {
    const cfg = tinyConfig({ generator: { attention: 8 }, train: { mode: 'layerwise', stepsByLevel: [3, 4, 5] }, log: { checkpointEvery: 5 } });
    const a = await tmp();
    const counts: Record<number, number> = {};
    const probe: TrainHook = { every: 1, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
    await train(cfg, a, { source: planted(), hooks: [probe] });
    expect(counts[12]).toBe(counts[9]);
    const levels = (await readdir(join(a, 'stages'))).sort();
    const recs = await Promise.all(levels.map(async (l) => JSON.parse(await readFile(join(a, 'stages', l, 'stage.json'), 'utf8')) as StageRecord));
    expect(recs[1].trainedLayers).toContain('g.r8.attn.gamma');
    expect(recs[2].frozenLayers).toContain('g.r8.attn.gamma');
    for (const r of recs) {
      expect(r.unchangedTrained).toEqual([]);
      expect(Object.keys(r.frozenHashesStart).filter((n) => r.frozenHashesStart[n] !== r.frozenHashesEnd![n])).toEqual([]);
    }
    const b = await tmp();
    const ctl = new AbortController();
    const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
    await train(cfg, b, { source: planted(), hooks: [stop], signal: ctl.signal });
    expect(await resumeTraining(b, { source: planted() })).toMatchObject({ completed: true, step: 12 });
    const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
    expect((await state(b)).weightsSha256).toBe((await state(a)).weightsSha256);
    const run = await loadRun(b, { source: false });
    expect(Math.abs(run.learner.vars.get('g.r8.attn.gamma')!.dataSync()[0])).toBeGreaterThan(0);
    run.dispose();
  });
});
