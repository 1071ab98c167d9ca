/**
 * Construction of the synthetic teacher G* of docs/theory.md section 1, in exactly the shared generator form
 * (src/models/generator.ts), deterministic from `config.seed`:
 *   - A_l: edge-color atoms with coherence below `coherenceBound` (dictionary.ts);
 *   - Deconv_l (l >= 2): a bilinear-like spatial envelope times a channel map per child phase (a sparse
 *     positive feature tree, or dense Gaussian) plus a per-tap variation, so each child position depends
 *     mostly on its nearest parents (docs/theory.md section 1, "Locality") and each child feature refines
 *     parent features;
 *   - b_l and the deconv output-channel scales calibrated layer by layer by sampling: each channel's
 *     pre-activation is scaled to unit variance (sign chosen so that its upper tail is the larger one) and
 *     its bias set at its (1 - t_l / C_l) quantile, so every
 *     channel is active with probability t_l / C_l and a hidden position has t_l active channels on average;
 *   - the output head is A_l times a scale that maps the `outputQuantile` quantile of |x_l| to 1.
 * Choices and their reasons: docs/teacher.md.
 */
import * as tf from '@tensorflow/tfjs';
import { deconv2d } from '../ops/index.js';
import { generatorForward, hiddenGrids, type GeneratorBlock, type GeneratorOutput, type GeneratorParams } from '../models/generator.js';
import { Rng } from '../util/rng.js';
import { coherence, makeDictionary, welchBound, type Atoms } from './dictionary.js';
import { teacherShape, type TeacherConfig } from './config.js';

/** What the construction measured about one layer (stored with the teacher). */
export interface TeacherLayerInfo {
  resolution: number;
  channels: number;
  targetActive: number;
  /** Coherence of A_l (max |cos| between distinct atoms). */
  coherence: number;
  coherenceBound: number;
  /** Welch lower bound for C_l atoms of dimension P*P*3, for comparison. */
  welchBound: number;
  /** Scale applied to the unit-norm atoms (column norm of A_l). */
  outScale: number;
  /** Mean active channels per hidden position on the calibration samples. */
  calibratedActive: number;
}

export interface Teacher {
  config: TeacherConfig;
  /** The generator's parameters (plain tensors); dispose with disposeTeacher. */
  params: GeneratorParams;
  layers: TeacherLayerInfo[];
}

/** One draw of the teacher: z [n,1,1,zDim], s_l [n,g_l,g_l,C_l], x_l [n,r_l,r_l,3]. Caller disposes. */
export interface TeacherSample {
  z: tf.Tensor4D;
  s: tf.Tensor4D[];
  x: tf.Tensor4D[];
}

/** Bilinear-like 1-D window of a stride-2 upsampling kernel of size k (peak 1 at the centre). */
function envelope(k: number): number[] {
  return Array.from({ length: k }, (_, a) => 1 - Math.abs(a - (k - 1) / 2) / (k / 2));
}

/** Out weight [P,P,3,C] (row-major = the (P*P*3) x C matrix) from unit atoms times `scale`. */
function atomsToWeight(atoms: Atoms, patch: number, scale: number): tf.Tensor4D {
  const c = atoms.length;
  const d = patch * patch * 3;
  const w = new Float32Array(d * c);
  for (let j = 0; j < c; j++) for (let r = 0; r < d; r++) w[r * c + j] = atoms[j][r] * scale;
  return tf.tensor4d(w, [patch, patch, 3, c]);
}

/** Raw (uncalibrated) deconv weight of layer l as [k,k,C_l,C_prev] values. */
function rawDeconv(cfg: TeacherConfig, l: number, rng: Rng): { data: Float32Array; shape: [number, number, number, number] } {
  const cOut = cfg.channels[l];
  if (l === 0) {
    const g = cfg.resolutions[0] / cfg.patch;
    // Layer 1 maps the global latent to every position: independent Gaussian maps per position.
    return { data: rng.normals(g * g * cOut * cfg.zDim, 1 / Math.sqrt(cfg.zDim)), shape: [g, g, cOut, cfg.zDim] };
  }
  const cIn = cfg.channels[l - 1];
  const k = cfg.kernel;
  const e = envelope(k);
  // One channel map per tap parity = per child phase (which of the 4 children of a parent a position is),
  // so the 4 children refine their parent differently and images get quadtree structure, not a texture.
  const phaseMaps = [0, 1, 2, 3].map(() => {
    if (cfg.deconvFanIn <= 0) return rng.normals(cOut * cIn, 1 / Math.sqrt(cIn));
    // A feature tree: each child channel refines a few parent channels, with positive weights, so that
    // children of an active parent stay active (dense signed maps empty most positions; docs/teacher.md).
    const m = new Float32Array(cOut * cIn);
    const fan = Math.min(cfg.deconvFanIn, cIn);
    for (let c = 0; c < cOut; c++) for (const p of rng.permutation(cIn).slice(0, fan)) m[c * cIn + p] = (0.5 + Math.abs(rng.normal())) / Math.sqrt(fan);
    return m;
  });
  const data = new Float32Array(k * k * cOut * cIn);
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++) {
      const shared = phaseMaps[(a % 2) * 2 + (b % 2)];
      const tap = rng.normals(cOut * cIn, cfg.deconvTapVariation / Math.sqrt(cIn));
      for (let i = 0; i < cOut * cIn; i++) data[(a * k + b) * cOut * cIn + i] = e[a] * e[b] * (shared[i] + tap[i]);
    }
  return { data, shape: [k, k, cOut, cIn] };
}

/** At most `max` values of `v`, evenly strided (a quantile estimate does not need all 10^7 pixels). */
function strided(v: Float32Array, max: number): Float32Array {
  if (v.length <= max) return v;
  const step = Math.ceil(v.length / max);
  return Float32Array.from({ length: Math.floor(v.length / step) }, (_, i) => v[i * step]);
}

/** Sorted-order quantile (the value at rank ceil(q*m) - 1) of `v`. */
export function quantile(v: Float32Array, q: number): number {
  const s = Float32Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Builds the teacher from its config; deterministic from config.seed on a given backend. */
export function buildTeacher(config: TeacherConfig, log: (msg: string) => void = () => {}): Teacher {
  const shape = teacherShape(config);
  const grids = hiddenGrids(shape);
  const rngAtoms = new Rng(config.seed, 'teacher/atoms');
  const rngDeconv = new Rng(config.seed, 'teacher/deconv');
  const rngCal = new Rng(config.seed, 'teacher/calibration');
  const nCal = config.calibrationSamples;
  const blocks: Record<number, GeneratorBlock> = {};
  const layers: TeacherLayerInfo[] = [];
  // Dictionaries first (pure float64): an unreachable coherence bound fails before any tensor exists.
  const dictionaries = config.channels.map((c) => makeDictionary(c, config.patch, config.colorAtomFraction, config.coherenceBound, rngAtoms));
  let prev: tf.Tensor4D = tf.tensor4d(rngCal.normals(nCal * config.zDim), [nCal, 1, 1, config.zDim]);
  for (let l = 0; l < config.resolutions.length; l++) {
    const r = config.resolutions[l];
    const cOut = config.channels[l];
    const atoms = dictionaries[l];
    const raw = rawDeconv(config, l, rngDeconv);
    const stride = l === 0 ? grids[0] : 2;
    const pad = l === 0 ? 'valid' : 'same';
    // Calibrate: unit-variance pre-activations per channel, then bias at the (1 - t/C) quantile.
    const pre = tf.tidy(() => deconv2d(prev, tf.tensor4d(raw.data, raw.shape), stride, pad));
    const values = pre.dataSync() as Float32Array;
    pre.dispose();
    const m = values.length / cOut;
    const pActive = config.targetActive[l] / cOut;
    const scale = new Float32Array(cOut);
    const bias = new Float32Array(cOut);
    const ch = new Float32Array(m);
    for (let c = 0; c < cOut; c++) {
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < m; i++) {
        const v = values[i * cOut + c];
        ch[i] = v;
        s1 += v;
        s2 += v * v;
      }
      const sd = Math.sqrt(Math.max(0, s2 / m - (s1 / m) ** 2));
      // Inputs s_{l-1} >= 0, so a channel can be mostly negative; its threshold would then sit at the tie of
      // exact zeros (positions whose parents are all inactive). Flipping its sign keeps the threshold
      // positive, so such positions stay inactive and the active fraction is what the quantile says.
      const up = quantile(ch, 1 - pActive);
      for (let i = 0; i < m; i++) ch[i] = -ch[i];
      const down = quantile(ch, 1 - pActive);
      const sign = down > up ? -1 : 1;
      scale[c] = (sd > 0 ? 1 / sd : 1) * sign;
      bias[c] = Math.max(up, down) * Math.abs(scale[c]);
    }
    const w = new Float32Array(raw.data.length);
    for (let i = 0; i < w.length; i++) w[i] = raw.data[i] * scale[Math.floor(i / raw.shape[3]) % cOut];
    const deconv = tf.tensor4d(w, raw.shape);
    const biasT = tf.tensor1d(bias);
    const s = tf.tidy(() => tf.relu(tf.sub(deconv2d(prev, deconv, stride, pad), biasT)) as tf.Tensor4D);
    prev.dispose();
    prev = s;
    const active = tf.tidy(() => tf.sum(tf.notEqual(s, 0).asType('float32')).dataSync()[0] / (m));
    // Output scale: the outputQuantile of |x_l| painted with unit atoms becomes 1.
    const unit = atomsToWeight(atoms, config.patch, 1);
    const absX = tf.tidy(() => tf.abs(deconv2d(s, unit, config.patch, 'valid')));
    const q = quantile(strided(absX.dataSync() as Float32Array, 1 << 20), config.outputQuantile);
    absX.dispose();
    unit.dispose();
    const outScale = q > 0 ? 1 / q : 1;
    blocks[r] = { deconv, bias: biasT, out: atomsToWeight(atoms, config.patch, outScale) };
    layers.push({
      resolution: r,
      channels: cOut,
      targetActive: config.targetActive[l],
      coherence: coherence(atoms),
      coherenceBound: config.coherenceBound,
      welchBound: welchBound(cOut, config.patch * config.patch * 3),
      outScale,
      calibratedActive: active,
    });
    log(`teacher layer ${l + 1} (${r}x${r}, ${cOut} channels): coherence ${coherence(atoms).toFixed(3)}, active ${active.toFixed(2)} / target ${config.targetActive[l]}`);
  }
  prev.dispose();
  return { config, params: { shape, blocks }, layers };
}

/** Draws n samples: z from `rng` (n * zDim normals, in order), then the shared generator forward. */
export function sampleTeacher(teacher: Teacher, n: number, rng: Rng): TeacherSample {
  const zDim = teacher.params.shape.zDim;
  const z = tf.tensor4d(rng.normals(n * zDim), [n, 1, 1, zDim]);
  // generatorForward leaves its intermediates (pre-activations) to an enclosing tidy.
  const { s, x } = tf.tidy(() => generatorForward(teacher.params, z) as unknown as tf.TensorContainerObject) as unknown as GeneratorOutput;
  return { z, s, x };
}

/** Frees the teacher's tensors. */
export function disposeTeacher(teacher: Teacher): void {
  for (const b of Object.values(teacher.params.blocks)) tf.dispose([b.deconv, b.bias, b.out]);
}

/** A_l of a teacher (or any generator block) as unit-free float64 columns: atoms[c] = out[:,:,:,c]. */
export function blockAtoms(out: tf.Tensor4D): Atoms {
  const [p, q, k, c] = out.shape;
  const d = p * q * k;
  const w = out.dataSync();
  return Array.from({ length: c }, (_, j) => Float64Array.from({ length: d }, (_, r) => w[r * c + j]));
}
