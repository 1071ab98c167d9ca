/**
 * The recipes the image stages took over from the 2-D lab (issue 19; docs/recipes.md): virtual batch norm
 * and equalised learning rate in the FSR learner, equalised learning rate in the FSR discriminator,
 * historical averaging and the second-order unrolled gradient in a stage's updates, each against an
 * independent computation (float64 hand computation, scaled plain layers, Adam's first step in closed form,
 * finite differences). On cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { createLearner, disposeLearner, gName, sampleLatents, type Learner } from '../src/models/learner.js';
import { deconvFanIn, generatorForward, type GeneratorShape } from '../src/models/generator.js';
import { createDiscriminator, discForward, disposeDiscriminator } from '../src/models/discriminator.js';
import { heScale } from '../src/models/layers/equalized.js';
import { Adam } from '../src/train/adam.js';
import { HistoricalAverage } from '../src/train/recipes.js';
import { buildSession, disposeSession, openStageOptimizers, prepareStage, type Session } from '../src/train/session.js';
import { gObjective, trainStep, type StepContext } from '../src/train/step.js';
import { imageRecipeProblems } from '../src/train/recipe-checks.js';
import { Rng } from '../src/util/rng.js';

const SHAPE: GeneratorShape = { resolutions: [4, 8], channels: [3, 3], zDim: 4, kernel: 2, patch: 2, imageChannels: 3 };
const sources: PlantedSource[] = [];
afterAll(() => sources.forEach((s) => s.dispose()));

const f64 = (t: tf.Tensor) => Array.from(t.dataSync(), Number);
const maxAbs = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** A session of a tiny config at stage `stage` (0-based) with its optimisers open, and the step context for it. */
function stageSession(over: Record<string, unknown>, stage = 0): { s: Session; ctx: StepContext } {
  const src = new PlantedSource();
  sources.push(src);
  const s = buildSession(tinyConfig(over), 3, src);
  s.stageIndex = stage;
  prepareStage(s, null);
  openStageOptimizers(s);
  const st = s.stages[stage];
  const ctx: StepContext = { config: s.config, stage: st, learner: s.learner, ema: s.ema, disc: s.discs.get(st.resolution)!, source: src, rngs: s.rngs, optG: s.opt!.g, optD: s.opt!.d, stageStep: 0, hist: s.hist };
  return { s, ctx };
}

/** A random D input for the stage's D (its shape: [batch, size, size, channels]). */
function dInput(ctx: StepContext, seed: number): tf.Tensor4D {
  const d = ctx.disc;
  const c = (d.input === 'pair' ? 2 : 1) * d.imageChannels;
  return tf.tensor4d(new Rng(seed).normals(ctx.config.train.batch * d.inputSize * d.inputSize * c, 0.5), [ctx.config.train.batch, d.inputSize, d.inputSize, c]);
}

describeEachBackend('recipes in the image stages', () => {
  it('the stages apply them (spectral norm on G: the FSR learner only)', () => {
    const on = tinyConfig({ generator: { virtualBatchNorm: true, equalizedLr: true }, discriminator: { equalizedLr: true }, train: { historicalAveraging: 0.1, unroll: 1, unrollSecondOrder: true } });
    expect(imageRecipeProblems(on)).toEqual([]);
    expect(imageRecipeProblems({ ...on, generator: { ...on.generator, spectralNorm: true } })).toEqual([]);
    expect(imageRecipeProblems({ ...on, generator: { ...on.generator, spectralNorm: true, family: 'dcgan' } }).join()).toMatch(/generator\.spectralNorm normalises the FSR learner's weights .* not family 'dcgan''s own G/);
  });

  it('virtual batch norm: s_1 against a float64 hand computation with the reference batch; an example is independent of its batch', () => {
    const shape = { ...SHAPE, virtualBatchNorm: true };
    const g = createLearner(shape, new Rng(5));
    const [R, N, C, Z, G] = [5, 3, 3, 4, 2];
    g.params.reference = sampleLatents(new Rng(6), R, Z);
    const rng = new Rng(7);
    for (const part of ['vbnGamma', 'vbnBeta', 'bias'] as const) g.vars.get(gName(4, part))!.assign(tf.tensor1d(rng.normals(C, 0.5)));
    const z = sampleLatents(new Rng(8), N, Z);
    const s1 = f64(tf.tidy(() => generatorForward(g.params, z, 1).s[0]));
    // Layer 1: a 'valid' transposed conv with kernel = stride = g_1 on a 1x1 input: pre[n,i,j,c] = sum_k z[n,k] W[i,j,c,k].
    const W = f64(g.vars.get(gName(4, 'deconv'))!);
    const [gamma, beta, bias] = (['vbnGamma', 'vbnBeta', 'bias'] as const).map((p) => f64(g.vars.get(gName(4, p))!));
    const pre = (zz: number[], n: number, i: number, j: number, c: number) => {
      let v = 0;
      for (let k = 0; k < Z; k++) v += zz[n * Z + k] * W[((i * G + j) * C + c) * Z + k];
      return v;
    };
    const zr = f64(g.params.reference);
    const zv = f64(z);
    const want: number[] = [];
    const refMean = new Array(C).fill(0);
    const refSq = new Array(C).fill(0);
    for (let c = 0; c < C; c++) for (let n = 0; n < R; n++) for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
      const v = pre(zr, n, i, j, c);
      refMean[c] += v / (R * G * G);
      refSq[c] += (v * v) / (R * G * G);
    }
    for (let n = 0; n < N; n++) for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) for (let c = 0; c < C; c++) {
      let own = 0;
      let ownSq = 0;
      for (let a = 0; a < G; a++) for (let b = 0; b < G; b++) {
        own += pre(zv, n, a, b, c) / (G * G);
        ownSq += pre(zv, n, a, b, c) ** 2 / (G * G);
      }
      const mu = (own + R * refMean[c]) / (R + 1);
      const nu = (ownSq + R * refSq[c]) / (R + 1);
      const out = (gamma[c] * (pre(zv, n, i, j, c) - mu)) / Math.sqrt(nu - mu * mu + 1e-5) + beta[c];
      want.push(Math.max(0, out - bias[c]));
    }
    expect(maxAbs(s1, want)).toBeLessThan(1e-5);
    expect(want.some((v) => v > 0)).toBe(true);
    // Unlike batch norm, each example's images depend only on itself and the reference batch.
    const all = tf.tidy(() => generatorForward(g.params, z).x[1].slice([1], [1]));
    const one = tf.tidy(() => generatorForward(g.params, z.slice([1], [1])).x[1]);
    expect(maxAbs(f64(one), f64(all))).toBeLessThan(1e-6);
    tf.dispose([z, all, one]);
    disposeLearner(g);
  });

  it('equalised lr in G: N(0, 1) stored; forward = a plain learner whose weights are the stored ones times He\'s constant', () => {
    const init = { gain: 1.4, outGain: 0.9, bias: 0 };
    const eq = createLearner({ ...SHAPE, equalizedLr: { gain: init.gain, outGain: init.outGain } }, new Rng(2), init);
    const plain = createLearner(SHAPE, new Rng(3), init);
    const stored = f64(eq.vars.get(gName(8, 'deconv'))!);
    const sd = Math.sqrt(stored.reduce((a, v) => a + v * v, 0) / stored.length);
    expect(sd).toBeGreaterThan(0.6);
    expect(sd).toBeLessThan(1.5);
    SHAPE.resolutions.forEach((r, l) => {
      const c = { deconv: heScale(deconvFanIn(SHAPE, l), init.gain), out: heScale(SHAPE.channels[l], init.outGain), bias: 1 };
      for (const part of ['deconv', 'out', 'bias'] as const) tf.tidy(() => plain.vars.get(gName(r, part))!.assign(tf.mul(eq.vars.get(gName(r, part))!, c[part])));
    });
    const z = sampleLatents(new Rng(4), 5, 4);
    const [a, b] = [eq, plain].map((g: Learner) => tf.tidy(() => tf.concat(generatorForward(g.params, z).x.map((x) => x.reshape([-1])))));
    expect(maxAbs(f64(a), f64(b))).toBeLessThan(1e-5);
    tf.dispose([z, a, b]);
    disposeLearner(eq);
    disposeLearner(plain);
  });

  it('equalised lr in D: forward = plain D with scaled weights; Adam\'s first step moves the run-time weight c times as far', () => {
    const cfg = { widths: [4, 5], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1.3 };
    const eq = createDiscriminator(8, 'single', 3, 2, { ...cfg, equalizedLr: true }, new Rng(1));
    const plain = createDiscriminator(8, 'single', 3, 2, cfg, new Rng(1));
    const layers = [...eq.convs, eq.head];
    const scales = layers.map((l) => l.scale!);
    // Layer 1: fan-in 2*2*3; layer 2: 3*3*4; head: its flattened input.
    expect(scales[0]).toBeCloseTo(1.3 / Math.sqrt(12), 12);
    expect(scales[1]).toBeCloseTo(1.3 / Math.sqrt(36), 12);
    const names = [...eq.vars.keys()];
    const isW = (n: string) => n.endsWith('.w');
    const scaleOf = (n: string) => scales[names.filter(isW).indexOf(n)];
    for (const n of names) tf.tidy(() => plain.vars.get(n)!.assign(isW(n) ? tf.mul(eq.vars.get(n)!, scaleOf(n)) : eq.vars.get(n)!));
    const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const [ya, yb] = [eq, plain].map((d) => discForward(d, x));
    expect(maxAbs(f64(ya), f64(yb))).toBeLessThan(1e-5);
    const lr = 0.01;
    const step = (d: typeof eq) => {
      const before = new Map(names.map((n) => [n, f64(d.vars.get(n)!)]));
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(discForward(d, x))) as tf.Scalar, [...d.vars.values()]);
      const g = Object.fromEntries(names.map((n) => [n, grads[d.vars.get(n)!.name]]));
      const gv = new Map(names.map((n) => [n, f64(g[n])]));
      const opt = new Adam(d.vars, lr, 0.5, 0.999);
      opt.apply(g);
      opt.dispose();
      tf.dispose([value, ...Object.values(grads)]);
      return { delta: new Map(names.map((n) => [n, f64(d.vars.get(n)!).map((v, i) => v - before.get(n)![i])])), grads: gv };
    };
    const a = step(eq);
    const b = step(plain);
    // Adam's first step is -lr g / (|g| + eps): lr per stored weight. The run-time weight c w moves c lr
    // under equalised lr, lr in the plain layer (Karras et al. 2018, section 4.1); biases move alike.
    let checked = 0;
    for (const n of names) {
      const k = isW(n) ? scaleOf(n) : 1;
      a.delta.get(n)!.forEach((d, i) => {
        if (Math.abs(b.grads.get(n)![i]) < 1e-4) return;
        expect(Math.abs(k * d - b.delta.get(n)![i] * k)).toBeLessThan(1e-3 * lr * k);
        expect(Math.abs(Math.abs(k * d) - k * lr)).toBeLessThan(1e-3 * lr * k);
        expect(Math.abs(Math.abs(b.delta.get(n)![i]) - lr)).toBeLessThan(1e-3 * lr);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(50);
    tf.dispose([x, ya, yb]);
    disposeDiscriminator(eq);
    disposeDiscriminator(plain);
  });

  it('historical averaging: penalty gradient 2 lambda (theta - mean) (float64); the state restores exactly', () => {
    const rng = new Rng(11);
    const v = new Map<string, tf.Variable>([['a', tf.variable(tf.tensor1d(rng.normals(4)))], ['b', tf.variable(tf.tensor2d(rng.normals(6), [2, 3]))]]);
    const h = new HistoricalAverage();
    const hist = new Map([...v.keys()].map((k) => [k, [] as number[][]]));
    for (let t = 0; t < 3; t++) {
      for (const [k, x] of v) {
        x.assign(tf.tensor(rng.normals(x.size), x.shape));
        hist.get(k)!.push(f64(x));
      }
      h.record(v);
    }
    for (const [, x] of v) x.assign(tf.tensor(rng.normals(x.size), x.shape));
    const lambda = 0.3;
    const { grads, value } = tf.variableGrads(() => h.penalty(v, lambda), [...v.values()]);
    let pen = 0;
    for (const [k, x] of v) {
      const mean = hist.get(k)![0].map((_, i) => hist.get(k)!.reduce((s, th) => s + th[i], 0) / 3);
      const th = f64(x);
      expect(maxAbs(f64(grads[x.name]), th.map((t, i) => 2 * lambda * (t - mean[i])))).toBeLessThan(1e-5);
      pen += lambda * th.reduce((s, t, i) => s + (t - mean[i]) ** 2, 0);
    }
    expect(Math.abs(value.dataSync()[0] - pen)).toBeLessThan(1e-5 * pen);
    const again = new HistoricalAverage();
    again.restore(h.updates, Object.fromEntries(h.means));
    const p2 = again.penalty(v, lambda);
    expect(again.updates).toBe(3);
    expect(p2.dataSync()[0]).toBe(value.dataSync()[0]);
    tf.dispose([value, p2, ...Object.values(grads), ...v.values()]);
    h.dispose();
    again.dispose();
  });

  it('historical averaging in stage 2: running means of the trained parameters only (float64), G\'s gradient gains 2 lambda (theta - mean)', () => {
    const lambda = 0.5;
    const { s, ctx } = stageSession({ train: { historicalAveraging: lambda } }, 1);
    const gNames = ctx.stage.trained;
    const sums = new Map<string, number[]>();
    const steps = 3;
    for (let t = 0; t < steps; t++) {
      trainStep({ ...ctx, stageStep: t }, false);
      for (const n of gNames) {
        const x = f64(s.learner.vars.get(n)!);
        sums.set(n, (sums.get(n) ?? x.map(() => 0)).map((a, i) => a + x[i] / steps));
      }
    }
    expect(s.hist!.g.updates).toBe(steps);
    expect(s.hist!.d.updates).toBe(steps);
    // Frozen layer 1 is not averaged; layer 2's parameters are, as their float64 mean over the updates.
    expect([...s.hist!.g.means.keys()].sort()).toEqual([...gNames].sort());
    expect(gNames.some((n) => n.startsWith('g.r4'))).toBe(false);
    for (const n of gNames) expect(maxAbs(f64(s.hist!.g.means.get(n)!), sums.get(n)!)).toBeLessThan(1e-5);
    // G's gradient with the penalty minus without it, same latents: 2 lambda (theta - mean).
    const real = dInput(ctx, 3);
    const state = s.rngs.latent.getState();
    const gradsOf = (c: StepContext) => {
      s.rngs.latent.setState(state);
      const o = gObjective({ ...c, stageStep: steps }, real);
      const { value, grads } = tf.variableGrads(o.loss, gNames.map((n) => s.learner.vars.get(n)!));
      o.dispose();
      const out = new Map(gNames.map((n) => [n, f64(grads[s.learner.vars.get(n)!.name])]));
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const withH = gradsOf(ctx);
    const without = gradsOf({ ...ctx, hist: null });
    for (const n of gNames) {
      const th = f64(s.learner.vars.get(n)!);
      const want = th.map((t, i) => 2 * lambda * (t - sums.get(n)![i]));
      expect(maxAbs(withH.get(n)!.map((g, i) => g - without.get(n)![i]), want)).toBeLessThan(2e-5);
    }
    real.dispose();
    disposeSession(s);
  });

  it('second-order unrolling: G\'s gradient = a finite difference of its loss through k SGD steps of D; first order is not', () => {
    const over = (second: boolean) => ({ train: { unroll: 2, unrollLr: 1, unrollSecondOrder: second } });
    const { s, ctx } = stageSession(over(true), 0);
    const first = { ...ctx, config: tinyConfig(over(false)) };
    const real = dInput(ctx, 4);
    const state = s.rngs.latent.getState();
    const objective = (c: StepContext) => {
      s.rngs.latent.setState(state);
      return gObjective(c, real);
    };
    const w = s.learner.vars.get(gName(4, 'out'))!;
    const gradOf = (c: StepContext) => {
      const o = objective(c);
      const { value, grads } = tf.variableGrads(o.loss, [w]);
      o.dispose();
      const g = f64(grads[w.name]);
      tf.dispose([value, ...Object.values(grads)]);
      return g;
    };
    const g2 = gradOf(ctx);
    const g1 = gradOf(first);
    // Central differences of the loss, with D unrolled from G's perturbed samples each time.
    const o = objective(ctx);
    const w0 = f64(w);
    const lossAt = (i: number, e: number) => {
      const x = w0.slice();
      x[i] += e;
      w.assign(tf.tensor(x, w.shape));
      return tf.tidy(() => o.loss().dataSync()[0]);
    };
    const eps = 1e-2;
    let worstSecond = 0;
    let worstFirst = 0;
    let scale = 0;
    for (let i = 0; i < w0.length; i += 3) {
      const fd = (lossAt(i, eps) - lossAt(i, -eps)) / (2 * eps);
      worstSecond = Math.max(worstSecond, Math.abs(g2[i] - fd));
      worstFirst = Math.max(worstFirst, Math.abs(g1[i] - fd));
      scale = Math.max(scale, Math.abs(fd));
    }
    w.assign(tf.tensor(w0, w.shape));
    o.dispose();
    expect(scale).toBeGreaterThan(1e-3);
    expect(worstSecond).toBeLessThan(0.02 * scale);
    expect(worstFirst).toBeGreaterThan(0.1 * scale);
    real.dispose();
    disposeSession(s);
  });
});
