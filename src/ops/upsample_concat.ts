/**
 * upsampleConcat(tap, x) = [upsample2x(tap), x] along channels: the pair (x_{l-1}, x_l) a layerwise
 * stage's D judges (docs/theory.md section 2) as one op. Concat along a 3-channel axis costs a JS copy per
 * pixel on wasm and its gradient a SplitV, so both directions are one JS loop straight into the heap
 * (unrolled for 3 + 3 channels). Once differentiable only (the twice-differentiable form is
 * discriminator.ts's discInput).
 */
import * as tf from '@tensorflow/tfjs';
import { filledTensor, floatsOf } from './simd/heap.js';
import { jsLoops, runOp, type OpDef } from './registry.js';
import { asTensor, type KernelArgs } from './tensor_info.js';

/** [N,h,w,c1], [N,2h,2w,c2] -> [N,2h,2w,c1+c2]. */
function upsampleConcatJs(tap: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c1] = tap.shape;
  const c2 = x.shape[3];
  const c = c1 + c2;
  return filledTensor<tf.Rank.R4>([n, 2 * h, 2 * w, c], (out) => {
    const t = floatsOf(tap);
    const xv = floatsOf(x);
    let o = 0;
    let xi = 0;
    const rgbPair = c1 === 3 && c2 === 3; // the stage pair: unrolled, 2x faster than the loops below
    for (let b = 0; b < n; b++) {
      for (let yy = 0; yy < 2 * h; yy++) {
        const row = (b * h + (yy >> 1)) * w;
        for (let xx = 0; xx < 2 * w; xx++) {
          const ti = (row + (xx >> 1)) * c1;
          if (rgbPair) {
            out[o] = t[ti];
            out[o + 1] = t[ti + 1];
            out[o + 2] = t[ti + 2];
            out[o + 3] = xv[xi];
            out[o + 4] = xv[xi + 1];
            out[o + 5] = xv[xi + 2];
            o += 6;
            xi += 3;
            continue;
          }
          for (let j = 0; j < c1; j++) out[o++] = t[ti + j];
          for (let j = 0; j < c2; j++) out[o++] = xv[xi++];
        }
      }
    }
  });
}

/** Gradients of upsampleConcatJs: dtap [N,h,w,c1] (2x2 block sums of dy's first c1 channels) and dx. */
function upsampleConcatGradJs(dy: tf.Tensor4D, c1: number, which: 'tap' | 'x'): tf.Tensor4D {
  const [n, hh, ww, c] = dy.shape;
  const c2 = c - c1;
  if (which === 'x') {
    return filledTensor<tf.Rank.R4>([n, hh, ww, c2], (out) => {
      const g = floatsOf(dy);
      for (let p = 0, o = 0; p < g.length; p += c) for (let j = c1; j < c; j++) out[o++] = g[p + j];
    });
  }
  const h = hh / 2;
  const w = ww / 2;
  return filledTensor<tf.Rank.R4>([n, h, w, c1], (out) => {
    const g = floatsOf(dy);
    out.fill(0);
    for (let b = 0, p = 0; b < n; b++) {
      for (let yy = 0; yy < hh; yy++) {
        const row = (b * h + (yy >> 1)) * w;
        for (let xx = 0; xx < ww; xx++, p += c) {
          const ti = (row + (xx >> 1)) * c1;
          for (let j = 0; j < c1; j++) out[ti + j] += g[p + j];
        }
      }
    }
  });
}

export const UPSAMPLE_CONCAT: OpDef = {
  name: 'FsrganUpsampleConcat',
  kernelFunc: (({ inputs, backend }: KernelArgs) =>
    tf.tidy(() => {
      const tap = asTensor<tf.Rank.R4>(inputs.tap, backend);
      const x = asTensor<tf.Rank.R4>(inputs.x, backend);
      if (jsLoops()) return upsampleConcatJs(tap, x);
      return tf.concat([tf.image.resizeNearestNeighbor(tap, [x.shape[1], x.shape[2]]), x], 3);
    })) as unknown as tf.KernelFunc,
  gradient: {
    inputsToSave: ['tap'],
    gradFunc: (dy, saved) => {
      const g = dy as tf.Tensor4D;
      const c = g.shape[3];
      const c1 = (saved[0] as tf.Tensor4D).shape[3];
      if (jsLoops()) return { x: () => upsampleConcatGradJs(g, c1, 'x'), tap: () => upsampleConcatGradJs(g, c1, 'tap') };
      const part = (i: number) => tf.split(g, [c1, c - c1], 3)[i] as tf.Tensor4D;
      return {
        x: () => part(1),
        // Each tap pixel fed a 2x2 block: sum the block (a 2x2 average pool times 4).
        tap: () => tf.mul(tf.avgPool(part(0), 2, 2, 'valid'), 4),
      };
    },
  },
};

/** [upsample2x(tap), x] along channels: tap [N,h,w,c1], x [N,2h,2w,c2] -> [N,2h,2w,c1+c2]. */
export function upsampleConcat(tap: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w] = tap.shape;
  if (x.rank !== 4 || x.shape[0] !== n || x.shape[1] !== 2 * h || x.shape[2] !== 2 * w) {
    throw new Error(`upsampleConcat: tap [${tap.shape}] upsampled 2x does not fit x [${x.shape}]`);
  }
  return runOp(UPSAMPLE_CONCAT, { tap, x });
}
