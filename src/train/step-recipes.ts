/**
 * The stabilisation recipes' part of a training step (docs/recipes.md) that needs the step's context: the
 * recipes' random draws, instance noise, the unrolled discriminator (first or second order) and historical
 * averaging's penalty and records. The formulas themselves are recipes.ts' (shared with the 2-D lab).
 */
import * as tf from '@tensorflow/tfjs';
import { discForward, discWithParams, type Discriminator } from '../models/discriminator.js';
import { Rng } from '../util/rng.js';
import { objectives } from './objectives.js';
import { instanceNoiseSigma, unrollParams, type HistoricalAverage } from './recipes.js';
import { shardRows } from './shard.js';
import type { StepContext } from './step.js';

/** Historical averaging's running means of a stage (session.ts): G's trained parameters and D's. */
export interface StageAverages {
  g: HistoricalAverage;
  d: HistoricalAverage;
}

/**
 * The recipes' random draws of one update (docs/recipes.md): an Rng keyed by seed, resolution, stage step
 * and update, as homeostasis's, so that a resumed run repeats them with no state to checkpoint, and every
 * replica draws the whole batch's values and keeps its own rows.
 */
export function recipeRng(ctx: StepContext, what: string): Rng {
  return new Rng(ctx.config.seed, `recipe.${what}.r${ctx.stage.resolution}.t${ctx.stageStep ?? 0}`);
}

/** x + N(0, sigma^2), sigma annealed over the stage (instance noise; recipes.ts); x itself when off. */
export function instanceNoise(ctx: StepContext, x: tf.Tensor4D, what: string): tf.Tensor4D {
  const sigma = instanceNoiseSigma(ctx.config.discriminator.instanceNoise, ctx.stageStep ?? 0, ctx.stage.steps);
  if (sigma <= 0) return x;
  const full = [ctx.config.train.batch, ...x.shape.slice(1)];
  return tf.tidy(() => tf.add(x, shardRows(ctx.shard, tf.tensor(recipeRng(ctx, what).normals(full.reduce((a, b) => a * b, 1), sigma), full))) as tf.Tensor4D);
}

/** D at the parameters `list` (in the order of D's variables) instead of its own. */
export function discAt(d: Discriminator, list: tf.Tensor[]): Discriminator {
  const names = [...d.vars.keys()];
  return discWithParams(d, new Map(names.map((n, i) => [n, list[i]])));
}

/**
 * Unrolled GAN (Metz et al. 2017, eq. 3-4; recipes.ts unrollParams): D's parameters after train.unroll SGD
 * steps of size train.unrollLr on D's loss for the real batch `real` and the generated one `fakeIn` (both
 * D inputs). Outside G's gradient tape the result is a constant for G (first order); inside it, G's gradient
 * flows through the k steps via `fakeIn` (second order, train.unrollSecondOrder). Call inside tf.tidy or the
 * tape, which dispose the intermediate steps.
 */
export function unrollDisc(ctx: StepContext, real: tf.Tensor4D, fakeIn: tf.Tensor4D, fwd: { alpha: number } | undefined): tf.Tensor[] {
  const { disc, config } = ctx;
  const obj = objectives[config.objective.name];
  const lossD = (p: tf.Tensor[]) => obj.d(discForward(discAt(disc, p), real, fwd), discForward(discAt(disc, p), fakeIn, fwd));
  return unrollParams([...disc.vars.values()], lossD, config.train.unroll, config.train.unrollLr);
}

/** `loss` plus historical averaging's lambda ||theta - mean||^2 over `vars` (the loss itself when off). */
export function withAverage(ctx: StepContext, loss: tf.Scalar, h: HistoricalAverage | undefined, vars: Map<string, tf.Tensor>): tf.Scalar {
  if (!h) return loss;
  return tf.add(loss, h.penalty(vars, ctx.config.train.historicalAveraging)) as tf.Scalar;
}
