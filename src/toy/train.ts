/**
 * The 2-D lab's trainer (`fsrgan toy`, figure F-modes, docs/recipes.md): an MLP G against an MLP D on a
 * ring or grid of Gaussians, with any objective of objectives.ts and any recipe of recipes.ts, selected by
 * the same config keys as the image stages (a TrainConfig; its image-only fields are ignored). Every
 * random draw comes from the seed's Rng streams; every tensor made is disposed, so tf.memory() stays flat.
 *
 * Budget (stated in docs/recipes.md): the protocol of VEEGAN/PacGAN trains 400 epochs of 100k points (400k
 * steps of batch 100) with a G of width 400 and a maxout D; the lab's default is 1,000 steps of batch 100 with
 * two hidden layers of 64 in both nets (leaky-ReLU D), small enough for 10 seeds in minutes on 2 cores.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../train/adam.js';
import { gradientPenalty, objectives } from '../train/objectives.js';
import {
  addInstanceNoise,
  draganPenalty,
  draganPerturbation,
  drawTargets,
  featureMatchingLoss,
  gradSqNormAny,
  HistoricalAverage,
  instanceNoiseSigma,
  labelsOn,
  pack,
  targetDLoss,
  unrollParams,
} from '../train/recipes.js';
import type { TrainConfig } from '../train/config.js';
import { Rng } from '../util/rng.js';
import {
  createToyDiscriminator,
  createToyGenerator,
  discFeatures,
  discForward,
  discHead,
  disposeMlp,
  disposeToyGenerator,
  generatorForward,
  paramsOf,
  powerIterateMlp,
  type Params,
  type ToyDiscriminator,
  type ToyGenerator,
} from './model.js';
import { makeTarget, modeReport, sampleTarget, type ModeReport, type Target, type TargetName } from './targets.js';

/** The lab's own settings (the recipes and optimiser come from the TrainConfig). */
export interface ToyOptions {
  target: TargetName;
  /** G steps (each after train.dSteps D steps); train.steps of the config is not read. */
  steps: number;
  batch: number;
  zDim: number;
  gHidden: number[];
  dHidden: number[];
  /** Samples the measures are computed on at the end (VEEGAN/PacGAN: 2,500). */
  evalSamples: number;
  /** Snapshots over training (evenly spaced, the last at the end): samples and D landscape. */
  snapshots: number;
  /** Samples kept per snapshot for the density plots. */
  snapshotSamples: number;
  /** Side of the D-landscape grid over the target's box. */
  landscape: number;
}

export const TOY_DEFAULTS: ToyOptions = {
  target: 'ring',
  steps: 1000,
  batch: 100,
  zDim: 2,
  gHidden: [64, 64],
  dHidden: [64, 64],
  evalSamples: 2500,
  snapshots: 5,
  snapshotSamples: 500,
  landscape: 32,
};

/** The lab's optimiser defaults (PacGAN's 2-D setting: Adam lr 1e-4, beta1 0.8, raised to 1e-3 for the short budget). */
export const TOY_CONFIG_BASE = { train: { lrG: 0.001, lrD: 0.001, beta1: 0.5, beta2: 0.999 } };

export interface ToySnapshot {
  step: number;
  /** G's samples [n*2]. */
  samples: number[];
  report: ModeReport;
  /** D's logits on the landscape grid, row-major from (-extent, -extent), `landscape` per side. */
  landscape: number[];
}

export interface ToyResult {
  target: TargetName;
  seed: number;
  final: ModeReport;
  snapshots: ToySnapshot[];
  seconds: number;
}

interface Lab {
  cfg: TrainConfig;
  o: ToyOptions;
  t: Target;
  g: ToyGenerator;
  d: ToyDiscriminator;
  optG: Adam;
  optD: Adam;
  rng: { data: Rng; latent: Rng; recipe: Rng };
  histG: HistoricalAverage | null;
  histD: HistoricalAverage | null;
}

/** D's logits on (samples [N, 2]) packed m at a time: [N/m]. */
function judge(lab: Lab, x: tf.Tensor2D, p?: Params): tf.Tensor1D {
  return discForward(lab.d, pack(x, lab.d.pack) as tf.Tensor2D, p);
}

function realBatch(lab: Lab, n: number): tf.Tensor2D {
  return tf.tensor2d(sampleTarget(lab.t, lab.rng.data, n), [n, 2]);
}

function latents(lab: Lab, n: number): tf.Tensor2D {
  return tf.tensor2d(lab.rng.latent.normals(n * lab.o.zDim), [n, lab.o.zDim]);
}

/** D's loss with the objective, or with drawn targets when a label recipe is on. */
function dLoss(lab: Lab, dr: tf.Tensor1D, df: tf.Tensor1D, targets: { real: tf.Tensor1D; fake: tf.Tensor1D } | null): tf.Scalar {
  const name = lab.cfg.objective.name;
  if (targets) return targetDLoss(name === 'lsgan' ? 'lsgan' : 'logistic', dr, df, targets.real, targets.fake);
  return objectives[name].d(dr, df);
}

function dStep(lab: Lab, step: number): void {
  const { cfg, o, d } = lab;
  const c = cfg.objective;
  const n = o.batch;
  const m = d.pack;
  const sigma = instanceNoiseSigma(cfg.discriminator.instanceNoise, step, o.steps);
  if (d.sn.size) powerIterateMlp(d);
  const real = tf.tidy(() => addInstanceNoise(lab.rng.recipe, realBatch(lab, n), sigma));
  const z = latents(lab, n);
  const fake = tf.tidy(() => addInstanceNoise(lab.rng.recipe, generatorForward(lab.g, z), sigma));
  const realP = pack(real, m) as tf.Tensor2D;
  const fakeP = pack(fake, m) as tf.Tensor2D;
  const lt = labelsOn({ smoothing: c.labelSmoothing, noise: c.labelNoise, flip: c.labelFlip })
    ? drawTargets(lab.rng.recipe, n / m, { smoothing: c.labelSmoothing, noise: c.labelNoise, flip: c.labelFlip })
    : null;
  const targets = lt ? { real: tf.tensor1d(lt.real), fake: tf.tensor1d(lt.fake) } : null;
  const delta = c.dragan > 0 ? draganPerturbation(lab.rng.recipe, realP, c.draganNoise) : null;
  const e = c.name === 'wgan-gp' ? tf.tensor1d(Array.from({ length: n / m }, () => lab.rng.recipe.uniform())) : null;
  const D = (x: tf.Tensor) => discForward(d, x as tf.Tensor2D);
  const { grads, value } = tf.variableGrads(() => {
    let loss = dLoss(lab, D(realP), D(fakeP), targets);
    if (c.r1 > 0) loss = tf.add(loss, tf.mul(c.r1 / 2, tf.mean(gradSqNormAny(D, realP)))) as tf.Scalar;
    if (e) {
      // objectives.ts' penalty is for images [N,H,W,C]; a sample [1,1,2m] is that shape.
      const as4 = (x: tf.Tensor2D) => x.reshape([x.shape[0], 1, 1, x.shape[1]]) as tf.Tensor4D;
      const f4 = (x: tf.Tensor4D) => D(x.reshape([x.shape[0], x.shape[3]]));
      loss = tf.add(loss, gradientPenalty(f4, as4(realP), as4(fakeP), e, c.gpLambda)) as tf.Scalar;
    }
    if (delta) loss = tf.add(loss, draganPenalty(D, realP, delta, c.dragan)) as tf.Scalar;
    if (lab.histD) loss = tf.add(loss, lab.histD.penalty(d.vars, cfg.train.historicalAveraging)) as tf.Scalar;
    return loss;
  }, [...d.vars.values()]);
  lab.optD.apply(namedBy(d.vars, grads));
  if (c.name === 'wgan') for (const v of d.vars.values()) tf.tidy(() => v.assign(tf.clipByValue(v, -c.clip, c.clip)));
  lab.histD?.record(d.vars);
  tf.dispose([value, ...Object.values(grads), real, z, fake, realP, fakeP, ...(targets ? [targets.real, targets.fake] : []), ...(delta ? [delta] : []), ...(e ? [e] : [])]);
}

function namedBy(vars: Map<string, tf.Variable>, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of vars) if (grads[v.name]) out[name] = grads[v.name];
  return out;
}

function gStep(lab: Lab, step: number): void {
  const { cfg, o, d, g } = lab;
  const n = o.batch;
  const obj = objectives[cfg.objective.name];
  const sigma = instanceNoiseSigma(cfg.discriminator.instanceNoise, step, o.steps);
  const k = cfg.train.unroll;
  const second = cfg.train.unrollSecondOrder;
  if (g.sn.size) powerIterateMlp(g);
  const real = tf.tidy(() => addInstanceNoise(lab.rng.recipe, realBatch(lab, n), sigma));
  const realP = pack(real, d.pack) as tf.Tensor2D;
  const z = latents(lab, n);
  const noise = sigma > 0 ? tf.tensor2d(lab.rng.recipe.normals(n * 2, sigma), [n, 2]) : null;
  const names = [...d.vars.keys()];
  const dList = names.map((k2) => d.vars.get(k2)! as tf.Tensor);
  const asParams = (list: tf.Tensor[]): Params => Object.fromEntries(names.map((k2, i) => [k2, list[i]]));
  // The unrolled D's loss on this step's real batch and a fake batch (Metz et al. 2017, eq. 3-4).
  const lossAt = (fakeP: tf.Tensor2D) => (p: tf.Tensor[]) => obj.d(discForward(d, realP, asParams(p)), discForward(d, fakeP, asParams(p)));
  const fakeOf = (): tf.Tensor2D => {
    const x = generatorForward(g, z);
    return noise ? (tf.add(x, noise) as tf.Tensor2D) : x;
  };
  // First-order: D's k steps taken on G's current samples outside G's tape, a constant for G.
  const unrolled = k > 0 && !second ? tf.tidy(() => unrollParams(dList, lossAt(pack(fakeOf(), d.pack) as tf.Tensor2D), k, cfg.train.unrollLr).map((t) => tf.keep(t))) : null;
  const { grads, value } = tf.variableGrads(() => {
    const fakeP = pack(fakeOf(), d.pack) as tf.Tensor2D;
    let p: Params | undefined;
    if (unrolled) p = asParams(unrolled);
    else if (k > 0) p = asParams(unrollParams(dList, lossAt(fakeP), k, cfg.train.unrollLr));
    const needDr = cfg.objective.name === 'ragan';
    const fF = discFeatures(d, fakeP, p);
    const df = discHead(d, fF, p);
    const dr = needDr ? discForward(d, realP, p) : tf.zerosLike(df);
    let loss = obj.g(dr, df);
    if (cfg.objective.featureMatching > 0) loss = tf.add(loss, tf.mul(cfg.objective.featureMatching, featureMatchingLoss(discFeatures(d, realP, p), fF))) as tf.Scalar;
    if (lab.histG) loss = tf.add(loss, lab.histG.penalty(g.vars, cfg.train.historicalAveraging)) as tf.Scalar;
    return loss;
  }, [...g.vars.values()]);
  lab.optG.apply(namedBy(g.vars, grads));
  lab.histG?.record(g.vars);
  tf.dispose([value, ...Object.values(grads), real, realP, z, ...(noise ? [noise] : []), ...(unrolled ?? [])]);
}

/** G's samples [n*2] from the evaluation stream (fixed per seed, so snapshots compare like with like). */
function samplesOf(lab: Lab, rng: Rng, n: number): Float32Array {
  return tf.tidy(() => {
    const z = tf.tensor2d(rng.normals(n * lab.o.zDim), [n, lab.o.zDim]);
    return generatorForward(lab.g, z).dataSync() as Float32Array;
  });
}

/** D's logits on a side x side grid of points over the box (each point packed with itself when pack > 1). */
function landscapeOf(lab: Lab): number[] {
  const s = lab.o.landscape;
  const e = lab.t.extent;
  const pts = new Float32Array(2 * s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) {
    pts[2 * (i * s + j)] = -e + ((j + 0.5) * 2 * e) / s;
    pts[2 * (i * s + j) + 1] = -e + ((i + 0.5) * 2 * e) / s;
  }
  return tf.tidy(() => {
    const x = tf.tensor2d(pts, [s * s, 2]);
    const xp = lab.d.pack > 1 ? (tf.tile(x, [1, lab.d.pack]) as tf.Tensor2D) : x;
    return Array.from(discForward(lab.d, xp).dataSync());
  });
}

/** Trains one seed of the lab and measures it; `cfg` holds the objective, optimiser and recipes. */
export function trainToy(cfg: TrainConfig, options: Partial<ToyOptions> = {}, seed = cfg.seed): ToyResult {
  const t0 = performance.now();
  const o: ToyOptions = { ...TOY_DEFAULTS, ...options };
  const t = makeTarget(o.target);
  const init = new Rng(seed, 'toy-init');
  const gc = cfg.generator;
  const dc = cfg.discriminator;
  const g = createToyGenerator(init, { zDim: o.zDim, hidden: o.gHidden, spectralNorm: gc.spectralNorm, equalizedLr: gc.equalizedLr, pixelNorm: gc.pixelNorm, virtualBatchNorm: gc.virtualBatchNorm, referenceSize: o.batch });
  const d = createToyDiscriminator(init, {
    hidden: o.dHidden,
    pack: dc.pack,
    leak: dc.leak,
    spectralNorm: dc.spectralNorm,
    equalizedLr: dc.equalizedLr,
    minibatchStddev: dc.minibatchStddev,
    kernels: dc.minibatchKernels,
    kernelDims: dc.minibatchKernelDims,
  });
  const tr = cfg.train;
  const lab: Lab = {
    cfg,
    o,
    t,
    g,
    d,
    optG: new Adam(g.vars, tr.lrG, tr.beta1, tr.beta2),
    optD: new Adam(d.vars, tr.lrD, tr.beta1, tr.beta2),
    rng: { data: new Rng(seed, 'toy-data'), latent: new Rng(seed, 'toy-latent'), recipe: new Rng(seed, 'toy-recipe') },
    histG: tr.historicalAveraging > 0 ? new HistoricalAverage() : null,
    histD: tr.historicalAveraging > 0 ? new HistoricalAverage() : null,
  };
  const snapshots: ToySnapshot[] = [];
  const at = new Set(Array.from({ length: o.snapshots }, (_, i) => Math.round(((i + 1) * o.steps) / o.snapshots)));
  const snap = (step: number) => {
    const xy = samplesOf(lab, new Rng(seed, 'toy-eval'), Math.max(o.snapshotSamples, o.evalSamples));
    snapshots.push({ step, samples: Array.from(xy.subarray(0, 2 * o.snapshotSamples)), report: modeReport(t, xy.subarray(0, 2 * o.evalSamples)), landscape: landscapeOf(lab) });
  };
  try {
    if (o.snapshots > 0) snap(0);
    for (let step = 0; step < o.steps; step++) {
      for (let k = 0; k < tr.dSteps; k++) dStep(lab, step);
      gStep(lab, step);
      if (at.has(step + 1)) snap(step + 1);
    }
    const final = modeReport(t, samplesOf(lab, new Rng(seed, 'toy-eval'), o.evalSamples));
    return { target: o.target, seed, final, snapshots, seconds: (performance.now() - t0) / 1000 };
  } finally {
    lab.optG.dispose();
    lab.optD.dispose();
    lab.histG?.dispose();
    lab.histD?.dispose();
    disposeToyGenerator(g);
    disposeMlp(d);
  }
}
