/**
 * ProGAN (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality,
 * Stability, and Variation"), `generator.family = "progan"` (docs/families.md). G and D grow from r_1 to r_L,
 * one resolution per stage; every layer stays trainable. At stage l >= 2 the new blocks fade in:
 *
 *   G:    x_l = alpha * rgb_l(B_l(h_{l-1})) + (1 - alpha) * u(rgb_{l-1}(h_{l-1}))
 *   D:    f   = alpha * B^D_l(from_l(x)) + (1 - alpha) * from_{l-1}(pool(x)),  then the blocks below
 *   real: x   = alpha * x_l + (1 - alpha) * u(x_{l-1})                           (fadeReal; the same blend)
 *
 * u: nearest 2x upsampling; pool: 2x2 average. alpha ramps 0 -> 1 linearly over the first
 * families.progan.fade of the stage's steps, then stays 1 (src/train/stages.ts, fadeAlpha). So alpha = 0
 * is the previous resolution's network (output upsampled, input pooled) and alpha = 1 the new block alone.
 *
 *   G block 1:  pixnorm(z) -> dense -> [g0, g0, C_1] -> lrelu, pixnorm -> conv3 -> lrelu, pixnorm
 *               -> (upsample2x -> conv3 -> lrelu, pixnorm -> conv3 -> lrelu, pixnorm) until r_1
 *   G block l:  upsample2x -> conv3 -> lrelu, pixnorm -> conv3 -> lrelu, pixnorm     (C_l channels)
 *   rgb_l:      1x1 conv -> image channels (linear, gain 1)
 *   D from_l:   1x1 conv -> C_l, lrelu
 *   D block l:  conv3 -> lrelu -> conv3 (C_{l-1}) -> lrelu -> pool
 *   D block 1:  minibatch stddev -> conv3 -> lrelu -> (conv3 -> lrelu -> pool) until g0 -> dense C_1 -> lrelu -> dense 1
 *
 * with g0 = min(4, r_1), leaky slope 0.2, D's widths mirroring G's (generator.channels). Pixel norm,
 * minibatch standard deviation and the equalised learning rate (weights stored N(0, 1), scaled at run time
 * by He's constant) are src/models/layers/. D uses only ops that are differentiable twice (WGAN-GP, the
 * paper's objective; its drift term is objective.drift).
 */
import * as tf from '@tensorflow/tfjs';
import { biasAct, conv2d, dense, upsample2x } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { Discriminator } from './discriminator.js';
import { leaky } from './discriminator.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import type { ForwardOptions, Learner } from './learner.js';
import { ownVariable } from './learner.js';
import { avgPool2x, baseGrid, pooledLevels, type Vars } from './family-layers.js';
import { pixelNorm } from './layers/pixel-norm.js';
import { minibatchStddev } from './layers/minibatch-stddev.js';
import { heScale } from './layers/equalized.js';

export interface ProganShape {
  resolutions: number[];
  imageChannels: number;
  zDim: number;
  /** C_l per level, for G and (mirrored) D. */
  widths: number[];
  /** Minibatch stddev group size. */
  group: number;
}

const LEAK = 0.2;

/** Weights stored N(0, 1) with their run-time scale (equalised learning rate). */
interface EqLayer {
  scale: number;
}

function eqVar(vars: Vars, scales: Map<string, EqLayer>, rng: Rng, name: string, shape: number[], fanIn: number, gain = Math.SQRT2): void {
  vars.set(`${name}.w`, ownVariable(tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1)), shape)));
  vars.set(`${name}.b`, ownVariable(tf.zeros([shape[shape.length - 1]])));
  scales.set(name, { scale: heScale(fanIn, gain) });
}

const eqConvVar = (vars: Vars, scales: Map<string, EqLayer>, rng: Rng, name: string, k: number, cin: number, cout: number, gain = Math.SQRT2) =>
  eqVar(vars, scales, rng, name, [k, k, cin, cout], k * k * cin, gain);

/** One equalised conv (stride 1, same) + bias [+ lrelu]: G's version, on fsrgan's fused ops. */
function gConv(vars: Vars, scales: Map<string, EqLayer>, name: string, x: tf.Tensor4D, act: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const w = tf.mul(vars.get(`${name}.w`)!, scales.get(name)!.scale) as tf.Tensor4D;
    return biasAct(conv2d(x, w, 1, 'same'), vars.get(`${name}.b`) as tf.Tensor1D, act ? 'lrelu' : 'linear', { alpha: LEAK });
  });
}

/** D's version: plain differentiable-twice ops (conv2d of src/ops, tf.add, leaky). */
function dConv(vars: Vars, scales: Map<string, EqLayer>, name: string, x: tf.Tensor4D, act: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const w = tf.mul(vars.get(`${name}.w`)!, scales.get(name)!.scale) as tf.Tensor4D;
    const h = tf.add(conv2d(x, w, 1, 'same'), vars.get(`${name}.b`)!) as tf.Tensor4D;
    return act ? leaky(h, LEAK) : h;
  });
}

/** Upsampling doublings inside block 1 (from g0 to r_1). */
const doublings = (r1: number) => Math.round(Math.log2(r1 / baseGrid(r1)));

/** G's variables of level l (0-based): block and rgb head; stage l trains blocks <= l and rgb_l, rgb_{l-1}. */
export function proganStageNames(s: ProganShape, vars: Vars, l: number): string[] {
  const blocks = s.resolutions.slice(0, l + 1).map((r) => `g.r${r}.`);
  const rgbs = s.resolutions.slice(Math.max(0, l - 1), l + 1).map((r) => `g.rgb${r}.`);
  return [...vars.keys()].filter((n) => blocks.some((b) => n.startsWith(b)) || rgbs.some((b) => n.startsWith(b)));
}

export function createProganGenerator(s: ProganShape, rng: Rng): Learner {
  const vars: Vars = new Map();
  const scales = new Map<string, EqLayer>();
  const r1 = s.resolutions[0];
  const g0 = baseGrid(r1);
  const c1 = s.widths[0];
  // The 4x4 dense layer's gain sqrt(2)/4 is the official code's (its fan-out is 16 positions).
  eqVar(vars, scales, rng, `g.r${r1}.dense`, [s.zDim, g0 * g0 * c1], s.zDim, Math.SQRT2 / 4);
  eqConvVar(vars, scales, rng, `g.r${r1}.c0`, 3, c1, c1);
  for (let i = 1; i <= doublings(r1); i++) {
    eqConvVar(vars, scales, rng, `g.r${r1}.up${i}a`, 3, c1, c1);
    eqConvVar(vars, scales, rng, `g.r${r1}.up${i}b`, 3, c1, c1);
  }
  s.resolutions.forEach((r, l) => {
    if (l > 0) {
      eqConvVar(vars, scales, rng, `g.r${r}.a`, 3, s.widths[l - 1], s.widths[l]);
      eqConvVar(vars, scales, rng, `g.r${r}.b`, 3, s.widths[l], s.widths[l]);
    }
    eqConvVar(vars, scales, rng, `g.rgb${r}`, 1, s.widths[l], s.imageChannels, 1);
  });
  const pn = pixelNorm;
  const block = (l: number, h: tf.Tensor4D): tf.Tensor4D =>
    tf.tidy(() => {
      const r = s.resolutions[l];
      if (l > 0) return pn(gConv(vars, scales, `g.r${r}.b`, pn(gConv(vars, scales, `g.r${r}.a`, upsample2x(h), true)), true));
      const n = h.shape[0];
      const z = pn(h.reshape([n, s.zDim])) as tf.Tensor2D;
      const d = dense(z, tf.mul(vars.get(`g.r${r}.dense.w`)!, scales.get(`g.r${r}.dense`)!.scale) as tf.Tensor2D);
      let x = pn(biasAct(d, vars.get(`g.r${r}.dense.b`) as tf.Tensor1D, 'lrelu', { alpha: LEAK }).reshape([n, g0, g0, c1]) as tf.Tensor4D);
      x = pn(gConv(vars, scales, `g.r${r}.c0`, x, true));
      for (let i = 1; i <= doublings(r1); i++) {
        x = pn(gConv(vars, scales, `g.r${r}.up${i}a`, upsample2x(x), true));
        x = pn(gConv(vars, scales, `g.r${r}.up${i}b`, x, true));
      }
      return x;
    });
  const rgb = (l: number, h: tf.Tensor4D) => gConv(vars, scales, `g.rgb${s.resolutions[l]}`, h, false);
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [...s.widths], zDim: s.zDim, kernel: 3, patch: 1, imageChannels: s.imageChannels };
  const forward = (z: tf.Tensor4D, upTo = s.resolutions.length, opts: ForwardOptions = {}): GeneratorOutput => {
    if (z.rank !== 4 || z.shape[3] !== s.zDim) throw new Error(`progan: z must be [N,1,1,${s.zDim}], got [${z.shape}]`);
    const alpha = opts.alpha ?? 1;
    const top = tf.tidy(() => {
      let h: tf.Tensor4D = z;
      let prev: tf.Tensor4D | null = null;
      for (let l = 0; l < upTo; l++) {
        prev = h;
        h = block(l, h);
      }
      const x = rgb(upTo - 1, h);
      if (upTo < 2 || alpha >= 1) return x;
      return tf.add(tf.mul(alpha, x), tf.mul(1 - alpha, upsample2x(rgb(upTo - 2, prev!)))) as tf.Tensor4D;
    });
    // Lower levels: 2x2 average pools of the top image, as the data's pyramid (only the top is trained).
    return { s: [], x: tf.tidy(() => pooledLevels(top, upTo)) };
  };
  return { params: { shape, blocks: {} }, vars, forward };
}

/** ProGAN's real-image blend at stage `level` (1-based): alpha x_l + (1 - alpha) u(x_{l-1}) in place of x_l. */
export function fadeReal(xs: tf.Tensor4D[], level: number, alpha: number): tf.Tensor4D[] {
  const out = xs.slice(0, level).map((x) => x.clone());
  if (level < 2 || alpha >= 1) return out;
  const blended = tf.tidy(() => tf.add(tf.mul(alpha, xs[level - 1]), tf.mul(1 - alpha, upsample2x(xs[level - 2]))) as tf.Tensor4D);
  out[level - 1].dispose();
  out[level - 1] = blended;
  return out;
}

/**
 * ProGAN's D, one object per stage (level l = 1..L) sharing one set of variables (`d.*`); each stage's
 * object lists the variables it uses (its optimiser trains them all). forward(x, { alpha }) as above.
 */
export function createProganDiscriminators(s: ProganShape, rng: Rng): Map<number, Discriminator> {
  const vars: Vars = new Map();
  const scales = new Map<string, EqLayer>();
  const L = s.resolutions.length;
  const r1 = s.resolutions[0];
  const g0 = baseGrid(r1);
  const c1 = s.widths[0];
  s.resolutions.forEach((r, l) => {
    eqConvVar(vars, scales, rng, `d.from${r}`, 1, s.imageChannels, s.widths[l]);
    if (l > 0) {
      eqConvVar(vars, scales, rng, `d.r${r}.a`, 3, s.widths[l], s.widths[l]);
      eqConvVar(vars, scales, rng, `d.r${r}.b`, 3, s.widths[l], s.widths[l - 1]);
    }
  });
  eqConvVar(vars, scales, rng, `d.r${r1}.c0`, 3, c1 + 1, c1);
  for (let i = 1; i <= doublings(r1); i++) eqConvVar(vars, scales, rng, `d.r${r1}.down${i}`, 3, c1, c1);
  eqVar(vars, scales, rng, `d.r${r1}.fc`, [g0 * g0 * c1, c1], g0 * g0 * c1);
  eqVar(vars, scales, rng, `d.r${r1}.out`, [c1, 1], c1, 1);
  const from = (l: number, x: tf.Tensor4D) => dConv(vars, scales, `d.from${s.resolutions[l]}`, x, true);
  const denseEq = (name: string, x: tf.Tensor2D) =>
    tf.add(tf.matMul(x, tf.mul(vars.get(`${name}.w`)!, scales.get(name)!.scale) as tf.Tensor2D), vars.get(`${name}.b`)!) as tf.Tensor2D;
  const block = (l: number, h: tf.Tensor4D): tf.Tensor4D =>
    tf.tidy(() => {
      const r = s.resolutions[l];
      if (l > 0) return avgPool2x(dConv(vars, scales, `d.r${r}.b`, dConv(vars, scales, `d.r${r}.a`, h, true), true));
      let x = dConv(vars, scales, `d.r${r}.c0`, minibatchStddev(h, s.group), true);
      for (let i = 1; i <= doublings(r1); i++) x = avgPool2x(dConv(vars, scales, `d.r${r}.down${i}`, x, true));
      const f = leaky(denseEq(`d.r${r}.fc`, x.reshape([x.shape[0], g0 * g0 * c1]) as tf.Tensor2D), LEAK);
      return denseEq(`d.r${r}.out`, f).reshape([-1, 1, 1, 1]) as tf.Tensor4D;
    });
  const discs = new Map<number, Discriminator>();
  s.resolutions.forEach((r, l) => {
    const forward = (x: tf.Tensor4D, opts: { alpha?: number } = {}): tf.Tensor1D =>
      tf.tidy(() => {
        const alpha = opts.alpha ?? 1;
        let h = block(l, from(l, x));
        if (l > 0 && alpha < 1) h = tf.add(tf.mul(alpha, h), tf.mul(1 - alpha, from(l - 1, avgPool2x(x)))) as tf.Tensor4D;
        for (let k = l - 1; k >= 0; k--) h = block(k, h);
        return h.reshape([-1]) as tf.Tensor1D;
      });
    const used = [...vars.keys()].filter((n) => {
      const m = /^d\.(?:from|r)(\d+)/.exec(n);
      const res = m ? Number(m[1]) : 0;
      return res <= r && (!n.startsWith('d.from') || res >= s.resolutions[Math.max(0, l - 1)]);
    });
    const v = new Map(used.map((n) => [n, vars.get(n)!]));
    const head = vars.get(`d.r${r1}.out.w`)!;
    discs.set(r, {
      resolution: r, inputSize: r, input: 'single', imageChannels: s.imageChannels, patch: 1, leak: LEAK, powerIterations: 0,
      convs: [], head: { w: head, b: head, u: null, v: null, stride: 1, pad: 'valid' }, vars: v, state: new Map(), forward,
    });
  });
  if (discs.size !== L) throw new Error('progan: resolutions must be distinct');
  return discs;
}
