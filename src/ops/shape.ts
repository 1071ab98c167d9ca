/**
 * The geometry of a 2-D convolution as the rebuilt kernels see it (filter_grad.ts, input_grad.ts,
 * simd/): one record computed once from tfjs's kernel attributes.
 */
import * as tf from '@tensorflow/tfjs';

/** Attributes the conv kernels share (NHWC, no dilation). */
export interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** A 2-D convolution x [N,H,W,Cin] -> [N,Ho,Wo,Cout] with kernel kh x kw, strides, and top/left padding. */
export interface ConvShape {
  n: number; h: number; w: number; cin: number; cout: number;
  kh: number; kw: number; sh: number; sw: number; top: number; left: number; ho: number; wo: number;
}

/** The ConvShape of y = conv2d(x, W) for x of shape `xShape` and W of shape [kh,kw,Cin,Cout]. */
export function convShape(xShape: number[], filterShape: [number, number, number, number], attrs: ConvAttrs): ConvShape {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const [n, h, w] = xShape;
  const [kh, kw, cin, cout] = filterShape;
  return {
    n, h, w, cin, cout, kh, kw, sh: info.strideHeight, sw: info.strideWidth,
    top: info.padInfo.top, left: info.padInfo.left, ho: info.outHeight, wo: info.outWidth,
  };
}

/**
 * tfjs-wasm 4.22's Conv2D returns all zeros for 'same' padding when the padding that rule asks for is
 * negative on an axis: kernel > 1 and the last window ends before the input does, (ceil(H/s)-1) s + k < H,
 * which needs 1 < k < s (12x12, kernel 2, stride 3; tfjs-wasm's own kernel, without fsrgan's code). Such
 * an axis needs no padding at all, so the same convolution with explicit padding (0 there, the 'same'
 * amounts on the other axis) is exact. Returns that explicit padding, or null where 'same' is safe.
 */
export function explicitSamePad(xShape: number[], filterShape: number[], strides: [number, number] | number): tf.backend_util.ExplicitPadding | null {
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const axis = (len: number, k: number, s: number) => {
    const need = (Math.ceil(len / s) - 1) * s + k - len;
    return { bad: k > 1 && need < 0, before: Math.floor(Math.max(need, 0) / 2), after: Math.max(need, 0) - Math.floor(Math.max(need, 0) / 2) };
  };
  const y = axis(xShape[1], filterShape[0], sh);
  const x = axis(xShape[2], filterShape[1], sw);
  if (!y.bad && !x.bad) return null;
  return [[0, 0], [y.before, y.after], [x.before, x.after], [0, 0]];
}
