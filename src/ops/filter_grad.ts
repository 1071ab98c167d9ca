/**
 * The filter gradient of a 2-D convolution (tfjs kernel `Conv2DBackpropFilter`), built from fast ops.
 * wasm has no such kernel at all (docs/engine.md), so without this no conv weight can be trained there.
 *
 * dW[a,b,ci,co] = sum_{n,i,j} xpad[n, i*s+a, j*s+b, ci] dy[n,i,j,co] is a product of two activations with
 * the long axis (n,i,j) contracted. XNNPACK (conv2d, matMul) repacks its weight operand on every call at
 * roughly 14 ns per float, so the plan puts the SMALLER activation in the weight slot (docs/ops.md).
 */
import * as tf from '@tensorflow/tfjs';
import { fitSize, padHW, swapBatchChannels, swapMiddle } from './layout.js';
import { convShape, type ConvAttrs, type ConvShape } from './shape.js';
import { patchFilterGrad, patchUnavailable } from './simd/conv.js';

/** Attributes of tfjs's Conv2DBackpropFilter kernel that fsrgan supports (NHWC, no dilation). */
export interface FilterGradAttrs extends ConvAttrs {
  filterShape: [number, number, number, number];
}

/**
 * - `matmul`: kernel = stride, no padding: cols^T dy, one matMul (dy is the weight operand).
 * - `dilated`: one stride-1 conv2d of x (batch moved to channels) with dy as the filter, dilation = stride.
 * - `packX`: one stride-1 conv2d of dy (batch moved to channels) with space-to-depth(x) as the filter,
 *   for layers whose x is much smaller than dy (few input channels, e.g. RGB).
 * - `patch` (tfjs-wasm only): one hand-written SIMD kernel reading x and dy in place (simd/patch.ts).
 */
export type FilterGradPlan = 'matmul' | 'dilated' | 'packX' | 'patch';

type Geometry = ConvShape;

function geometry(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: FilterGradAttrs): Geometry {
  const g = convShape(x.shape, attrs.filterShape, attrs);
  if (dy.shape[1] !== g.ho || dy.shape[2] !== g.wo || dy.shape[3] !== g.cout || x.shape[3] !== g.cin) {
    throw new Error(`conv2dBackpropFilter: x [${x.shape}] and dy [${dy.shape}] do not fit filter [${attrs.filterShape}]`);
  }
  return g;
}

/** The plan `conv2dBackpropFilter` uses for these shapes. */
export function filterGradPlan(xShape: number[], dyShape: number[], attrs: FilterGradAttrs): FilterGradPlan {
  const [kh, kw] = attrs.filterShape;
  const shape = convShape(xShape, attrs.filterShape, attrs);
  if (patchUnavailable(shape, 'filterGrad') === null) return 'patch';
  const nonOverlapping = kh === shape.sh && kw === shape.sw && shape.top === 0 && shape.left === 0;
  const xSize = xShape.reduce((a, b) => a * b, 1);
  const dySize = dyShape.reduce((a, b) => a * b, 1);
  // packX also transposes dy, so it pays off only when x is clearly the smaller operand.
  if (2 * xSize < dySize) return 'packX';
  return nonOverlapping ? 'matmul' : 'dilated';
}

/**
 * dW for y = conv2d(x, W, strides, pad): x [N,H,W,Cin], dy [N,Ho,Wo,Cout] -> [kh,kw,Cin,Cout].
 * `plan` overrides the automatic choice (tests run every plan).
 */
export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: FilterGradAttrs, plan?: FilterGradPlan): tf.Tensor4D {
  const g = geometry(x, dy, attrs);
  const p = plan ?? filterGradPlan(x.shape, dy.shape, attrs);
  if (p === 'patch') return patchFilterGrad(x, dy, g);
  return tf.tidy(() => (p === 'matmul' ? viaMatmul(x, dy, g) : p === 'dilated' ? viaDilatedConv(x, dy, g) : viaPackX(x, dy, g)));
}

/** Non-overlapping patches: rows (n,i,j), columns (a,b,ci) of space-to-depth(x); dW = cols^T dy. */
function viaMatmul(x: tf.Tensor4D, dy: tf.Tensor4D, g: Geometry): tf.Tensor4D {
  const { n, h, w, cin, cout, kh, kw, sh, sw, ho, wo, top, left } = g;
  if (kh !== sh || kw !== sw || top !== 0 || left !== 0) throw new Error('conv2dBackpropFilter: the matmul plan needs kernel = stride and no padding');
  // 'valid' may leave rows unread (cut them); 'same' may pad the last block (zeros).
  const xc = fitSize(x, ho * kh, wo * kw);
  // cols^T from one 4-D transpose: wasm's matMul with a transposed operand runs at ~1 GFLOP/s.
  const colsT = tf.transpose(tf.reshape(xc, [n * ho, kh, wo, kw * cin]), [1, 3, 0, 2]); // [a,(b,ci),(n,i),j]
  const dw = tf.matMul(tf.reshape(colsT, [kh * kw * cin, n * ho * wo]), tf.reshape(dy, [n * ho * wo, cout]));
  return tf.reshape(dw, [kh, kw, cin, cout]);
}

/** One dilated stride-1 conv2d with x as [Cin,H,W,N] and dy as the filter [Ho,Wo,N,Cout]. */
function viaDilatedConv(x: tf.Tensor4D, dy: tf.Tensor4D, g: Geometry): tf.Tensor4D {
  const { n, h, w, cin, kh, kw, sh, sw, ho, wo, top, left } = g;
  // Pad (or drop) exactly the input rows some output reads, so the conv yields kh x kw taps.
  const bottom = kh + (ho - 1) * sh - h - top;
  const right = kw + (wo - 1) * sw - w - left;
  const xs = fitSize(x, h + Math.min(bottom, 0), w + Math.min(right, 0));
  const xt = swapBatchChannels(xs); // [Cin,H,W,N]
  const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho,Wo,N,Cout]
  const pad: tf.backend_util.ExplicitPadding = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
  const dw = tf.conv2d(xt, dyt, 1, pad, 'NHWC', [sh, sw]); // [Cin,kh,kw,Cout]
  return tf.transpose(dw, [1, 2, 0, 3]);
}

/**
 * With X = space-to-depth(xpad) [N,U,V,(ra,rb,ci)] and tap a = ra + s*ma:
 * dW[a] = sum_i X[i+ma, ra] dy[i] = sum_u X[u, ra] dy[u-ma], a correlation of dy (front-padded by m-1)
 * with X as the filter whose output index runs backwards in ma. Batch is the contracted channel of both.
 */
function viaPackX(x: tf.Tensor4D, dy: tf.Tensor4D, g: Geometry): tf.Tensor4D {
  const { n, h, w, cin, cout, kh, kw, sh, sw, ho, wo, top, left } = g;
  const mh = Math.ceil(kh / sh);
  const mw = Math.ceil(kw / sw);
  const u = ho + mh - 1;
  const v = wo + mw - 1;
  // xpad rows [0, s*u): the forward padding before, zeros or dropped rows after.
  const bottom = sh * u - h - top;
  const right = sw * v - w - left;
  let xp = fitSize(x, h + Math.min(bottom, 0), w + Math.min(right, 0));
  if (top > 0 || left > 0 || bottom > 0 || right > 0) {
    xp = padHW(xp, top, Math.max(bottom, 0), left, Math.max(right, 0));
  }
  const c4 = sh * sw * cin;
  const s2d = sh === 1 ? xp : swapMiddle(tf.reshape(xp, [n * u, sh, v, sw * cin])); // [N,U,V,(ra,rb,ci)]
  let o: tf.Tensor4D;
  if (mh === 1 && mw === 1) {
    // One tap block: dW = dy^T X over rows (n,i,j) in their own order. dy^T via the 3-D transpose
    // [N,(Ho,Wo),Cout] -> [Cout,N,(Ho,Wo)], 2x faster on wasm than swapBatchChannels or a 2-D transpose.
    const dyT = tf.reshape(tf.transpose(tf.reshape(dy, [n, ho * wo, cout]), [2, 0, 1]), [cout, n * ho * wo]);
    o = tf.reshape(tf.matMul(dyT, tf.reshape(s2d, [n * u * v, c4])), [cout, 1, 1, c4]);
  } else {
    const f = tf.reshape(tf.transpose(tf.reshape(s2d, [n, u * v, c4]), [1, 0, 2]), [u, v, n, c4]);
    const dyt = swapBatchChannels(dy); // [Cout,Ho,Wo,N]
    o = tf.conv2d(dyt as tf.Tensor4D, f as tf.Tensor4D, 1, [[0, 0], [mh - 1, mh - 1], [mw - 1, mw - 1], [0, 0]]); // [Cout, mh', mw', c4]
    o = tf.reverse(o, [1, 2]) as tf.Tensor4D; // index ma
  }
  // [Cout, ma, mb, ra, rb, ci] -> [ma, ra, mb, rb, ci, Cout]; a tiny tensor.
  const t = tf.transpose(tf.reshape(o, [cout, mh, mw, sh, sw, cin]), [1, 3, 2, 4, 5, 0]);
  const full = tf.reshape(t, [mh * sh, mw * sw, cin, cout]);
  return mh * sh === kh && mw * sw === kw ? (full as tf.Tensor4D) : tf.slice(full as tf.Tensor4D, [0, 0, 0, 0], [kh, kw, cin, cout]);
}
