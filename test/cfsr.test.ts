/**
 * The class-conditional FSR learner (generator.condition 'class'; src/models/class-shift.ts, the projection
 * D of src/models/discriminator.ts, src/train/cfsr-*.ts; docs/conditional.md). G: with E_l = 0 it is the
 * unconditional learner bit for bit (calibrated too); a planted E_l shifts the pre-activation by E_l c (float64
 * by hand). D: D(x, c) = w.f + b + <V c, f> (float64, with and without spectral norm). The gradients of E_l and
 * V match finite differences (V through D's loss with R1's double backprop). A layerwise run keeps live
 * tensors flat, freezes E_1 in stage 2 (and the hash check catches a change), resumes bit-identically after a
 * kill mid-stage, gives D the labels of the batch drawn last in every call, trains under wgan-gp with bias
 * homeostasis and under hinge with spectral norm, and samples by class at every level. Conditioned on the text
 * (generator.condition 'text'), the same run has E_l [textDim, C_l], name-by-row grids and --text sampling. On
 * cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { labelledSet, maxAbsDiff, tempDir } from './family-fixtures.js';
import { finiteDiff, relErr } from './ops.reference.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { ImageDataset } from '../src/data/dataset.js';
import { generatorForward, generatorPreActivation, type GeneratorShape } from '../src/models/generator.js';
import { createLearner, disposeLearner, sampleLatents } from '../src/models/learner.js';
import { calibrateLayer } from '../src/models/calibrate.js';
import { addProjection, createDiscriminator, discFeatures, discForward, disposeDiscriminator, type Discriminator } from '../src/models/discriminator.js';
import { objectives, r1Penalty } from '../src/train/objectives.js';
import { resolveConfig } from '../src/train/config.js';
import { resumeTraining, train, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { loadRun, sampleRun } from '../src/train/run.js';
import { Rng } from '../src/util/rng.js';
import { buildSession, disposeSession, openStageOptimizers, prepareStage } from '../src/train/session.js';
import { classStageStep } from '../src/train/cfsr-step.js';

const SHAPE: GeneratorShape = { resolutions: [4, 8], channels: [3, 2], zDim: 3, kernel: 2, patch: 2, imageChannels: 3, head: 'tanh', skip: true };
const K = 3;
const D_CFG = { widths: [4, 4], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1 };
const values = (t: tf.Tensor) => Array.from(t.dataSync());
const assign = (v: tf.Variable, data: ArrayLike<number>) => tf.tidy(() => v.assign(tf.tensor(Array.from(data), v.shape)));
/** Rows of c that are not one-hot, so that every entry of E c and V c is a real sum. */
const softRows = (n: number) => tf.tensor2d(new Rng(9, 'c').normals(n * K).map((v) => Math.abs(v)), [n, K]);

/** sum(f() * dy) as a function of the entries of v, in float64 around v's values, by central differences of the float32 loss. */
function fdOf(v: tf.Variable, loss: () => tf.Scalar, h: number): Float64Array {
  const at = Float64Array.from(v.dataSync());
  const g = finiteDiff((p) => {
    assign(v, Array.from(p));
    return tf.tidy(() => loss().dataSync()[0]);
  }, at, h);
  assign(v, Array.from(at));
  return g;
}

function autodiff(vars: tf.Variable[], loss: () => tf.Scalar): number[][] {
  const { value, grads } = tf.variableGrads(loss, vars);
  const out = vars.map((v) => values(grads[v.name]));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describeEachBackend('class-conditional FSR: G and D', () => {
  it('E_l = 0: the conditional G is the unconditional G of the same seed bit for bit, calibrated or not', () => {
    const plain = createLearner(SHAPE, new Rng(5, 'init-g'));
    const cond = createLearner({ ...SHAPE, classes: K }, new Rng(5, 'init-g'));
    expect([...cond.vars.keys()].filter((n) => !plain.vars.has(n))).toEqual(['g.r4.cls', 'g.r8.cls']);
    const z = sampleLatents(new Rng(6, 'z'), 5, 3);
    const c = softRows(5);
    for (const l of [0, 1]) {
      const zc = sampleLatents(new Rng(7, `cal${l}`), 64, 3);
      calibrateLayer(plain.params, l, zc, 0.3);
      calibrateLayer(cond.params, l, zc, 0.3);
      zc.dispose();
    }
    for (const [n, v] of plain.vars) expect(values(cond.vars.get(n)!), n).toEqual(values(v));
    const a = generatorForward(plain.params, z);
    const b = generatorForward(cond.params, z, 2, c);
    for (const k of [0, 1]) {
      expect(values(b.x[k])).toEqual(values(a.x[k]));
      expect(values(b.s[k])).toEqual(values(a.s[k]));
    }
    // The condition is required by the conditional G and refused by the unconditional one.
    expect(() => generatorForward(cond.params, z)).toThrow(/conditional FSR \(class or text\) generator needs a condition \[5, 3\], got none: .*fsrgan metrics conditional/);
    expect(() => generatorForward(plain.params, z, 2, c)).toThrow(/unconditional generator/);
    tf.dispose([z, c, ...a.x, ...a.s, ...b.x, ...b.s]);
    disposeLearner(plain);
    disposeLearner(cond);
  });

  it('a planted E_l shifts the pre-activation by E_l c: layer 1 by hand in float64, layer 2 as the difference', () => {
    const g = createLearner({ ...SHAPE, classes: K }, new Rng(5, 'init-g'));
    const rng = new Rng(8, 'plant');
    const e1 = rng.normals(K * 3);
    const e2 = rng.normals(K * 2);
    assign(g.vars.get('g.r4.cls')!, e1);
    const n = 2;
    const z = sampleLatents(new Rng(6, 'z'), n, 3);
    const c = softRows(n);
    // Layer 1: Deconv_1 has kernel = stride = g_1 = 2 on a 1x1 input: pre[n,i,j,o] = sum_k z[n,k] W[i,j,o,k] + sum_k c[n,k] E_1[k,o].
    const [zv, cv, w] = [values(z), values(c), values(g.vars.get('g.r4.deconv')!)];
    const hand: number[] = [];
    for (let b = 0; b < n; b++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++)
          for (let o = 0; o < 3; o++) {
            let s = 0;
            for (let k = 0; k < 3; k++) s += zv[b * 3 + k] * w[((i * 2 + j) * 3 + o) * 3 + k];
            for (let k = 0; k < K; k++) s += cv[b * K + k] * e1[k * 3 + o];
            hand.push(s);
          }
    const pre1 = generatorPreActivation(g.params, 0, z, c);
    expect(relErr(values(pre1), hand)).toBeLessThan(1e-6);
    // Layer 2: the same lower layers, with and without E_2: the difference at every position is (c E_2)[n, o].
    const before = generatorPreActivation(g.params, 1, z, c);
    assign(g.vars.get('g.r8.cls')!, e2);
    const after = generatorPreActivation(g.params, 1, z, c);
    const diff = values(tf.sub(after, before));
    const want = diff.map((_, idx) => {
      const b = Math.floor(idx / (4 * 4 * 2));
      const o = idx % 2;
      return cv.slice(b * K, b * K + K).reduce((s, ck, k) => s + ck * e2[k * 2 + o], 0);
    });
    expect(relErr(diff, want)).toBeLessThan(1e-5);
    tf.dispose([z, c, pre1, before, after]);
    disposeLearner(g);
  });

  it('projection D: D(x, c) = w.f + b + <V c, f> (float64), with and without spectral norm; V = 0 is the unconditional D', () => {
    const x = tf.randomNormal([3, 8, 8, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const c = softRows(3);
    const cv = values(c);
    for (const sn of [false, true]) {
      const cfg = { ...D_CFG, spectralNorm: sn };
      const plain = createDiscriminator(8, 'single', 3, 2, cfg, new Rng(3, 'd'));
      const rng = new Rng(3, 'd');
      const d = addProjection(createDiscriminator(8, 'single', 3, 2, cfg, rng), K, rng, cfg);
      // The other weights are the unconditional D's of the same seed; V is 0 without spectral norm.
      for (const [n, v] of plain.vars) expect(values(d.vars.get(n)!), n).toEqual(values(v));
      if (!sn) expect(values(discForward(d, x, { cond: c }))).toEqual(values(discForward(plain, x)));
      expect(() => discForward(d, x)).toThrow(/class-conditional: it needs classes \[3, 3\], got none/);
      const v = d.vars.get('d.r8.proj')!;
      if (!sn) assign(v, new Rng(2, 'v').normals(v.size));
      const f = values(discFeatures(d, x));
      const F = f.length / 3;
      const [w, b, V] = [values(d.head.w), values(d.head.b)[0], values(v)];
      // sigma = v^T W u of each normalised weight, with its persisted vectors (1 without spectral norm).
      const sigma = (m: number[], u: number[], vv: number[]) => vv.reduce((s, vi, i) => s + vi * u.reduce((t, uj, j) => t + m[i * u.length + j] * uj, 0), 0);
      const sw = sn ? sigma(w, values(d.head.u!), values(d.head.v!)) : 1;
      const sv = sn ? sigma(V, values(d.proj!.u!), values(d.proj!.v!)) : 1;
      const hand = [0, 1, 2].map((i) => {
        let out = b;
        for (let j = 0; j < F; j++) {
          let vc = 0;
          for (let k = 0; k < K; k++) vc += cv[i * K + k] * V[k * F + j];
          out += f[i * F + j] * (w[j] / sw + vc / sv);
        }
        return out;
      });
      expect(relErr(values(discForward(d, x, { cond: c })), hand)).toBeLessThan(1e-5);
      disposeDiscriminator(d);
      disposeDiscriminator(plain);
    }
    tf.dispose([x, c]);
  });

  it('gradients of E_1, E_2 (through G) and V (through D loss + R1, double backprop) match central finite differences', () => {
    const g = createLearner({ ...SHAPE, classes: K }, new Rng(5, 'init-g'));
    const rng = new Rng(8, 'plant');
    const es = ['g.r4.cls', 'g.r8.cls'].map((n) => g.vars.get(n)!);
    for (const e of es) assign(e, rng.normals(e.size).map((v) => 0.5 * v));
    const z = sampleLatents(new Rng(6, 'z'), 2, 3);
    const c = softRows(2);
    const dy = tf.tensor(rng.normals(2 * 8 * 8 * 3), [2, 8, 8, 3]);
    const lossG = () => tf.tidy(() => tf.sum(tf.mul(generatorForward(g.params, z, 2, c).x[1], dy)) as tf.Scalar);
    const gradsG = autodiff(es, lossG);
    es.forEach((e, i) => expect(relErr(gradsG[i], fdOf(e, lossG, 1e-3)), e.name).toBeLessThan(2e-2));
    // D: the non-saturating loss on a real and a fake batch with the classes, plus R1 on the real one.
    const rngD = new Rng(3, 'd');
    const d: Discriminator = addProjection(createDiscriminator(8, 'single', 3, 2, D_CFG, rngD), K, rngD, D_CFG);
    const v = d.vars.get('d.r8.proj')!;
    assign(v, rng.normals(v.size).map((t) => 0.3 * t));
    const real = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const fake = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
    const D = (x: tf.Tensor4D) => discForward(d, x, { cond: c });
    const lossD = () => tf.tidy(() => tf.add(objectives.ns.d(D(real), D(fake)), r1Penalty(D, real, 1)) as tf.Scalar);
    const [gradV] = autodiff([v], lossD);
    expect(relErr(gradV, fdOf(v, lossD, 1e-2))).toBeLessThan(2e-2);
    tf.dispose([z, c, dy, real, fake]);
    disposeLearner(g);
    disposeDiscriminator(d);
  });
});

const CLASSES = ['square', 'bar', 'dot'];
const labelled = () => new ImageDataset(labelledSet(), { seed: 3, heldOutFraction: 0.25, minResolution: 4 });
/** The tiny layerwise recipe of real images (tanh heads, skip, lazy R1, EMA, DiffAugment at the top), conditioned on the class. */
const cfsrConfig = (over: Record<string, unknown> = {}) =>
  tinyConfig({
    generator: { condition: 'class', head: 'tanh', skip: true },
    discriminator: { augment: ['translation'], augmentFrom: 16 },
    objective: { r1: 1, r1Every: 2 },
    families: { conditional: { classNames: CLASSES } },
    train: { stepsByLevel: [4, 6, 4], emaBeta: 0.9 },
    log: { checkpointEvery: 5, sampleEvery: 100 },
    ...over,
  });
const stageRecord = async (dir: string, level: number) => JSON.parse(await readFile(join(dir, 'stages', String(level), 'stage.json'), 'utf8'));
const lastState = async (dir: string) => JSON.parse(await readFile(join((await listCheckpoints(dir))[0], 'state.json'), 'utf8'));

describeEachBackend('class-conditional FSR: layerwise training', () => {
  it('live tensors flat; E_1 trained in stage 1 and frozen in stage 2 (hashes); a kill mid-stage 2 resumes bit-identically; class grids at every level', async () => {
    const cfg = cfsrConfig();
    const a = tempDir('fsrgan-cfsr-');
    const counts: Record<number, number> = {};
    const probe: TrainHook = { every: 1, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
    await train(cfg, a, { source: labelled(), hooks: [probe] });
    expect(counts[6]).toBeGreaterThan(0);
    expect(counts[9]).toBe(counts[6]);
    expect(counts[14]).toBe(counts[12]);
    const [s1, s2] = [await stageRecord(a, 1), await stageRecord(a, 2)];
    expect(s1.trainedLayers).toContain('g.r4.cls');
    expect(s1.trainedHashesEnd['g.r4.cls']).not.toBe(s1.trainedHashesStart['g.r4.cls']);
    expect(s2.trainedLayers).toContain('g.r8.cls');
    expect(s2.frozenLayers).toContain('g.r4.cls');
    expect(s2.frozenHashesEnd['g.r4.cls']).toBe(s2.frozenHashesStart['g.r4.cls']);
    expect(JSON.parse(await readFile(join(a, 'samples', 'step-00000014', 'rows.json'), 'utf8'))).toEqual(CLASSES);
    // Killed (aborted) at step 7, in stage 2 (steps 5-10), then resumed: the same bits and streams as the run above.
    const b = tempDir('fsrgan-cfsr-');
    const ctl = new AbortController();
    const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
    expect(await train(cfg, b, { source: labelled(), hooks: [stop], signal: ctl.signal })).toMatchObject({ interrupted: true, step: 7 });
    expect(await resumeTraining(b, { source: labelled() })).toMatchObject({ completed: true, step: 14 });
    const [sa, sb] = [await lastState(a), await lastState(b)];
    expect(sb.weightsSha256).toBe(sa.weightsSha256);
    expect(sb.rng).toEqual(sa.rng);
    const run = await loadRun(b, { source: false });
    try {
      for (const r of [8, 16]) {
        // Every class, one row each, the same latents in each row; one class alone equals its row.
        const all = sampleRun(run, { n: 2, seed: 1, resolution: r, ema: true });
        const dot = sampleRun(run, { n: 2, seed: 1, resolution: r, ema: true, className: 'Dot' });
        expect(all.shape).toEqual([6, r, r, 3]);
        expect(maxAbsDiff(tf.slice(all, [4, 0, 0, 0], [2, -1, -1, -1]), dot)).toBeLessThan(1e-6);
        expect(maxAbsDiff(tf.slice(all, [0, 0, 0, 0], [2, -1, -1, -1]), dot)).toBeGreaterThan(1e-5);
        tf.dispose([all, dot]);
      }
      expect(() => sampleRun(run, { n: 2, seed: 1, className: 'dott' })).toThrow(/did you mean 'dot'/);
      // D's projection learned (it starts at 0 and moves only through the classes the step passes).
      expect(maxAbsDiff(run.discriminators.get(8)!.vars.get('d.r8.proj')!, tf.zeros([3, 32]))).toBeGreaterThan(0);
    } finally {
      run.dispose();
    }
  });

  it("generator.condition 'text': E_l [textDim, C_l] per layer, frozen with it; resume bit-identical; text grids; --text sampling", async () => {
    const cfg = cfsrConfig({ generator: { condition: 'text', head: 'tanh', skip: true }, families: { conditional: { textDim: 16 } } });
    const a = tempDir('fsrgan-cfsr-');
    const counts: Record<number, number> = {};
    const probe: TrainHook = { every: 1, fn: (ctx) => ((counts[ctx.step] = tf.memory().numTensors), {}) };
    await train(cfg, a, { source: labelled(), hooks: [probe] });
    expect(counts[9]).toBe(counts[6]);
    const s2 = await stageRecord(a, 2);
    expect(s2.trainedLayers).toContain('g.r8.cls');
    expect(s2.frozenHashesEnd['g.r4.cls']).toBe(s2.frozenHashesStart['g.r4.cls']);
    const rows = JSON.parse(await readFile(join(a, 'samples', 'step-00000014', 'rows.json'), 'utf8')) as string[];
    expect(rows.some((r) => r.startsWith('train: ')) && rows.some((r) => r.startsWith('held out: '))).toBe(true);
    const b = tempDir('fsrgan-cfsr-');
    const ctl = new AbortController();
    const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
    await train(cfg, b, { source: labelled(), hooks: [stop], signal: ctl.signal });
    expect(await resumeTraining(b, { source: labelled() })).toMatchObject({ completed: true, step: 14 });
    expect((await lastState(b)).weightsSha256).toBe((await lastState(a)).weightsSha256);
    const run = await loadRun(b, { source: false });
    try {
      expect(run.learner.vars.get('g.r4.cls')!.shape).toEqual([16, 4]);
      const red = sampleRun(run, { n: 2, seed: 1, text: 'red square', ema: true });
      const blue = sampleRun(run, { n: 2, seed: 1, text: 'blue dot', ema: true });
      expect(red.shape).toEqual([2, 16, 16, 3]);
      expect(maxAbsDiff(red, blue)).toBeGreaterThan(1e-5);
      tf.dispose([red, blue]);
      expect(() => sampleRun(run, { n: 2, seed: 1 })).toThrow(/give --text/);
      expect(() => sampleRun(run, { n: 2, seed: 1, className: 'dot' })).toThrow(/conditioned on text: use --text/);
    } finally {
      run.dispose();
    }
  });

  it('one step gives D the one-hot labels of the batch drawn last, in every call (real, fake, R1, G\'s update)', () => {
    const cfg = cfsrConfig({ train: { dSteps: 2 }, objective: { r1: 1 } });
    const drawn: number[][] = [];
    const calls: { batch: number; cond: number[] }[] = [];
    class Spy extends ImageDataset {
      override batchWithLabels(n: number) {
        const b = super.batchWithLabels(n);
        drawn.push(Array.from(b.labels));
        return b;
      }
    }
    const s = buildSession(cfg, 3, new Spy(labelledSet(), { seed: 3, heldOutFraction: 0.25, minResolution: 4 }));
    try {
      prepareStage(s, null);
      openStageOptimizers(s);
      const d = s.discs.get(4)!;
      const spy: Discriminator = { ...d, forward: (x, opts) => (calls.push({ batch: drawn.length, cond: values(opts!.cond!) }), discForward(d, x, opts)) };
      const before = tf.memory().numTensors;
      const out = classStageStep({ config: cfg, stage: s.stages[0], learner: s.learner, ema: s.ema, disc: spy, source: s.source!, rngs: s.rngs, optG: s.opt!.g, optD: s.opt!.d, stageStep: 0 }, s.cond!, true);
      expect(Number.isFinite(out!.lossD)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      expect(drawn).toHaveLength(2);
      // Each D update judges real and fake (and R1's real) with its own batch's labels; G's update with the last batch's.
      expect(new Set(calls.map((c) => c.batch))).toEqual(new Set([1, 2]));
      for (const c of calls) expect(c.cond).toEqual(drawn[c.batch - 1].flatMap((k) => [0, 1, 2].map((j) => (j === k ? 1 : 0))));
    } finally {
      disposeSession(s);
    }
  });

  it('the freeze check covers E_l: a change to E_1 during stage 2 stops the run', async () => {
    const cfg = cfsrConfig({ train: { stepsByLevel: [2, 2, 1] } });
    const poke: TrainHook = { every: 3, fn: (ctx) => (ctx.stage.level === 2 && tf.tidy(() => ctx.learner.vars.get('g.r4.cls')!.assign(tf.onesLike(ctx.learner.vars.get('g.r4.cls')!))), {}) };
    await expect(train(cfg, tempDir('fsrgan-cfsr-'), { source: labelled(), hooks: [poke] })).rejects.toThrow(/stage 2: frozen variables changed during the stage: g\.r4\.cls/);
  });

  for (const [name, over] of [
    ['wgan-gp, bias homeostasis (class-balanced quantiles)', { objective: { name: 'wgan-gp' }, generator: { condition: 'class', homeostasis: { active: 0.3, every: 1, samples: 12 } } }],
    ['hinge, spectral norm on D, minibatch stddev', { objective: { name: 'hinge' }, discriminator: { spectralNorm: true, minibatchStddev: 2 } }],
  ] as const) {
    it(`${name}: every stage trains with finite losses`, async () => {
      const dir = tempDir('fsrgan-cfsr-');
      await train(cfsrConfig({ ...over, train: { stepsByLevel: [2, 2, 2] } }), dir, { source: labelled() });
      const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).filter((l) => typeof l.lossD === 'number');
      expect(lines.map((l) => l.stage)).toEqual([1, 1, 2, 2, 3, 3]);
      for (const l of lines) expect(Number.isFinite(l.lossD) && Number.isFinite(l.lossG)).toBe(true);
    });
  }
});

describeEachBackend('class-conditional FSR: refusals', () => {
  it('names the field and the fix', async () => {
    const base = { data: 'emoji', generator: { condition: 'class', resolutions: [8, 16, 32], channels: [8, 8, 8], patch: 4 } };
    expect(resolveConfig(base).generator.condition).toBe('class');
    expect(resolveConfig({ data: 'emoji' }).generator.condition).toBe('none');
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, condition: 'clas' } })).toThrow(/config.generator.condition.*class/);
    expect(() => resolveConfig({ ...base, data: 'experiments/teacher-small.json' })).toThrow(/condition 'class' needs class labels, and config.data 'experiments\/teacher-small.json' is a synthetic teacher/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, family: 'cgan' }, train: { mode: 'end-to-end' } })).toThrow(/family 'cgan' is conditioned by its own design .*set generator.condition to 'none'/);
    expect(() => resolveConfig({ ...base, generator: { ...base.generator, virtualBatchNorm: true } })).toThrow(/generator.virtualBatchNorm to false/);
    expect(() => resolveConfig({ ...base, discriminator: { pack: 2 } })).toThrow(/discriminator.pack to 1/);
    expect(() => resolveConfig({ ...base, analysis: { every: 10 } })).toThrow(/analysis.every to 0/);
    // Text needs names: Fashion-MNIST and the teacher have none.
    expect(() => resolveConfig({ ...base, data: 'fashion-mnist', generator: { ...base.generator, condition: 'text' } })).toThrow(/condition 'text' needs images with names, which config.data 'fashion-mnist' does not have/);
    expect(resolveConfig({ ...base, generator: { ...base.generator, condition: 'text' } }).generator.condition).toBe('text');
    // A source without labels (the planted teacher-like source) and replicas: refused when the run starts.
    const planted = new PlantedSource();
    try {
      await expect(train(cfsrConfig(), tempDir('fsrgan-cfsr-'), { source: planted })).rejects.toThrow(/generator.condition 'class' needs a labelled image dataset/);
    } finally {
      planted.dispose();
    }
    await expect(train(cfsrConfig(), tempDir('fsrgan-cfsr-'), { source: labelled(), workers: 2 })).rejects.toThrow(/generator.condition 'class' trains in one process: use --workers 1/);
  });
});
