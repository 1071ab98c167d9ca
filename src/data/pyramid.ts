/**
 * Resolution pyramids for real images (docs/theory.md section 1, docs/data.md): an image is rasterised once at
 * the top resolution, and every lower level is the 2x2 average pool of the level above, so that
 * x_{l-1} = downscale(x_l) holds exactly (re-rasterising at each size would break it).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';

/** Resolutions minResolution, 2*minResolution, ..., resolution; throws a UserError naming the fields. */
export function pyramidResolutions(resolution: number, minResolution: number): number[] {
  if (!Number.isInteger(resolution) || resolution < 1) {
    throw new UserError(`dataset resolution must be a positive integer, got ${resolution}.`);
  }
  if (!Number.isInteger(minResolution) || minResolution < 1 || minResolution > resolution) {
    throw new UserError(`dataset minResolution must be an integer between 1 and resolution (${resolution}), got ${minResolution}.`);
  }
  const out: number[] = [];
  for (let r = resolution; r >= minResolution; r /= 2) {
    out.unshift(r);
    if (r === minResolution) return out;
    if (r % 2 !== 0) break;
  }
  throw new UserError(
    `dataset resolution ${resolution} must be minResolution ${minResolution} times a power of two (for example resolution 32 with minResolution 4).`,
  );
}

/**
 * Top-level images [N,R,R,3] (float, any range) to the pyramid [x_1, ..., x_L], ascending, by repeated
 * 2x2 average pooling. Returns new tensors (the input is not among them unless L = 1); caller disposes.
 */
export function poolPyramid(top: tf.Tensor4D, levels: number): tf.Tensor4D[] {
  if (top.rank !== 4 || top.shape[1] !== top.shape[2]) {
    throw new Error(`poolPyramid: expected square images [N,R,R,C], got [${top.shape}]`);
  }
  if (!(levels >= 1) || top.shape[1] % 2 ** (levels - 1) !== 0) {
    throw new Error(`poolPyramid: ${levels} levels need a resolution divisible by ${2 ** (levels - 1)}, got ${top.shape[1]}`);
  }
  const out: tf.Tensor4D[] = [top.clone()];
  for (let l = 1; l < levels; l++) out.unshift(tf.avgPool(out[0], 2, 2, 'valid'));
  return out;
}

/** Per output index along one axis: the first source index and the weights of the source pixels it covers. */
function areaWeights(src: number, dst: number): { start: number; w: number[] }[] {
  const s = src / dst;
  const out: { start: number; w: number[] }[] = [];
  for (let j = 0; j < dst; j++) {
    const a = j * s;
    const b = (j + 1) * s;
    const start = Math.floor(a);
    const w: number[] = [];
    for (let i = start; i < b - 1e-9 && i < src; i++) w.push((Math.min(b, i + 1) - Math.max(a, i)) / s);
    out.push({ start, w });
  }
  return out;
}

/**
 * Area-average (box filter with exact fractional pixel coverage) resize of one image [h,w,c] to [dh,dw,c],
 * for downscaling (dh <= h, dw <= w). With integer factors this is plain block averaging.
 */
export function areaResize(src: ArrayLike<number>, h: number, w: number, c: number, dh: number, dw: number): Float64Array {
  if (src.length !== h * w * c) throw new Error(`areaResize: expected ${h * w * c} values for [${h},${w},${c}], got ${src.length}`);
  if (dh > h || dw > w || dh < 1 || dw < 1) throw new Error(`areaResize: only downscales, got [${h},${w}] -> [${dh},${dw}]`);
  const wy = areaWeights(h, dh);
  const wx = areaWeights(w, dw);
  // Rows first, then columns: the box filter is separable.
  const tmp = new Float64Array(dh * w * c);
  for (let y = 0; y < dh; y++) {
    const { start, w: ws } = wy[y];
    for (let k = 0; k < ws.length; k++) {
      const row = (start + k) * w * c;
      const o = y * w * c;
      for (let i = 0; i < w * c; i++) tmp[o + i] += ws[k] * src[row + i];
    }
  }
  const out = new Float64Array(dh * dw * c);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++) {
      const { start, w: ws } = wx[x];
      const o = (y * dw + x) * c;
      for (let k = 0; k < ws.length; k++) {
        const si = (y * w + start + k) * c;
        for (let ch = 0; ch < c; ch++) out[o + ch] += ws[k] * tmp[si + ch];
      }
    }
  return out;
}

/** Float values in 0..255 to uint8, rounded and clamped. */
export function toUint8(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(values[i])));
  return out;
}
