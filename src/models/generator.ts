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
 */
import * as tf from '@tensorflow/tfjs';
import { deconv2d, upsample2x } from '../ops/index.js';
import { pixelNorm } from './layers/pixel-norm.js';
import { selfAttention, type AttentionWeights } from './layers/self-attention.js';

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
   * ProGAN's pixelwise feature normalisation (Karras et al. 2018; docs/recipes.md) of every hidden layer,
   * s_l = PN(ReLU(...)): a learner option (generator.pixelNorm), off for the teacher and by default. Zeros
   * stay zeros, so the hidden layers stay as sparse as the ReLU makes them.
   */
  pixelNorm?: boolean;
  /**
   * A SAGAN self-attention block (Zhang et al. 2019; layers/self-attention.ts) on the hidden layer of this
   * resolution r_l, s_l = SA(ReLU(...)): a learner option (generator.attention; docs/families.md), absent for
   * the teacher and by default. Its gamma starts at 0, so the learner starts as the plain FSR generator.
   */
  attention?: number;
}

/** Parameters of one resolution block. Tensors may be tf.Variables (learner) or plain tensors (teacher). */
export interface GeneratorBlock {
  /** Deconv_l weight [k,k,C_l,C_{l-1}] (layer 1: [g_1,g_1,C_1,zDim]). */
  deconv: tf.Tensor4D;
  /** Bias b_l [C_l] (subtracted before the ReLU). */
  bias: tf.Tensor1D;
  /** Output head weight [P,P,imageChannels,C_l]; as a matrix, column c is atom c of A_l. */
  out: tf.Tensor4D;
  /** The self-attention block on s_l (only at shape.attention). */
  attn?: AttentionWeights;
}

export interface GeneratorParams {
  shape: GeneratorShape;
  /** Blocks keyed by image resolution r_l. */
  blocks: Record<number, GeneratorBlock>;
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
 * Runs the generator on z [N,1,1,zDim] up to layer `upTo` (1-based, default L) and returns every hidden
 * layer and image. The caller disposes the result (or runs this inside tf.tidy).
 */
export function generatorForward(params: GeneratorParams, z: tf.Tensor4D, upTo = params.shape.resolutions.length): GeneratorOutput {
  const { shape } = params;
  if (z.rank !== 4 || z.shape[1] !== 1 || z.shape[2] !== 1 || z.shape[3] !== shape.zDim) {
    throw new Error(`generatorForward: z must be [N,1,1,${shape.zDim}], got [${z.shape}]`);
  }
  const grids = hiddenGrids(shape);
  const s: tf.Tensor4D[] = [];
  const x: tf.Tensor4D[] = [];
  let prev: tf.Tensor4D = z;
  let lowU: tf.Tensor4D | null = null;
  for (let l = 0; l < upTo; l++) {
    const block = params.blocks[shape.resolutions[l]];
    const stride = l === 0 ? grids[0] : 2;
    const pad = l === 0 ? 'valid' : 'same';
    const input = prev;
    // tidy per layer so that callers outside tf.tidy leak no intermediates; s_l and x_l are kept.
    const below: tf.Tensor4D | null = lowU;
    const [h, u, img]: tf.Tensor4D[] = tf.tidy(() => {
      const act = tf.relu(tf.sub(deconv2d(input, block.deconv, stride, pad), block.bias)) as tf.Tensor4D;
      const normed = shape.pixelNorm ? pixelNorm(act) : act;
      const hid = block.attn ? selfAttention(normed, block.attn) : normed;
      const painted = deconv2d(hid, block.out, shape.patch, 'valid');
      const pre: tf.Tensor4D = below ? tf.add(upsample2x(below), painted) : painted;
      return [hid, pre, shape.head === 'tanh' ? tf.tanh(pre) : pre] as tf.Tensor4D[];
    });
    s.push(h);
    x.push(img);
    prev = h;
    // u_l is kept for the next level's skip; it is x_l itself when the head is linear (never dispose that).
    if (lowU && !x.includes(lowU)) lowU.dispose();
    if (shape.skip && l + 1 < upTo) lowU = u;
    else {
      lowU = null;
      if (u !== img) u.dispose();
    }
  }
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
  if (!(shape.kernel >= 1 && shape.kernel <= 5)) p.push(`${field}.kernel must be between 1 and 5`);
  return p;
}
