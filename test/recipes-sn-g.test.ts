/**
 * Spectral norm on the FSR learner's G (generator.spectralNorm; Miyato et al. 2018; docs/recipes.md), on cpu
 * and wasm: the effective weight is W / sigma with sigma -> the top singular value (SVD in float64) under
 * power iteration, and G's output is the plain G with W / sigma substituted by hand; the gradient through
 * W / sigma with u, v held constant is the closed form (1/sigma)(G - (<G, W>/sigma) v u^T); in layerwise
 * stages it trains, a frozen layer's weights and u, v do not move, live tensors stay flat, a run killed
 * mid-stage resumes bit-identically, 2 replicas agree with 1 (wasm); oracle-lower keeps the teacher's
 * layers as they are; the other families refuse it.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { afterAll, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { tempDir } from './temp-dirs.js';
import { metricsWithoutTimings } from './reliability-fixtures.js';
import { createLearner, disposeLearner, iterateSn, sampleLatents, snName, snWeights, type Learner } from '../src/models/learner.js';
import { generatorForward, layerWeights, type GeneratorParams, type GeneratorShape } from '../src/models/generator.js';
import { snSigma, snWeight } from '../src/models/layers/spectral-norm.js';
import { resumeTraining, train, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { resolveConfig } from '../src/train/config.js';
import { configKey } from '../src/experiments/plan.js';
import { buildSession, configSchedule, configShape, disposeSession, prepareStage } from '../src/train/session.js';
import { preActivations } from '../src/models/calibrate.js';
import { tensorHash, type StageRecord } from '../src/train/stages.js';
import { loadRun } from '../src/train/run.js';
import { TeacherSource } from '../src/data/teacher.js';
import { buildTeacher, disposeTeacher, type Teacher } from '../src/teacher/index.js';
import { defaultTeacherConfig } from '../src/teacher/config.js';
import { Rng } from '../src/util/rng.js';

/** Two levels, self-attention on the second (so its q, k, h, o are normalised too). */
const SN_SHAPE: GeneratorShape = { resolutions: [4, 8], channels: [3, 4], zDim: 4, kernel: 2, patch: 2, imageChannels: 3, attention: 8, spectralNorm: { from: 0 } };
const PLAIN: GeneratorShape = { ...SN_SHAPE, spectralNorm: undefined };

const sources: PlantedSource[] = [];
const teachers: Teacher[] = [];
afterAll(() => {
  sources.forEach((s) => s.dispose());
  teachers.forEach(disposeTeacher);
});
// Removed when the file's tests end (test/temp-dirs.ts).
const tmp = async (): Promise<string> => tempDir('fsrgan-sn-g-');
function planted(): PlantedSource {
  const s = new PlantedSource();
  sources.push(s);
  return s;
}

const f64 = (t: tf.Tensor) => Array.from(t.dataSync(), Number);
const maxAbs = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const peak = (a: number[]) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** A weight as the float64 matrix spectral norm sees: [size / fan_out, fan_out], its last axis the columns. */
function matrixOf(w: tf.Tensor): Matrix {
  const n = w.shape[w.shape.length - 1];
  const d = f64(w);
  return new Matrix(Array.from({ length: d.length / n }, (_, r) => d.slice(r * n, (r + 1) * n)));
}
const topSingular = (w: tf.Tensor) => new SingularValueDecomposition(matrixOf(w), { autoTranspose: true }).diagonal[0];

/** The learner's block of a normalised weight, and that weight's variable. */
function weightOf(g: Learner, w: { r: number; key: string; name: string }) {
  return { block: g.params.blocks[w.r], v: g.vars.get(w.name)!, s: g.params.blocks[w.r].sn![w.key] };
}

/** A learner whose attention gamma is 0.7 (at 0 attention would not enter the output). */
function learner(shape: GeneratorShape, seed = 5): Learner {
  const g = createLearner(shape, new Rng(seed));
  g.vars.get('g.r8.attn.gamma')!.assign(tf.tensor1d([0.7]));
  return g;
}

const hashOf = (g: Learner, n: string) => tensorHash(g.vars.get(n)!);

describeEachBackend('spectral norm on the FSR generator', (backend) => {
  it('W / sigma with sigma -> the top singular value (float64 SVD); G equals plain G with W / sigma substituted by hand', () => {
    const g = learner(SN_SHAPE);
    const plain = learner(PLAIN);
    // The vectors are drawn after every weight: the weights are those of the same seed without spectral norm.
    for (const [n, v] of plain.vars) expect(hashOf(g, n)).toBe(tensorHash(v));
    expect([...plain.vars.keys()].some((n) => n.includes('.sn.'))).toBe(false);
    const weights = snWeights(SN_SHAPE);
    expect(weights.map((w) => w.name)).toEqual(['g.r4.deconv', 'g.r4.out', 'g.r8.deconv', 'g.r8.out', 'g.r8.attn.q', 'g.r8.attn.k', 'g.r8.attn.h', 'g.r8.attn.o']);
    for (let i = 0; i < 300; i++) iterateSn(g, weights.map((w) => w.name));
    for (const w of weights) {
      const { v, s } = weightOf(g, w);
      const top = topSingular(v);
      const sigma = tf.tidy(() => snSigma(v, s).dataSync()[0]);
      expect(Math.abs(sigma - top) / top).toBeLessThan(2e-5);
      // The reference substitution: W / top, in float32 for the plain learner.
      plain.vars.get(w.name)!.assign(tf.tensor(f64(v).map((x) => x / top), v.shape));
    }
    // The weights the layers use are W / sigma (deconvolution and head; the attention's are checked via the output).
    SN_SHAPE.resolutions.forEach((r, l) => {
      const used = tf.tidy(() => layerWeights(SN_SHAPE, l, g.params.blocks[r]));
      for (const part of ['deconv', 'out'] as const) {
        const want = f64(plain.vars.get(`g.r${r}.${part}`)!);
        expect(maxAbs(f64(used[part]), want)).toBeLessThan(1e-5 * peak(want));
      }
      tf.dispose(used);
    });
    const z = sampleLatents(new Rng(8), 5, SN_SHAPE.zDim);
    const [a, b] = [generatorForward(g.params, z), generatorForward(plain.params, z)];
    for (const k of ['s', 'x'] as const) {
      a[k].forEach((t, i) => {
        const want = f64(b[k][i]);
        expect(maxAbs(f64(t), want)).toBeLessThan(1e-4 * Math.max(1, peak(want)));
      });
    }
    // The same weights without the division are another generator (the test would see a missing W / sigma).
    const raw = learner(PLAIN);
    const c = generatorForward(raw.params, z);
    expect(maxAbs(f64(c.x[1]), f64(b.x[1]))).toBeGreaterThan(1e-2);
    tf.dispose([z, ...a.s, ...a.x, ...b.s, ...b.x, ...c.s, ...c.x]);
    [g, plain, raw].forEach(disposeLearner);
  });

  it('snWeight is W / sigma bit for bit (the FSR D and SAGAN unchanged); a zeroed head stays zero, not 0/0', () => {
    const g = learner(SN_SHAPE, 6);
    for (const w of snWeights(SN_SHAPE)) {
      const { v, s } = weightOf(g, w);
      const [got, want] = tf.tidy(() => [snWeight(v, s), tf.div(v, snSigma(v, s))]);
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      tf.dispose([got, want]);
    }
    // generator.skip with random-lower or end-to-end zeroes the heads no stage trains (session.ts).
    const out = g.vars.get('g.r4.out')!;
    out.assign(tf.zerosLike(out));
    const used = tf.tidy(() => layerWeights(SN_SHAPE, 0, g.params.blocks[4]).out);
    expect(f64(used).every((x) => x === 0)).toBe(true);
    used.dispose();
    disposeLearner(g);
  });

  it('the gradient through W / sigma (u, v constant) is (1/sigma)(G - (<G, W>/sigma) v u^T), G the gradient at W / sigma', () => {
    const g = learner(SN_SHAPE, 7);
    const weights = snWeights(SN_SHAPE);
    // Not converged on purpose: the closed form holds for any u, v.
    iterateSn(g, weights.map((w) => w.name));
    const z = sampleLatents(new Rng(9), 4, SN_SHAPE.zDim);
    const R = tf.tensor4d(new Rng(10).normals(4 * 8 * 8 * 3), [4, 8, 8, 3]);
    const S = tf.tensor4d(new Rng(11).normals(4 * 4 * 4 * 3), [4, 4, 4, 3]);
    const loss = (p: GeneratorParams) => () => {
      const o = generatorForward(p, z);
      return tf.add(tf.sum(tf.mul(o.x[1], R)), tf.sum(tf.mul(o.x[0], S))) as tf.Scalar;
    };
    const vars = weights.map((w) => g.vars.get(w.name)!);
    const viaSn = tf.variableGrads(loss(g.params), vars);
    // The plain G at the normalised weights: its gradient G with respect to each W / sigma.
    const plain = learner(PLAIN, 7);
    for (const w of weights) {
      const { v, s } = weightOf(g, w);
      plain.vars.get(w.name)!.assign(tf.tidy(() => snWeight(v, s)));
    }
    const atNormalised = tf.variableGrads(loss(plain.params), weights.map((w) => plain.vars.get(w.name)!));
    let moved = 0;
    for (const w of weights) {
      const { v, s } = weightOf(g, w);
      const G = f64(atNormalised.grads[plain.vars.get(w.name)!.name]);
      const W = f64(v);
      const [u, vv] = [f64(s.u), f64(s.v)];
      const sigma = vv.reduce((acc, vi, r) => acc + vi * u.reduce((a2, uj, c) => a2 + W[r * u.length + c] * uj, 0), 0);
      const gw = G.reduce((acc, x, i) => acc + x * W[i], 0);
      const want = G.map((x, i) => (x - (gw / sigma) * vv[Math.floor(i / u.length)] * u[i % u.length]) / sigma);
      const got = f64(viaSn.grads[v.name]);
      expect(maxAbs(got, want)).toBeLessThan(2e-4 * peak(want) + 1e-6);
      // The v u^T term matters: treating sigma as a constant gives another gradient.
      moved = Math.max(moved, maxAbs(G.map((x) => x / sigma), want) / peak(want));
    }
    expect(moved).toBeGreaterThan(1e-2);
    tf.dispose([z, R, S, viaSn.value, atNormalised.value, ...Object.values(viaSn.grads), ...Object.values(atNormalised.grads)]);
    disposeLearner(g);
    disposeLearner(plain);
  });

  it('calibration under spectral norm: channels at one common scale, and the bias quantile on the normalised pre-activations gives the asked active fraction', () => {
    const cfg = tinyConfig({ generator: { spectralNorm: true, channels: [4, 6, 6] } });
    const s = buildSession(cfg, 3, planted());
    try {
      for (const stage of [0, 1]) {
        s.stageIndex = stage;
        const [report] = prepareStage(s, null);
        const r = cfg.generator.resolutions[stage];
        const C = cfg.generator.channels[stage];
        const z = sampleLatents(new Rng(cfg.seed, `calibrate.r${r}`), cfg.generator.init.calibrationSamples, cfg.generator.zDim);
        const pre = preActivations(s.learner.params, stage, z);
        z.dispose();
        const b = f64(s.learner.params.blocks[r].bias);
        const n = pre.length / C;
        let on = 0;
        const stds: number[] = [];
        for (let c = 0; c < C; c++) {
          const col = Array.from(pre.subarray(c * n, (c + 1) * n));
          const mean = col.reduce((a, x) => a + x, 0) / n;
          stds.push(Math.sqrt(col.reduce((a, x) => a + (x - mean) ** 2, 0) / n));
          on += col.filter((x) => x > b[c]).length;
        }
        expect(report.deadChannels).toBe(0);
        expect(Math.abs(on / (n * C) - cfg.generator.init.active)).toBeLessThan(0.01);
        expect(report.activeFraction).toBeCloseTo(on / (n * C), 6);
        for (const sd of stds) expect(Math.abs(sd / stds[0] - 1)).toBeLessThan(1e-3);
      }
    } finally {
      disposeSession(s);
    }
  });

  it('layerwise stages: trains; frozen levels keep weights and u, v; tensors flat; a run killed mid-stage 2 resumes bit-identically', async () => {
    const cfg = tinyConfig({ generator: { spectralNorm: true }, objective: { r1: 1 }, train: { stepsByLevel: [4, 4, 4], emaBeta: 0.8 }, log: { checkpointEvery: 3 } });
    const seen: { stage: number; tensors: number; h: Record<string, string> }[] = [];
    const watch = ['g.r4.deconv', 'g.r4.out', 'g.r4.deconv.sn.u', 'g.r4.deconv.sn.v', 'g.r4.out.sn.u', 'g.r8.deconv.sn.u', 'g.r16.deconv.sn.u', 'g.r16.out.sn.v'];
    const probe: TrainHook = { every: 1, fn: (ctx) => {
      seen.push({ stage: ctx.stageIndex, tensors: tf.memory().numTensors, h: Object.fromEntries(watch.map((n) => [n, tensorHash(ctx.learner.vars.get(n)!)])) });
      return {};
    } };
    const a = await tmp();
    expect(await train(cfg, a, { source: planted(), hooks: [probe] })).toMatchObject({ completed: true, step: 12 });
    const lines = await metricsWithoutTimings(a);
    const losses = lines.filter((l) => typeof l.lossD === 'number');
    expect(losses.length).toBe(12);
    for (const l of losses) expect(Number.isFinite(l.lossD as number) && Number.isFinite(l.lossG as number)).toBe(true);
    const at = (stage: number) => seen.filter((s) => s.stage === stage);
    expect(at(0).length).toBe(4);
    // Stage 1 iterates level 1's u, v every step; levels 2 and 3 keep theirs.
    expect(new Set(at(0).map((s) => s.h['g.r4.deconv.sn.u'])).size).toBe(4);
    for (const n of ['g.r8.deconv.sn.u', 'g.r16.deconv.sn.u', 'g.r16.out.sn.v']) expect(new Set(at(0).map((s) => s.h[n])).size).toBe(1);
    // Later stages: level 1 frozen, weights and vectors; stage 2 iterates level 2's, level 3's wait.
    for (const n of ['g.r4.deconv', 'g.r4.out', 'g.r4.deconv.sn.u', 'g.r4.deconv.sn.v', 'g.r4.out.sn.u']) expect(new Set([...at(1), ...at(2)].map((s) => s.h[n])).size).toBe(1);
    expect(new Set(at(1).map((s) => s.h['g.r8.deconv.sn.u'])).size).toBe(4);
    expect(new Set([...at(0), ...at(1)].map((s) => s.h['g.r16.deconv.sn.u'])).size).toBe(1);
    expect(new Set(at(2).map((s) => s.h['g.r16.deconv.sn.u'])).size).toBe(4);
    for (const stage of [0, 1, 2]) expect(new Set(at(stage).slice(1).map((s) => s.tensors)).size).toBe(1);
    // The stage records hash the frozen vectors with their layers (the trainer throws if one moved).
    const rec = JSON.parse(await readFile(join(a, 'stages', '2', 'stage.json'), 'utf8')) as StageRecord;
    expect(rec.frozenLayers).toEqual(expect.arrayContaining(['g.r4.deconv.sn.u', 'g.r4.deconv.sn.v', 'g.r4.out.sn.u', 'g.r4.out.sn.v', 'g.r16.deconv.sn.u', 'g.r16.out.sn.v']));
    expect(rec.frozenLayers.filter((n) => n.startsWith('g.r8.'))).toEqual([]);
    expect(rec.trainedLayers).toEqual(['g.r8.deconv', 'g.r8.bias', 'g.r8.out']);
    expect(rec.frozenHashesEnd).toEqual(rec.frozenHashesStart);
    // Killed at step 7 (mid-stage 2, last checkpoint at 6), resumed: the same bits and metrics.
    const b = await tmp();
    const ctl = new AbortController();
    expect(await train(cfg, b, { source: planted(), hooks: [{ every: 7, fn: () => (ctl.abort(), {}) }], signal: ctl.signal })).toMatchObject({ interrupted: true, step: 7 });
    expect(await resumeTraining(b, { source: planted() })).toMatchObject({ completed: true, step: 12 });
    const state = async (d: string) => JSON.parse(await readFile(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
    expect((await state(b)).weightsSha256).toBe((await state(a)).weightsSha256);
    expect(await metricsWithoutTimings(b)).toEqual(lines);
    // The checkpoint holds the vectors; the EMA shares the learner's (none of its own).
    const run = await loadRun(a, { source: false });
    try {
      expect(run.learner.vars.has('g.r16.out.sn.u')).toBe(true);
      expect([...run.emaLearner!.vars.keys()].some((n) => n.includes('.sn.'))).toBe(false);
      expect(run.ema!.blocks[16].sn!.out.u).toBe(run.learner.vars.get('g.r16.out.sn.u'));
    } finally {
      run.dispose();
    }
  }, 120_000);

  it('random-lower and end-to-end with a skip (zeroed lower heads): finite losses, the lower heads\' vectors frozen', async () => {
    for (const mode of ['random-lower', 'end-to-end']) {
      const cfg = tinyConfig({ generator: { spectralNorm: true, skip: true }, train: { mode, steps: 3 } });
      const d = await tmp();
      await train(cfg, d, { source: planted() });
      const lines = (await metricsWithoutTimings(d)).filter((l) => typeof l.lossD === 'number');
      expect(lines.length).toBe(3);
      for (const l of lines) expect(Number.isFinite(l.lossD as number) && Number.isFinite(l.lossG as number)).toBe(true);
      const rec = JSON.parse(await readFile(join(d, 'stages', '3', 'stage.json'), 'utf8')) as StageRecord;
      expect(rec.frozenLayers).toEqual(expect.arrayContaining(['g.r4.out.sn.u', 'g.r8.out.sn.v']));
      expect(rec.frozenLayers.includes('g.r16.out.sn.u')).toBe(false);
      expect(rec.frozenLayers.includes('g.r4.deconv.sn.u')).toBe(mode === 'random-lower');
      expect(rec.frozenHashesEnd).toEqual(rec.frozenHashesStart);
    }
  }, 60_000);

  it('oracle-lower: the teacher\'s lower layer is used as it is (no vectors), the trained level is normalised', async () => {
    const t = buildTeacher({ ...defaultTeacherConfig, calibrationSamples: 512, resolutions: [8, 16], channels: [6, 6], zDim: 6, targetActive: [1.5, 1.5] });
    teachers.push(t);
    const cfg = resolveConfig({
      data: 'planted-teacher.json', seed: 2,
      generator: { resolutions: [8, 16], channels: [8, 8], zDim: 6, kernel: 4, patch: 4, spectralNorm: true },
      discriminator: { widths: [16, 16] },
      train: { mode: 'oracle-lower', batch: 8, steps: 3 },
      log: { every: 1, checkpointEvery: 1000, sampleEvery: 1000, samples: 4 },
    });
    const d = await tmp();
    await train(cfg, d, { source: new TeacherSource(t, 1), teacher: t });
    const run = await loadRun(d, { source: false });
    try {
      expect([...run.learner.vars.keys()].filter((n) => n.includes('.sn.'))).toEqual(['g.r16.deconv.sn.u', 'g.r16.deconv.sn.v', 'g.r16.out.sn.u', 'g.r16.out.sn.v']);
      const z = sampleLatents(new Rng(4), 3, 6);
      const [mine, theirs] = [generatorForward(run.generator, z, 1).x[0], generatorForward(t.params, z, 1).x[0]];
      expect(maxAbs(f64(mine), f64(theirs))).toBeLessThan(1e-5 * Math.max(1, peak(f64(theirs))));
      tf.dispose([z, mine, theirs]);
    } finally {
      run.dispose();
    }
  }, 60_000);

  if (backend === 'wasm') {
    it('2 data-parallel replicas run it and agree with 1 (the vectors are copied to and iterated by every replica)', async () => {
      const cfg = tinyConfig({ generator: { spectralNorm: true }, train: { stepsByLevel: [3, 2, 2], emaBeta: 0.8 } });
      const [one, two] = [await tmp(), await tmp()];
      await train(cfg, one, { source: planted(), workers: 1 });
      expect(await train(cfg, two, { source: planted(), workers: 2 })).toMatchObject({ completed: true, step: 7 });
      const [l1, l2] = [await metricsWithoutTimings(one), await metricsWithoutTimings(two)];
      expect(l2.map((l) => l.step)).toEqual(l1.map((l) => l.step));
      let worst = 0;
      l1.forEach((l, i) => {
        for (const k of ['lossD', 'lossG']) if (typeof l[k] === 'number') worst = Math.max(worst, Math.abs((l[k] as number) - (l2[i][k] as number)) / Math.max(Math.abs(l[k] as number), 0.01));
      });
      expect(worst).toBeLessThan(1e-3);
    }, 120_000);
  }

  it('config: the FSR learner takes it (oracle-lower from its level), ids of runs without it unchanged; other families refuse it', () => {
    const off = tinyConfig();
    expect('spectralNorm' in configShape(off, 3)).toBe(false);
    expect(JSON.stringify(configKey(off))).not.toContain('spectralNorm');
    const on = tinyConfig({ generator: { spectralNorm: true } });
    expect(configShape(on, 3).spectralNorm).toEqual({ from: 0 });
    expect(configShape({ ...on, train: { ...on.train, mode: 'oracle-lower', level: 2 } }, 3).spectralNorm).toEqual({ from: 1 });
    expect(configShape({ ...on, train: { ...on.train, mode: 'oracle-lower', level: 0 } }, 3).spectralNorm).toEqual({ from: 2 });
    // Without it the schedule is as before; with it, frozen vectors are listed with their stage's frozen layers.
    const [plainStages, snStages] = [configSchedule(off), configSchedule(on)];
    plainStages.forEach((st, i) => {
      expect(snStages[i].trained).toEqual(st.trained);
      expect(snStages[i].frozen.filter((n) => !n.includes('.sn.'))).toEqual(st.frozen);
      expect(st.frozen.some((n) => n.includes('.sn.'))).toBe(false);
    });
    expect(snStages[0].frozen).toContain(snName('g.r8.deconv', 'u'));
    expect(snStages[0].frozen).not.toContain(snName('g.r4.deconv', 'u'));
    const base = { data: 'emoji', train: { mode: 'end-to-end' }, generator: { resolutions: [8, 16, 32], channels: [8, 8, 8], spectralNorm: true }, discriminator: { widths: [8, 8, 8] } };
    expect(() => resolveConfig(base)).not.toThrow();
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'dcgan' } })).toThrow(/generator\.spectralNorm normalises the FSR learner's weights .*not family 'dcgan''s own G/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'progan' } })).toThrow(/not family 'progan''s own G/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'sagan' } })).toThrow(/family 'sagan' normalises G and D by families\.sagan\.spectralNorm/);
  });
});
