/**
 * The stacked GAN (StackGAN, Zhang et al. 2017; FashionGAN, Zhu et al. 2017: generation split into
 * stages), `generator.family = "stacked"` (docs/families.md). Two stages:
 *
 *   stage 1:  x_1 = G_1(z)                                         the unconditional GAN at r_1 (family-layers.ts)
 *   stage 2:  x_L = G_2(x_1, n)                                    from stage 1's *image* and fresh noise n [r_1, r_1, c]
 *             G_2: [x_1, n] -> conv3 -> ReLU -> (upsample2x -> conv3 -> ReLU) x (L - 1) -> conv3 -> tanh
 *
 * Stage 2 is trained after stage 1, with G_1 frozen; its D sees the pair (x_1, x_L) as
 * [u^{L-1}(x_1), x_L] (u: nearest 2x upsampling). The contrast with forward super-resolution: stage 2
 * builds on stage 1's image, not on its hidden features, so it isolates the paper's claim that the next
 * layer should build on hidden features. Levels between 1 and L are not generated; the forward pass puts
 * 2x2 average pools of x_L there (as the data's pyramid has), so that code indexing images by level
 * finds an image at every level.
 */
import * as tf from '@tensorflow/tfjs';
import { tanh, upsample2x } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import type { ForwardOptions, Learner } from './learner.js';
import { addBaseGenerator, addConv, baseGeneratorForward, convAct, latentSize, pooledLevels, splitLatent, upsampleTimes, type LatentPart, type Vars } from './family-layers.js';

export interface StackedShape {
  resolutions: number[];
  imageChannels: number;
  zDim: number;
  /** Widths of stage 1 and stage 2. */
  widths: [number, number];
  noiseChannels: number;
}

export function stackedLatent(s: StackedShape): LatentPart[] {
  return [{ name: 'z', shape: [s.zDim] }, ...(s.noiseChannels > 0 ? [{ name: 'n', shape: [s.resolutions[0], s.resolutions[0], s.noiseChannels] }] : [])];
}

/** Stage 1's variables are `g.s1.*`, stage 2's `g.s2.*`. */
export const stackedStageNames = (vars: Vars, stage: 1 | 2) => [...vars.keys()].filter((n) => n.startsWith(`g.s${stage}.`));

/** The stacked generator as a Learner; forward(z, upTo) makes x_1 (upTo 1) or every level (upTo > 1). */
export function createStackedGenerator(s: StackedShape, rng: Rng): Learner {
  const L = s.resolutions.length;
  const r1 = s.resolutions[0];
  const vars: Vars = new Map();
  addBaseGenerator(vars, rng, 'g.s1', r1, s.zDim, s.widths[0], s.imageChannels);
  const w = s.widths[1];
  addConv(vars, rng, 'g.s2.in', 3, s.imageChannels + s.noiseChannels, w);
  for (let i = 1; i < L; i++) addConv(vars, rng, `g.s2.up${i}`, 3, w, w);
  addConv(vars, rng, 'g.s2.rgb', 3, w, s.imageChannels, 1);
  const parts = stackedLatent(s);
  const total = latentSize(parts);
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [s.widths[0], ...s.resolutions.slice(1).map(() => w)], zDim: total, kernel: 3, patch: 1, imageChannels: s.imageChannels };
  const forward = (z: tf.Tensor4D, upTo = L, _opts?: ForwardOptions): GeneratorOutput => {
    if (z.rank !== 4 || z.shape[3] !== total) throw new Error(`stacked: z must be [N,1,1,${total}], got [${z.shape}]`);
    const x1 = tf.tidy(() => baseGeneratorForward(vars, 'g.s1', r1, splitLatent(z, parts).z as tf.Tensor2D, s.widths[0]));
    if (upTo <= 1) return { s: [], x: [x1] };
    const levels = tf.tidy(() => {
      const input = s.noiseChannels > 0 ? (tf.concat([x1, splitLatent(z, parts).n as tf.Tensor4D], 3) as tf.Tensor4D) : x1;
      let h = convAct(vars, 'g.s2.in', input, 'relu');
      for (let i = 1; i < L; i++) h = convAct(vars, `g.s2.up${i}`, upsample2x(h), 'relu');
      const xL = tanh(convAct(vars, 'g.s2.rgb', h, 'linear'));
      return pooledLevels(xL, L).slice(1);
    });
    const all = [x1, ...levels];
    tf.dispose(all.slice(upTo));
    return { s: [], x: all.slice(0, upTo) };
  };
  return { params: { shape, blocks: {} }, vars, forward };
}

/** Stage 2's D input: [u^{L-1}(x_1), x_L] along channels. */
export function stackedPairInput(xs: tf.Tensor4D[], l: number): tf.Tensor4D {
  return tf.tidy(() => tf.concat([upsampleTimes(xs[0], l), xs[l]], 3) as tf.Tensor4D);
}
