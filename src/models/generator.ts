/**
 * The forward super-resolution generator of docs/theory.md section 1, shared by the synthetic teacher G* and
 * the learner G (the learner mirrors the teacher's layer types, paper section 2):
 *
 *   s_1 = ReLU(Deconv_1(z) - b_1)          z ~ N(0, I), shape [N,1,1,zDim]; Deconv_1 has kernel = stride = g_1
 *   s_l = ReLU(Deconv_l(s_{l-1}) - b_l)    stride-2 transposed convolution, 'same' padding
 *   x_l = DeconvOut_l(s_l)                 kernel = stride = P: each hidden position paints one PxP patch,
 *                                          x_l[p] = A_l y_p with A_l = out weight as a (P*P*3) x C_l matrix
 *                                          (optionally tanh(A_l y_p) for a learner on real images)
 *
 * The hidden grid of layer l is g_l = r_l / P. Blocks are addressed by the image resolution r_l, so
 * freezing a level is a lookup (`params.blocks[16]`).
 *
 * Class-conditional learner (shape.classes = K; generator.condition 'class'; class-shift.ts): every hidden
 * layer's pre-activation is shifted by a learned per-class vector, the conditional bias of conditional batch
 * norm (de Vries et al. 2017; Dumoulin et al. 2017),
 *
 *   s_l = ReLU(Deconv_l(s_{l-1}) + E_l c - b_l)    c [N,K] (one-hot), E_l [K,C_l]: (E_l c)_j = sum_k c_k E_l[k,j]
 *
 * so the label enters every layer, and layer l's own E_l is trained with it in stage l and frozen with it
 * after. E_l = 0 gives the unconditional s_l exactly (pre + 0 is pre), which is how E_l starts.
 *
 * Mixture latent (shape.mixture = {K, spread}; layers/latent-mixture.ts, after DeLiGAN): layer 1 reads z as a
 * draw from one of K Gaussians with learned means, s_1 = ReLU(spread W_z z + sqrt(zDim) W_k - b_1), component
 * k = floor(K Phi(z_0)); W_k are Deconv_1's weights on a one-hot input, so nothing else changes.
 */
import * as tf from '@tensorflow/tfjs';
import { deconv2d, upsample2x, upsampleBilinear2x } from '../ops/index.js';
import { pixelNorm } from './layers/pixel-norm.js';
import { edgeUpsample2x } from './layers/edge-upsample.js';
import { equalizedWeight } from './layers/equalized.js';
import { referenceBatchNorm, virtualBatchNorm } from './layers/virtual-batch-norm.js';
import { selfAttention, type AttentionWeights } from './layers/self-attention.js';
import { snWeight } from './layers/spectral-norm.js';
import { classShift, missingCondition } from './class-shift.js';
import { mixtureInput, type LatentMixture } from './layers/latent-mixture.js';

/** The shape of an FSR generator; the same for teacher and learner. */
export interface GeneratorShape {
  /** Image resolutions r_1 < ... < r_L, each twice the previous. */
  resolutions: number[];
  /** Hidden channels C_l per layer (same length as resolutions). */
  channels: number[];
  /** Latent dimension of z. */
  zDim: number;
  /** Kernel size of the stride-2 hidden deconvolutions (layers >= 2). */
  kernel: number;
  /** Output patch size P (the output head has kernel = stride = P). */
  patch: number;
  /** Image channels (3 for color). */
  imageChannels: number;
  /**
   * The output head: 'linear' is the x_l = A_l y_p of docs/theory.md section 1 (default, the teacher's);
   * 'tanh' bounds it, x_l = tanh(A_l y_p), a departure the learner may take on real images
   * (docs/findings.md).
   */
  head?: 'linear' | 'tanh';
  /**
   * Skip from the level below (a learner option for real images, docs/findings.md): the head paints the
   * detail on top of the upsampled lower image, u_l = upsample2x(u_{l-1}) + A_l y_p, x_l = head(u_l),
   * as LAPGAN's residual levels do. Off (the theory's and the teacher's form): u_l = A_l y_p.
   */
  skip?: boolean;
  /**
   * How the skip upsamples u_{l-1}: nearest (default; avgpool2x inverts it exactly) or bilinear
   * (src/ops/upsample_bilinear.ts): the lower level's pixels blend into each other instead of painting
   * 2x2 blocks, so the detail painted over them need not hide the blocks (docs/findings.md); or 'edge'
   * (layers/edge-upsample.ts): bilinear between neighbours of close colour, nearest across edges.
   */
  skipUpsample?: 'nearest' | 'bilinear' | 'edge';
  /**
   * ProGAN's pixelwise feature normalisation (Karras et al. 2018; docs/recipes.md) of every hidden layer,
   * s_l = PN(ReLU(...)): a learner option (generator.pixelNorm), off for the teacher and by default. Zeros
   * stay zeros, so the hidden layers stay as sparse as the ReLU makes them.
   */
  pixelNorm?: boolean;
  /**
   * ProGAN's equalised learning rate (Karras et al. 2018, section 4.1; docs/recipes.md), a learner option
   * (generator.equalizedLr): the weights are stored N(0, 1) and multiplied at run time by He's constant
   * gain / sqrt(fan_in), the deconvolutions with `gain`, the heads with `outGain` (the init's gains, so the
   * layer's output is distributed as a plainly initialised one's). Frozen layers are scaled too.
   */
  equalizedLr?: { gain: number; outGain: number };
  /**
   * Virtual batch norm (Salimans et al. 2016, section 3.5; generator.virtualBatchNorm) of each hidden layer's
   * deconvolution, per channel, before its bias: s_l = ReLU(VBN(Deconv_l(s_{l-1})) - b_l), with the
   * reference latents `GeneratorParams.reference` and each block's vbnGamma, vbnBeta. A learner option.
   */
  virtualBatchNorm?: boolean;
  /**
   * A SAGAN self-attention block (Zhang et al. 2019; layers/self-attention.ts) on the hidden layer of this
   * resolution r_l, s_l = SA(ReLU(...)): a learner option (generator.attention; docs/families.md), absent for
   * the teacher and by default. Its gamma starts at 0, so the learner starts as the plain FSR generator.
   */
  attention?: number;
  /**
   * Spectral normalisation (Miyato et al. 2018; generator.spectralNorm; layers/spectral-norm.ts), a learner
   * option absent for the teacher: every weight of the layers from index `from` on (deconvolution, head,
   * self-attention's q, k, h, o) is used as W / sigma(W), sigma = v^T W u with the block's persisted vectors
   * (GeneratorBlock.sn), as SAGAN does on G (Zhang et al. 2019). `from` is 0 except in oracle-lower, whose
   * lower layers are the teacher's own weights and are used as they are (W / sigma(W) would not be them).
   */
  spectralNorm?: { from: number };
  /**
   * K, the classes of a class-conditional learner (generator.condition 'class'): each block has E_l [K,C_l]
   * (`cls`) and the forward pass needs c [N,K]. Absent for the teacher and the unconditional learner.
   */
  classes?: number;
  /**
   * A learned Gaussian-mixture latent (generator.mixture; layers/latent-mixture.ts, after DeLiGAN): layer 1
   * reads z as a draw from K components, s_1 = ReLU(spread W_z z + sqrt(zDim) W_k - b_1), k a function of
   * z_0; Deconv_1 then has zDim + K input channels. A learner option for diverse real data; absent for the
   * teacher (whose z is the N(0, I) of docs/theory.md section 1) and by default.
   */
  mixture?: LatentMixture;
}

/** Parameters of one resolution block. Tensors may be tf.Variables (learner) or plain tensors (teacher). */
export interface GeneratorBlock {
  /** Deconv_l weight [k,k,C_l,C_{l-1}] (layer 1: [g_1,g_1,C_1,zDim], zDim + K with shape.mixture). */
  deconv: tf.Tensor4D;
  /** Bias b_l [C_l] (subtracted before the ReLU). */
  bias: tf.Tensor1D;
  /** Output head weight [P,P,imageChannels,C_l]; as a matrix, column c is atom c of A_l. */
  out: tf.Tensor4D;
  /** Virtual batch norm's scale gamma_l and shift beta_l [C_l] (only with shape.virtualBatchNorm). */
  vbnGamma?: tf.Tensor1D;
  vbnBeta?: tf.Tensor1D;
  /** The self-attention block on s_l (only at shape.attention). */
  attn?: AttentionWeights;
  /**
   * Spectral norm's vectors u, v of each normalised weight, keyed 'deconv', 'out', 'attn.q', 'attn.k',
   * 'attn.h', 'attn.o' (only in a learner's layers that shape.spectralNorm normalises).
   */
  sn?: Record<string, { u: tf.Tensor; v: tf.Tensor }>;
  /** The class embedding E_l [K,C_l] added to the pre-activation as E_l c (only with shape.classes). */
  cls?: tf.Tensor2D;
}

export interface GeneratorParams {
  shape: GeneratorShape;
  /** Blocks keyed by image resolution r_l. */
  blocks: Record<number, GeneratorBlock>;
  /** Virtual batch norm's reference latents [R,1,1,zDim], fixed for the run (shape.virtualBatchNorm only). */
  reference?: tf.Tensor4D;
}

export interface GeneratorOutput {
  /** Hidden layers s_l [N,g_l,g_l,C_l], l = 1..upTo. */
  s: tf.Tensor4D[];
  /** Images x_l [N,r_l,r_l,imageChannels], l = 1..upTo. */
  x: tf.Tensor4D[];
}

/** Hidden grid size g_l of each layer. */
export function hiddenGrids(shape: GeneratorShape): number[] {
  return shape.resolutions.map((r) => r / shape.patch);
}

/**
 * Fan-in of the hidden deconvolution of layer l: layer 1 sees all of z at every position; a stride-2
 * transposed convolution with kernel k feeds each output from about (k/2)^2 input positions.
 */
export function deconvFanIn(shape: GeneratorShape, l: number): number {
  if (l === 0) return shape.zDim;
  return Math.max(1, (shape.channels[l - 1] * shape.kernel * shape.kernel) / 4);
}

/** Whether shape.spectralNorm normalises the weights of layer index l. */
export function snLayer(shape: GeneratorShape, l: number): boolean {
  return shape.spectralNorm !== undefined && l >= shape.spectralNorm.from;
}

/** W / sigma(W) with the block's vectors of weight `key` (spectral-norm.ts); a learner built without them is a bug, not a silent no-op. */
function normalised<T extends tf.Tensor>(w: T, block: GeneratorBlock, key: string): T {
  const s = block.sn?.[key];
  if (!s) throw new Error(`generator: spectral norm is on but the block has no vectors for '${key}' (learner.ts attaches them)`);
  return snWeight(w, s);
}

/**
 * The weights layer index l uses (use in tf.tidy or a tape): the stored ones, times He's constant under
 * equalised lr, over sigma under spectral norm. Sigma is scale-free (Miyato et al. 2018: W / sigma(W) is
 * the same for any c W), so the vectors are those of the stored weight, as in the FSR discriminator.
 */
export function layerWeights(shape: GeneratorShape, l: number, block: GeneratorBlock): { deconv: tf.Tensor4D; out: tf.Tensor4D } {
  const e = shape.equalizedLr;
  const w = e
    ? { deconv: equalizedWeight(block.deconv, deconvFanIn(shape, l), e.gain), out: equalizedWeight(block.out, shape.channels[l], e.outGain) }
    : { deconv: block.deconv, out: block.out };
  if (!snLayer(shape, l)) return w;
  return { deconv: normalised(w.deconv, block, 'deconv'), out: normalised(w.out, block, 'out') };
}

/** The self-attention weights of layer index l's block, each over its sigma under spectral norm (SAGAN normalises them too). */
function attentionOf(shape: GeneratorShape, l: number, block: GeneratorBlock): AttentionWeights | undefined {
  const a = block.attn;
  if (!a || !snLayer(shape, l)) return a;
  return { q: normalised(a.q, block, 'attn.q'), k: normalised(a.k, block, 'attn.k'), h: normalised(a.h, block, 'attn.h'), o: normalised(a.o, block, 'attn.o'), gamma: a.gamma };
}

/**
 * Layer index l's pre-activation Deconv_l(input) (virtual-batch-normalised when the shape says so, with the
 * reference batch's own input `ref` of the same layer; plus E_l c for a class-conditional learner), and the
 * reference batch's normalised one (or null).
 */
function layerPre(params: GeneratorParams, l: number, input: tf.Tensor4D, ref: tf.Tensor4D | null, cond?: tf.Tensor2D): { pre: tf.Tensor4D; refPre: tf.Tensor4D | null } {
  const { shape } = params;
  const block = params.blocks[shape.resolutions[l]];
  const stride = l === 0 ? hiddenGrids(shape)[0] : 2;
  const pad = l === 0 ? 'valid' : 'same';
  const w = layerWeights(shape, l, block).deconv;
  // The mixture latent is a reading of z by layer 1 (layers/latent-mixture.ts); the layers above see s_1 as always.
  const read = (t: tf.Tensor4D) => (l === 0 && shape.mixture ? mixtureInput(t, shape.mixture) : t);
  const raw = deconv2d(read(input), w, stride, pad);
  const pre = block.cls && cond ? classShift(raw, cond, block.cls) : raw;
  if (!ref) return { pre, refPre: null };
  const g = block.vbnGamma!;
  const b = block.vbnBeta!;
  const r = referenceBatchNorm(deconv2d(read(ref), w, stride, pad), g, b);
  return { pre: virtualBatchNorm(pre, r.mean, r.meanSq, ref.shape[0], g, b), refPre: r.out };
}

/** s_l of layer index l from its pre-activation: ReLU(pre - b_l), pixel-normalised when the shape says so, then the block's self-attention where it has one. */
function hiddenOf(shape: GeneratorShape, l: number, pre: tf.Tensor4D, block: GeneratorBlock): tf.Tensor4D {
  const act = tf.relu(tf.sub(pre, block.bias)) as tf.Tensor4D;
  const normed = shape.pixelNorm ? pixelNorm(act) : act;
  const attn = attentionOf(shape, l, block);
  return attn ? selfAttention(normed, attn) : normed;
}

/** The reference latents when the shape has virtual batch norm (null without). */
function referenceOf(params: GeneratorParams): tf.Tensor4D | null {
  if (!params.shape.virtualBatchNorm) return null;
  if (!params.reference) throw new Error('generatorForward: virtual batch norm needs the reference latents (GeneratorParams.reference)');
  return params.reference;
}

/**
 * Pre-activations Deconv_l(s_{l-1}) (+ E_l c) [N,g_l,g_l,C_l] of hidden layer index l (0-based) for latents
 * z (and conditions c of a class-conditional learner), as generatorForward computes them (equalised
 * weights, virtual batch norm): what calibration sets b_l from.
 */
export function generatorPreActivation(params: GeneratorParams, l: number, z: tf.Tensor4D, cond?: tf.Tensor2D): tf.Tensor4D {
  checkCondition(params.shape, z, cond);
  return tf.tidy(() => {
    let input = z;
    let ref = referenceOf(params);
    for (let i = 0; i < l; i++) {
      const block = params.blocks[params.shape.resolutions[i]];
      const { pre, refPre } = layerPre(params, i, input, ref, cond);
      input = hiddenOf(params.shape, i, pre, block);
      ref = refPre ? hiddenOf(params.shape, i, refPre, block) : null;
    }
    return layerPre(params, l, input, ref, cond).pre;
  });
}

/** A conditional shape (class or text) needs c [N,K] for z [N,...]; an unconditional one takes none. */
function checkCondition(shape: GeneratorShape, z: tf.Tensor4D, cond: tf.Tensor2D | undefined): void {
  if (!shape.classes) {
    if (cond) throw new Error('generatorForward: a condition was given to an unconditional generator (shape.classes is unset)');
    return;
  }
  if (!cond || cond.rank !== 2 || cond.shape[0] !== z.shape[0] || cond.shape[1] !== shape.classes) throw missingCondition('conditional FSR (class or text)', z.shape[0], shape.classes, cond);
}

/**
 * Runs the generator on z [N,1,1,zDim] up to layer `upTo` (1-based, default L) and returns every hidden
 * layer and image; `cond` [N,K]: the classes of a class-conditional learner (required there, else absent).
 * The caller disposes the result (or runs this inside tf.tidy).
 */
export function generatorForward(params: GeneratorParams, z: tf.Tensor4D, upTo = params.shape.resolutions.length, cond?: tf.Tensor2D): GeneratorOutput {
  const { shape } = params;
  if (z.rank !== 4 || z.shape[1] !== 1 || z.shape[2] !== 1 || z.shape[3] !== shape.zDim) {
    throw new Error(`generatorForward: z must be [N,1,1,${shape.zDim}], got [${z.shape}]`);
  }
  checkCondition(shape, z, cond);
  const s: tf.Tensor4D[] = [];
  const x: tf.Tensor4D[] = [];
  let prev: tf.Tensor4D = z;
  let lowU: tf.Tensor4D | null = null;
  // Virtual batch norm: the reference batch's hidden layer, run alongside (kept between layers, then disposed).
  let ref = referenceOf(params);
  for (let l = 0; l < upTo; l++) {
    const block = params.blocks[shape.resolutions[l]];
    const input = prev;
    const refIn = ref;
    // tidy per layer so that callers outside tf.tidy leak no intermediates; s_l and x_l are kept.
    const below: tf.Tensor4D | null = lowU;
    const [h, u, img, refH]: (tf.Tensor4D | null)[] = tf.tidy(() => {
      const { pre, refPre } = layerPre(params, l, input, refIn, cond);
      const hid = hiddenOf(shape, l, pre, block);
      const painted = deconv2d(hid, layerWeights(shape, l, block).out, shape.patch, 'valid');
      const up = (u: tf.Tensor4D) => (shape.skipUpsample === 'bilinear' ? upsampleBilinear2x(u) : shape.skipUpsample === 'edge' ? edgeUpsample2x(u, shape.head ?? 'linear') : upsample2x(u));
      const pre2: tf.Tensor4D = below ? tf.add(up(below), painted) : painted;
      const out = [hid, pre2, shape.head === 'tanh' ? tf.tanh(pre2) : pre2];
      return refPre ? [...out, hiddenOf(shape, l, refPre, block)] : out;
    }) as (tf.Tensor4D | null)[];
    s.push(h!);
    x.push(img!);
    prev = h!;
    if (refIn && refIn !== params.reference) refIn.dispose();
    ref = refH ?? null;
    // u_l is kept for the next level's skip; it is x_l itself when the head is linear (never dispose that).
    if (lowU && !x.includes(lowU)) lowU.dispose();
    if (shape.skip && l + 1 < upTo) lowU = u;
    else {
      lowU = null;
      if (u !== img) u!.dispose();
    }
  }
  if (ref && ref !== params.reference) ref.dispose();
  return { s, x };
}

/** Checks that a shape is a valid FSR schedule; returns a list of problems (empty when valid). */
export function shapeProblems(shape: GeneratorShape, field = 'generator'): string[] {
  const p: string[] = [];
  const { resolutions: r, channels: c } = shape;
  if (!Array.isArray(r) || r.length < 1) p.push(`${field}.resolutions must be a non-empty array`);
  else {
    for (let i = 1; i < r.length; i++) if (r[i] !== 2 * r[i - 1]) p.push(`${field}.resolutions must double at each layer (got ${r[i - 1]} then ${r[i]})`);
    if (r[0] % shape.patch !== 0) p.push(`${field}.resolutions[0] = ${r[0]} must be a multiple of ${field}.patch = ${shape.patch}`);
    if (!Array.isArray(c) || c.length !== r.length) p.push(`${field}.channels must have one entry per resolution (${r.length})`);
  }
  if (!(Number.isInteger(shape.kernel) && shape.kernel >= 1 && shape.kernel <= 9)) p.push(`${field}.kernel must be a whole number from 1 to 9`);
  return p;
}
