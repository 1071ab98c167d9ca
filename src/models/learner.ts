/**
 * The learner generator G (docs/theory.md section 2): the shared FSR generator of generator.ts whose tensors
 * are tf.Variables named by resolution (`g.r16.deconv`, `g.r16.bias`, `g.r16.out`), so that a training
 * stage freezes a level by looking its names up. Initialised from the run's seed, forward is the shared
 * `generatorForward`.
 */
import * as tf from '@tensorflow/tfjs';
import { generatorForward, hiddenGrids, type GeneratorOutput, type GeneratorParams, type GeneratorShape } from './generator.js';
import { Rng } from '../util/rng.js';

/** The three parts of a generator block, in the order their variables are created. */
export const BLOCK_PARTS = ['deconv', 'bias', 'out'] as const;
export type BlockPart = (typeof BLOCK_PARTS)[number];

/** Initialisation choices the theory does not fix (docs/training.md). */
export interface LearnerInit {
  /** Weights ~ N(0, (gain / sqrt(fan_in))^2) for the hidden deconvolutions. */
  gain: number;
  /** Same for the output heads (fan_in = C_l: each pixel is painted by one hidden position). */
  outGain: number;
  /** Initial bias b_l of every layer (ReLU(h - b)). */
  bias: number;
}

export const DEFAULT_INIT: LearnerInit = { gain: 1.4142135623730951, outGain: 1, bias: 0 };

/** A learner: generator params whose tensors are variables, plus the same variables by name. */
export interface Learner {
  params: GeneratorParams;
  /** Every variable of G by name, in creation order (resolution ascending, then deconv, bias, out). */
  vars: Map<string, tf.Variable>;
  /** Another model family's forward pass (dcgan.ts), instead of the FSR generator's; its params have no blocks. */
  forward?: (z: tf.Tensor4D, upTo?: number, opts?: ForwardOptions) => GeneratorOutput;
}

/**
 * What a multi-resolution family's generator may take besides z (docs/families.md): `real`, the real
 * pyramid x_1..x_k of the batch, when the level being trained is conditioned on the real level below
 * (LAPGAN trained level by level, SRGAN); `alpha`, ProGAN's fade-in weight of the newest block (default 1);
 * `cond`, the condition of a conditional family (CGAN, ACGAN, text-to-emoji).
 */
export interface ForwardOptions {
  real?: tf.Tensor4D[];
  alpha?: number;
  /** A conditional family's condition c [N, condDim] (one-hot class or text embedding; conditional.ts). */
  cond?: tf.Tensor2D;
}

/** The variable name of one part of the block at resolution r. */
export function gName(r: number, part: BlockPart): string {
  return `g.r${r}.${part}`;
}

/** Shapes of the block tensors of layer index l (0-based). */
export function blockShapes(shape: GeneratorShape, l: number): Record<BlockPart, number[]> {
  const c = shape.channels[l];
  const grids = hiddenGrids(shape);
  const deconv = l === 0 ? [grids[0], grids[0], c, shape.zDim] : [shape.kernel, shape.kernel, c, shape.channels[l - 1]];
  return { deconv, bias: [c], out: [shape.patch, shape.patch, shape.imageChannels, c] };
}

/**
 * Fan-in of the hidden deconvolution of layer l: layer 1 sees all of z at every position; a stride-2
 * transposed convolution with kernel k feeds each output from about (k/2)^2 input positions.
 */
function deconvFanIn(shape: GeneratorShape, l: number): number {
  if (l === 0) return shape.zDim;
  return Math.max(1, (shape.channels[l - 1] * shape.kernel * shape.kernel) / 4);
}

/** A variable holding `t`'s values; `t` itself is disposed (the variable keeps the data alive). */
export function ownVariable(t: tf.Tensor, trainable = true): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

/**
 * Creates a learner with every tensor drawn from `rng` in a fixed order (resolution ascending; deconv,
 * bias, out), so one seed fixes the init and two modes at the same seed start from the same weights.
 */
export function createLearner(shape: GeneratorShape, rng: Rng, init: LearnerInit = DEFAULT_INIT): Learner {
  const vars = new Map<string, tf.Variable>();
  const blocks: GeneratorParams['blocks'] = {};
  shape.resolutions.forEach((r, l) => {
    const s = blockShapes(shape, l);
    const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
    // tfjs variable names must be unique per process (several learners coexist), so the canonical
    // names live in `vars` and the variables keep tfjs's automatic names.
    const deconv = ownVariable(tf.tensor(rng.normals(size(s.deconv), init.gain / Math.sqrt(deconvFanIn(shape, l))), s.deconv));
    const bias = ownVariable(tf.fill(s.bias, init.bias));
    const out = ownVariable(tf.tensor(rng.normals(size(s.out), init.outGain / Math.sqrt(shape.channels[l])), s.out));
    vars.set(gName(r, 'deconv'), deconv).set(gName(r, 'bias'), bias).set(gName(r, 'out'), out);
    blocks[r] = { deconv: deconv as tf.Variable<tf.Rank.R4>, bias: bias as tf.Variable<tf.Rank.R1>, out: out as tf.Variable<tf.Rank.R4> };
  });
  return { params: { shape, blocks }, vars };
}

/**
 * Wraps existing tensors (e.g. loaded from a checkpoint, keyed by `gName`) as a learner; the tensors are
 * copied into new variables (the caller keeps ownership of `tensors`).
 */
export function learnerFromTensors(shape: GeneratorShape, tensors: Record<string, tf.Tensor>, trainable = true): Learner {
  const vars = new Map<string, tf.Variable>();
  const blocks: GeneratorParams['blocks'] = {};
  shape.resolutions.forEach((r, l) => {
    const want = blockShapes(shape, l);
    const get = (part: BlockPart) => {
      const name = gName(r, part);
      const t = tensors[name];
      if (!t) throw new Error(`learnerFromTensors: missing tensor ${name}`);
      if (t.shape.join() !== want[part].join()) throw new Error(`learnerFromTensors: ${name} has shape [${t.shape}], expected [${want[part]}]`);
      const v = tf.variable(t, trainable);
      vars.set(name, v);
      return v;
    };
    blocks[r] = { deconv: get('deconv') as tf.Variable<tf.Rank.R4>, bias: get('bias') as tf.Variable<tf.Rank.R1>, out: get('out') as tf.Variable<tf.Rank.R4> };
  });
  return { params: { shape, blocks }, vars };
}

/** Images of G at every level up to `upTo` for latents z [N,1,1,zDim]; see generatorForward. */
export function learnerForward(learner: Learner, z: tf.Tensor4D, upTo?: number, opts?: ForwardOptions): GeneratorOutput {
  return learner.forward ? learner.forward(z, upTo, opts) : generatorForward(learner.params, z, upTo);
}

/** Latents z [n,1,1,zDim] drawn from `rng`. */
export function sampleLatents(rng: Rng, n: number, zDim: number): tf.Tensor4D {
  return tf.tensor4d(rng.normals(n * zDim), [n, 1, 1, zDim]);
}

/** Disposes every variable of a learner. */
export function disposeLearner(learner: Learner): void {
  for (const v of learner.vars.values()) v.dispose();
}
