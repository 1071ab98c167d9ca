/**
 * The conditional model families (docs/conditional.md), `generator.family` = 'cgan' (Mirza & Osindero
 * 2014), 'acgan' (Odena et al. 2017) or 'text2img' (Reed et al. 2016, GAN-CLS): a DCGAN-geometry G and D
 * that take a condition vector c [N, condDim] besides z and the image: a one-hot class, or a text's hashed
 * embedding (text-embed.ts).
 *
 *   G (all three):  c' = c, or lrelu(W_c c + b_c) with `project` > 0 (a class embedding; for text Reed's
 *                   compression), W_c initialised ~ N(0, 1) like an embedding table
 *                   [z; c'] -> dense -> [g, g, c_1] -> ReLU, pixel norm -> (deconv k4 s2 -> ReLU, pixel norm)
 *                   for c_2..c_k -> deconv k4 s2 -> tanh                          (concatenation in G)
 *   D trunk:        (conv k4 s2 -> lrelu) for each width -> h [N, g', g', C]
 *   D conditioning: 'projection' (Miyato & Koyama 2018): D(x, c) = w.f + b + <E c, f>, f = flatten(h)
 *                   'concat' (Reed et al.): h' = lrelu(conv1x1([h; tile(lrelu(P c))])), D = w.flatten(h') + b
 *                   'none' (ACGAN): D(x) = w.f + b, plus class logits W_aux f + b_aux [N, K]
 *
 * with g = r / 2^k as dcgan.ts. Pixel norm stands where DCGAN has batch norm, so that an image depends on
 * its own z and c only, never on the rest of its batch: a class-by-row grid shows the same images as
 * `fsrgan sample --class` draws one class at a time. Weights ~ He-normal, biases 0, from the run's Rng.
 */
import * as tf from '@tensorflow/tfjs';
import { biasAct, conv2d, deconv2d, dense } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { DcganShape } from './dcgan.js';
import type { Discriminator } from './discriminator.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import type { ForwardOptions, Learner } from './learner.js';
import { heVar, pooledLevels, zeroVar, type Vars } from './family-layers.js';
import { pixelNorm } from './layers/pixel-norm.js';
import { missingCondition } from './class-shift.js';

export const COND_FAMILIES = ['cgan', 'acgan', 'text2img'] as const;
export type CondFamily = (typeof COND_FAMILIES)[number];
export const D_CONDITIONS = ['projection', 'concat'] as const;
export type DCondition = (typeof D_CONDITIONS)[number] | 'none';

export function isCondFamily(family: string): family is CondFamily {
  return (COND_FAMILIES as readonly string[]).includes(family);
}

/** A DCGAN's shape (r a multiple of 2^gWidths.length and of 2^dWidths.length) with the condition's. */
export interface CondShape extends DcganShape {
  family: CondFamily;
  /** Length of c: the number of classes (one-hot) or the text embedding's dimension. */
  condDim: number;
  /** Classes K of ACGAN's auxiliary head (0: no head). */
  classes: number;
  /** Width of the learned compression of c in G and in D's concat branch (0: c enters as it is). */
  project: number;
  /** How D sees c. */
  dCondition: DCondition;
}

/** What a conditional D gives: the adversarial logit [N] and ACGAN's class logits [N, K] (null otherwise). */
export interface CondOutput {
  adv: tf.Tensor1D;
  cls: tf.Tensor2D | null;
}

/** A Discriminator (checkpointed, optimised as every D) with the conditional forward the step calls. */
export interface CondDiscriminator extends Discriminator {
  condForward(x: tf.Tensor4D, c: tf.Tensor2D): CondOutput;
}

export function isCondDiscriminator(d: Discriminator): d is CondDiscriminator {
  return typeof (d as Partial<CondDiscriminator>).condForward === 'function';
}

/** Problems with a conditional shape, as sentences naming the config fields (empty when valid). */
export function condShapeProblems(s: CondShape): string[] {
  const p: string[] = [];
  const k = s.gWidths.length;
  if (k < 1) p.push('generator.channels needs at least one width for a conditional generator');
  if (s.dWidths.length < 1) p.push('discriminator.widths needs at least one width');
  if (k >= 1 && s.resolution % 2 ** k !== 0) p.push(`the ${s.family} generator doubles ${k} times, so its resolution (${s.resolution}) must be a multiple of ${2 ** k}`);
  if (s.resolution % 2 ** s.dWidths.length !== 0) p.push(`the ${s.family} discriminator halves ${s.dWidths.length} times, so the resolution (${s.resolution}) must be a multiple of ${2 ** s.dWidths.length}`);
  return p;
}

const v2 = (vars: Vars, n: string) => vars.get(n) as tf.Tensor2D;
const v1 = (vars: Vars, n: string) => vars.get(n) as tf.Tensor1D;
const v4 = (vars: Vars, n: string) => vars.get(n) as tf.Tensor4D;

/** c' of G: c itself, or its learned compression lrelu(c W + b) when `project` > 0. */
function compress(vars: Vars, prefix: string, c: tf.Tensor2D, s: CondShape): tf.Tensor2D {
  return s.project > 0 ? biasAct(dense(c, v2(vars, `${prefix}.w`)), v1(vars, `${prefix}.b`), 'lrelu', { alpha: 0.2 }) : c;
}

/** G as a Learner whose forward takes the condition in opts.cond [N, condDim]. */
export function createCondGenerator(s: CondShape, rng: Rng): Learner {
  const vars: Vars = new Map();
  const k = s.gWidths.length;
  const g = s.resolution / 2 ** k;
  const cIn = s.project > 0 ? s.project : s.condDim;
  // c's compression is initialised as an embedding table, W ~ N(0, 1): a one-hot or a unit-norm text
  // embedding then enters with the weight of z (fan-in scaling would make c a whisper next to z).
  if (s.project > 0) vars.set('g.cond.w', heVar(rng, [s.condDim, s.project], 1, 1)).set('g.cond.b', zeroVar([s.project]));
  vars.set('g.dense.w', heVar(rng, [s.zDim + cIn, g * g * s.gWidths[0]], s.zDim + cIn)).set('g.dense.b', zeroVar([g * g * s.gWidths[0]]));
  for (let i = 1; i < k; i++) {
    // A stride-2 k4 transposed convolution feeds each output from about 4 input positions.
    vars.set(`g.deconv${i + 1}.w`, heVar(rng, [4, 4, s.gWidths[i], s.gWidths[i - 1]], 4 * s.gWidths[i - 1])).set(`g.deconv${i + 1}.b`, zeroVar([s.gWidths[i]]));
  }
  vars.set('g.out.w', heVar(rng, [4, 4, s.imageChannels, s.gWidths[k - 1]], 4 * s.gWidths[k - 1], 1)).set('g.out.b', zeroVar([s.imageChannels]));
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [...s.gWidths], zDim: s.zDim, kernel: 4, patch: 1, imageChannels: s.imageChannels };
  const forward = (z: tf.Tensor4D, _upTo?: number, opts?: ForwardOptions): GeneratorOutput => {
    const c = opts?.cond;
    if (!c || c.shape[0] !== z.shape[0] || c.shape[1] !== s.condDim) {
      throw missingCondition(s.family, z.shape[0], s.condDim, c);
    }
    const x = tf.tidy(() => {
      const n = z.shape[0];
      const zc = tf.concat([z.reshape([n, s.zDim]), compress(vars, 'g.cond', c, s)], 1) as tf.Tensor2D;
      let h = pixelNorm(biasAct(dense(zc, v2(vars, 'g.dense.w')), v1(vars, 'g.dense.b'), 'relu').reshape([n, g, g, s.gWidths[0]]) as tf.Tensor4D);
      for (let i = 1; i < k; i++) h = pixelNorm(biasAct(deconv2d(h, v4(vars, `g.deconv${i + 1}.w`), 2, 'same'), v1(vars, `g.deconv${i + 1}.b`), 'relu'));
      return tf.tanh(biasAct(deconv2d(h, v4(vars, 'g.out.w'), 2, 'same'), v1(vars, 'g.out.b'), 'linear')) as tf.Tensor4D;
    });
    // Below the top: its 2x2 average pools, as the data's pyramid has (as dcgan.ts).
    return { s: [], x: tf.tidy(() => pooledLevels(x, s.resolutions.length)) };
  };
  return { params: { shape, blocks: {} }, vars, forward };
}

/** D of the shape's family, named `d.r<r>.*` like every D of a run. */
export function createCondDiscriminator(s: CondShape, rng: Rng): CondDiscriminator {
  const name = `d.r${s.resolution}`;
  const vars: Vars = new Map();
  let cin = s.imageChannels;
  s.dWidths.forEach((c, i) => {
    vars.set(`${name}.l${i + 1}.w`, heVar(rng, [4, 4, cin, c], 16 * cin)).set(`${name}.l${i + 1}.b`, zeroVar([c]));
    cin = c;
  });
  const grid = s.resolution / 2 ** s.dWidths.length;
  const features = grid * grid * cin;
  const p = s.project > 0 ? s.project : s.condDim;
  if (s.dCondition === 'concat') {
    if (s.project > 0) vars.set(`${name}.cond.w`, heVar(rng, [s.condDim, s.project], 1, 1)).set(`${name}.cond.b`, zeroVar([s.project]));
    vars.set(`${name}.joint.w`, heVar(rng, [1, 1, cin + p, cin], cin + p)).set(`${name}.joint.b`, zeroVar([cin]));
  }
  // The projection's class vectors ~ N(0, 1/F), the scale of the head's w: both terms start O(1).
  if (s.dCondition === 'projection') vars.set(`${name}.embed.w`, heVar(rng, [s.condDim, features], features, 1));
  vars.set(`${name}.head.w`, heVar(rng, [features, 1], features, 1)).set(`${name}.head.b`, zeroVar([1]));
  if (s.classes > 0) vars.set(`${name}.aux.w`, heVar(rng, [features, s.classes], features, 1)).set(`${name}.aux.b`, zeroVar([s.classes]));
  const trunk = (x: tf.Tensor4D, c: tf.Tensor2D): tf.Tensor2D => {
    let h = x;
    s.dWidths.forEach((_, i) => {
      h = biasAct(conv2d(h, v4(vars, `${name}.l${i + 1}.w`), 2, 'same'), v1(vars, `${name}.l${i + 1}.b`), 'lrelu', { alpha: s.leak });
    });
    if (s.dCondition === 'concat') {
      const cc = compress(vars, `${name}.cond`, c, s).reshape([h.shape[0], 1, 1, p]);
      const joint = tf.concat([h, tf.tile(cc, [1, grid, grid, 1])], 3) as tf.Tensor4D;
      h = biasAct(conv2d(joint, v4(vars, `${name}.joint.w`), 1, 'same'), v1(vars, `${name}.joint.b`), 'lrelu', { alpha: s.leak });
    }
    return h.reshape([h.shape[0], features]) as tf.Tensor2D;
  };
  const condForward = (x: tf.Tensor4D, c: tf.Tensor2D): CondOutput => {
    const out = tf.tidy(() => {
      const f = trunk(x, c);
      let adv = tf.add(dense(f, v2(vars, `${name}.head.w`)), v1(vars, `${name}.head.b`)).reshape([-1]);
      if (s.dCondition === 'projection') adv = tf.add(adv, tf.sum(tf.mul(f, dense(c, v2(vars, `${name}.embed.w`))), 1));
      return s.classes > 0 ? [adv, tf.add(dense(f, v2(vars, `${name}.aux.w`)), v1(vars, `${name}.aux.b`))] : [adv];
    });
    return { adv: out[0] as tf.Tensor1D, cls: (out[1] as tf.Tensor2D | undefined) ?? null };
  };
  // The unconditional forward (what code written for any D may call) judges against c = 0.
  const forward = (x: tf.Tensor4D): tf.Tensor1D => {
    const c = tf.zeros([x.shape[0], s.condDim]) as tf.Tensor2D;
    const out = condForward(x, c);
    tf.dispose([c, ...(out.cls ? [out.cls] : [])]);
    return out.adv;
  };
  const head = vars.get(`${name}.head.w`)!;
  return {
    resolution: s.resolution, inputSize: s.resolution, input: 'single', imageChannels: s.imageChannels, patch: 1, leak: s.leak, powerIterations: 0,
    convs: [], head: { w: head, b: vars.get(`${name}.head.b`)!, u: null, v: null, stride: 1, pad: 'valid' }, vars, state: new Map(), forward, condForward,
  };
}
