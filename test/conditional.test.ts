/**
 * The conditional families (src/models/conditional.ts, src/train/cond-*.ts, docs/conditional.md): GAN-CLS's
 * matching-aware loss is the hand-computed sum over its three pairings and moves with each of them; ACGAN's
 * auxiliary loss is the closed-form softmax cross-entropy; the hashed text embedding is fixed and puts
 * names that share words together; the condition changes G's images (and D's verdict) while the latent is
 * fixed; and each family trains on a small labelled dataset, resumes bit-identically, keeps the number of
 * live tensors flat and samples by class or text, with clear errors for wrong requests. R1 on the real pairing
 * (objective.r1) is gamma/2 E ||d D(x_i, c_i)/d x_i||^2 against central differences, and is logged when due.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { ImageDataset } from '../src/data/dataset.js';
import { createCondDiscriminator, createCondGenerator, type CondShape } from '../src/models/conditional.js';
import { embedText } from '../src/models/text-embed.js';
import { sampleLatents } from '../src/models/learner.js';
import { acganDLoss, acganGLoss, matchingAwareDLoss, rollRows, softmaxCrossEntropy } from '../src/train/cond-objectives.js';
import { condR1Penalty } from '../src/train/cond-step.js';
import { objectives } from '../src/train/objectives.js';
import { classIndex, textInterpolationRows } from '../src/train/conditions.js';
import { resolveConfig } from '../src/train/config.js';
import { train, resumeTraining, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { loadRun, sampleRun, type LoadedRun } from '../src/train/run.js';
import { Rng } from '../src/util/rng.js';
import { tinyConfig } from './train-fixtures.js';
import { labelledSet, maxAbsDiff } from './family-fixtures.js';

const softplus = (t: number) => Math.log1p(Math.exp(t));
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const num = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-cond-'));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('conditional losses against hand computations', () => {
  it('GAN-CLS: L_D = softplus(-s_r) + (softplus(s_w) + softplus(s_f)) / 2 with ns, and each pairing moves it', () => {
    const sr = [1.5, -0.25, 0.75];
    const sf = [-1, 0.5, 2];
    const sw = [0.3, -2, 1.25];
    const t = (a: number[]) => tf.tensor1d(a);
    const hand = mean(sr.map((v) => softplus(-v))) + 0.5 * mean(sw.map(softplus)) + 0.5 * mean(sf.map(softplus));
    const got = num(matchingAwareDLoss(objectives.ns, t(sr), t(sf), t(sw), 0.5));
    expect(got).toBeCloseTo(hand, 5);
    // w = 0.2: the wrong-text pairing weighs 0.2, the generated one 0.8; the real term still counts once.
    const hand2 = mean(sr.map((v) => softplus(-v))) + 0.2 * mean(sw.map(softplus)) + 0.8 * mean(sf.map(softplus));
    expect(num(matchingAwareDLoss(objectives.ns, t(sr), t(sf), t(sw), 0.2))).toBeCloseTo(hand2, 5);
    // Hinge: relu(1 - s_r) + (relu(1 + s_w) + relu(1 + s_f)) / 2.
    const relu = (v: number) => Math.max(0, v);
    const hinge = mean(sr.map((v) => relu(1 - v))) + 0.5 * mean(sw.map((v) => relu(1 + v))) + 0.5 * mean(sf.map((v) => relu(1 + v)));
    expect(num(matchingAwareDLoss(objectives.hinge, t(sr), t(sf), t(sw), 0.5))).toBeCloseTo(hinge, 5);
    // Each of the three pairings enters: raising any one of its logits by 1 changes the loss.
    const bump = (a: number[]) => a.map((v, i) => (i === 0 ? v + 1 : v));
    for (const [a, b, c] of [[bump(sr), sf, sw], [sr, bump(sf), sw], [sr, sf, bump(sw)]]) {
      expect(Math.abs(num(matchingAwareDLoss(objectives.ns, t(a), t(b), t(c), 0.5)) - got)).toBeGreaterThan(0.01);
    }
  });

  it('the wrong text of a row is the next row (the batch rolled by one)', () => {
    const c = tf.tensor2d([[1, 0], [0, 1], [2, 2]]);
    const w = rollRows(c);
    expect(Array.from(w.dataSync())).toEqual([0, 1, 2, 2, 1, 0]);
    tf.dispose([c, w]);
  });

  it('ACGAN: the auxiliary loss is mean(logsumexp(l) - l_y), added with weight lambda to D and G', () => {
    const logits = [[1, 2, 3], [0, 0, 5], [-1, 4, 0.5]];
    const y = [2, 0, 1];
    const ce = mean(logits.map((l, i) => Math.log(l.reduce((a, v) => a + Math.exp(v), 0)) - l[y[i]]));
    const L = tf.tensor2d(logits);
    const Y = tf.tensor1d(y);
    expect(num(softmaxCrossEntropy(L, Y))).toBeCloseTo(ce, 5);
    const fakeLogits = [[0, 0, 0], [1, -1, 0], [2, 2, 2]];
    const ceFake = mean(fakeLogits.map((l, i) => Math.log(l.reduce((a, v) => a + Math.exp(v), 0)) - l[y[i]]));
    const LF = tf.tensor2d(fakeLogits);
    const dr = tf.tensor1d([0.5, -0.5, 1]);
    const df = tf.tensor1d([-1, 0, 0.25]);
    const adv = mean([0.5, -0.5, 1].map((v) => softplus(-v))) + mean([-1, 0, 0.25].map(softplus));
    expect(num(acganDLoss(objectives.ns, dr, df, L, LF, Y, 0.7))).toBeCloseTo(adv + 0.7 * (ce + ceFake), 5);
    const advG = mean([-1, 0, 0.25].map((v) => softplus(-v)));
    expect(num(acganGLoss(objectives.ns, dr, df, LF, Y, 2))).toBeCloseTo(advG + 2 * ceFake, 5);
    tf.dispose([L, Y, LF, dr, df]);
  });
});

describe('the hashed text embedding', () => {
  it("interpolation rows run from one text's embedding to the other's", () => {
    const rows = textInterpolationRows('red heart', 'blue dot', 3, 64);
    const d = rows.arraySync() as number[][];
    const [a, b] = [Array.from(embedText('red heart', 64)), Array.from(embedText('blue dot', 64))];
    d[0].forEach((v, i) => expect(v).toBeCloseTo(a[i], 6));
    d[2].forEach((v, i) => expect(v).toBeCloseTo(b[i], 6));
    d[1].forEach((v, i) => expect(v).toBeCloseTo((a[i] + b[i]) / 2, 6));
    rows.dispose();
  });
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
  it('is fixed, unit-norm, case-blind, and names sharing words are closer than names sharing none', () => {
    const a = embedText('Red Heart', 256);
    expect(Array.from(a)).toEqual(Array.from(embedText('red heart', 256)));
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, embedText('heavy black heart', 256))).toBeGreaterThan(dot(a, embedText('flag of andorra', 256)) + 0.2);
    expect(Array.from(embedText('!!', 16))).toEqual(new Array(16).fill(0));
  });
});

const SHAPE = (family: CondShape['family'], dCondition: CondShape['dCondition']): CondShape => ({
  family, resolution: 16, resolutions: [4, 8, 16], imageChannels: 3, zDim: 4, gWidths: [8, 4], dWidths: [8, 8], leak: 0.2,
  condDim: 3, classes: family === 'acgan' ? 3 : 0, project: 0, dCondition,
});

describe('the condition changes the output', () => {
  it('G: the same latents with another class give other images; the same class gives the same ones', () => {
    const g = createCondGenerator(SHAPE('cgan', 'projection'), new Rng(1, 'init-g'));
    const z = sampleLatents(new Rng(2, 'z'), 4, 4);
    const img = (k: number) => tf.tidy(() => g.forward!(z, 3, { cond: tf.oneHot(tf.fill([4], k, 'int32'), 3).toFloat() as tf.Tensor2D }).x[2]);
    const [a, b, a2] = [img(0), img(1), img(0)];
    expect(maxAbsDiff(a, a2)).toBe(0);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    // One image depends on its own z and c only (pixel norm, no batch norm): a batch of one gives the same image.
    const one = tf.tidy(() => g.forward!(tf.slice(z, [0, 0, 0, 0], [1, -1, -1, -1]), 3, { cond: tf.tensor2d([[1, 0, 0]]) }).x[2]);
    expect(maxAbsDiff(one, tf.slice(a, [0, 0, 0, 0], [1, -1, -1, -1]))).toBeLessThan(1e-5);
    expect(() => g.forward!(z, 3)).toThrow(/needs a condition \[4, 3\]/);
    tf.dispose([z, a, b, a2, one]);
    for (const v of g.vars.values()) v.dispose();
  });

  it('D: concat and projection give another verdict for another class; ACGAN has class logits', () => {
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const c0 = tf.tensor2d([[1, 0, 0], [1, 0, 0]]);
    const c1 = tf.tensor2d([[0, 1, 0], [0, 1, 0]]);
    for (const dc of ['concat', 'projection'] as const) {
      const d = createCondDiscriminator(SHAPE('cgan', dc), new Rng(3, 'init-d'));
      const [a, b] = [d.condForward(x, c0), d.condForward(x, c1)];
      expect(a.cls).toBeNull();
      expect(maxAbsDiff(a.adv, b.adv)).toBeGreaterThan(1e-4);
      tf.dispose([a.adv, b.adv]);
      for (const v of d.vars.values()) v.dispose();
    }
    const d = createCondDiscriminator(SHAPE('acgan', 'none'), new Rng(3, 'init-d'));
    const o = d.condForward(x, c0);
    expect(o.cls!.shape).toEqual([2, 3]);
    tf.dispose([o.adv, o.cls!, x, c0, c1]);
    for (const v of d.vars.values()) v.dispose();
  });
});

describe('R1 on the real pairing of a conditional D', () => {
  it('is gamma/2 times the mean over rows of ||d D(x_i, c_i) / d x_i||^2, against central differences', () => {
    // Each row keeps its own condition: the gradient is taken of D(x_i, c_i), not of D at another class.
    for (const [family, dc] of [['cgan', 'projection'], ['cgan', 'concat'], ['acgan', 'none']] as const) {
      const d = createCondDiscriminator(SHAPE(family, dc), new Rng(4, 'init-d'));
      const x = tf.randomNormal([2, 16, 16, 3], 0, 0.5, 'float32', 9) as tf.Tensor4D;
      const c = tf.tensor2d([[1, 0, 0], [0, 0, 1]]);
      const gamma = 3;
      const got = num(condR1Penalty(d, x, c, gamma));
      // Reference: d D / d x by central differences, one coordinate at a time, on every row (float32 network;
      // step 1e-2 on inputs of scale 0.5, summed in float64).
      const base = x.arraySync() as number[][][][];
      const logit = (xs: number[][][][]) => tf.tidy(() => Array.from(d.condForward(tf.tensor4d(xs), c).adv.dataSync()));
      const h = 1e-2;
      let total = 0;
      const perturbed: number[][][][][] = [];
      for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) for (let ch = 0; ch < 3; ch++) {
        for (const sgn of [1, -1]) {
          const xs = base.map((row) => row.map((a) => a.map((b) => b.slice())));
          for (const row of xs) row[i][j][ch] += sgn * h;
          perturbed.push(xs);
        }
      }
      // Batch the perturbations: 2 rows per perturbed copy, a copy per (coordinate, sign).
      const flat = perturbed.flat();
      const out: number[] = [];
      for (let s = 0; s < flat.length; s += 256) {
        const chunk = flat.slice(s, s + 256);
        const cs = tf.tile(c, [chunk.length / 2, 1]) as tf.Tensor2D;
        out.push(...tf.tidy(() => Array.from(d.condForward(tf.tensor4d(chunk), cs).adv.dataSync())));
        cs.dispose();
      }
      for (let q = 0; q < perturbed.length / 2; q++) {
        for (let row = 0; row < 2; row++) {
          const dv = (out[4 * q + row] - out[4 * q + 2 + row]) / (2 * h);
          total += dv * dv;
        }
      }
      const want = (gamma / 2) * (total / 2);
      expect(logit(base)).toHaveLength(2);
      expect(want).toBeGreaterThan(0);
      expect(Math.abs(got - want) / want).toBeLessThan(2e-2);
      tf.dispose([x, c]);
      for (const v of d.vars.values()) v.dispose();
    }
  });
});

const source = () => new ImageDataset(labelledSet(), { seed: 3, heldOutFraction: 0.25, minResolution: 4 });

const CASES: [string, Record<string, unknown>][] = [
  ['cgan', { families: { conditional: { dCondition: 'projection', classNames: ['square', 'bar', 'dot'] } }, objective: { r1: 1, r1Every: 2 } }],
  ['acgan', { families: { conditional: { auxWeight: 0.5, classNames: ['square', 'bar', 'dot'] } }, train: { emaBeta: 0.9 } }],
  ['text2img', { families: { conditional: { dCondition: 'concat', project: 8, textDim: 32, interpolation: 0.5 } }, train: { dSteps: 2 } }],
];

const condConfig = (family: string, over: Record<string, unknown>) =>
  tinyConfig({ ...over, generator: { family, channels: [8, 4], zDim: 4 }, train: { mode: 'end-to-end', steps: 12, ...(over.train as object) }, log: { checkpointEvery: 5, sampleEvery: 6 } });

describe('conditional families train, resume exactly, keep memory flat and sample by condition [wasm]', () => {
  for (const [family, over] of CASES) {
    it(`${family}: 12 steps; a resume is bit-identical; live tensors stay flat; class/text sampling`, async () => {
      const cfg = condConfig(family, over);
      const a = await tmp();
      const counts: Record<number, number> = {};
      const probe: TrainHook = { every: 1, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
      await train(cfg, a, { source: source(), hooks: [probe] });
      expect(counts[9]).toBeGreaterThan(0);
      expect(counts[12]).toBe(counts[9]);
      // R1 (the cgan case) is logged where it was due, and nowhere in runs without it.
      const pens = (await readFile(join(a, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).filter((m) => 'penalty' in m).map((m) => m.penalty as number);
      expect(pens.length).toBeGreaterThan(0);
      if (family === 'cgan') expect(Math.max(...pens)).toBeGreaterThan(0);
      else expect(pens.every((v) => v === 0)).toBe(true);
      // The sample grid names its rows: every class, or training and held-out names.
      const rows = JSON.parse(await readFile(join(a, 'samples', 'step-00000012', 'rows.json'), 'utf8')) as string[];
      if (family === 'text2img') expect(rows.some((r) => r.startsWith('held out: ')) && rows.some((r) => r.startsWith('train: '))).toBe(true);
      else expect(rows).toEqual(['square', 'bar', 'dot']);
      const b = await tmp();
      const ctl = new AbortController();
      const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
      expect(await train(cfg, b, { source: source(), hooks: [stop], signal: ctl.signal })).toMatchObject({ interrupted: true, step: 7 });
      expect(await resumeTraining(b, { source: source() })).toMatchObject({ completed: true, step: 12 });
      const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
      const [sa, sb] = [await state(a), await state(b)];
      expect(sb.weightsSha256).toBe(sa.weightsSha256);
      expect(sb.rng).toEqual(sa.rng);
      const run = await loadRun(b, { source: false });
      try {
        if (family === 'text2img') {
          const x = sampleRun(run, { n: 3, seed: 1, text: 'red square' });
          const y = sampleRun(run, { n: 3, seed: 1, text: 'blue dot' });
          expect(x.shape).toEqual([3, 16, 16, 3]);
          expect(maxAbsDiff(x, y)).toBeGreaterThan(1e-4);
          tf.dispose([x, y]);
          expect(() => sampleRun(run, { n: 3, seed: 1 })).toThrow(/give --text/);
          // Text interpolation: one latent, from the first text's embedding (the first image) to the second's (the last).
          const line = sampleRun(run, { n: 4, seed: 1, text: 'red square', textTo: 'blue dot' });
          expect(line.shape).toEqual([4, 16, 16, 3]);
          const ends = [sampleRun(run, { n: 1, seed: 1, text: 'red square' }), tf.slice(line, [0, 0, 0, 0], [1, -1, -1, -1])];
          expect(maxAbsDiff(ends[0], ends[1])).toBeLessThan(1e-5);
          expect(maxAbsDiff(tf.slice(line, [3, 0, 0, 0], [1, -1, -1, -1]), ends[1])).toBeGreaterThan(1e-4);
          tf.dispose([line, ...ends]);
          expect(() => sampleRun(run, { n: 3, seed: 1, textTo: 'blue dot' })).toThrow(/give both/);
          expect(() => sampleRun(run, { n: 3, seed: 1, className: 'dot' })).toThrow(/--class needs a class-conditional run/);
        } else {
          // Every class, one row each, the same latents in each row; one class alone equals its row.
          const all = sampleRun(run, { n: 2, seed: 1 });
          const dot = sampleRun(run, { n: 2, seed: 1, className: 'Dot' });
          expect(all.shape).toEqual([6, 16, 16, 3]);
          expect(maxAbsDiff(tf.slice(all, [4, 0, 0, 0], [2, -1, -1, -1]), dot)).toBeLessThan(1e-5);
          expect(maxAbsDiff(tf.slice(all, [0, 0, 0, 0], [2, -1, -1, -1]), dot)).toBeGreaterThan(1e-4);
          tf.dispose([all, dot]);
          expect(() => sampleRun(run, { n: 2, seed: 1, className: 'dott' })).toThrow(/--class 'dott' is not a class of this run \(did you mean 'dot'\?\); the classes are: 'square', 'bar', 'dot'/);
          expect(() => sampleRun(run, { n: 2, seed: 1, text: 'red' })).toThrow(/--text needs a text-conditional run/);
        }
        // --class on an unconditional run names the flag and the fix.
        const plain = { ...run, cond: null, config: { ...run.config, generator: { ...run.config.generator, family: 'dcgan' } } } as unknown as LoadedRun;
        expect(() => sampleRun(plain, { n: 1, seed: 1, className: 'dot' })).toThrow(/--class needs a conditional run .* is 'dcgan': drop the flag/);
      } finally {
        run.dispose();
      }
    });
  }
});

describe('conditional config checks', () => {
  const base = { data: 'emoji', generator: { family: 'text2img', resolutions: [8, 16, 32], channels: [8, 8] }, train: { mode: 'end-to-end' } };
  it('names the field and the fix', () => {
    expect(() => resolveConfig(base)).toThrow(/text2img' compresses its 256-d text embedding: set families.conditional.project/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'acgan' }, families: { conditional: { dCondition: 'concat' } } })).toThrow(/dCondition does not apply to 'acgan'/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, families: { conditional: { dCondition: 'concatt' } } })).toThrow(/concat/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, train: { mode: 'layerwise' } })).toThrow(/trains end to end/);
    expect(resolveConfig({ ...base, families: { conditional: { project: 16 } } }).families.conditional.textDim).toBe(256);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, families: { conditional: { interpolation: 0.5 } } })).toThrow(/applies to 'text2img' only/);
    // R1 is the one gradient penalty the conditional step has; WGAN-GP and DRAGAN are refused by name.
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, objective: { name: 'wgan-gp' } })).toThrow(/only gradient penalty: .*than wgan-gp/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, objective: { dragan: 1 } })).toThrow(/set objective.dragan to 0/);
    expect(resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, objective: { r1: 1 } }).objective.r1).toBe(1);
  });
  it('classIndex folds case and lists the classes', () => {
    const space = { kind: 'class' as const, dim: 2, classNames: ['T-shirt/top', 'Trouser'] };
    expect(classIndex(space, 'trouser')).toBe(1);
    expect(() => classIndex(space, 'Trousers')).toThrow(/did you mean 'Trouser'/);
  });
});
