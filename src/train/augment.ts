/**
 * Differentiable augmentation of D's inputs (DiffAugment: Zhao, Liu, Lin, Zhu & Han, "Differentiable
 * Augmentation for Data-Efficient GAN Training", NeurIPS 2020). The same random transform family T is
 * applied to real and generated images whenever D sees them, in D's and in G's update, so D cannot
 * memorise a small training set (emoji: 1,906 images) and G's gradient flows through T. Policies, as in
 * the paper's code, for images in [-1, 1]:
 *
 *   color        brightness x + b, b ~ U(-0.5, 0.5); saturation m + s (x - m), s ~ U(0, 2), m the pixel's
 *                channel mean; contrast m + c (x - m), c ~ U(0.5, 1.5), m the image's mean
 *   translation  shift by (dy, dx), each uniform in [-r/8, r/8] pixels, zero (mid-gray) fill
 *   cutout       a square of side r/2 at a uniform centre set to 0
 *
 * Every parameter is drawn per image from the run's `augment` Rng stream (deterministic and resumable).
 * D's input may be a pair [upsample2x(x_{l-1}), x_l] (6 channels): the same transform moves both halves,
 * and the colour statistics are taken per half, so the pair stays consistent.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';

export const AUGMENTS = ['color', 'translation', 'cutout'] as const;
export type Augment = (typeof AUGMENTS)[number];

/** The random parameters of one augmentation of a batch of n images of size r (drawn in a fixed order). */
export interface AugmentDraw {
  brightness?: Float32Array;
  saturation?: Float32Array;
  contrast?: Float32Array;
  /** Shifts in pixels, [n] each. */
  dy?: Int32Array;
  dx?: Int32Array;
  /** Cutout square's top-left corner (may lie outside the image: the square is clipped). */
  cy?: Int32Array;
  cx?: Int32Array;
  size: number;
}

export function drawAugment(rng: Rng, policy: readonly Augment[], n: number, r: number): AugmentDraw {
  const d: AugmentDraw = { size: r };
  const u = (lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
  if (policy.includes('color')) {
    d.brightness = u(-0.5, 0.5);
    d.saturation = u(0, 2);
    d.contrast = u(0.5, 1.5);
  }
  if (policy.includes('translation')) {
    const s = Math.max(1, Math.round(r / 8));
    d.dy = Int32Array.from({ length: n }, () => rng.int(2 * s + 1) - s);
    d.dx = Int32Array.from({ length: n }, () => rng.int(2 * s + 1) - s);
  }
  if (policy.includes('cutout')) {
    const c = Math.round(r / 2);
    // The paper's offsets: centre uniform over the image, square of side c around it.
    d.cy = Int32Array.from({ length: n }, () => rng.int(r + (1 - (c % 2))) - Math.floor(c / 2));
    d.cx = Int32Array.from({ length: n }, () => rng.int(r + (1 - (c % 2))) - Math.floor(c / 2));
  }
  return d;
}

/** Applies a draw to x [n,r,r,C] (C = 3k: k images side by side in channels); differentiable in x. Use in tf.tidy. */
export function applyAugment(x: tf.Tensor4D, d: AugmentDraw): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const k = c / 3;
  let y: tf.Tensor4D = x;
  if (d.brightness) {
    const per = (a: Float32Array) => tf.tensor4d(a, [n, 1, 1, 1]);
    y = tf.add(y, per(d.brightness));
    // Saturation and contrast per 3-channel half: [n,h,w,k,3].
    let v = y.reshape([n, h, w, k, 3]) as tf.Tensor5D;
    const m = tf.mean(v, 4, true);
    v = tf.add(m, tf.mul(tf.sub(v, m), tf.tensor(d.saturation!, [n, 1, 1, 1, 1])));
    const mAll = tf.mean(v, [1, 2, 4], true);
    v = tf.add(mAll, tf.mul(tf.sub(v, mAll), tf.tensor(d.contrast!, [n, 1, 1, 1, 1])));
    y = v.reshape([n, h, w, c]);
  }
  if (d.dy) {
    const s = Math.max(...Array.from(d.dy, Math.abs), ...Array.from(d.dx!, Math.abs));
    const padded = s > 0 ? tf.pad(y, [[0, 0], [s, s], [s, s], [0, 0]]) : y;
    // Output pixel (i, j) reads input (i - dy, j - dx): a slice of the padded image at (s - dy, s - dx).
    const rows = Array.from({ length: n }, (_, b) => tf.slice(padded, [b, s - d.dy![b], s - d.dx![b], 0], [1, h, w, c]));
    y = n === 1 ? rows[0] : tf.concat(rows, 0);
  }
  if (d.cy) {
    const mask = new Float32Array(n * h * w).fill(1);
    const side = Math.round(d.size / 2);
    for (let b = 0; b < n; b++) {
      for (let i = Math.max(0, d.cy[b]); i < Math.min(h, d.cy[b] + side); i++) {
        for (let j = Math.max(0, d.cx![b]); j < Math.min(w, d.cx![b] + side); j++) mask[(b * h + i) * w + j] = 0;
      }
    }
    y = tf.mul(y, tf.tensor4d(mask, [n, h, w, 1]));
  }
  return y;
}
