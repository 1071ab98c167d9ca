/**
 * SAGAN (Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial Networks"),
 * `generator.family = "sagan"` (docs/families.md): a convolutional G and D with a self-attention block
 * (src/models/layers/self-attention.ts) at a chosen feature resolution in each, spectral normalisation on
 * every weight of both (section 4.1; src/models/layers/spectral-norm.ts; families.sagan.spectralNorm) and, as the paper's defaults, the
 * hinge loss and TTUR (lr_D 4e-4, lr_G 1e-4, Adam beta 0 / 0.9; the `sagan` preset). Trained end to end at
 * the top resolution; its lower "levels" are 2x2 pools of its output, as DCGAN's.
 *
 *   G: z -> dense -> [g0, g0, C_1] -> ReLU, pixnorm -> (up2x -> conv3 -> ReLU, pixnorm) until r_1 (C_1)
 *        -> for each level l >= 2: up2x -> conv3 (C_l) -> ReLU, pixnorm
 *        [attention after the layer whose output side is families.sagan.attentionG]
 *        -> conv3 -> image channels -> tanh
 *   D: x -> (conv4 stride 2 -> leaky ReLU 0.1) per discriminator.widths
 *        [attention after the conv whose output side is families.sagan.attentionD] -> flatten -> dense -> 1
 *
 * g0 = min(4, r_1); weights He-initialised, biases 0, the attention's gamma 0. Departures from the paper:
 * plain conv blocks where it has residual blocks, pixel norm where its G has (conditional) batch norm (so
 * an image does not depend on its batch), unconditional, and far smaller widths.
 */
import * as tf from '@tensorflow/tfjs';
import { biasAct, conv2d, dense, tanh, upsample2x } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import type { Discriminator } from './discriminator.js';
import { leaky } from './discriminator.js';
import type { GeneratorOutput, GeneratorShape } from './generator.js';
import type { Learner } from './learner.js';
import { baseGrid, heVar, pooledLevels, zeroVar, type Vars } from './family-layers.js';
import { pixelNorm } from './layers/pixel-norm.js';
import { attentionMap, attentionWidths, selfAttention, type AttentionWeights } from './layers/self-attention.js';
import { snIterate, snVectors, snWeight } from './layers/spectral-norm.js';

export interface SaganShape {
  resolutions: number[];
  imageChannels: number;
  zDim: number;
  /** G's width C_l per level (C_1 also below r_1). */
  widths: number[];
  /** D's conv widths (each halves the side). */
  dWidths: number[];
  /** Feature side of G's / D's attention block (0 = none). */
  attentionG: number;
  attentionD: number;
  spectralNormG: boolean;
  spectralNormD: boolean;
}

const D_LEAK = 0.1;

/** The feature sides of G's layers in order (dense grid, each doubling, each level above r_1). */
export function saganGSides(s: Pick<SaganShape, 'resolutions'>): number[] {
  const out = [baseGrid(s.resolutions[0])];
  while (out[out.length - 1] < s.resolutions[s.resolutions.length - 1]) out.push(out[out.length - 1] * 2);
  return out;
}

/** The feature sides after each of D's convs. */
export function saganDSides(s: Pick<SaganShape, 'resolutions' | 'dWidths'>): number[] {
  let r = s.resolutions[s.resolutions.length - 1];
  return s.dWidths.map(() => (r = Math.ceil(r / 2)));
}

/** Problems with a shape, naming the config fields (empty when valid). */
export function saganProblems(s: SaganShape): string[] {
  const p: string[] = [];
  const g = saganGSides(s);
  const d = saganDSides(s);
  if (s.attentionG !== 0 && !g.includes(s.attentionG)) p.push(`config.families.sagan.attentionG = ${s.attentionG} is not a side of G's features (${g.join(', ')}; 0 = no attention in G).`);
  if (s.attentionD !== 0 && !d.includes(s.attentionD)) p.push(`config.families.sagan.attentionD = ${s.attentionD} is not a side of D's features after its convs (${d.join(', ')}; 0 = no attention in D).`);
  return p;
}

/** Weights of a network: the variables, with spectral-norm vectors for each normalised weight. */
class Net {
  readonly vars: Vars = new Map();
  readonly state: Vars = new Map();
  private readonly normed: string[] = [];
  constructor(private readonly rng: Rng, private readonly sn: boolean, private readonly stateInVars: boolean) {}

  /** A weight `name` (He init) and, unless `noBias`, its bias; spectral-normalised when on. */
  weight(name: string, shape: number[], fanIn: number, bias: boolean): void {
    const w = heVar(this.rng, shape, fanIn);
    this.vars.set(`${name}.w`, w);
    if (bias) this.vars.set(`${name}.b`, zeroVar([shape[shape.length - 1]]));
    if (!this.sn) return;
    const { u, v } = snVectors(w, this.rng);
    // G keeps them among its variables (checkpointed with G; no stage trains them), D in its state.
    (this.stateInVars ? this.vars : this.state).set(`${name}.sn.u`, u).set(`${name}.sn.v`, v);
    this.normed.push(name);
  }

  attention(name: string, c: number): void {
    const wd = attentionWidths(c);
    this.weight(`${name}.q`, [c, wd.qk], c, false);
    this.weight(`${name}.k`, [c, wd.qk], c, false);
    this.weight(`${name}.h`, [c, wd.h], c, false);
    this.weight(`${name}.o`, [wd.h, c], wd.h, false);
    this.vars.set(`${name}.gamma`, zeroVar([1]));
  }

  /** One power iteration on every normalised weight (before each update, as Miyato et al.). */
  iterate(iterations = 1): void {
    const all = (n: string) => this.vars.get(n) ?? this.state.get(n)!;
    for (const n of this.normed) snIterate(this.vars.get(`${n}.w`)!, { u: all(`${n}.sn.u`), v: all(`${n}.sn.v`) }, iterations);
  }
}

/** The weight W (or W / sigma) of layer `name` from vars and state. */
function w(vars: Vars, name: string, state: Vars = vars): tf.Tensor {
  const u = state.get(`${name}.sn.u`);
  const raw = vars.get(`${name}.w`)!;
  return u ? snWeight(raw, { u, v: state.get(`${name}.sn.v`)! }) : raw;
}

function attentionWeights(vars: Vars, name: string, state: Vars = vars): AttentionWeights {
  const m = (k: string) => w(vars, `${name}.${k}`, state) as tf.Tensor2D;
  return { q: m('q'), k: m('k'), h: m('h'), o: m('o'), gamma: vars.get(`${name}.gamma`)! };
}

/** G's layer names with their widths: `g.c<i>` for the feature side i-th in saganGSides. */
function gLayers(s: SaganShape): { side: number; cin: number; cout: number }[] {
  const sides = saganGSides(s);
  const width = (side: number) => s.widths[Math.max(0, s.resolutions.indexOf(side))];
  return sides.slice(1).map((side, i) => ({ side, cin: width(sides[i]), cout: width(side) }));
}

export function createSaganGenerator(s: SaganShape, rng: Rng): Learner {
  const net = new Net(rng, s.spectralNormG, true);
  const g0 = baseGrid(s.resolutions[0]);
  const c1 = s.widths[0];
  net.weight('g.dense', [s.zDim, g0 * g0 * c1], s.zDim, true);
  if (s.attentionG === g0) net.attention('g.attn', c1);
  for (const l of gLayers(s)) {
    net.weight(`g.c${l.side}`, [3, 3, l.cin, l.cout], 9 * l.cin, true);
    if (s.attentionG === l.side) net.attention('g.attn', l.cout);
  }
  const cTop = s.widths[s.widths.length - 1];
  net.weight('g.rgb', [3, 3, cTop, s.imageChannels], 9 * cTop, true);
  const shape: GeneratorShape = { resolutions: [...s.resolutions], channels: [...s.widths], zDim: s.zDim, kernel: 3, patch: 1, imageChannels: s.imageChannels };
  const forward = (z: tf.Tensor4D): GeneratorOutput => {
    const x = saganGenerate(net.vars, s, z).x;
    return { s: [], x: tf.tidy(() => pooledLevels(x, s.resolutions.length)) };
  };
  return { params: { shape, blocks: {} }, vars: net.vars, forward, iterate: () => net.iterate() };
}

/**
 * G's image [N,r,r,C] for z [N,1,1,zDim] from its variables; with `attention`, also the attention maps
 * beta [N, HW, HW] of G's block and its feature side (for the figure of attention maps).
 */
export function saganGenerate(vars: Vars, s: SaganShape, z: tf.Tensor4D, attention = false): { x: tf.Tensor4D; beta: tf.Tensor3D | null } {
  let beta: tf.Tensor3D | null = null;
  const x = tf.tidy(() => {
    const n = z.shape[0];
    const g0 = baseGrid(s.resolutions[0]);
    const attend = (h: tf.Tensor4D, side: number) => {
      if (s.attentionG !== side) return h;
      const aw = attentionWeights(vars, 'g.attn');
      if (attention) beta = tf.keep(attentionMap(h, aw));
      return selfAttention(h, aw);
    };
    const d = dense(z.reshape([n, s.zDim]) as tf.Tensor2D, w(vars, 'g.dense') as tf.Tensor2D);
    let h = pixelNorm(biasAct(d, vars.get('g.dense.b') as tf.Tensor1D, 'relu').reshape([n, g0, g0, s.widths[0]]) as tf.Tensor4D);
    h = attend(h, g0);
    for (const l of gLayers(s)) {
      h = pixelNorm(biasAct(conv2d(upsample2x(h), w(vars, `g.c${l.side}`) as tf.Tensor4D, 1, 'same'), vars.get(`g.c${l.side}.b`) as tf.Tensor1D, 'relu'));
      h = attend(h, l.side);
    }
    return tanh(biasAct(conv2d(h, w(vars, 'g.rgb') as tf.Tensor4D, 1, 'same'), vars.get('g.rgb.b') as tf.Tensor1D, 'linear'));
  });
  return { x, beta };
}

/** D for the top resolution, its variables `d.r<r>.*` (spectral-norm vectors in its state). */
export function createSaganDiscriminator(s: SaganShape, rng: Rng, powerIterations = 1): Discriminator {
  const r = s.resolutions[s.resolutions.length - 1];
  const name = `d.r${r}`;
  const net = new Net(rng, s.spectralNormD, false);
  const sides = saganDSides(s);
  let cin = s.imageChannels;
  s.dWidths.forEach((c, i) => {
    net.weight(`${name}.l${i + 1}`, [4, 4, cin, c], 16 * cin, true);
    if (s.attentionD === sides[i]) net.attention(`${name}.attn`, c);
    cin = c;
  });
  const side = sides[sides.length - 1];
  const features = side * side * cin;
  net.weight(`${name}.head`, [features, 1], features, true);
  const { vars, state } = net;
  const forward = (x: tf.Tensor4D): tf.Tensor1D =>
    tf.tidy(() => {
      let h = x;
      s.dWidths.forEach((_, i) => {
        const a = tf.add(conv2d(h, w(vars, `${name}.l${i + 1}`, state) as tf.Tensor4D, 2, 'same'), vars.get(`${name}.l${i + 1}.b`)!) as tf.Tensor4D;
        h = leaky(a, D_LEAK);
        if (s.attentionD === sides[i]) h = selfAttention(h, attentionWeights(vars, `${name}.attn`, state));
      });
      const flat = h.reshape([h.shape[0], features]) as tf.Tensor2D;
      return tf.add(tf.matMul(flat, w(vars, `${name}.head`, state) as tf.Tensor2D), vars.get(`${name}.head.b`)!).reshape([-1]) as tf.Tensor1D;
    });
  const head = vars.get(`${name}.head.w`)!;
  return {
    resolution: r, inputSize: r, input: 'single', imageChannels: s.imageChannels, patch: 1, leak: D_LEAK, powerIterations,
    convs: [], head: { w: head, b: vars.get(`${name}.head.b`)!, u: null, v: null, stride: 1, pad: 'valid' }, vars, state, forward,
    ...(s.spectralNormD ? { iterate: (k: number) => net.iterate(k) } : {}),
  };
}
