/**
 * One training step of a stage: `dSteps` discriminator updates, then one generator update (gradient
 * descent-ascent, docs/theory.md section 2). Every tensor made here is disposed before returning, so the
 * number of live tensors stays flat over a run.
 */
import * as tf from '@tensorflow/tfjs';
import { learnerForward, sampleLatents, type Learner } from '../models/learner.js';
import { clipWeights, discForward, discInput, powerIterate, type Discriminator } from '../models/discriminator.js';
import type { Rng } from '../util/rng.js';
import type { PyramidSource } from '../data/source.js';
import type { Adam } from './adam.js';
import { gradientPenalty, objectives, r1Penalty } from './objectives.js';
import type { TrainConfig } from './config.js';
import type { Stage } from './stages.js';
import type { StepGuard } from './guard.js';
import { applyAugment, drawAugment } from './augment.js';
import { floatsOf } from '../ops/simd/heap.js';
import { shardArray, shardAugment, shardRows, startReduce, type StepShard } from './shard.js';

export interface StepContext {
  config: TrainConfig;
  stage: Stage;
  learner: Learner;
  ema: Learner | null;
  disc: Discriminator;
  source: PyramidSource;
  rngs: { latent: Rng; gp: Rng; crop: Rng; augment: Rng };
  optG: Adam;
  optD: Adam;
  /** When set, each update is checked for NaN/Inf before it is applied (src/train/guard.ts). */
  guard?: StepGuard;
  /** G steps of this stage completed before this one (sets the EMA's warm-up). */
  stageStep?: number;
  /** One of several data-parallel replicas: its rows of each batch, updates averaged (shard.ts). */
  shard?: StepShard;
}

/** Losses of the last D update and of the G update; read only when `record` was set. */
export interface StepLosses {
  lossD: number;
  lossG: number;
  /** R1 or gradient-penalty term of the last D update (0 when off). */
  penalty: number;
}

/** Gradients of f with respect to the named variables, keyed by those names. */
function namedGrads(vars: Map<string, tf.Variable>, f: () => tf.Scalar): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(f, [...vars.values()]);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of vars) if (grads[v.name]) out[name] = grads[v.name];
  return { value, grads: out };
}

/** Offsets (multiples of the patch, so D's patch layer stays aligned with G's painting grid) of a crop. */
function cropOffsets(rng: Rng, full: number, size: number, patch: number): [number, number] {
  if (size >= full) return [0, 0];
  const slots = (full - size) / patch + 1;
  return [rng.int(slots) * patch, rng.int(slots) * patch];
}

function crop(x: tf.Tensor4D, oy: number, ox: number, size: number): tf.Tensor4D {
  if (size >= x.shape[1]) return x;
  return tf.slice(x, [0, oy, ox, 0], [-1, size, size, -1]);
}

/** The D input of this stage from pyramid levels xs (x_1..x_level), cropped to D's input size. */
function stageInput(ctx: StepContext, xs: tf.Tensor4D[], offsets: [number, number]): tf.Tensor4D {
  const full = discInput(ctx.disc, xs, ctx.stage.level - 1);
  return crop(full, offsets[0], offsets[1], ctx.disc.inputSize);
}

/** A DiffAugment transform for one batch of D inputs (src/train/augment.ts), or null when off. */
function augmentFor(ctx: StepContext, n: number) {
  const policy = ctx.config.discriminator.augment;
  if (!policy.length || ctx.disc.resolution < ctx.config.discriminator.augmentFrom) return null;
  const d = shardAugment(ctx.shard, drawAugment(ctx.rngs.augment, policy, n, ctx.disc.inputSize));
  return (x: tf.Tensor4D) => applyAugment(x, d);
}

/** The generated pyramid x_1..x_level for latents from the run's latent stream (hidden layers disposed). */
function generate(ctx: StepContext, n: number): tf.Tensor4D[] {
  const z = sampleLatents(ctx.rngs.latent, n, ctx.learner.params.shape.zDim);
  return tf.tidy(() => {
    const out = learnerForward(ctx.learner, shardRows(ctx.shard, z), ctx.stage.level);
    z.dispose();
    return out.x;
  });
}

/** A D update whose gradients are computed; `apply()` applies it (or the guard refuses) and fills loss and penalty. */
interface DUpdate {
  real: tf.Tensor4D;
  /** The loss and penalty scalars when `keep`, after apply. */
  loss: tf.Scalar | null;
  penalty: tf.Scalar | null;
  /** Applies the update unless the guard refuses it; returns whether the step goes on. */
  apply(): boolean;
}

/** The k-th D update of a step: gradients computed, applied by `apply()`. */
function dUpdate(ctx: StepContext, keep: boolean, k: number): DUpdate {
  const { config, disc } = ctx;
  const obj = objectives[config.objective.name];
  const batch = ctx.source.batch(config.train.batch);
  const fakeXs = generate(ctx, config.train.batch);
  const full = ctx.disc.resolution;
  const off = cropOffsets(ctx.rngs.crop, full, disc.inputSize, disc.patch);
  const augReal = augmentFor(ctx, config.train.batch);
  const augFake = augmentFor(ctx, config.train.batch);
  const real = tf.tidy(() => {
    const x = stageInput(ctx, batch.slice(0, ctx.stage.level), off);
    return augReal ? augReal(x) : x.clone();
  });
  const fake = tf.tidy(() => {
    const x = stageInput(ctx, fakeXs, off);
    return augFake ? augFake(x) : x.clone();
  });
  tf.dispose([...batch, ...fakeXs]);
  const e = config.objective.name === 'wgan-gp' ? tf.tensor1d(shardArray(ctx.shard, Float32Array.from({ length: config.train.batch }, () => ctx.rngs.gp.uniform()))) : null;
  if (disc.convs[0]?.u) powerIterate(disc);
  let penalty: tf.Scalar | null = null;
  const D = (x: tf.Tensor4D) => discForward(disc, x);
  const { value, grads } = namedGrads(disc.vars, () => {
    let loss = obj.d(D(real), D(fake));
    let pen: tf.Scalar | null = null;
    const every = config.objective.r1Every;
    const dStep = (ctx.stageStep ?? 0) * config.train.dSteps + k;
    if (config.objective.r1 > 0 && dStep % every === 0) pen = r1Penalty(D, real, config.objective.r1 * every);
    if (e) {
      const gp = gradientPenalty(D, real, fake, e, config.objective.gpLambda);
      pen = pen ? (tf.add(pen, gp) as tf.Scalar) : gp;
    }
    if (pen) {
      penalty = keep ? tf.keep(pen.clone()) : null;
      loss = tf.add(loss, pen) as tf.Scalar;
    }
    return loss;
  });
  tf.dispose([fake, ...(e ? [e] : [])]);
  // A replica applies the mean over replicas, of the gradients and (for the guard and the log) the
  // losses: contributed now, waited for in apply().
  const reduce = ctx.shard ? startReduce(ctx.shard, 'D', disc.vars, grads, value, penalty) : null;
  if (reduce) tf.dispose(Object.values(grads));
  const out: DUpdate = {
    real,
    loss: null,
    penalty: null,
    apply: () => {
      const mean = reduce ? reduce() : null;
      const pending = ctx.optD.propose(mean ? mean.grads : grads);
      if (!mean) tf.dispose(Object.values(grads));
      const ok = !ctx.guard || ctx.guard.admit(`D${k + 1}`, mean ? mean.loss : value, pending);
      if (ok) {
        ctx.optD.commit(pending);
        if (config.objective.name === 'wgan') clipWeights(disc, config.objective.clip);
      } else ctx.optD.discard(pending);
      if (mean) {
        // Kept: apply() may run inside G's gradient tape, whose scope would dispose new tensors.
        tf.dispose([value, ...(penalty ? [penalty] : [])]);
        out.loss = keep ? tf.keep(tf.scalar(mean.loss)) : null;
        out.penalty = penalty ? tf.keep(tf.scalar(mean.penalty)) : null;
      } else {
        if (!keep) value.dispose();
        out.loss = keep ? value : null;
        out.penalty = penalty;
      }
      return !ctx.guard?.abandoned;
    },
  };
  return out;
}

/** Thrown inside G's tape when the D update applied there was refused and the step is abandoned. */
const ABANDONED = new Error('step abandoned');

/**
 * One G update against the current D; `real` (D's input on real data) enters only for RaGAN. `applyD`:
 * the step's last D update, applied after G's forward pass (which does not read D) and before D judges
 * it, so that replicas wait for each other's D gradients while they compute; null when the step is
 * abandoned there.
 */
function gUpdate(ctx: StepContext, real: tf.Tensor4D, applyD: (() => boolean) | null): tf.Scalar | null {
  const { config, disc, learner } = ctx;
  const obj = objectives[config.objective.name];
  const trained = new Map(ctx.stage.trained.map((n) => [n, learner.vars.get(n)!]));
  const z = sampleLatents(ctx.rngs.latent, config.train.batch, learner.params.shape.zDim);
  const off = cropOffsets(ctx.rngs.crop, disc.resolution, disc.inputSize, disc.patch);
  const aug = augmentFor(ctx, config.train.batch);
  const dr = config.objective.name === 'ragan' ? tf.tidy(() => discForward(disc, real)) : tf.zeros([real.shape[0]]);
  let value: tf.Scalar;
  let grads: Record<string, tf.Tensor>;
  try {
    ({ value, grads } = namedGrads(trained, () => {
      const xs = learnerForward(learner, shardRows(ctx.shard, z), ctx.stage.level).x;
      if (applyD && !applyD()) throw ABANDONED;
      const x = stageInput(ctx, xs, off);
      return obj.g(dr as tf.Tensor1D, discForward(disc, aug ? aug(x) : x));
    }));
  } catch (e) {
    tf.dispose([z, dr]);
    if (e === ABANDONED) return null;
    throw e;
  }
  const mean = ctx.shard ? startReduce(ctx.shard, 'G', trained, grads, value, null)() : null;
  const pending = ctx.optG.propose(mean ? mean.grads : grads);
  tf.dispose([...Object.values(grads), z, dr]);
  if (!ctx.guard || ctx.guard.admit('G', mean ? mean.loss : value, pending)) {
    ctx.optG.commit(pending);
    if (ctx.ema) updateEma(ctx.ema, learner, ctx.stage.trained, emaDecay(config.train.emaBeta, (ctx.stageStep ?? 0) + 1));
  } else ctx.optG.discard(pending);
  if (!mean) return value;
  value.dispose();
  return tf.scalar(mean.loss);
}

/**
 * The EMA decay after the t-th G step of a stage: min(beta, (1 + t) / (10 + t)), the warm-up of
 * TensorFlow's ExponentialMovingAverage(num_updates). The EMA restarts at every stage from the weights at
 * the stage start; with a constant beta = 0.999, 0.999^1500 = 22% of it would still be those (random)
 * weights after 1,500 steps. With the warm-up the start weights weigh (1/10)(2/11)...: nothing, after a
 * few hundred steps.
 */
export function emaDecay(beta: number, t: number): number {
  return Math.min(beta, (1 + t) / (10 + t));
}

/**
 * ema <- beta ema + (1 - beta) w for the named variables: one JS loop per variable instead of three
 * kernels, rounding to float32 after each operation as those kernels did (so runs are bit-identical to
 * the tensor version; test/adam.test.ts).
 */
export function updateEma(ema: Learner, learner: Learner, names: string[], beta: number): void {
  const f = Math.fround;
  const b = f(beta);
  const a = f(1 - beta);
  for (const n of names) {
    const e = ema.vars.get(n)!;
    const out = new Float32Array(e.size);
    const ev = floatsOf(e);
    const wv = floatsOf(learner.vars.get(n)!);
    for (let i = 0; i < out.length; i++) out[i] = f(b * ev[i]) + f(a * wv[i]);
    const t = tf.tensor(out, e.shape, 'float32');
    e.assign(t);
    t.dispose();
  }
}

/**
 * Runs one step (dSteps D updates, one G update). Reads the losses back only when `record` is true.
 * With a guard that abandons on failure, a rejected update ends the step early (returns null).
 */
export function trainStep(ctx: StepContext, record: boolean): StepLosses | null {
  const { dSteps } = ctx.config.train;
  // A replica applies the last D update inside the G update (see gUpdate), except for RaGAN, whose G
  // loss judges real data with the updated D first.
  const deferLast = ctx.shard !== undefined && ctx.config.objective.name !== 'ragan';
  let last: DUpdate | null = null;
  const drop = (l: DUpdate) => tf.dispose([l.real, ...(l.loss ? [l.loss] : []), ...(l.penalty ? [l.penalty] : [])]);
  for (let k = 0; k < dSteps; k++) {
    if (last) drop(last);
    last = dUpdate(ctx, record && k === dSteps - 1, k);
    if (deferLast && k === dSteps - 1) break;
    if (!last.apply()) {
      drop(last);
      return null;
    }
  }
  const lossG = gUpdate(ctx, last!.real, deferLast ? last!.apply : null);
  if (!lossG) {
    drop(last!);
    return null;
  }
  let out: StepLosses | null = null;
  if (record) out = { lossD: last!.loss!.dataSync()[0], lossG: lossG.dataSync()[0], penalty: last!.penalty ? last!.penalty.dataSync()[0] : 0 };
  tf.dispose([lossG, last!.real, ...(last!.loss ? [last!.loss] : []), ...(last!.penalty ? [last!.penalty] : [])]);
  return out;
}
