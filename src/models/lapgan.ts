/**
 * LAPGAN (Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a Laplacian Pyramid
 * of Adversarial Networks"), `generator.family = "lapgan"` (docs/families.md).
 *
 * The Laplacian pyramid of an image pyramid x_1..x_L (x_{l-1} = 2x2 average pool of x_l, the data's own
 * pyramid, src/data/pyramid.ts) is x_1 and the residuals h_l = x_l - u(x_{l-1}), l = 2..L, with u the
 * nearest-neighbour 2x upsampling; x_l = u(x_{l-1}) + h_l reconstructs it (laplacianPyramid,
 * reconstructPyramid). The generator follows it level by level:
 *
 *   level 1:   x_1 = G_1(z)                                        an unconditional GAN at r_1 (family-layers.ts)
 *   level l:   x_l = u(x_{l-1}) + G_l(u(x_{l-1}), n_l)            G_l generates the residual h_l
 *              G_l: [u(x_{l-1}), n_l] -> conv3 -> ReLU -> conv3 -> ReLU -> conv3 -> h_l
 *
 * with n_l [r_l, r_l, noiseChannels] a noise map (the paper's fourth input channel), part of the run's
 * latent vector (family-layers.ts, splitLatent). D_l is conditioned on the same u(x_{l-1}): it sees the pair
 * (u(x_{l-1}), x_l), equivalent to (u(x_{l-1}), h_l) since one determines the other (src/train/families.ts).
 *
 * Trained level by level (the paper: each G_l conditioned on the *real* x_{l-1}, ForwardOptions.real) or
 * jointly (every level through the generated chain, against D_L). Sampling always runs the chain from z.
 */
import * as tf from '@tensorflow/tfjs';
import { upsample2x } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import type { ForwardOptions, Learner } from './learner.js';
import { addBaseGenerator, addConv, baseGeneratorForward, convAct, latentSize, splitLatent, type LatentPart, type Vars } from './family-layers.js';

export interface LapganShape {
  resolutions: number[];
  imageChannels: number;
  zDim: number;
  /** Conv widths per level (level 1: the base generator's). */
  widths: number[];
  /** Channels of each conditional level's noise map (0: a deterministic G_l, as SRGAN's). */
  noiseChannels: number;
  /** Gain of the last conv of each residual generator (small: x_l starts near u(x_{l-1})). */
  residualGain?: number;
}

/** h_l = x_l - u(x_{l-1}) for l >= 2, x_1 first: the Laplacian pyramid of a pyramid (caller disposes). */
export function laplacianPyramid(xs: tf.Tensor4D[]): tf.Tensor4D[] {
  return xs.map((x, l) => (l === 0 ? x.clone() : tf.tidy(() => tf.sub(x, upsample2x(xs[l - 1])) as tf.Tensor4D)));
}

/** The pyramid x_1..x_L back from [x_1, h_2, ..., h_L]: x_l = u(x_{l-1}) + h_l (caller disposes). */
export function reconstructPyramid(lap: tf.Tensor4D[]): tf.Tensor4D[] {
  const out: tf.Tensor4D[] = [lap[0].clone()];
  for (let l = 1; l < lap.length; l++) out.push(tf.tidy(() => tf.add(upsample2x(out[l - 1]), lap[l]) as tf.Tensor4D));
  return out;
}

/** The latent vector's parts: z, then one noise map per conditional level. */
export function lapganLatent(s: LapganShape): LatentPart[] {
  return [{ name: 'z', shape: [s.zDim] }, ...(s.noiseChannels > 0 ? s.resolutions.slice(1).map((r) => ({ name: `n${r}`, shape: [r, r, s.noiseChannels] })) : [])];
}

/** Names of level l's (0-based) variables, for a stage's trained list. */
export function lapganLevelNames(vars: Vars, r: number): string[] {
  return [...vars.keys()].filter((n) => n.startsWith(`g.r${r}.`));
}

/** G's variables in a fixed order (level by level), drawn from rng. */
function lapganVars(s: LapganShape, rng: Rng): Vars {
  const vars: Vars = new Map();
  s.resolutions.forEach((r, l) => {
    const w = s.widths[l];
    if (l === 0) return addBaseGenerator(vars, rng, `g.r${r}`, r, s.zDim, w, s.imageChannels);
    addConv(vars, rng, `g.r${r}.c1`, 3, s.imageChannels + s.noiseChannels, w);
    addConv(vars, rng, `g.r${r}.c2`, 3, w, w);
    addConv(vars, rng, `g.r${r}.res`, 3, w, s.imageChannels, s.residualGain ?? 0.1);
  });
  return vars;
}

/** G_l's residual h_l from u(x_{l-1}) and its noise map (null without noise). */
function residual(vars: Vars, r: number, up: tf.Tensor4D, noise: tf.Tensor4D | null): tf.Tensor4D {
  return tf.tidy(() => {
    const input = noise ? (tf.concat([up, noise], 3) as tf.Tensor4D) : up;
    const h = convAct(vars, `g.r${r}.c2`, convAct(vars, `g.r${r}.c1`, input, 'relu'), 'relu');
    return convAct(vars, `g.r${r}.res`, h, 'linear');
  });
}

/**
 * The LAPGAN generator as a Learner. forward(z, upTo, { real }): with `real`, level upTo is generated from
 * the real x_{upTo-1} and the levels below are the real ones (copies); without, the chain from z.
 */
export function createLapganGenerator(s: LapganShape, rng: Rng): Learner {
  const vars = lapganVars(s, rng);
  const parts = lapganLatent(s);
  const total = latentSize(parts);
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [...s.widths], zDim: total, kernel: 3, patch: 1, imageChannels: s.imageChannels };
  const forward = (z: tf.Tensor4D, upTo = s.resolutions.length, opts: ForwardOptions = {}): GeneratorOutput => {
    if (z.rank !== 4 || z.shape[3] !== total) throw new Error(`lapgan: z must be [N,1,1,${total}], got [${z.shape}]`);
    const n = z.shape[0];
    const conditioned = opts.real !== undefined && upTo >= 2;
    const x: tf.Tensor4D[] = conditioned ? opts.real!.slice(0, upTo - 1).map((t) => t.clone()) : [];
    const first = conditioned ? upTo - 1 : 0;
    for (let l = first; l < upTo; l++) {
      const r = s.resolutions[l];
      x.push(
        tf.tidy(() => {
          const p = splitLatent(z, parts);
          if (l === 0) return baseGeneratorForward(vars, `g.r${r}`, r, p.z as tf.Tensor2D, s.widths[0]);
          const up = upsample2x(x[l - 1]);
          const noise = s.noiseChannels > 0 ? (p[`n${r}`] as tf.Tensor4D) : null;
          return tf.add(up, residual(vars, r, up, noise)) as tf.Tensor4D;
        }),
      );
      if (x[l].shape[0] !== n) throw new Error(`lapgan: the real batch has ${x[l].shape[0]} images for ${n} latents`);
    }
    return { s: [], x };
  };
  return { params: { shape, blocks: {} }, vars, forward };
}
