/**
 * Discriminators, one per training stage (docs/theory.md section 2). D_1 sees x_1; D_l (l >= 2, layerwise)
 * sees the pair (x_{l-1}, x_l) as upsample2x(x_{l-1}) concatenated with x_l along channels, because what
 * stage l must learn is how x_{l-1} determines x_l. Every D's first layer is a convolution with
 * kernel = stride = P ('valid'), the patch geometry of G's output head, so that D_1's first-layer filters
 * [P,P,3,w_1] and G's atoms [P,P,3,C_l] can be compared (docs/theory.md 3.3). Later layers: kernel k,
 * stride 2 ('same') while the grid is larger than 1x1; then a linear head on the flattened features.
 *
 * Optional spectral normalisation (Miyato et al. 2018): each weight, as a matrix W [fan_in, fan_out], is
 * divided by its top singular value sigma = v^T W u, estimated by power iteration with persisted vectors
 * u [fan_out] and v [fan_in] (held constant in the gradient, as in Miyato et al. and PyTorch).
 *
 * Neighbour differences (discriminator.neighbourDiffs; layers/neighbour-diffs.ts): the first layer convolves
 * [x, |dx|, |dy|] instead of x, so it tells flat colour from pixel noise with one filter (docs/findings.md).
 * discFirstLayer then gives the image channels' filters only: what theory.md 3.3's alignment compares with
 * G's atoms, and what the analyses' code space reads (an approximation of D's codes on such a D).
 *
 * Class-conditional (generator.condition 'class'; addProjection): the projection discriminator of Miyato &
 * Koyama 2018, D(x, c) = w^T f + b + <V c, f>, f the features the head reads (flattened, with any minibatch
 * features), c [N,K] one-hot, V [K,F] (`d.r<r>.proj`): class k adds its own direction V_k to the head.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, leakyRelu, upsample2x } from '../ops/index.js';
import { Rng } from '../util/rng.js';
import { ownVariable } from './learner.js';
import { minibatchStddev as stddevFeature } from './layers/minibatch-stddev.js';
import { minibatchDiscrimination } from './layers/minibatch-discrimination.js';
import { heScale } from './layers/equalized.js';
import { snIterate, snVectors, snWeight } from './layers/spectral-norm.js';
import { neighbourDiffs } from './layers/neighbour-diffs.js';

/** Re-exported for the callers that took it from here before it became an op (src/ops/upsample.ts). */
export { upsample2x };

export interface DiscriminatorConfig {
  /** Channels of each convolution; layer 1 is the patch layer (kernel = stride = P). */
  widths: number[];
  /** Kernel of the stride-2 convolutions after the patch layer. */
  kernel: number;
  /** Negative slope of the leaky ReLU after each convolution (0 = ReLU). */
  leak: number;
  /** Divide every weight by its spectral norm (power iteration, u persisted). */
  spectralNorm: boolean;
  /** Power iterations per D step when spectralNorm is on. */
  powerIterations: number;
  /** Weight init: N(0, (gain / sqrt(fan_in))^2); biases start at 0. */
  gain: number;
  /**
   * Stride of the first (P x P) layer: P (default) judges G's painting grid patch by patch; P/2 makes
   * the windows overlap, so D also sees the seams between G's patches (docs/findings.md).
   */
  patchStride?: number;
  /**
   * Recipes against mode collapse (docs/recipes.md), all off when absent: PacGAN's packing degree m (D's
   * input has m times the channels), ProGAN's minibatch-stddev group size (one more feature channel before
   * the head), and minibatch discrimination's kernels B of dimension C on the flattened features.
   */
  pack?: number;
  minibatchStddev?: number;
  minibatchKernels?: number;
  minibatchKernelDims?: number;
  /**
   * ProGAN's equalised learning rate (Karras et al. 2018, section 4.1): conv and head weights stored
   * N(0, 1) and multiplied at run time by gain / sqrt(fan_in), the init's constant (DiscLayer.scale).
   */
  equalizedLr?: boolean;
  /**
   * The first layer also sees each pixel's absolute differences to its right and lower neighbours
   * (layers/neighbour-diffs.ts): 3x its input channels. Off by default (docs/findings.md).
   */
  neighbourDiffs?: boolean;
}

export interface DiscLayer {
  /** Conv weight [k,k,Cin,Cout], or for the head [F,1]. */
  w: tf.Variable;
  /** Bias [Cout] (head: [1]). */
  b: tf.Variable;
  /** Power-iteration vectors u [Cout] and v [fan_in] (spectral norm only), not trainable. */
  u: tf.Variable | null;
  v: tf.Variable | null;
  stride: number;
  pad: 'same' | 'valid';
  /** Equalised learning rate: the stored weight's run-time multiplier gain / sqrt(fan_in) (absent = 1). */
  scale?: number;
}

export interface Discriminator {
  /** The image resolution this D judges (r_l); names its variables. */
  resolution: number;
  /** Side of D's input: r_l, or the crop size when D sees local crops (docs/theory.md 3.5). */
  inputSize: number;
  /** 'single': x_l alone; 'pair': (x_{l-1}, x_l). */
  input: 'single' | 'pair';
  /** Image channels of one level (3 for color); the D input has twice as many for 'pair'. */
  imageChannels: number;
  patch: number;
  leak: number;
  powerIterations: number;
  convs: DiscLayer[];
  head: DiscLayer;
  /** Trainable variables by name (`d.r16.l1.w`, `d.r16.head.b`, ...). */
  vars: Map<string, tf.Variable>;
  /** Non-trainable state by name (`d.r16.l1.u`): checkpointed with the weights. */
  state: Map<string, tf.Variable>;
  /** Another model family's forward pass (dcgan.ts; its convs are empty and its head a placeholder); `alpha`: ProGAN's fade-in. */
  forward?: (input: tf.Tensor4D, opts?: { alpha?: number; cond?: tf.Tensor2D }) => tf.Tensor1D;
  /** Another family's power iteration on its spectrally normalised weights (SAGAN); powerIterate calls it. */
  iterate?: (iterations: number) => void;
  /** Another family's D input from a pyramid (the stacked GAN's (x_1, x_L) pair), instead of discInput's. */
  makeInput?: (xs: tf.Tensor4D[], l: number) => tf.Tensor4D;
  /** PacGAN: samples packed along channels per D input (absent = 1; docs/recipes.md). */
  pack?: number;
  /** Whether the first layer sees [x, |dx|, |dy|] (DiscriminatorConfig.neighbourDiffs) rather than x. */
  neighbourDiffs?: boolean;
  /** Minibatch-stddev group size (absent or 0 = off). */
  minibatchStddev?: number;
  /** Minibatch discrimination: its tensor T [F, B*C] (also in vars), B and C; absent = off. */
  mbd?: { t: tf.Variable; kernels: number; dims: number };
  /** The projection's class embedding V [K,F] (also in vars) and its spectral-norm vectors; absent = unconditional. */
  proj?: Pick<DiscLayer, 'w' | 'u' | 'v'>;
}

/** Spatial size of the features before the head, and the stride of each conv layer. */
export function discPlan(resolution: number, patch: number, widths: number[], patchStride = patch): { strides: number[]; finalGrid: number } {
  if (resolution % patch !== 0) throw new Error(`discPlan: resolution ${resolution} is not a multiple of the patch size ${patch}`);
  if ((resolution - patch) % patchStride !== 0) throw new Error(`discPlan: patch windows of stride ${patchStride} do not tile resolution ${resolution}`);
  let g = (resolution - patch) / patchStride + 1;
  const strides = [patchStride];
  for (let i = 1; i < widths.length; i++) {
    const s = g > 1 ? 2 : 1;
    strides.push(s);
    g = Math.ceil(g / s);
  }
  return { strides, finalGrid: g };
}

/**
 * Creates D for the level of resolution r_l, weights drawn from `rng` (layer order, then the head).
 * `inputSize` < r_l makes a D for local crops of that size.
 */
export function createDiscriminator(
  resolution: number,
  input: 'single' | 'pair',
  imageChannels: number,
  patch: number,
  cfg: DiscriminatorConfig,
  rng: Rng,
  inputSize = resolution,
): Discriminator {
  if (cfg.widths.length < 1) throw new Error('createDiscriminator: widths must have at least one entry');
  if (inputSize > resolution) throw new Error(`createDiscriminator: input size ${inputSize} exceeds the resolution ${resolution}`);
  const { strides, finalGrid } = discPlan(inputSize, patch, cfg.widths, cfg.patchStride || patch);
  const vars = new Map<string, tf.Variable>();
  const state = new Map<string, tf.Variable>();
  const eq = cfg.equalizedLr === true;
  const normal = (shape: number[], fanIn: number) =>
    ownVariable(tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1), eq ? 1 : cfg.gain / Math.sqrt(fanIn)), shape));
  const scaleOf = (fanIn: number) => (eq ? { scale: heScale(fanIn, cfg.gain) } : {});
  const convs: DiscLayer[] = [];
  const pack = cfg.pack ?? 1;
  let cin = (input === 'pair' ? 2 * imageChannels : imageChannels) * pack * (cfg.neighbourDiffs ? 3 : 1);
  cfg.widths.forEach((cout, i) => {
    const k = i === 0 ? patch : cfg.kernel;
    const name = `d.r${resolution}.l${i + 1}`;
    const w = normal([k, k, cin, cout], k * k * cin);
    const b = ownVariable(tf.zeros([cout]));
    const { u, v } = cfg.spectralNorm ? snVectors(w, rng) : { u: null, v: null };
    vars.set(`${name}.w`, w).set(`${name}.b`, b);
    if (u && v) state.set(`${name}.u`, u).set(`${name}.v`, v);
    convs.push({ w, b, u, v, stride: strides[i], pad: i === 0 ? 'valid' : 'same', ...scaleOf(k * k * cin) });
    cin = cout;
  });
  // The head reads the flattened features, with the stddev channel and the B minibatch features when on.
  const feats = finalGrid * finalGrid * (cin + (cfg.minibatchStddev ? 1 : 0));
  const kernels = cfg.minibatchKernels ?? 0;
  const f = feats + kernels;
  const hw = normal([f, 1], f);
  const hb = ownVariable(tf.zeros([1]));
  const { u: hu, v: hv } = cfg.spectralNorm ? snVectors(hw, rng) : { u: null, v: null };
  vars.set(`d.r${resolution}.head.w`, hw).set(`d.r${resolution}.head.b`, hb);
  if (hu && hv) state.set(`d.r${resolution}.head.u`, hu).set(`d.r${resolution}.head.v`, hv);
  let mbd: Discriminator['mbd'];
  if (kernels > 0) {
    // Small, so that exp(-L1) starts away from 0 (Salimans et al.'s code initialises T with std 0.05).
    const dims = cfg.minibatchKernelDims ?? 5;
    const t = ownVariable(tf.tensor(rng.normals(feats * kernels * dims, 0.05), [feats, kernels * dims]));
    vars.set(`d.r${resolution}.mbd.t`, t);
    mbd = { t, kernels, dims };
  }
  return {
    pack,
    ...(cfg.neighbourDiffs ? { neighbourDiffs: true } : {}),
    minibatchStddev: cfg.minibatchStddev ?? 0,
    mbd,
    resolution,
    inputSize,
    input,
    imageChannels,
    patch,
    leak: cfg.leak,
    powerIterations: cfg.powerIterations,
    convs,
    head: { w: hw, b: hb, u: hu, v: hv, stride: 1, pad: 'valid', ...scaleOf(f) },
    vars,
    state,
  };
}

/**
 * Makes D class-conditional for K classes (in place; returns it): V [K,F] after every other weight, so those
 * are the unconditional D's of the same seed. V = 0 (no draws): at init D(x, c) = D(x). Under spectral norm
 * V is normalised like every weight (Miyato & Koyama normalise their class embedding too), which needs
 * V != 0: it is then drawn ~ N(0, (gain / sqrt(F))^2) from `rng` (the head's scale), with its u, v.
 */
export function addProjection(d: Discriminator, classes: number, rng: Rng, cfg: Pick<DiscriminatorConfig, 'spectralNorm' | 'gain'>): Discriminator {
  const f = d.head.w.shape[0];
  const name = `d.r${d.resolution}.proj`;
  const w = ownVariable(cfg.spectralNorm ? tf.tensor(rng.normals(classes * f, cfg.gain / Math.sqrt(f)), [classes, f]) : tf.zeros([classes, f]));
  const { u, v } = cfg.spectralNorm ? snVectors(w, rng) : { u: null, v: null };
  d.vars.set(name, w);
  if (u && v) d.state.set(`${name}.u`, u).set(`${name}.v`, v);
  d.proj = { w, u, v };
  return d;
}

/** Power iteration on every normalised weight of D: v <- W u / ||.||, u <- W^T v / ||.||, persisted. */
export function powerIterate(d: Discriminator, iterations = d.powerIterations): void {
  if (d.iterate) return d.iterate(iterations);
  for (const layer of [...d.convs, d.head, ...(d.proj ? [d.proj] : [])]) if (layer.u && layer.v) snIterate(layer.w, { u: layer.u, v: layer.v }, iterations);
}

/**
 * Leaky ReLU that survives double backprop (R1, gradient penalty): tf.leakyRelu's own gradient goes
 * through Greater, which has no gradient (src/ops/activations.ts).
 */
export function leaky<T extends tf.Tensor>(x: T, a: number): T {
  return a === 0 ? tf.relu(x) : leakyRelu(x, a);
}

/** The weight a layer uses: stored w, times its equalised-lr scale, over sigma (spectral norm; scale-free, so u, v are w's). */
function weightOf(layer: Pick<DiscLayer, 'w' | 'u' | 'v' | 'scale'>): tf.Tensor {
  const w = layer.scale !== undefined ? tf.mul(layer.w, layer.scale) : layer.w;
  return layer.u && layer.v ? snWeight(w, { u: layer.u, v: layer.v }) : w;
}

/**
 * The input D sees for level index l (0-based) of a pyramid xs (x_1..x_k, k > l): x_l alone (returned
 * as is), or upsample2x(x_{l-1}) concatenated with x_l along channels -> [N,r_l,r_l,2C]. Use in tf.tidy.
 */
export function discInput(d: Discriminator, xs: tf.Tensor4D[], l: number): tf.Tensor4D {
  if (d.makeInput) return d.makeInput(xs, l);
  const x = xs[l];
  if (!x || x.shape[1] !== d.resolution) throw new Error(`discInput: level ${l} is [${x?.shape}], D judges resolution ${d.resolution}`);
  if (d.input === 'single') return x;
  if (l < 1) throw new Error('discInput: a pair discriminator needs the level below');
  return tf.tidy(() => tf.concat([upsample2x(xs[l - 1]), x], 3));
}

/** First-layer codes phi(x) = leakyReLU(conv_P(x) + b) [N,g,g,w_1] (docs/theory.md 3.2, code space). */
export function discCodes(d: Discriminator, input: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const l = d.convs[0];
    const h = tf.add(conv2d(firstInput(d, input), weightOf(l) as tf.Tensor4D, l.stride, l.pad), l.b) as tf.Tensor4D;
    return leaky(h, d.leak);
  });
}

/** D's logits [N] for its input [N,r,r,C or 2C] (see discInput); `cond` [N,K]: the classes a projection D (addProjection) needs. */
export function discForward(d: Discriminator, input: tf.Tensor4D, opts?: { alpha?: number; cond?: tf.Tensor2D }): tf.Tensor1D {
  const cin = (d.input === 'pair' ? 2 * d.imageChannels : d.imageChannels) * (d.pack ?? 1);
  const s = d.inputSize;
  if (input.rank !== 4 || input.shape[1] !== s || input.shape[2] !== s || input.shape[3] !== cin) {
    throw new Error(`discForward: D_r${d.resolution} expects [N,${s},${s},${cin}], got [${input.shape}]`);
  }
  if (d.forward) return d.forward(input, opts);
  return tf.tidy(() => {
    let h = convFeatures(d, input);
    if (d.minibatchStddev) h = stddevFeature(h, d.minibatchStddev);
    let flat = h.reshape([h.shape[0], -1]) as tf.Tensor2D;
    if (d.mbd) flat = minibatchDiscrimination(flat, d.mbd.t as tf.Tensor2D, d.mbd.kernels, d.mbd.dims);
    const out = tf.add(tf.matMul(flat, weightOf(d.head) as tf.Tensor2D), d.head.b).reshape([-1]) as tf.Tensor1D;
    if (!d.proj) return out;
    const c = opts?.cond;
    if (!c || c.shape[0] !== input.shape[0] || c.shape[1] !== d.proj.w.shape[0]) throw new Error(`discForward: D_r${d.resolution} is class-conditional: it needs classes [${input.shape[0]}, ${d.proj.w.shape[0]}], got ${c ? `[${c.shape}]` : 'none'}`);
    // <V c, f> per sample (Miyato & Koyama 2018: y^T V phi(x)).
    return tf.add(out, tf.sum(tf.mul(flat, tf.matMul(c, weightOf(d.proj) as tf.Tensor2D)), 1)) as tf.Tensor1D;
  });
}

/** The last conv layer's activations [N,g,g,C] (the head's input before the minibatch features). */
function convFeatures(d: Discriminator, input: tf.Tensor4D): tf.Tensor4D {
  let h: tf.Tensor4D = firstInput(d, input);
  for (const l of d.convs) {
    const a = tf.add(conv2d(h, weightOf(l) as tf.Tensor4D, l.stride, l.pad), l.b) as tf.Tensor4D;
    h = leaky(a, d.leak);
  }
  return h;
}

/**
 * D's last hidden features, flattened [N, F] (feature matching, Salimans et al. 2016; docs/recipes.md): the
 * FSR discriminator's only; another family's D (`forward`) has none to offer.
 */
export function discFeatures(d: Discriminator, input: tf.Tensor4D): tf.Tensor2D {
  if (d.forward) throw new Error(`discFeatures: D_r${d.resolution} is another family's discriminator; feature matching needs the FSR discriminator`);
  return tf.tidy(() => {
    const h = convFeatures(d, input);
    return h.reshape([h.shape[0], -1]) as tf.Tensor2D;
  });
}

/**
 * D with some of its parameters replaced by other tensors (by variable name; the rest and the spectral
 * norm's u, v are shared): the unrolled GAN evaluates G against D's parameters after k gradient steps
 * (Metz et al. 2017; src/train/recipes.ts unrollParams) without touching D's variables.
 */
export function discWithParams(d: Discriminator, p: Map<string, tf.Tensor>): Discriminator {
  if (d.forward) throw new Error(`discWithParams: D_r${d.resolution} is another family's discriminator`);
  const sub = new Map<tf.Tensor, tf.Tensor>();
  for (const [name, v] of d.vars) {
    const t = p.get(name);
    if (t) sub.set(v, t);
  }
  const swap = (l: DiscLayer): DiscLayer => ({ ...l, w: (sub.get(l.w) ?? l.w) as tf.Variable, b: (sub.get(l.b) ?? l.b) as tf.Variable });
  return { ...d, convs: d.convs.map(swap), head: swap(d.head), mbd: d.mbd ? { ...d.mbd, t: (sub.get(d.mbd.t) ?? d.mbd.t) as tf.Variable } : undefined };
}

/** D_1's first-layer filters [P,P,C,w_1] (spectrally normalised if D is), for alignment with G's atoms. */
export function discFirstLayer(d: Discriminator): tf.Tensor4D {
  return tf.tidy(() => {
    const w = weightOf(d.convs[0]) as tf.Tensor4D;
    // With neighbour differences the image's own channels come first (neighbour-diffs.ts): those are the filters.
    if (!d.neighbourDiffs) return w.clone();
    const [k, k2, cin, cout] = w.shape;
    return w.slice([0, 0, 0, 0], [k, k2, cin / 3, cout]);
  });
}

/** What D's first layer convolves: its input, or [input, |dx|, |dy|] with neighbourDiffs. */
function firstInput(d: Discriminator, input: tf.Tensor4D): tf.Tensor4D {
  return d.neighbourDiffs ? neighbourDiffs(input) : input;
}

/** Clips every trainable weight and bias of D to [-c, c] (WGAN weight clipping, Arjovsky et al. 2017). */
export function clipWeights(d: Discriminator, c: number): void {
  for (const v of d.vars.values()) tf.tidy(() => v.assign(tf.clipByValue(v, -c, c)));
}

export function disposeDiscriminator(d: Discriminator): void {
  for (const v of [...d.vars.values(), ...d.state.values()]) v.dispose();
}
