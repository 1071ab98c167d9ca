/**
 * One training step of a conditional family (docs/conditional.md): `dSteps` D updates, then one G update,
 * each on a real batch with its conditions c (conditions.ts); G draws its images for the same c. What D is
 * trained on differs per family (cond-objectives.ts):
 *
 *   cgan      D(x, c) on {real, c} against {G(z, c), c}
 *   acgan     D(x) on real against G(z, c), plus the class cross-entropy of D's head on both
 *   text2img  GAN-CLS: {real, right text} against {G(z, right text), right text} and {real, wrong text};
 *             with families.conditional.interpolation > 0 (GAN-INT), G's loss also on midpoints of two texts
 *
 * With objective.r1 = gamma > 0, every family's D loss also gets R1 (Mescheder et al. 2018) on the real
 * pairing: gamma/2 E ||grad_x D(x, c)||^2 over the real batch with its own conditions (for acgan, D's
 * adversarial logit), every objective.r1Every-th D update with gamma scaled by that interval, as the
 * unconditional step does (step.ts). It is the penalty that keeps D from winning outright on small data.
 *
 * The step keeps the trainer's contract (step.ts): every update is checked by the guard when one is given,
 * the EMA follows G, and every tensor made here is disposed before returning. One process only (no
 * replicas: replicas.ts refuses --workers > 1 for these families).
 */
import * as tf from '@tensorflow/tfjs';
import { learnerForward, sampleLatents } from '../models/learner.js';
import { isCondDiscriminator, type CondDiscriminator } from '../models/conditional.js';
import { clipWeights } from '../models/discriminator.js';
import { objectives, r1GammaAt, r1Penalty } from './objectives.js';
import { acganDLoss, acganGLoss, matchingAwareDLoss, rollRows } from './cond-objectives.js';
import { conditionedBatch, type ConditionSpace } from './conditions.js';
import { emaDecay, updateEma, type StepContext, type StepLosses } from './step.js';

/** Gradients of f with respect to the named variables, keyed by those names. */
function namedGrads(vars: Map<string, tf.Variable>, f: () => tf.Scalar): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(f, [...vars.values()]);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of vars) if (grads[v.name]) out[name] = grads[v.name];
  return { value, grads: out };
}

/** G's top-level images [n,r,r,C] for latents z and conditions c (the levels below disposed). */
function generateTop(ctx: StepContext, z: tf.Tensor4D, c: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const xs = learnerForward(ctx.learner, z, ctx.stage.level, { cond: c }).x;
    return xs[xs.length - 1];
  });
}

/** The real batch of one update: D's input (the top level), its conditions and labels. */
interface Batch {
  real: tf.Tensor4D;
  cond: tf.Tensor2D;
  labels: tf.Tensor1D;
}

function drawBatch(ctx: StepContext, space: ConditionSpace): Batch {
  const b = conditionedBatch(space, ctx.source, ctx.config.train.batch);
  const top = b.levels[b.levels.length - 1];
  tf.dispose(b.levels.slice(0, -1));
  return { real: top, cond: b.cond, labels: b.labels };
}

const disposeBatch = (b: Batch) => tf.dispose([b.real, b.cond, b.labels]);

/** D's loss of the family on a real batch and G's images for its conditions. */
function dLoss(ctx: StepContext, d: CondDiscriminator, b: Batch, fake: tf.Tensor4D, wrong: tf.Tensor2D | null): tf.Scalar {
  const { config } = ctx;
  const obj = objectives[config.objective.name];
  const f = config.families.conditional;
  const r = d.condForward(b.real, b.cond);
  const g = d.condForward(fake, b.cond);
  if (wrong) return matchingAwareDLoss(obj, r.adv, g.adv, d.condForward(b.real, wrong).adv, f.wrongWeight);
  if (config.generator.family === 'acgan') return acganDLoss(obj, r.adv, g.adv, r.cls!, g.cls!, b.labels, f.auxWeight);
  return obj.d(r.adv, g.adv);
}

/** R1 on the real pairing, gamma/2 E_i ||d D(x_i, c_i) / d x_i||^2 (D's adversarial logit), [] -> scalar. */
export function condR1Penalty(d: CondDiscriminator, real: tf.Tensor4D, cond: tf.Tensor2D, gamma: number): tf.Scalar {
  return r1Penalty((x) => d.condForward(x, cond).adv, real, gamma);
}

/** The R1 term of D update k of this step, or null when off or not due (objective.r1Every, lazy R1). */
function dPenalty(ctx: StepContext, d: CondDiscriminator, b: Batch, k: number): tf.Scalar | null {
  const gamma = r1GammaAt(ctx.config, ctx.stageStep ?? 0, k);
  return gamma > 0 ? condR1Penalty(d, b.real, b.cond, gamma) : null;
}

/** A D update's real batch, and its loss and R1 term when kept. */
interface DDone {
  batch: Batch;
  loss: tf.Scalar | null;
  penalty: tf.Scalar | null;
}

/** One D update; returns its loss and penalty (kept when `keep`), or null when the guard abandons the step. */
function dUpdate(ctx: StepContext, space: ConditionSpace, d: CondDiscriminator, keep: boolean, k: number): DDone | null {
  const { config } = ctx;
  const batch = drawBatch(ctx, space);
  const z = sampleLatents(ctx.rngs.latent, config.train.batch, ctx.learner.params.shape.zDim);
  const fake = generateTop(ctx, z, batch.cond);
  const wrong = config.generator.family === 'text2img' ? rollRows(batch.cond) : null;
  let penalty: tf.Scalar | null = null;
  const { value, grads } = namedGrads(d.vars, () => {
    const loss = dLoss(ctx, d, batch, fake, wrong);
    const pen = dPenalty(ctx, d, batch, k);
    if (!pen) return loss;
    if (keep) penalty = tf.keep(pen.clone());
    return tf.add(loss, pen) as tf.Scalar;
  });
  tf.dispose([z, fake, ...(wrong ? [wrong] : [])]);
  const pending = ctx.optD.propose(grads);
  tf.dispose(Object.values(grads));
  const ok = !ctx.guard || ctx.guard.admit(`D${k + 1}`, value, pending);
  if (ok) {
    ctx.optD.commit(pending);
    if (config.objective.name === 'wgan') clipWeights(d, config.objective.clip);
  } else ctx.optD.discard(pending);
  if (ctx.guard?.abandoned) {
    tf.dispose([value, ...(penalty ? [penalty] : [])]);
    disposeBatch(batch);
    return null;
  }
  if (!keep) value.dispose();
  return { batch, loss: keep ? value : null, penalty };
}

/** One G update for the conditions of the last D update's batch; null when the guard abandons the step. */
function gUpdate(ctx: StepContext, d: CondDiscriminator, b: Batch): tf.Scalar | null {
  const { config, learner } = ctx;
  const obj = objectives[config.objective.name];
  const f = config.families.conditional;
  const trained = new Map(ctx.stage.trained.map((n) => [n, learner.vars.get(n)!]));
  const z = sampleLatents(ctx.rngs.latent, config.train.batch, learner.params.shape.zDim);
  const dr = tf.zeros([config.train.batch]) as tf.Tensor1D;
  // GAN-INT (Reed et al. 2016): G also fools D on texts halfway between two of the batch, at fresh latents.
  const mid = f.interpolation > 0 ? tf.tidy(() => tf.mul(0.5, tf.add(b.cond, rollRows(b.cond))) as tf.Tensor2D) : null;
  const zMid = mid ? sampleLatents(ctx.rngs.latent, config.train.batch, learner.params.shape.zDim) : null;
  const { value, grads } = namedGrads(trained, () => {
    const o = d.condForward(generateTop(ctx, z, b.cond), b.cond);
    const loss = config.generator.family === 'acgan' ? acganGLoss(obj, dr, o.adv, o.cls!, b.labels, f.auxWeight) : obj.g(dr, o.adv);
    if (!mid) return loss;
    return tf.add(loss, tf.mul(f.interpolation, obj.g(dr, d.condForward(generateTop(ctx, zMid!, mid), mid).adv))) as tf.Scalar;
  });
  const pending = ctx.optG.propose(grads);
  tf.dispose([...Object.values(grads), z, dr, ...(mid ? [mid, zMid!] : [])]);
  if (!ctx.guard || ctx.guard.admit('G', value, pending)) {
    ctx.optG.commit(pending);
    if (ctx.ema) updateEma(ctx.ema, learner, ctx.stage.trained, emaDecay(config.train.emaBeta, (ctx.stageStep ?? 0) + 1));
  } else ctx.optG.discard(pending);
  if (ctx.guard?.abandoned) {
    value.dispose();
    return null;
  }
  return value;
}

/** Runs one conditional step (dSteps D updates, one G update); reads the losses back only when `record`. */
export function condTrainStep(ctx: StepContext, space: ConditionSpace, record: boolean): StepLosses | null {
  const d = ctx.disc;
  if (!isCondDiscriminator(d)) throw new Error(`condTrainStep: the D of family '${ctx.config.generator.family}' is not conditional`);
  let last: DDone | null = null;
  const drop = (l: DDone | null) => l && (disposeBatch(l.batch), l.loss?.dispose(), l.penalty?.dispose());
  for (let k = 0; k < ctx.config.train.dSteps; k++) {
    drop(last);
    last = dUpdate(ctx, space, d, record && k === ctx.config.train.dSteps - 1, k);
    if (!last) return null;
  }
  const lossG = gUpdate(ctx, d, last!.batch);
  if (!lossG) {
    drop(last);
    return null;
  }
  const out = record ? { lossD: last!.loss!.dataSync()[0], lossG: lossG.dataSync()[0], penalty: last!.penalty ? last!.penalty.dataSync()[0] : 0 } : null;
  lossG.dispose();
  drop(last);
  return out;
}
