/**
 * Building blocks shared by the multi-resolution model families (lapgan.ts, stacked.ts, srgan.ts;
 * docs/families.md): He-initialised variables (He et al. 2015), a convolution with bias and activation,
 * 2x2 average pooling that is differentiable to any order, the unconditional generator of the lowest
 * resolution r_1 that LAPGAN, the stacked GAN and the SRGAN chain start from, and the latent layout of a
 * family whose generator draws noise at several levels.
 *
 *   base generator at r_1:  z[:zDim] -> dense -> [g0, g0, C] -> ReLU -> pixel norm
 *                           -> (upsample2x -> conv3 -> ReLU -> pixel norm) until r_1
 *                           -> conv3 -> ReLU -> pixel norm -> conv3 -> image channels -> tanh
 *
 * with g0 = min(4, r_1). Pixel norm (Karras et al. 2018) stands where DCGAN has batch norm: it keeps G's
 * activations from escalating without making an image depend on the rest of its batch (so replicas and
 * sample grids see the same function).
 */
import * as tf from '@tensorflow/tfjs';
import { biasAct, conv2d, dense, downsample2xSum, tanh, upsample2x, type Activation } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import { ownVariable } from './learner.js';
import { pixelNorm } from './layers/pixel-norm.js';

export type Vars = Map<string, tf.Variable>;

/** A variable ~ N(0, (gain / sqrt(fan_in))^2) drawn from rng. */
export function heVar(rng: Rng, shape: number[], fanIn: number, gain = Math.SQRT2): tf.Variable {
  return ownVariable(tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1), gain / Math.sqrt(fanIn)), shape));
}

export function zeroVar(shape: number[]): tf.Variable {
  return ownVariable(tf.zeros(shape));
}

/** Adds a k x k convolution `name.w` [k,k,cin,cout] (He init, `gain`) and its bias `name.b` to vars. */
export function addConv(vars: Vars, rng: Rng, name: string, k: number, cin: number, cout: number, gain = Math.SQRT2): void {
  vars.set(`${name}.w`, heVar(rng, [k, k, cin, cout], k * k * cin, gain)).set(`${name}.b`, zeroVar([cout]));
}

/** act(conv_same(x, name.w) + name.b), stride 1. */
export function convAct(vars: Vars, name: string, x: tf.Tensor4D, act: Activation): tf.Tensor4D {
  return biasAct(conv2d(x, vars.get(`${name}.w`) as tf.Tensor4D, 1, 'same'), vars.get(`${name}.b`) as tf.Tensor1D, act);
}

/** 2x2 average pooling, differentiable to any order (its gradient is upsample2x / 4; src/ops/upsample.ts). */
export function avgPool2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(downsample2xSum(x), 0.25) as tf.Tensor4D);
}

/** Nearest-neighbour upsampling by 2^times. */
export function upsampleTimes(x: tf.Tensor4D, times: number): tf.Tensor4D {
  let y = x;
  for (let i = 0; i < times; i++) y = upsample2x(y);
  return y;
}

/** The pyramid levels below x by 2x2 average pooling: [pool^{k-1} x, ..., pool x, x] (k entries, x itself last). */
export function pooledLevels(x: tf.Tensor4D, k: number): tf.Tensor4D[] {
  const out = [x];
  for (let i = 1; i < k; i++) out.unshift(avgPool2x(out[0]));
  return out;
}

/** Side of the dense layer's grid: 4 (ProGAN's and DCGAN's start), or r_1 when it is smaller. */
export const baseGrid = (r1: number) => Math.min(4, r1);

/** Variables of the unconditional generator at resolution r (prefix e.g. `g.r8`), drawn in a fixed order. */
export function addBaseGenerator(vars: Vars, rng: Rng, prefix: string, r: number, zDim: number, width: number, imageChannels: number): void {
  const g0 = baseGrid(r);
  vars.set(`${prefix}.dense.w`, heVar(rng, [zDim, g0 * g0 * width], zDim)).set(`${prefix}.dense.b`, zeroVar([g0 * g0 * width]));
  let i = 0;
  for (let side = g0; side < r; side *= 2) addConv(vars, rng, `${prefix}.up${++i}`, 3, width, width);
  addConv(vars, rng, `${prefix}.c1`, 3, width, width);
  addConv(vars, rng, `${prefix}.rgb`, 3, width, imageChannels, 1);
}

/** The base generator's image [N,r,r,C] in (-1, 1) from its latent part z [N, zDim]. */
export function baseGeneratorForward(vars: Vars, prefix: string, r: number, z: tf.Tensor2D, width: number): tf.Tensor4D {
  return tf.tidy(() => {
    const g0 = baseGrid(r);
    const d = dense(z, vars.get(`${prefix}.dense.w`) as tf.Tensor2D);
    let h = pixelNorm(biasAct(d, vars.get(`${prefix}.dense.b`) as tf.Tensor1D, 'relu').reshape([z.shape[0], g0, g0, width]) as tf.Tensor4D);
    let i = 0;
    for (let side = g0; side < r; side *= 2) h = pixelNorm(convAct(vars, `${prefix}.up${++i}`, upsample2x(h), 'relu'));
    h = pixelNorm(convAct(vars, `${prefix}.c1`, h, 'relu'));
    return tanh(convAct(vars, `${prefix}.rgb`, h, 'linear'));
  });
}

/**
 * A family's latent vector z [N,1,1,total] as named parts: `z` (zDim entries) and noise maps [r,r,c]. The
 * trainer draws one vector per image from its latent stream (src/train/step.ts), so every part is
 * deterministic in the run's seed; the parts are independent N(0, 1) like LAPGAN's per-level noise.
 */
export interface LatentPart {
  name: string;
  /** [side, side, channels] for a noise map; [zDim] for the vector. */
  shape: number[];
}

export function latentSize(parts: LatentPart[]): number {
  return parts.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

/** The named parts of z [N,1,1,total] (slices; use inside tf.tidy). */
export function splitLatent(z: tf.Tensor4D, parts: LatentPart[]): Record<string, tf.Tensor> {
  const n = z.shape[0];
  const flat = z.reshape([n, -1]);
  const out: Record<string, tf.Tensor> = {};
  let o = 0;
  for (const p of parts) {
    const size = p.shape.reduce((x, y) => x * y, 1);
    out[p.name] = tf.slice(flat, [0, o], [n, size]).reshape([n, ...p.shape]);
    o += size;
  }
  return out;
}
