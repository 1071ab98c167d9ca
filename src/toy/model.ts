/**
 * The 2-D lab's networks: MLPs whose parameters are named variables, with a functional forward pass (the
 * unrolled GAN evaluates D at parameters that are not its variables). G: z [N, zDim] -> hidden ReLU layers
 * -> [N, 2]; D: x [N, 2 * pack] -> hidden leaky-ReLU layers -> features f -> (minibatch stddev, minibatch
 * discrimination) -> logit [N]. The recipes on each network (spectral norm, equalised learning rate, pixel
 * norm, virtual batch norm) are switched per network (docs/recipes.md).
 */
import * as tf from '@tensorflow/tfjs';
import { leakyRelu } from '../ops/index.js';
import { ownVariable } from '../models/learner.js';
import { heScale } from '../models/layers/equalized.js';
import { snIterate, snWeight } from '../models/layers/spectral-norm.js';
import { pixelNorm } from '../models/layers/pixel-norm.js';
import { minibatchStddev } from '../models/layers/minibatch-stddev.js';
import { minibatchDiscrimination, referenceBatchNorm, virtualBatchNorm } from '../train/recipes.js';
import type { Rng } from '../util/rng.js';

export interface MlpOptions {
  spectralNorm: boolean;
  equalizedLr: boolean;
}

export interface Mlp {
  /** Trainable variables by name (`l1.w`, `l1.b`, ..., `out.w`, `out.b`, extras). */
  vars: Map<string, tf.Variable>;
  /** Spectral norm's power-iteration vectors u [out], v [in] per weight name (not trainable). */
  sn: Map<string, { u: tf.Variable; v: tf.Variable }>;
  /** Dense layer names in order, with fan-in and init gain. */
  layers: { name: string; fanIn: number; gain: number }[];
  opts: MlpOptions;
}

/** Parameters as plain tensors by name: the variables, or an unrolled D's values. */
export type Params = Record<string, tf.Tensor>;

export function paramsOf(m: Mlp): Params {
  return Object.fromEntries(m.vars);
}

/** Dense layers sizes[i] -> sizes[i+1] named `names[i]`; init N(0, (gain / sqrt(fan_in))^2), gain 1 for 'out', sqrt 2 else. */
function createMlp(rng: Rng, sizes: number[], names: string[], opts: MlpOptions): Mlp {
  const vars = new Map<string, tf.Variable>();
  const sn = new Map<string, { u: tf.Variable; v: tf.Variable }>();
  const layers: Mlp['layers'] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const name = names[i];
    const [fi, fo] = [sizes[i], sizes[i + 1]];
    const gain = name === 'out' ? 1 : Math.SQRT2;
    // Equalised learning rate stores N(0, 1) weights and scales them at run time (Karras et al. 2018).
    const scale = opts.equalizedLr ? 1 : heScale(fi, gain);
    vars.set(`${name}.w`, ownVariable(tf.tensor2d(rng.normals(fi * fo, scale), [fi, fo])));
    vars.set(`${name}.b`, ownVariable(tf.zeros([fo])));
    layers.push({ name, fanIn: fi, gain });
    if (opts.spectralNorm) {
      const u = rng.normals(fo);
      const nu = Math.hypot(...u) || 1;
      sn.set(`${name}.w`, { u: ownVariable(tf.tensor1d(u.map((x) => x / nu)), false), v: ownVariable(tf.zeros([fi]), false) });
    }
  }
  const m = { vars, sn, layers, opts };
  if (opts.spectralNorm) powerIterateMlp(m, 1);
  return m;
}

/** The weight a layer uses: stored w, times He's constant (equalised lr), over sigma (spectral norm). */
function weight(m: Mlp, p: Params, name: string): tf.Tensor2D {
  const l = m.layers.find((x) => x.name === name)!;
  let w = p[`${name}.w`] as tf.Tensor2D;
  if (m.opts.equalizedLr) w = tf.mul(w, heScale(l.fanIn, l.gain));
  const s = m.sn.get(`${name}.w`);
  if (s) w = snWeight(w, s);
  return w;
}

/** One power iteration per weight: v <- W u / ||.||, u <- W^T v / ||.|| (Miyato et al. 2018), on the effective W. */
export function powerIterateMlp(m: Mlp, iterations = 1): void {
  for (const l of m.layers) {
    const s = m.sn.get(`${l.name}.w`);
    if (!s) continue;
    tf.tidy(() => {
      let w = m.vars.get(`${l.name}.w`)! as tf.Tensor2D;
      if (m.opts.equalizedLr) w = tf.mul(w, heScale(l.fanIn, l.gain));
      snIterate(w, s, iterations);
    });
  }
}

export function dense(m: Mlp, p: Params, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight(m, p, name)), p[`${name}.b`]) as tf.Tensor2D;
}

export function disposeMlp(m: Mlp): void {
  for (const v of m.vars.values()) v.dispose();
  for (const s of m.sn.values()) tf.dispose([s.u, s.v]);
}

// ---------------------------------------------------------------------------------------------------------

export interface ToyGenerator extends Mlp {
  zDim: number;
  hidden: number[];
  pixelNorm: boolean;
  /** Virtual batch norm's reference latents [R, zDim], fixed at creation; null when off. */
  reference: tf.Tensor2D | null;
}

export interface GeneratorOptions extends MlpOptions {
  zDim: number;
  hidden: number[];
  pixelNorm: boolean;
  virtualBatchNorm: boolean;
  /** Reference batch size of virtual batch norm. */
  referenceSize: number;
}

export function createToyGenerator(rng: Rng, o: GeneratorOptions): ToyGenerator {
  const m = createMlp(rng, [o.zDim, ...o.hidden, 2], [...o.hidden.map((_, i) => `l${i + 1}`), 'out'], o);
  let reference: tf.Tensor2D | null = null;
  if (o.virtualBatchNorm) {
    o.hidden.forEach((h, i) => {
      m.vars.set(`vbn${i + 1}.gamma`, ownVariable(tf.ones([h])));
      m.vars.set(`vbn${i + 1}.beta`, ownVariable(tf.zeros([h])));
    });
    reference = tf.keep(tf.tensor2d(rng.normals(o.referenceSize * o.zDim), [o.referenceSize, o.zDim]));
  }
  return { ...m, zDim: o.zDim, hidden: o.hidden, pixelNorm: o.pixelNorm, reference };
}

/** G's samples [N, 2] for latents z [N, zDim] (inside tf.tidy or a tape). */
export function generatorForward(g: ToyGenerator, z: tf.Tensor2D, p: Params = paramsOf(g)): tf.Tensor2D {
  let h = z;
  let r = g.reference;
  g.hidden.forEach((_, i) => {
    const name = `l${i + 1}`;
    let a = dense(g, p, name, h);
    if (r) {
      // The reference batch runs through the same layers, normalised with its own statistics; each
      // example is normalised with those statistics and itself (recipes.ts virtualBatchNorm).
      const gamma = p[`vbn${i + 1}.gamma`] as tf.Tensor1D;
      const beta = p[`vbn${i + 1}.beta`] as tf.Tensor1D;
      const ref = referenceBatchNorm(dense(g, p, name, r), gamma, beta);
      a = virtualBatchNorm(a, ref.mean, ref.meanSq, r.shape[0], gamma, beta);
      r = tf.relu(ref.out);
      if (g.pixelNorm) r = pixelNorm(r);
    }
    h = tf.relu(a);
    if (g.pixelNorm) h = pixelNorm(h);
  });
  return dense(g, p, 'out', h);
}

export function disposeToyGenerator(g: ToyGenerator): void {
  disposeMlp(g);
  g.reference?.dispose();
}

// ---------------------------------------------------------------------------------------------------------

/** The toy D's architecture: hidden widths, PacGAN packing, leak, minibatch stddev and discrimination kernels. */
export interface DiscriminatorShape {
  hidden: number[];
  pack: number;
  leak: number;
  minibatchStddev: number;
  kernels: number;
  kernelDims: number;
}

export interface ToyDiscriminator extends Mlp, DiscriminatorShape {}

export interface DiscriminatorOptions extends MlpOptions, DiscriminatorShape {}

export function createToyDiscriminator(rng: Rng, o: DiscriminatorOptions): ToyDiscriminator {
  const f = o.hidden[o.hidden.length - 1];
  const headIn = f + (o.minibatchStddev > 0 ? 1 : 0) + o.kernels;
  const names = [...o.hidden.map((_, i) => `l${i + 1}`), 'out'];
  const mm = createMlp(rng, [2 * o.pack, ...o.hidden, 1], names, o);
  if (headIn !== f) {
    // The head reads the minibatch features too: its weight gets their rows (drawn after the others).
    const w = mm.vars.get('out.w')!;
    const extra = tf.tensor2d(rng.normals(headIn - f, 1 / Math.sqrt(headIn)), [headIn - f, 1]);
    const wider = ownVariable(tf.concat([w, extra], 0));
    extra.dispose();
    w.dispose();
    mm.vars.set('out.w', wider);
    mm.layers[mm.layers.length - 1].fanIn = headIn;
    const s0 = mm.sn.get('out.w');
    if (s0) s0.v.assign(tf.zeros([headIn]));
    if (s0) powerIterateMlp(mm, 1);
  }
  // Minibatch discrimination's tensor T [F, B*C], small so that exp(-L1) starts away from 0.
  if (o.kernels > 0) mm.vars.set('mbd.t', ownVariable(tf.tensor2d(rng.normals(f * o.kernels * o.kernelDims, 0.1 / Math.sqrt(f)), [f, o.kernels * o.kernelDims])));
  return { ...mm, hidden: o.hidden, pack: o.pack, leak: o.leak, minibatchStddev: o.minibatchStddev, kernels: o.kernels, kernelDims: o.kernelDims };
}

/** D's last hidden features f [N, F] for (packed) inputs x [N, 2 * pack] (feature matching reads them). */
export function discFeatures(d: ToyDiscriminator, x: tf.Tensor2D, p: Params = paramsOf(d)): tf.Tensor2D {
  let h = x;
  d.hidden.forEach((_, i) => {
    h = leakyRelu(dense(d, p, `l${i + 1}`, h), d.leak);
  });
  return h;
}

/** D's logits [N] from its features (minibatch stddev and minibatch discrimination appended first). */
export function discHead(d: ToyDiscriminator, f: tf.Tensor2D, p: Params = paramsOf(d)): tf.Tensor1D {
  const [n, c] = f.shape;
  const parts: tf.Tensor2D[] = [f];
  // [features, group stddev (1), minibatch-discrimination similarities (B)], the head's input rows in order.
  if (d.minibatchStddev > 0) parts.push(minibatchStddev(f.reshape([n, 1, 1, c]), d.minibatchStddev).reshape([n, c + 1]).slice([0, c], [-1, 1]) as tf.Tensor2D);
  if (d.kernels > 0) parts.push(minibatchDiscrimination(f, p['mbd.t'] as tf.Tensor2D, d.kernels, d.kernelDims).slice([0, c], [-1, -1]) as tf.Tensor2D);
  const h = parts.length > 1 ? (tf.concat(parts, 1) as tf.Tensor2D) : f;
  return dense(d, p, 'out', h).reshape([-1]) as tf.Tensor1D;
}

export function discForward(d: ToyDiscriminator, x: tf.Tensor2D, p: Params = paramsOf(d)): tf.Tensor1D {
  return discHead(d, discFeatures(d, x, p), p);
}
