/**
 * The input gradient of a 2-D convolution (tfjs kernel `Conv2DBackpropInput`), which is also the forward
 * pass of the transposed convolution. wasm's own kernel runs at 1-5 GFLOP/s (ENGINE.md); this one maps
 * it onto XNNPACK's stride-1 conv2d or onto one matMul.
 */
import * as tf from '@tensorflow/tfjs';
import { crop, fitSize, swapMiddle } from './layout.js';

/** Attributes of tfjs's Conv2DBackpropInput kernel that fsrgan supports (NHWC, no dilation). */
export interface InputGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/**
 * - `matmul`: kernel = stride without padding: one matMul dy W^T, then the depth-to-space interleave.
 * - `subpixel`: one stride-1 conv2d with the s*s phase sub-filters stacked, interleave, crop.
 */
export type InputGradPlan = 'matmul' | 'subpixel';

/** Output rows of one phase-folded axis: see conv2dBackpropInput. */
interface AxisPlan {
  /** Taps per phase, ceil(k/s). */
  m: number;
  /** First and last phase-block index t the output needs. */
  tmin: number;
  tmax: number;
  /** Rows to pad (>= 0) or drop (< 0) before dy's first row, and to pad after its last. */
  before: number;
  after: number;
  /** Rows to drop from the interleaved result before the first output row. */
  crop: number;
}

function axisPlan(k: number, s: number, padBefore: number, outLen: number, dyLen: number): AxisPlan {
  const m = Math.ceil(k / s);
  const tmin = Math.floor(padBefore / s);
  const tmax = Math.floor((padBefore + outLen - 1) / s);
  return { m, tmin, tmax, before: m - 1 - tmin, after: tmax - (dyLen - 1), crop: padBefore - tmin * s };
}

/**
 * Sub-filters of all s*s output phases side by side: W [kh,kw,Cin,Cout] (conv layout) ->
 * F [mh,mw,Cout,(ry,rx,Cin)] with F[jy,jx,co,(ry,rx,ci)] = W[ry + sh(mh-1-jy), rx + sw(mw-1-jx), ci, co]
 * (zero where that tap is past the kernel). One gather of whole [Cin,Cout] slices plus one transpose.
 */
function phaseFilter(w: tf.Tensor4D, sh: number, sw: number, mh: number, mw: number): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const zero = kh * kw;
  const idx: number[] = [];
  for (let jy = 0; jy < mh; jy++)
    for (let jx = 0; jx < mw; jx++)
      for (let ry = 0; ry < sh; ry++)
        for (let rx = 0; rx < sw; rx++) {
          const a = ry + sh * (mh - 1 - jy);
          const b = rx + sw * (mw - 1 - jx);
          idx.push(a < kh && b < kw ? a * kw + b : zero);
        }
  const flat = tf.reshape(w, [kh * kw, cin, cout]);
  const padded = idx.includes(zero) ? tf.pad(flat, [[0, 1], [0, 0], [0, 0]]) : flat;
  const g = tf.gather(padded, tf.tensor1d(idx, 'int32')); // [(jy,jx,ry,rx), Cin, Cout]
  const t = tf.transpose(tf.reshape(g, [mh * mw, sh * sw, cin, cout]), [0, 3, 1, 2]);
  return tf.reshape(t, [mh, mw, cout, sh * sw * cin]);
}

/**
 * dx for y = conv2d(x, W, strides, pad): dy [N,Ho,Wo,Cout], W [kh,kw,Cin,Cout] -> [N,H,W,Cin].
 *
 * Sub-pixel form: along each axis write q = p + padBefore = t*s + r. Output row p of phase r gathers
 * dy[t-m] W[r+s*m] for m < ceil(k/s), so all s*s phases are ONE stride-1 conv of (padded) dy with the
 * phase filters stacked along the output channels, followed by a depth-to-space interleave (a 4-D
 * transpose: wasm's DepthToSpace and 5-D transposes are 10-20x slower) and a crop. Kernel = stride
 * without padding is one matMul plus the interleave.
 */
export function conv2dBackpropInput(dy: tf.Tensor4D, w: tf.Tensor4D, attrs: InputGradAttrs, plan?: InputGradPlan): tf.Tensor4D {
  const { inputShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, w.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const [n, h, wd, cin] = inputShape;
  const [kh, kw, , cout] = w.shape;
  const [, ho, wo] = dy.shape;
  if (ho !== info.outHeight || wo !== info.outWidth || dy.shape[3] !== cout || w.shape[2] !== cin) {
    throw new Error(`conv2dBackpropInput: dy [${dy.shape}] and filter [${w.shape}] do not fit input [${inputShape}]`);
  }
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const { top, left } = info.padInfo;
  const nonOverlapping = kh === sh && kw === sw && top === 0 && left === 0;
  const p = plan ?? (nonOverlapping ? 'matmul' : 'subpixel');
  if (p === 'matmul' && !nonOverlapping) throw new Error('conv2dBackpropInput: the matmul plan needs kernel = stride and no padding');
  return tf.tidy((): tf.Tensor4D => {
    if (p === 'matmul') {
      const wt = tf.transpose(tf.reshape(w, [kh * kw * cin, cout])); // [Cout,(a,b,ci)]
      const cols = tf.matMul(tf.reshape(dy, [n * ho * wo, cout]), wt); // [(n,i,j),(a,b,ci)]
      // With Wo = 1 (the generator's first layer, from [N,1,1,z]) the interleave is a pure reshape.
      const out: tf.Tensor4D = wo === 1
        ? tf.reshape(cols, [n, ho * kh, kw, cin])
        : tf.reshape(swapMiddle(tf.reshape(cols, [n * ho, wo, kh, kw * cin])), [n, ho * kh, wo * kw, cin]);
      // 'same' with kernel = stride may pad the last block (crop it); 'valid' may leave rows unread (zeros).
      return fitSize(out, h, wd);
    }
    const py = axisPlan(kh, sh, top, h, ho);
    const px = axisPlan(kw, sw, left, wd, wo);
    let src = dy;
    if (py.before < 0 || px.before < 0) {
      const y0 = Math.max(-py.before, 0);
      const x0 = Math.max(-px.before, 0);
      src = crop(dy, y0, x0, ho - y0, wo - x0);
    }
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0], [Math.max(py.before, 0), Math.max(py.after, 0)], [Math.max(px.before, 0), Math.max(px.after, 0)], [0, 0]];
    const f = phaseFilter(w, sh, sw, py.m, px.m);
    const z = tf.conv2d(src, f, 1, pad); // [N, T, U, (ry,rx,ci)], T >= tmax-tmin+1
    const [, zt, zu] = z.shape;
    const full: tf.Tensor4D = sh === 1 && sw === 1 ? z : tf.reshape(swapMiddle(tf.reshape(z, [n * zt, zu, sh, sw * cin])), [n, zt * sh, zu * sw, cin]);
    return crop(full, py.crop, px.crop, h, wd);
  });
}
