/**
 * Differentiable convolutions used by every model in fsrgan. Same semantics as tf.conv2d and
 * tf.conv2dTranspose; on backends where tfjs's own kernels are missing or slow (wasm) the kernels behind
 * them are rebuilt from fast ones (kernels.ts, docs/ops.md), so gradients of any order use them too.
 * Also activations that survive double backprop (activations.ts), for R1 / gradient penalties.
 */
import * as tf from '@tensorflow/tfjs';

export type Pad = 'same' | 'valid';

function assertRank4(fn: string, name: string, t: tf.Tensor): void {
  if (t.rank !== 4) throw new Error(`${fn}: ${name} must be rank 4, got shape [${t.shape}]`);
}

/**
 * Convolution. x [N,H,W,Cin], w [k,k,Cin,Cout] -> [N,H',W',Cout] with H' = ceil(H/s) ('same') or
 * floor((H-k)/s)+1 ('valid').
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: Pad): tf.Tensor4D {
  assertRank4('conv2d', 'x', x);
  assertRank4('conv2d', 'w', w);
  if (x.shape[3] !== w.shape[2]) throw new Error(`conv2d: x has ${x.shape[3]} channels but w expects ${w.shape[2]} ([k,k,Cin,Cout] = [${w.shape}])`);
  return tf.conv2d(x, w, stride, pad);
}

/**
 * Transposed convolution (the gradient of conv2d with respect to its input).
 * x [N,H,W,Cin], w [k,k,Cout,Cin] (tf.conv2dTranspose's layout) -> [N,H*s,W*s,Cout] ('same') or
 * [N,(H-1)*s+k,(W-1)*s+k,Cout] ('valid').
 */
export function deconv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: Pad): tf.Tensor4D {
  assertRank4('deconv2d', 'x', x);
  assertRank4('deconv2d', 'w', w);
  if (x.shape[3] !== w.shape[3]) throw new Error(`deconv2d: x has ${x.shape[3]} channels but w expects ${w.shape[3]} ([k,k,Cout,Cin] = [${w.shape}])`);
  const [n, h, wd] = x.shape;
  const k = w.shape[0];
  const out: [number, number, number, number] =
    pad === 'same' ? [n, h * stride, wd * stride, w.shape[2]] : [n, (h - 1) * stride + k, (wd - 1) * stride + k, w.shape[2]];
  return tf.conv2dTranspose(x, w, out, stride, pad);
}

export { leakyRelu, sigmoid, tanh } from './activations.js';
export { batchNorm } from './batch_norm.js';
export { biasAct, type Activation } from './bias_act.js';
export { dense } from './dense.js';
export { upsampleConcat } from './upsample_concat.js';
export { downsample2xSum, upsample2x } from './upsample.js';
export { upsampleBilinear2x } from './upsample_bilinear.js';
