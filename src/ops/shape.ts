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
