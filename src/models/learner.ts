/**
 * The learner generator G (docs/theory.md section 2): the shared FSR generator of generator.ts whose tensors
 * are tf.Variables named by resolution (`g.r16.deconv`, `g.r16.bias`, `g.r16.out`), so that a training
 * stage freezes a level by looking its names up. Initialised from the run's seed, forward is the shared
 * `generatorForward`. Under spectral norm (shape.spectralNorm) each normalised weight `n` has two more,
 * non-trainable variables `n.sn.u`, `n.sn.v` (checkpointed and copied to replicas with the rest). A
 * class-conditional learner (shape.classes) has one more per block, its class embedding `g.r16.cls`.
 */
import * as tf from '@tensorflow/tfjs';
import { deconvFanIn, generatorForward, hiddenGrids, snLayer, type GeneratorOutput, type GeneratorParams, type GeneratorShape } from './generator.js';
import { Rng } from '../util/rng.js';
import { attentionWidths } from './layers/self-attention.js';
import { snIterate, snVectors } from './layers/spectral-norm.js';

/** The three parts of a generator block, in the order their variables are created. */
export const BLOCK_PARTS = ['deconv', 'bias', 'out'] as const;
export type BlockPart = (typeof BLOCK_PARTS)[number];
/** Virtual batch norm's parameters of a block (shape.virtualBatchNorm), created after every block's BLOCK_PARTS. */
export const VBN_PARTS = ['vbnGamma', 'vbnBeta'] as const;
export type VbnPart = (typeof VBN_PARTS)[number];
/** A class-conditional learner's class embedding E_l of a block (shape.classes; generator.ts), created after every other variable. */
export const CLASS_PART = 'cls';

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
  /** Power iteration of a family's spectrally normalised weights (SAGAN), run before each G update. */
  iterate?: () => void;
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
  /** StyleGAN's style mixing: the styles of layers at synthesis side >= `from` come from latents `z` instead. */
  mix?: { z: tf.Tensor4D; from: number };
  /** A conditional family's condition c [N, condDim] (one-hot class or text embedding; conditional.ts), or the class-conditional FSR learner's c [N,K]. */
  cond?: tf.Tensor2D;
}

/** The variable name of one part of the block at resolution r. */
export function gName(r: number, part: BlockPart | VbnPart | typeof CLASS_PART): string {
  return `g.r${r}.${part}`;
}

/** Shapes of the block tensors of layer index l (0-based). */
export function blockShapes(shape: GeneratorShape, l: number): Record<BlockPart, number[]> {
  const c = shape.channels[l];
  const grids = hiddenGrids(shape);
  // Layer 1 of a mixture latent also reads the component's one-hot (layers/latent-mixture.ts).
  const deconv = l === 0 ? [grids[0], grids[0], c, shape.zDim + (shape.mixture?.components ?? 0)] : [shape.kernel, shape.kernel, c, shape.channels[l - 1]];
  return { deconv, bias: [c], out: [shape.patch, shape.patch, shape.imageChannels, c] };
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
    // Equalised learning rate: N(0, 1) stored, the init's constant applied at run time (generator.ts layerWeights).
    const eq = shape.equalizedLr !== undefined;
    const deconv = ownVariable(tf.tensor(rng.normals(size(s.deconv), eq ? 1 : init.gain / Math.sqrt(deconvFanIn(shape, l))), s.deconv));
    const bias = ownVariable(tf.fill(s.bias, init.bias));
    const out = ownVariable(tf.tensor(rng.normals(size(s.out), eq ? 1 : init.outGain / Math.sqrt(shape.channels[l])), s.out));
    vars.set(gName(r, 'deconv'), deconv).set(gName(r, 'bias'), bias).set(gName(r, 'out'), out);
    blocks[r] = { deconv: deconv as tf.Variable<tf.Rank.R4>, bias: bias as tf.Variable<tf.Rank.R1>, out: out as tf.Variable<tf.Rank.R4> };
  });
  if (shape.virtualBatchNorm) {
    // gamma 1, beta 0 (no draws): each block's VBN parameters, after every block's weights.
    shape.resolutions.forEach((r, l) => {
      const c = shape.channels[l];
      const gamma = ownVariable(tf.ones([c]));
      const beta = ownVariable(tf.zeros([c]));
      vars.set(gName(r, 'vbnGamma'), gamma).set(gName(r, 'vbnBeta'), beta);
      Object.assign(blocks[r], { vbnGamma: gamma, vbnBeta: beta });
    });
  }
  // Drawn after every block, so that a learner without attention has the same init as before.
  if (shape.attention) {
    const c = shape.channels[shape.resolutions.indexOf(shape.attention)];
    const wd = attentionWidths(c);
    const shapes: Record<string, number[]> = { q: [c, wd.qk], k: [c, wd.qk], h: [c, wd.h], o: [wd.h, c] };
    for (const [part, s] of Object.entries(shapes)) vars.set(attnName(shape.attention, part), ownVariable(tf.tensor(rng.normals(s[0] * s[1], 1 / Math.sqrt(s[0])), s)));
    vars.set(attnName(shape.attention, 'gamma'), ownVariable(tf.zeros([1])));
  }
  attachAttention(shape, blocks, vars);
  // Spectral norm's vectors (Miyato et al. 2018), drawn after every weight: the weights are those of the
  // same seed without it.
  for (const w of snWeights(shape)) {
    const { u, v } = snVectors(vars.get(w.name)!, rng);
    vars.set(snName(w.name, 'u'), u).set(snName(w.name, 'v'), v);
  }
  attachSn(shape, blocks, vars);
  // Class embeddings E_l = 0 (class-shift.ts): no draws, so every other tensor is the unconditional learner's.
  if (shape.classes) shape.resolutions.forEach((r, l) => vars.set(gName(r, CLASS_PART), ownVariable(tf.zeros([shape.classes!, shape.channels[l]]))));
  attachClasses(shape, blocks, vars);
  return { params: { shape, blocks }, vars };
}

/** Puts each block's class embedding, looked up in `vars`, on its block (GeneratorBlock.cls). */
function attachClasses(shape: GeneratorShape, blocks: GeneratorParams['blocks'], vars: Map<string, tf.Variable>): void {
  if (shape.classes) for (const r of shape.resolutions) blocks[r].cls = vars.get(gName(r, CLASS_PART)) as tf.Variable<tf.Rank.R2>;
}

/** The variable name of spectral norm's vector u or v of the weight variable `weight`. */
export function snName(weight: string, which: 'u' | 'v'): string {
  return `${weight}.sn.${which}`;
}

/**
 * The weights shape.spectralNorm normalises: every deconvolution, head and self-attention weight (not the
 * biases, VBN's gamma and beta, or attention's gamma) of the layers from spectralNorm.from on, each with its
 * block's resolution, its key in GeneratorBlock.sn and its variable name.
 */
export function snWeights(shape: GeneratorShape): { r: number; key: string; name: string }[] {
  return shape.resolutions.flatMap((r, l) => {
    if (!snLayer(shape, l)) return [];
    const attn = shape.attention === r ? ['q', 'k', 'h', 'o'].map((p) => ({ r, key: `attn.${p}`, name: attnName(r, p) })) : [];
    return [{ r, key: 'deconv', name: gName(r, 'deconv') }, { r, key: 'out', name: gName(r, 'out') }, ...attn];
  });
}

/** Puts each normalised weight's vectors, looked up in `from`, on its block (GeneratorBlock.sn). */
function attachSn(shape: GeneratorShape, blocks: GeneratorParams['blocks'], from: Map<string, tf.Tensor>): void {
  for (const w of snWeights(shape)) {
    const [u, v] = [from.get(snName(w.name, 'u')), from.get(snName(w.name, 'v'))];
    if (!u || !v) throw new Error(`learner: spectral norm needs the vectors ${snName(w.name, 'u')}, ${snName(w.name, 'v')}`);
    blocks[w.r].sn = { ...blocks[w.r].sn, [w.key]: { u, v } };
  }
}

/**
 * One power iteration (spectral-norm.ts snIterate) on each normalised weight among `names`: the G step runs
 * it on the weights its stage trains (step.ts), once per G update as Miyato et al. 2018 (Algorithm 1) do,
 * so that a frozen layer's u, v stay as its stage left them (their hashes are verified with the layer's).
 * A no-op without shape.spectralNorm (a family's G, e.g. SAGAN, iterates its own: Learner.iterate).
 */
export function iterateSn(learner: Learner, names: Iterable<string>): void {
  if (!learner.params.shape.spectralNorm) return;
  for (const n of names) {
    const u = learner.vars.get(snName(n, 'u'));
    const v = learner.vars.get(snName(n, 'v'));
    if (u && v) snIterate(learner.vars.get(n)!, { u, v });
  }
}

/** The variable name of a part (q, k, h, o, gamma) of the self-attention block at resolution r. */
export function attnName(r: number, part: string): string {
  return `g.r${r}.attn.${part}`;
}

/** The attention variables' names of a shape (none without generator.attention). */
export function attnNames(shape: Pick<GeneratorShape, 'attention'>): string[] {
  return shape.attention ? ['q', 'k', 'h', 'o', 'gamma'].map((p) => attnName(shape.attention!, p)) : [];
}

function attachAttention(shape: GeneratorShape, blocks: GeneratorParams['blocks'], vars: Map<string, tf.Variable>): void {
  if (!shape.attention) return;
  const get = (p: string) => vars.get(attnName(shape.attention!, p))!;
  blocks[shape.attention].attn = { q: get('q') as tf.Tensor2D, k: get('k') as tf.Tensor2D, h: get('h') as tf.Tensor2D, o: get('o') as tf.Tensor2D, gamma: get('gamma') };
}

/**
 * Virtual batch norm's reference latents [n,1,1,zDim] of a run: drawn from their own stream of the seed, so
 * that a resumed run, its EMA and a loaded run derive the same ones (nothing to checkpoint).
 */
export function vbnReference(seed: number, n: number, zDim: number): tf.Tensor4D {
  return sampleLatents(new Rng(seed, 'vbn-reference'), n, zDim);
}

/**
 * Wraps existing tensors (e.g. loaded from a checkpoint, keyed by `gName`) as a learner; the tensors are
 * copied into new variables (the caller keeps ownership of `tensors`). Under spectral norm, `sharedSn`
 * (another learner's variables) gives the vectors u, v to use, shared and not among the new learner's
 * variables (the EMA's, session.ts); without it they are copied from `tensors` like the weights.
 */
export function learnerFromTensors(shape: GeneratorShape, tensors: Record<string, tf.Tensor>, trainable = true, sharedSn?: Map<string, tf.Variable>): Learner {
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
  if (shape.virtualBatchNorm) shape.resolutions.forEach((r, l) => {
    for (const part of VBN_PARTS) {
      const t = tensors[gName(r, part)];
      if (!t || t.shape.join() !== String(shape.channels[l])) throw new Error(`learnerFromTensors: missing or misshapen tensor ${gName(r, part)}`);
      const v = tf.variable(t, trainable);
      vars.set(gName(r, part), v);
      blocks[r][part] = v as tf.Variable<tf.Rank.R1>;
    }
  });
  for (const name of attnNames(shape)) {
    if (!tensors[name]) throw new Error(`learnerFromTensors: missing tensor ${name}`);
    vars.set(name, tf.variable(tensors[name], trainable));
  }
  attachAttention(shape, blocks, vars);
  if (!sharedSn) {
    for (const w of snWeights(shape)) {
      for (const name of [snName(w.name, 'u'), snName(w.name, 'v')]) {
        if (!tensors[name]) throw new Error(`learnerFromTensors: missing tensor ${name}`);
        vars.set(name, tf.variable(tensors[name], false));
      }
    }
  }
  attachSn(shape, blocks, sharedSn ?? vars);
  if (shape.classes) shape.resolutions.forEach((r, l) => {
    const t = tensors[gName(r, CLASS_PART)];
    if (!t || t.shape.join() !== `${shape.classes},${shape.channels[l]}`) throw new Error(`learnerFromTensors: missing or misshapen tensor ${gName(r, CLASS_PART)}`);
    vars.set(gName(r, CLASS_PART), tf.variable(t, trainable));
  });
  attachClasses(shape, blocks, vars);
  return { params: { shape, blocks }, vars };
}

/** Images of G at every level up to `upTo` for latents z [N,1,1,zDim]; see generatorForward. */
export function learnerForward(learner: Learner, z: tf.Tensor4D, upTo?: number, opts?: ForwardOptions): GeneratorOutput {
  return learner.forward ? learner.forward(z, upTo, opts) : generatorForward(learner.params, z, upTo, opts?.cond);
}

/** Latents z [n,1,1,zDim] drawn from `rng`. */
export function sampleLatents(rng: Rng, n: number, zDim: number): tf.Tensor4D {
  return tf.tensor4d(rng.normals(n * zDim), [n, 1, 1, zDim]);
}

/** Disposes every variable of a learner. */
export function disposeLearner(learner: Learner): void {
  for (const v of learner.vars.values()) v.dispose();
  learner.params.reference?.dispose();
}
