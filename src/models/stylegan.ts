/**
 * A StyleGAN-style generator (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for
 * Generative Adversarial Networks"), `generator.family = "stylegan"` (docs/families.md). z is mapped to an
 * intermediate latent w (the mapping network, src/models/layers/mapping-network.ts); the synthesis network
 * starts from a learned constant and is steered only through per-layer styles and noise:
 *
 *   w = f(z)                                    (families.stylegan.mappingLayers dense layers, lr x lrMul)
 *   side g0:  h = const [g0, g0, C_1]
 *   each side s = g0, 2 g0, ..., r_L, two layers a, b:
 *     a:  h = conv3(up2x(h))      (the first side: the constant itself)
 *     b:  h = conv3(h)
 *     after each:  h = AdaIN(lrelu(h + s_c n + bias), A(w))    (noise: layers/noise-input.ts; AdaIN: layers/adain.ts)
 *   x = rgb(h)                                   (1x1 conv, linear)
 *
 * A(w) = (y_s, y_b) is a learned affine map per layer (y_s's bias starts at 1); n is a per-pixel N(0, 1)
 * map per layer and image, scaled per channel by s_c (starting at 0). Modulation is **AdaIN** (StyleGAN 1),
 * not StyleGAN 2's weight demodulation. Every weight uses the equalised learning rate (He's constant at run
 * time, layers/equalized.ts). Style mixing: the layers of sides >= `from` take their styles from a second
 * latent's w (ForwardOptions.mix), which is what `fsrgan sample --mix-from` draws.
 *
 * fsrgan's latent vector holds z and every noise map (family-layers.ts, LatentPart), so the run's seed fixes
 * the noise as it fixes z. The discriminator is ProGAN's at its top resolution (progan.ts), as StyleGAN's.
 * Departures: no progressive growing (trained at the top resolution directly, as StyleGAN's later configs),
 * no style-mixing regularisation or truncation while training, bilinear filtering replaced by nearest
 * upsampling, and far smaller widths.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, upsample2x } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import type { ForwardOptions, Learner } from './learner.js';
import { ownVariable } from './learner.js';
import { baseGrid, latentSize, pooledLevels, splitLatent, type LatentPart, type Vars } from './family-layers.js';
import { heScale } from './layers/equalized.js';
import { adain } from './layers/adain.js';
import { addNoise } from './layers/noise-input.js';
import { createMapping, mappingForward, type MappingLayer } from './layers/mapping-network.js';

export interface StyleganShape {
  resolutions: number[];
  imageChannels: number;
  /** Dimension of z and of w. */
  zDim: number;
  /** C_l per level (C_1 also for the sides below r_1). */
  widths: number[];
  mappingLayers: number;
  /** The mapping network's learning-rate multiplier (the paper's 0.01). */
  lrMul: number;
}

const LEAK = 0.2;

/** The synthesis sides g0, 2 g0, ..., r_L. */
export function styleganSides(s: Pick<StyleganShape, 'resolutions'>): number[] {
  const out = [baseGrid(s.resolutions[0])];
  while (out[out.length - 1] < s.resolutions[s.resolutions.length - 1]) out.push(out[out.length - 1] * 2);
  return out;
}

const widthAt = (s: StyleganShape, side: number) => s.widths[Math.max(0, s.resolutions.indexOf(side))];

/** The latent layout: z, then one noise map per layer (`n<side>a`, `n<side>b`). */
export function styleganLatent(s: StyleganShape): LatentPart[] {
  return [{ name: 'z', shape: [s.zDim] }, ...styleganSides(s).flatMap((side) => ['a', 'b'].map((k) => ({ name: `n${side}${k}`, shape: [side, side, 1] })))];
}

const normalVar = (rng: Rng, shape: number[]) => ownVariable(tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1)), shape));

/** The mapping network's variables as vars entries `g.map<i>.w/b`. */
function mappingOf(vars: Vars, s: StyleganShape): MappingLayer[] {
  return Array.from({ length: s.mappingLayers }, (_, i) => ({ w: vars.get(`g.map${i}.w`)!, b: vars.get(`g.map${i}.b`)! }));
}

export function createStyleganGenerator(s: StyleganShape, rng: Rng): Learner {
  const vars: Vars = new Map();
  createMapping(rng, s.zDim, s.zDim, s.mappingLayers, s.lrMul).forEach((l, i) => vars.set(`g.map${i}.w`, l.w).set(`g.map${i}.b`, l.b));
  const sides = styleganSides(s);
  // The paper initialises the constant to ones.
  vars.set('g.const', ownVariable(tf.ones([1, sides[0], sides[0], widthAt(s, sides[0])])));
  sides.forEach((side, i) => {
    const c = widthAt(s, side);
    const cin = i === 0 ? c : widthAt(s, sides[i - 1]);
    for (const k of ['a', 'b']) {
      const p = `g.s${side}${k}`;
      if (!(i === 0 && k === 'a')) vars.set(`${p}.conv.w`, normalVar(rng, [3, 3, k === 'a' ? cin : c, c]));
      vars.set(`${p}.b`, ownVariable(tf.zeros([c])));
      vars.set(`${p}.noise`, ownVariable(tf.zeros([c])));
      vars.set(`${p}.style.w`, normalVar(rng, [s.zDim, 2 * c]));
      vars.set(`${p}.style.b`, ownVariable(tf.concat([tf.ones([c]), tf.zeros([c])])));
    }
  });
  const top = widthAt(s, sides[sides.length - 1]);
  vars.set('g.rgb.w', normalVar(rng, [1, 1, top, s.imageChannels])).set('g.rgb.b', ownVariable(tf.zeros([s.imageChannels])));
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [...s.widths], zDim: latentSize(styleganLatent(s)), kernel: 3, patch: 1, imageChannels: s.imageChannels };
  const forward = (z: tf.Tensor4D, _upTo?: number, opts: ForwardOptions = {}): GeneratorOutput => {
    const { x, features } = styleganSynthesize(vars, s, z, { mix: opts.mix });
    tf.dispose(features);
    return { s: [], x: tf.tidy(() => pooledLevels(x, s.resolutions.length)) };
  };
  return { params: { shape, blocks: {} }, vars, forward };
}

/** w [N, zDim] of latent vectors z [N,1,1,total]. */
export function styleganW(vars: Vars, s: StyleganShape, z: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => mappingForward(mappingOf(vars, s), splitLatent(z, styleganLatent(s)).z as tf.Tensor2D, s.lrMul));
}

/**
 * The image [N,r_L,r_L,C] and the features after each side's block, for latents z [N,1,1,total] (from
 * their z part and noise maps); `mix`: styles of the sides >= from come from mix.z's w (its noise unused).
 */
export function styleganSynthesize(vars: Vars, s: StyleganShape, z: tf.Tensor4D, opts: { mix?: { z: tf.Tensor4D; from: number } } = {}): { x: tf.Tensor4D; features: tf.Tensor4D[] } {
  const total = latentSize(styleganLatent(s));
  if (z.rank !== 4 || z.shape[3] !== total) throw new Error(`stylegan: z must be [N,1,1,${total}], got [${z.shape}]`);
  const features: tf.Tensor4D[] = [];
  const x = tf.tidy(() => {
    const n = z.shape[0];
    const parts = splitLatent(z, styleganLatent(s));
    const w1 = styleganW(vars, s, z);
    const w2 = opts.mix ? styleganW(vars, s, opts.mix.z) : w1;
    const sides = styleganSides(s);
    const eq = (name: string, fanIn: number, gain = Math.SQRT2) => tf.mul(vars.get(name)!, heScale(fanIn, gain));
    const epilogue = (h: tf.Tensor4D, side: number, k: string) => {
      const p = `g.s${side}${k}`;
      const c = h.shape[3];
      const noisy = addNoise(h, parts[`n${side}${k}`] as tf.Tensor4D, vars.get(`${p}.noise`)!);
      const act = tf.leakyRelu(tf.add(noisy, vars.get(`${p}.b`)!), LEAK) as tf.Tensor4D;
      const wl = opts.mix && side >= opts.mix.from ? w2 : w1;
      const style = tf.add(tf.matMul(wl, eq(`${p}.style.w`, s.zDim, 1) as tf.Tensor2D), vars.get(`${p}.style.b`)!) as tf.Tensor2D;
      return adain(act, tf.slice(style, [0, 0], [n, c]), tf.slice(style, [0, c], [n, c]));
    };
    let h = tf.tile(vars.get('g.const')!, [n, 1, 1, 1]) as tf.Tensor4D;
    sides.forEach((side, i) => {
      if (i > 0) {
        const wa = vars.get(`g.s${side}a.conv.w`)!;
        h = conv2d(upsample2x(h), eq(`g.s${side}a.conv.w`, 9 * wa.shape[2]!) as tf.Tensor4D, 1, 'same');
      }
      h = epilogue(h, side, 'a');
      const wb = vars.get(`g.s${side}b.conv.w`)!;
      h = epilogue(conv2d(h, eq(`g.s${side}b.conv.w`, 9 * wb.shape[2]!) as tf.Tensor4D, 1, 'same'), side, 'b');
      features.push(tf.keep(h.clone()));
    });
    const wr = vars.get('g.rgb.w')!;
    return tf.add(conv2d(h, eq('g.rgb.w', wr.shape[2]!, 1) as tf.Tensor4D, 1, 'same'), vars.get('g.rgb.b')!) as tf.Tensor4D;
  });
  return { x, features };
}
