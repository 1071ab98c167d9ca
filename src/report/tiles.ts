/**
 * Filter banks as image tiles (F-alignment, docs/theory.md section 3.3): G's output atoms and D_1's first-layer
 * filters, both [P,P,C,F] (C = 1 or 3), drawn one tile per filter, each normalised to its own range
 * because atoms differ in scale and only their pattern matters for the comparison.
 */
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { gridPng } from '../util/png.js';

export interface TileOptions {
  /** Each filter pixel becomes scale x scale PNG pixels (default: about 24 PNG pixels per tile side). */
  scale?: number;
  /** Tiles per row (default: ceil(sqrt(K))). */
  cols?: number;
  /** Pixels between tiles (default 1). */
  gap?: number;
  /**
   * 'minmax' (default): each filter's min..max maps to black..white.
   * 'symmetric': each filter's [-max|w|, max|w|] maps to black..white, so zero is mid-gray and signs read.
   */
  norm?: 'minmax' | 'symmetric';
}

/**
 * Reorders a bank [P,P,C,F] into images [K,P,P,C], tile k = filter order[k] (default 0..F-1).
 * With norm 'symmetric' each image is divided by its max |w| (range [-1,1]).
 */
export function filterImages(bank: tf.Tensor4D, order?: number[], norm: TileOptions['norm'] = 'minmax'): tf.Tensor4D {
  if (bank.rank !== 4 || (bank.shape[2] !== 1 && bank.shape[2] !== 3)) {
    throw new Error(`filterImages: bank must be [P,P,1|3,F], got [${bank.shape}]`);
  }
  const f = bank.shape[3];
  const idx = order ?? Array.from({ length: f }, (_, i) => i);
  for (const i of idx) if (!Number.isInteger(i) || i < 0 || i >= f) throw new Error(`filterImages: order entry ${i} is not a filter index in [0,${f})`);
  return tf.tidy(() => {
    const imgs = tf.transpose(tf.gather(bank, idx, 3), [3, 0, 1, 2]) as tf.Tensor4D;
    if (norm !== 'symmetric') return imgs;
    const m = tf.maximum(tf.max(tf.abs(imgs), [1, 2, 3], true), 1e-12);
    return tf.div(imgs, m) as tf.Tensor4D;
  });
}

function gridOf(bank: tf.Tensor4D, order: number[] | undefined, opts: TileOptions, cols: number): Buffer {
  const imgs = filterImages(bank, order, opts.norm);
  try {
    const scale = opts.scale ?? Math.max(1, Math.round(24 / bank.shape[0]));
    const range = opts.norm === 'symmetric' ? ([-1, 1] as [number, number]) : 'per-image';
    return gridPng(imgs, { cols, gap: opts.gap ?? 1, scale, range });
  } finally {
    imgs.dispose();
  }
}

/** One bank [P,P,C,F] as a PNG grid of tiles, in `order` (default filter order). */
export function filterTilesPng(bank: tf.Tensor4D, order?: number[], opts: TileOptions = {}): Buffer {
  const k = order ? order.length : bank.shape[3];
  return gridOf(bank, order, opts, opts.cols ?? Math.ceil(Math.sqrt(k)));
}

/**
 * Two banks side by side (left: `a`, right: `b`) in matched order: `pairs[k] = [i, j]` puts filter i of `a`
 * and filter j of `b` at the same grid position k of their panels (e.g. the Hungarian matching of
 * docs/theory.md 3.3, best pairs first). Default pairs: [k, k] for k < min(F_a, F_b). The banks may have
 * different patch sizes; each is scaled to its own tile size.
 */
export function filterPairPng(
  a: tf.Tensor4D,
  b: tf.Tensor4D,
  pairs?: [number, number][],
  opts: TileOptions & { panelGap?: number } = {},
): Buffer {
  const p = pairs ?? Array.from({ length: Math.min(a.shape[3], b.shape[3]) }, (_, k) => [k, k] as [number, number]);
  if (p.length === 0) throw new Error('filterPairPng: pairs must not be empty');
  const cols = opts.cols ?? Math.ceil(Math.sqrt(p.length));
  const scaleFor = (t: tf.Tensor4D) => opts.scale ?? Math.max(1, Math.round(24 / t.shape[0]));
  const left = PNG.sync.read(gridOf(a, p.map((x) => x[0]), { ...opts, scale: scaleFor(a) }, cols));
  const right = PNG.sync.read(gridOf(b, p.map((x) => x[1]), { ...opts, scale: scaleFor(b) }, cols));
  const panelGap = opts.panelGap ?? 12;
  const out = new PNG({ width: left.width + panelGap + right.width, height: Math.max(left.height, right.height) });
  out.data.fill(255);
  PNG.bitblt(left, out, 0, 0, left.width, left.height, 0, 0);
  PNG.bitblt(right, out, 0, 0, right.width, right.height, left.width + panelGap, 0);
  return PNG.sync.write(out);
}
