/**
 * Data-free calibration of a generator layer (a data-dependent init in the sense of LSUV, Mishkin & Matas
 * 2016, and of weight normalisation's init, Salimans & Kingma 2016, except that it needs no data: only z).
 * For hidden layer l, on a batch of latents through the current layers < l:
 *
 *   pre_c = Deconv_l(s_{l-1})_c                       (every position, every latent)
 *   Deconv_l[..., c, :] /= std(pre_c)                 each channel's pre-activation gets unit variance
 *   b_c = quantile(pre_c / std(pre_c), 1 - active)    so a fraction `active` of positions is non-zero
 *
 * Why (docs/findings.md): Adam moves every weight by about lr per step whatever its scale, so a layer
 * whose input is small needs weights far from their He init and a bias far from 0 before it can be
 * sparse. The teacher's own layers show it: the frozen s_1 of a trained stage is sparse and small, and
 * the teacher's Deconv_2 rows have norm ~9 against ~1 at He init; from bias 0, reaching the teacher's
 * threshold (~1.2 standard deviations) takes over a thousand steps at lr 1e-3. Calibrating at the start
 * of the stage that trains layer l (when layers < l are final) puts the layer at the right scale and at
 * a chosen sparsity at once. The model of docs/theory.md section 1 is unchanged: this only picks initial
 * values of the same Deconv_l and b_l. Under spectral norm (generator.spectralNorm) the rescale sets only the
 * channels' relative scales (W / sigma(W) is scale-free) and b is taken after it, on the normalised layer.
 *
 * A class-conditional learner (shape.classes; class-shift.ts) is calibrated on a class-balanced batch:
 * latent i with class i mod K (no draws). Its pre-activation is Deconv_l(s_{l-1}) + E_l c, through lower
 * layers whose E's their stages trained; E_l is 0 when layer l's stage starts, and the rescale divides
 * E_l's column c with Deconv_l's channel c, so that the whole pre-activation is rescaled exactly whenever
 * it runs. Homeostasis's quantiles (retargetBias) are likewise those of the balanced batch. A text-conditional
 * learner (generator.condition 'text', K = the text embedding's length) gets the same rows, one-hot over the
 * embedding's K buckets: data-free like the classes, unit-norm like every name's embedding, and with iid rows
 * of E_l a shift E_l e_k has the variance of E_l c for any unit-norm c, so the quantiles see shifts of the
 * size that names give.
 */
import * as tf from '@tensorflow/tfjs';
import { generatorPreActivation, snLayer, type GeneratorParams } from './generator.js';
import { balancedClassRows } from './class-shift.js';

export interface CalibrationReport {
  /** 1-based layer. */
  layer: number;
  /** Mean over channels of the pre-activation std before rescaling. */
  meanStd: number;
  /** Channels whose pre-activation was constant (left unchanged). */
  deadChannels: number;
  /** Realised fraction of non-zero activations after calibration. */
  activeFraction: number;
}

/** The value at quantile q of `xs` (sorted copy, nearest rank). */
function quantile(xs: Float32Array, q: number): number {
  const s = Float32Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}

/**
 * Pre-activations Deconv_l(s_{l-1}) of hidden layer index l (0-based) for latents z [N,1,1,zDim], channel
 * major: channel c's values (every latent and position) are [c * n, (c + 1) * n).
 */
export function preActivations(params: GeneratorParams, l: number, z: tf.Tensor4D): Float32Array {
  const { channels, classes } = params.shape;
  const C = channels[l];
  // As the forward pass computes them (equalised weights, virtual batch norm, the class shift; generator.ts).
  const pre = tf.tidy(() => generatorPreActivation(params, l, z, classes ? balancedClassRows(z.shape[0], classes) : undefined).reshape([-1, C]).transpose() as tf.Tensor2D);
  const values = pre.dataSync() as Float32Array;
  pre.dispose();
  return values;
}

/**
 * Bias homeostasis (generator.homeostasis; docs/findings.md): sets b_l of hidden layer index l (a
 * tf.Variable) to the (1 - active) quantile of each channel's pre-activations over latents z, weights
 * untouched, so that every channel is non-zero on a fraction `active` of positions. Returns the mean
 * |change| of b_l. Called every few G steps of the stage that trains layer l, it replaces the bias's slow
 * gradient path to the right sparsity: the dictionary-learning view of the paper (each patch a sparse
 * combination of atoms) identifies the atoms only at the right sparsity; a learner with twice the
 * teacher's active channels can mix co-active atoms (docs/findings.md, "co-active atoms").
 */
export function retargetBias(params: GeneratorParams, l: number, z: tf.Tensor4D, active: number): number {
  if (!(active > 0 && active < 1)) throw new Error(`retargetBias: active must be in (0, 1), got ${active}`);
  const bias = params.blocks[params.shape.resolutions[l]].bias as tf.Variable;
  const C = params.shape.channels[l];
  const values = preActivations(params, l, z);
  const n = values.length / C;
  const old = bias.dataSync() as Float32Array;
  const b = new Float32Array(C);
  let moved = 0;
  for (let c = 0; c < C; c++) {
    b[c] = quantile(values.subarray(c * n, (c + 1) * n), 1 - active);
    moved += Math.abs(b[c] - old[c]) / C;
  }
  tf.tidy(() => bias.assign(tf.tensor1d(b)));
  return moved;
}

/**
 * Calibrates hidden layer index l (0-based) of `params` in place: its deconvolution and bias must be
 * tf.Variables (a learner's). `z` [N,1,1,zDim] drives the layers below; `active` in (0, 1) is the target
 * fraction of non-zero activations.
 */
export function calibrateLayer(params: GeneratorParams, l: number, z: tf.Tensor4D, active: number): CalibrationReport {
  if (!(active > 0 && active < 1)) throw new Error(`calibrateLayer: active must be in (0, 1), got ${active}`);
  const { shape } = params;
  const block = params.blocks[shape.resolutions[l]];
  const deconv = block.deconv as tf.Variable;
  const bias = block.bias as tf.Variable;
  const C = shape.channels[l];
  const values = preActivations(params, l, z);
  const n = values.length / C;
  const scale = new Float32Array(C).fill(1);
  const b = new Float32Array(C);
  // Channels calibrated (not dead).
  const live = new Uint8Array(C);
  let dead = 0;
  let stdSum = 0;
  let activeCount = 0;
  for (let c = 0; c < C; c++) {
    const col = values.subarray(c * n, (c + 1) * n);
    let mean = 0;
    for (const v of col) mean += v;
    mean /= n;
    let sq = 0;
    for (const v of col) sq += (v - mean) * (v - mean);
    const std = Math.sqrt(sq / n);
    stdSum += std;
    if (!(std > 1e-12)) {
      // A channel no latent moves (its inputs are never active) cannot be calibrated: keep its init.
      dead++;
      b[c] = (bias.dataSync() as Float32Array)[c];
      continue;
    }
    scale[c] = 1 / std;
    live[c] = 1;
    const scaled = col.map((v) => v / std);
    b[c] = quantile(scaled, 1 - active);
    for (const v of scaled) if (v > b[c]) activeCount++;
  }
  // Deconv weights are [k,k,C_l,C_{l-1}]: output channel c is axis 2.
  tf.tidy(() => deconv.assign(tf.mul(deconv, tf.tensor1d(scale).reshape([1, 1, C, 1]))));
  const cls = block.cls as tf.Variable | undefined;
  if (cls) tf.tidy(() => cls.assign(tf.mul(cls, tf.tensor1d(scale).reshape([1, C]))));
  if (snLayer(shape, l)) {
    // Spectral norm (Miyato et al. 2018): the layer uses W / sigma(W), scale-free, so the rescale sets only
    // the channels' relative scales and sigma (v^T W u of the rescaled W) sets their common one. The
    // pre-activations are then not the unit-variance ones above: b_l is their quantile, recomputed.
    const after = preActivations(params, l, z);
    activeCount = 0;
    for (let c = 0; c < C; c++) {
      if (!live[c]) continue;
      const col = after.subarray(c * n, (c + 1) * n);
      b[c] = quantile(col, 1 - active);
      for (const v of col) if (v > b[c]) activeCount++;
    }
  }
  tf.tidy(() => bias.assign(tf.tensor1d(b)));
  return { layer: l + 1, meanStd: stdSum / C, deadChannels: dead, activeFraction: activeCount / (n * C) };
}
