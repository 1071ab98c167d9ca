/**
 * The DCGAN model family (Radford et al. 2016), `generator.family = "dcgan"` (docs/training.md): the
 * comparison network of `fsrgan bench train` and `bench quality`, trained by the same trainer step as the
 * FSR learner. Minimal: one resolution, no EMA, no penalty needing second derivatives (its ops are fsrgan's
 * fused ones, differentiable once).
 *
 *   G: z -> dense -> [g, g, c_1] -> BN, ReLU -> (deconv k4 s2 -> BN, ReLU) for c_2..c_k -> deconv k4 s2 -> 3, tanh
 *   D: (conv k4 s2 'same' -> [BN] -> leaky ReLU) for each width (BN from the second on) -> flatten -> dense -> 1
 *
 * with g = r / 2^k. Weights ~ N(0, 1/fan_in), BN scale 1 and shift 0, no biases (BN follows every linear
 * layer but the last of each network). `dcganLayers` writes the same networks as the layer list of
 * src/bench/arch.ts, from which bench/torch_twin.py builds PyTorch's identical copy.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNorm, biasAct, conv2d, deconv2d, dense } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { Discriminator } from './discriminator.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import { ownVariable, type Learner } from './learner.js';
import { pooledLevels } from './family-layers.js';

export interface DcganShape {
  /** Image side r (a multiple of 2^gWidths.length) and channels. */
  resolution: number;
  /**
   * The data's pyramid (ending at `resolution`): G's output is the top level and its 2x2 average pools the
   * levels below, so that code indexing images by level (the step, sample grids, measurements) finds an
   * image of the right size at every level; only the top one is trained.
   */
  resolutions: number[];
  imageChannels: number;
  zDim: number;
  /** G's hidden widths c_1..c_k (c_1 at the dense layer's grid). */
  gWidths: number[];
  /** D's conv widths. */
  dWidths: number[];
  /** D's leaky ReLU slope. */
  leak: number;
}

const BN_EPS = 1e-5;

/** Problems with a DCGAN shape, as sentences naming the config fields (empty when valid). */
export function dcganProblems(s: DcganShape): string[] {
  const p: string[] = [];
  const k = s.gWidths.length;
  if (k < 1) p.push('generator.channels needs at least one width for a dcgan generator');
  if (s.dWidths.length < 1) p.push('discriminator.widths needs at least one width');
  if (k >= 1 && (s.resolution % 2 ** k !== 0 || s.resolution / 2 ** k < 1)) p.push(`the dcgan generator doubles ${k} times, so its resolution (${s.resolution}) must be a multiple of ${2 ** k}`);
  if (s.resolution % 2 ** s.dWidths.length !== 0) p.push(`the dcgan discriminator halves ${s.dWidths.length} times, so the resolution (${s.resolution}) must be a multiple of ${2 ** s.dWidths.length}`);
  return p;
}

/** G's variable names in creation order. */
export function dcganGeneratorNames(s: DcganShape): string[] {
  return ['g.dense.w', ...s.gWidths.flatMap((_, i) => [...(i > 0 ? [`g.deconv${i + 1}.w`] : []), `g.bn${i + 1}.gamma`, `g.bn${i + 1}.beta`]), 'g.out.w'];
}

const normal = (rng: Rng, shape: number[], fanIn: number) => ownVariable(tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1), 1 / Math.sqrt(fanIn)), shape));
const filled = (v: number, c: number) => ownVariable(tf.fill([c], v));

/** G as a Learner (its forward is this family's); the shape fields FSR code reads say zDim and the image. */
export function createDcganGenerator(s: DcganShape, rng: Rng): Learner {
  const vars = new Map<string, tf.Variable>();
  const k = s.gWidths.length;
  const g = s.resolution / 2 ** k;
  vars.set('g.dense.w', normal(rng, [s.zDim, g * g * s.gWidths[0]], s.zDim));
  s.gWidths.forEach((c, i) => {
    // A stride-2 k4 transposed convolution feeds each output from about (k/s)^2 = 4 input positions.
    if (i > 0) vars.set(`g.deconv${i + 1}.w`, normal(rng, [4, 4, c, s.gWidths[i - 1]], 4 * s.gWidths[i - 1]));
    vars.set(`g.bn${i + 1}.gamma`, filled(1, c));
    vars.set(`g.bn${i + 1}.beta`, filled(0, c));
  });
  vars.set('g.out.w', normal(rng, [4, 4, s.imageChannels, s.gWidths[k - 1]], 4 * s.gWidths[k - 1]));
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [...s.gWidths], zDim: s.zDim, kernel: 4, patch: 1, imageChannels: s.imageChannels };
  const v = (n: string) => vars.get(n)!;
  const forward = (z: tf.Tensor4D): GeneratorOutput => {
    const x = tf.tidy(() => {
      let h = dense(z.reshape([z.shape[0], s.zDim]) as tf.Tensor2D, v('g.dense.w') as tf.Tensor2D).reshape([z.shape[0], g, g, s.gWidths[0]]) as tf.Tensor4D;
      for (let i = 0; i < k; i++) {
        if (i > 0) h = deconv2d(h, v(`g.deconv${i + 1}.w`) as tf.Tensor4D, 2, 'same');
        h = biasAct(batchNorm(h, v(`g.bn${i + 1}.gamma`) as tf.Tensor1D, v(`g.bn${i + 1}.beta`) as tf.Tensor1D, BN_EPS), null, 'relu');
      }
      return tf.tanh(deconv2d(h, v('g.out.w') as tf.Tensor4D, 2, 'same')) as tf.Tensor4D;
    });
    // Below the top: its 2x2 average pools, as the data's pyramid has (the measurements compare level by level).
    return { s: [], x: tf.tidy(() => pooledLevels(x, s.resolutions.length)) };
  };
  return { params: { shape, blocks: {} }, vars, forward };
}

/** D for images of the shape's resolution, named like every D of a run (`d.r<r>.*`). */
export function createDcganDiscriminator(s: DcganShape, rng: Rng): Discriminator {
  const name = `d.r${s.resolution}`;
  const vars = new Map<string, tf.Variable>();
  let cin = s.imageChannels;
  s.dWidths.forEach((c, i) => {
    vars.set(`${name}.l${i + 1}.w`, normal(rng, [4, 4, cin, c], 16 * cin));
    if (i > 0) vars.set(`${name}.bn${i + 1}.gamma`, filled(1, c)).set(`${name}.bn${i + 1}.beta`, filled(0, c));
    cin = c;
  });
  const grid = s.resolution / 2 ** s.dWidths.length;
  const features = grid * grid * cin;
  vars.set(`${name}.head.w`, normal(rng, [features, 1], features));
  const v = (n: string) => vars.get(n)!;
  const forward = (x: tf.Tensor4D): tf.Tensor1D =>
    tf.tidy(() => {
      let h = x;
      s.dWidths.forEach((_, i) => {
        h = conv2d(h, v(`${name}.l${i + 1}.w`) as tf.Tensor4D, 2, 'same');
        if (i > 0) h = batchNorm(h, v(`${name}.bn${i + 1}.gamma`) as tf.Tensor1D, v(`${name}.bn${i + 1}.beta`) as tf.Tensor1D, BN_EPS);
        h = biasAct(h, null, 'lrelu', { alpha: s.leak });
      });
      return dense(h.reshape([h.shape[0], features]) as tf.Tensor2D, v(`${name}.head.w`) as tf.Tensor2D).reshape([-1]) as tf.Tensor1D;
    });
  return {
    resolution: s.resolution, inputSize: s.resolution, input: 'single', imageChannels: s.imageChannels, patch: 1, leak: s.leak, powerIterations: 0,
    convs: [], head: { w: v(`${name}.head.w`), b: v(`${name}.head.w`), u: null, v: null, stride: 1, pad: 'valid' }, vars, state: new Map(), forward,
  };
}

/** The layer list of src/bench/arch.ts for both networks (what bench/torch_twin.py builds). */
export function dcganLayers(s: DcganShape): { G: unknown[]; D: unknown[] } {
  const k = s.gWidths.length;
  const g = s.resolution / 2 ** k;
  const G: unknown[] = [{ op: 'dense', cin: s.zDim, cout: g * g * s.gWidths[0] }, { op: 'reshape', shape: [g, g, s.gWidths[0]] }];
  s.gWidths.forEach((c, i) => {
    if (i > 0) G.push({ op: 'deconv', cin: s.gWidths[i - 1], cout: c, k: 4, s: 2, pad: 'same' });
    G.push({ op: 'bn', c }, { op: 'relu' });
  });
  G.push({ op: 'deconv', cin: s.gWidths[k - 1], cout: s.imageChannels, k: 4, s: 2, pad: 'same' }, { op: 'tanh' });
  const D: unknown[] = [];
  let cin = s.imageChannels;
  s.dWidths.forEach((c, i) => {
    D.push({ op: 'conv', cin, cout: c, k: 4, s: 2, pad: 'same' }, ...(i > 0 ? [{ op: 'bn', c }] : []), { op: 'lrelu', alpha: s.leak });
    cin = c;
  });
  const grid = s.resolution / 2 ** s.dWidths.length;
  D.push({ op: 'flatten' }, { op: 'dense', cin: grid * grid * cin, cout: 1 });
  return { G, D };
}
