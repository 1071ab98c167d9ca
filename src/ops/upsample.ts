/**
 * Nearest-neighbour 2x upsampling [N,H,W,C] -> [N,2H,2W,C], differentiable to any order: its gradient is
 * the 2x2 block sum (downsample2xSum), whose gradient is upsample2x again (R1 and the gradient penalty
 * differentiate through a pair D's input). It is the adjoint of 2x2 average pooling up to a factor 4, and
 * avgpool2x(upsample2x(x)) = x exactly, which is why pyramids and the generator's skip use it.
 *
 * One op each way, one JS pass over the floats (tf ops on native TensorFlow). It replaced a construction
 * from two concats and four reshapes (and two splits and two adds backwards), and computes the same
 * floats: copies forward, and backward each block summed as (g[2i,2j] + g[2i+1,2j]) + (g[2i,2j+1] +
 * g[2i+1,2j+1]), the order that construction's gradient added them in (test/ops-fused.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { jsLoops, runOp, type OpDef } from './registry.js';
import { filledTensor, floatsOf } from './simd/heap.js';
import { asTensor, type KernelArgs } from './tensor_info.js';

function upsampleJs(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  return filledTensor<tf.Rank.R4>([n, 2 * h, 2 * w, c], (out) => {
    const v = floatsOf(x);
    const row = 2 * w * c;
    for (let b = 0, o = 0; b < n; b++) {
      for (let i = 0; i < h; i++) {
        const src = (b * h + i) * w * c;
        // Row 2i: every pixel twice; row 2i+1: a copy of row 2i.
        for (let j = 0; j < w; j++) {
          for (let k = 0; k < c; k++) out[o + k] = out[o + c + k] = v[src + j * c + k];
          o += 2 * c;
        }
        out.copyWithin(o, o - row, o);
        o += row;
      }
    }
  });
}

function downsampleSumJs(g: tf.Tensor4D): tf.Tensor4D {
  const [n, hh, ww, c] = g.shape;
  const [h, w] = [hh / 2, ww / 2];
  const f = Math.fround;
  return filledTensor<tf.Rank.R4>([n, h, w, c], (out) => {
    const v = floatsOf(g);
    const row = ww * c;
    for (let b = 0, o = 0; b < n; b++) {
      for (let i = 0; i < h; i++) {
        const top = (b * hh + 2 * i) * row;
        for (let j = 0; j < w; j++) {
          for (let k = 0; k < c; k++, o++) {
            const p = top + 2 * j * c + k;
            out[o] = f(v[p] + v[p + row]) + f(v[p + c] + v[p + row + c]);
          }
        }
      }
    }
  });
}

/** The tf-op forms, for native TensorFlow (the same copies and the same order of sums). */
function upsampleTf(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const wide = tf.concat([x.reshape([n, h, w, 1, c]), x.reshape([n, h, w, 1, c])], 3).reshape([n, h, 1, 2 * w, c]);
  return tf.concat([wide, wide], 2).reshape([n, 2 * h, 2 * w, c]);
}

function downsampleSumTf(g: tf.Tensor4D): tf.Tensor4D {
  const [n, hh, ww, c] = g.shape;
  const q = g.reshape([n, hh / 2, 2, ww / 2, 2, c]);
  const at = (r: number, t: number) => tf.slice(q, [0, 0, r, 0, t, 0], [n, hh / 2, 1, ww / 2, 1, c]).reshape([n, hh / 2, ww / 2, c]);
  return tf.add(tf.add(at(0, 0), at(1, 0)), tf.add(at(0, 1), at(1, 1)));
}

export const UPSAMPLE_2X: OpDef = {
  name: 'FsrganUpsample2x',
  kernelFunc: (({ inputs, backend }: KernelArgs) =>
    tf.tidy(() => {
      const x = asTensor<tf.Rank.R4>(inputs.x, backend);
      return jsLoops() && x.dtype === 'float32' ? upsampleJs(x) : upsampleTf(x);
    })) as unknown as tf.KernelFunc,
  gradient: {
    inputsToSave: [],
    gradFunc: (dy) => ({ x: () => downsample2xSum(dy as tf.Tensor4D) }),
  },
};

export const DOWNSAMPLE_2X_SUM: OpDef = {
  name: 'FsrganDownsample2xSum',
  kernelFunc: (({ inputs, backend }: KernelArgs) =>
    tf.tidy(() => {
      const g = asTensor<tf.Rank.R4>(inputs.x, backend);
      return jsLoops() && g.dtype === 'float32' ? downsampleSumJs(g) : downsampleSumTf(g);
    })) as unknown as tf.KernelFunc,
  gradient: {
    inputsToSave: [],
    gradFunc: (dy) => ({ x: () => upsample2x(dy as tf.Tensor4D) }),
  },
};

function check(fn: string, x: tf.Tensor, even: boolean): void {
  if (x.rank !== 4) throw new Error(`${fn}: x must be rank 4 [N,H,W,C], got [${x.shape}]`);
  if (even && ((x.shape[1] ?? 0) % 2 || (x.shape[2] ?? 0) % 2)) throw new Error(`${fn}: height and width must be even, got [${x.shape}]`);
}

/** x [N,H,W,C] -> [N,2H,2W,C], each pixel repeated in a 2x2 block. */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  check('upsample2x', x, false);
  return runOp(UPSAMPLE_2X, { x });
}

/** g [N,2H,2W,C] -> [N,H,W,C], the sum of each 2x2 block (the adjoint of upsample2x). */
export function downsample2xSum(g: tf.Tensor4D): tf.Tensor4D {
  check('downsample2xSum', g, true);
  return runOp(DOWNSAMPLE_2X_SUM, { x: g });
}
