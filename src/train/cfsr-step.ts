/**
 * One step of a conditional FSR stage (generator.condition 'class' or 'text'; docs/conditional.md): the stage
 * step of step.ts, with G and D given each image's class (one-hot) or name (its hashed embedding), c below;
 * "labels" are these rows. Every D update draws a real batch with its labels
 * (conditionedBatch), G draws its fakes for the same labels (as cond-step.ts does, so that D's real and fake
 * halves share one class distribution), and every D evaluation of that update (the objective's terms, R1,
 * WGAN-GP, DRAGAN) judges with them; the G update uses the last D update's labels.
 *
 * How: step.ts's trainStep runs unchanged on a context whose data source, G and D carry "the labels of the
 * batch drawn last": the source sets them when the step draws a batch (which it does first in every D
 * update), G's forward passes them as c (generator.ts) and D's as the projection's classes
 * (discriminator.ts). So every recipe of the stage step (objectives, penalties, augmentation, crops,
 * instance noise, labels, EMA, guard, homeostasis, spectral norm) conditions without a second copy of it,
 * and the step's contract holds: nothing new is drawn from the run's streams (the labels come with the
 * data, in its order), and the labels' tensor is disposed when the step ends. One process: replicas would
 * need each row's labels on every worker (replicas.ts refuses --workers > 1).
 */
import type * as tf from '@tensorflow/tfjs';
import { generatorForward } from '../models/generator.js';
import { discForward, type Discriminator } from '../models/discriminator.js';
import type { Learner } from '../models/learner.js';
import type { PyramidSource } from '../data/source.js';
import { conditionedBatch, type ConditionSpace } from './conditions.js';
import { trainStep, type StepContext, type StepLosses } from './step.js';

/** Runs one step of a class-conditional FSR stage (see the file comment); same contract as trainStep. */
export function classStageStep(ctx: StepContext, space: ConditionSpace, record: boolean): StepLosses | null {
  if (ctx.shard) throw new Error('classStageStep: the class-conditional step runs in one process');
  let labels: tf.Tensor2D | null = null;
  const current = (): tf.Tensor2D => {
    if (!labels) throw new Error('classStageStep: G or D ran before the step drew its first batch');
    return labels;
  };
  const data = ctx.source;
  const source: PyramidSource = {
    resolutions: data.resolutions,
    channels: data.channels,
    batch: (n) => {
      const b = conditionedBatch(space, data, n);
      b.labels.dispose();
      labels?.dispose();
      labels = b.cond;
      return b.levels;
    },
    getState: () => data.getState(),
    setState: (s) => data.setState(s),
    describe: () => data.describe(),
  };
  const g = ctx.learner;
  const learner: Learner = { ...g, forward: (z, upTo) => generatorForward(g.params, z, upTo, current()) };
  const d = ctx.disc;
  const disc: Discriminator = { ...d, forward: (x, opts) => discForward(d, x, { ...opts, cond: current() }) };
  try {
    return trainStep({ ...ctx, source, learner, disc }, record);
  } finally {
    (labels as tf.Tensor2D | null)?.dispose();
  }
}
