/** Image grids as PNG bytes and files: samples, pyramids and filter banks (below every layer that writes images). */
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { writeFile } from 'node:fs/promises';
import { mkdirs } from './atomic.js';
import { dirname } from 'node:path';

export interface GridOptions {
  /** Images per row (default: ceil(sqrt(N))). */
  cols?: number;
  /** Pixels between tiles (default 1). */
  gap?: number;
  /** Each image pixel becomes scale x scale PNG pixels (default 1). */
  scale?: number;
  /** Value range mapped to [0,255] (default [-1,1]); 'per-image' rescales each tile to its own min..max. */
  range?: [number, number] | 'per-image';
  /** Background gray level of the gaps (0..255, default 255). */
  background?: number;
}

/**
 * Encodes images [N,H,W,C] (C = 1 or 3) as one PNG grid. Returns the PNG bytes; deterministic for the
 * same input.
 */
export function gridPng(images: tf.Tensor4D, opts: GridOptions = {}): Buffer {
  if (images.rank !== 4 || (images.shape[3] !== 1 && images.shape[3] !== 3)) {
    throw new Error(`gridPng: images must be [N,H,W,1|3], got [${images.shape}]`);
  }
  const [n, h, w, c] = images.shape;
  const data = images.dataSync();
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const gap = opts.gap ?? 1;
  const scale = opts.scale ?? 1;
  const th = h * scale;
  const tw = w * scale;
  const png = new PNG({ width: cols * tw + (cols + 1) * gap, height: rows * th + (rows + 1) * gap });
  png.data.fill(opts.background ?? 255);
  const per = h * w * c;
  for (let i = 0; i < n; i++) {
    let lo = -1;
    let hi = 1;
    if (opts.range === 'per-image') {
      lo = Infinity;
      hi = -Infinity;
      for (let k = 0; k < per; k++) {
        lo = Math.min(lo, data[i * per + k]);
        hi = Math.max(hi, data[i * per + k]);
      }
      if (hi - lo < 1e-12) hi = lo + 1;
    } else if (opts.range) [lo, hi] = opts.range;
    const ox = gap + (i % cols) * (tw + gap);
    const oy = gap + Math.floor(i / cols) * (th + gap);
    for (let y = 0; y < th; y++)
      for (let x = 0; x < tw; x++) {
        const src = i * per + (Math.floor(y / scale) * w + Math.floor(x / scale)) * c;
        const dst = ((oy + y) * png.width + ox + x) * 4;
        for (let ch = 0; ch < 3; ch++) {
          const v = data[src + (c === 1 ? 0 : ch)];
          png.data[dst + ch] = Math.max(0, Math.min(255, Math.round(((v - lo) / (hi - lo)) * 255)));
        }
        png.data[dst + 3] = 255;
      }
  }
  return PNG.sync.write(png);
}

/** Writes `gridPng(images, opts)` to `file`, creating its folder. */
export async function writeGridPng(file: string, images: tf.Tensor4D, opts: GridOptions = {}): Promise<void> {
  await mkdirs(dirname(file));
  await writeFile(file, gridPng(images, opts));
}
