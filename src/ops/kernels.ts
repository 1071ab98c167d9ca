/**
 * The one place fsrgan registers kernels (docs/ops.md): its own ops with hand-written gradients (dense,
 * bias + activation, batch norm, upsample + concat; registry.ts) on every backend, and per-backend
 * replacements of tfjs's kernels (docs/engine.md). On wasm the missing Conv2DBackpropFilter,
 * the slow Conv2DBackpropInput and the slow transposed-operand BatchMatMul are rebuilt from XNNPACK's
 * conv2d and matMul. Registering kernels (rather than wrapping ops) makes tf.conv2d's gradient,
 * tf.conv2dTranspose, dense-layer gradients and every higher derivative use them, through tfjs's own
 * gradient definitions. A kernel runs with the tape off, so the tf ops inside it are not recorded.
 * Native TensorFlow and the cpu reference backend keep their own kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilter, type FilterGradAttrs } from './filter_grad.js';
import { conv2dBackpropInput, type InputGradAttrs } from './input_grad.js';
import { convShape, explicitSamePad, type ConvAttrs } from './shape.js';
import { patchForward, patchForwardPreferred } from './simd/conv.js';
import { concatInto, sliceInto, splitFrom, type Typed } from './slice.js';
import { asTensor, type KernelArgs } from './tensor_info.js';
import { BATCH_NORM } from './batch_norm.js';
import { BIAS_ACT } from './bias_act.js';
import { DENSE } from './dense.js';
import type { OpDef } from './registry.js';
import { DOWNSAMPLE_2X_SUM, UPSAMPLE_2X } from './upsample.js';
import { UPSAMPLE_CONCAT } from './upsample_concat.js';

/** fsrgan's own ops, one per file (upsample.ts: the op and its adjoint). */
export const FSRGAN_OPS: OpDef[] = [DENSE, BIAS_ACT, BATCH_NORM, UPSAMPLE_CONCAT, UPSAMPLE_2X, DOWNSAMPLE_2X_SUM];

const registered = new Set<string>();

/**
 * The gradient of a conv's filter gradient dW = conv2dBackpropFilter(x, dy), which tfjs does not define:
 * <G, dW> = sum_k G[k] sum_p x[p + k] dy[p] is bilinear, so d/dx = the input gradient of a conv of filter G
 * with output gradient dy (conv2dTranspose), d/ddy = conv2d(x, G). The second-order unrolled GAN
 * (docs/recipes.md) differentiates D's SGD steps, hence its weight gradients, with respect to G's samples.
 */
const FILTER_GRAD_GRADIENT: tf.GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (g, saved, attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { strides, pad } = attrs as unknown as { strides: [number, number]; pad: 'same' | 'valid' };
    const G = g as tf.Tensor4D;
    return { x: () => tf.conv2dTranspose(dy, G, x.shape, strides, pad), dy: () => tf.conv2d(x, G, strides, pad) };
  },
};

/** Which implementation each differentiable op uses on `backend`, for `fsrgan info` and the benchmarks. */
export function kernelPlan(backend: string): Record<string, string> {
  if (backend === 'wasm') {
    return {
      conv2d: 'XNNPACK conv2d; kernel = stride with <= 8 input channels: SIMD patch kernel on the heap',
      deconv2d: '(= conv2d input gradient) <= 8 output channels: SIMD patch kernel scattering into the heap; else sub-pixel: one stride-1 XNNPACK conv2d with the s*s phase filters, then depth-to-space; where that grid wastes > 15% of the FLOPs: one exact conv2d per phase, interleaved by concat; kernel = stride: matMul + depth-to-space',
      'conv2d filter gradient': 'Cout divisible by 8: SIMD patch kernel reading x and dy in place; else one stride-1 XNNPACK conv2d with batch as channels and the smaller activation as filter (kernel = stride: one matMul)',
      'matMul gradients': 'explicit transpose, then XNNPACK matMul',
      'bias + activation': 'one SIMD pass each way on the heap (C % 4 = 0), the bias gradient in the backward pass',
    };
  }
  if (backend === 'cpu') {
    return { conv2d: 'tfjs cpu kernels (reference, slow)', deconv2d: 'tfjs cpu kernels (reference, slow)' };
  }
  return { conv2d: `native ${backend} kernels`, deconv2d: `native ${backend} kernels` };
}

type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** Replaces (or adds) a kernel; `fallback` is the kernel it replaces, kept for cases it does not handle. */
function install(name: string, backendName: string, make: (fallback: Kernel | null) => Kernel): void {
  const old = tf.getKernel(name, backendName);
  if (old) tf.unregisterKernel(name, backendName);
  const kernelFunc = make(old ? (old.kernelFunc as unknown as Kernel) : null);
  // Keep the old setupFunc: it binds the wasm functions the fallback calls if the backend is re-created.
  tf.registerKernel({ kernelName: name, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc, setupFunc: old?.setupFunc });
}

/** The wasm backend's allocation and heap views, for the kernels that copy between tensors. */
function heapBackend(b: tf.KernelBackend): { makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo; typedArrayFromHeap(t: tf.TensorInfo): Typed } {
  return b as unknown as { makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo; typedArrayFromHeap(t: tf.TensorInfo): Typed };
}

const isNchw = (attrs?: tf.NamedAttrMap) => (attrs as { dataFormat?: string } | undefined)?.dataFormat === 'NCHW';

function unsupported(name: string): Kernel {
  return () => {
    throw new Error(`${name} (fsrgan wasm kernel): only NHWC is supported`);
  };
}

/** Installs fsrgan's kernels for `backend` (called by initBackend). Idempotent. */
export function registerFastKernels(backend: string): void {
  if (registered.has(backend)) return;
  registered.add(backend);
  for (const op of FSRGAN_OPS) {
    if (!tf.getKernel(op.name, backend)) tf.registerKernel({ kernelName: op.name, backendName: backend, kernelFunc: op.kernelFunc });
    if (!tf.getGradient(op.name)) tf.registerGradient({ kernelName: op.name, ...op.gradient });
  }
  if (!tf.getGradient('Conv2DBackpropFilter')) tf.registerGradient(FILTER_GRAD_GRADIENT);
  if (backend !== 'wasm') return;

  // XNNPACK's conv needs no help, except for kernel = stride over few channels (RGB, the stage pair),
  // where its tiny K (12-96) runs at 4-7 GFLOP/s.
  install('Conv2D', 'wasm', (fallback) => {
    if (!fallback) throw new Error('registerFastKernels: wasm has no Conv2D kernel to wrap');
    return (args) => {
      const a = args.attrs as unknown as ConvAttrs & { dilations?: number | [number, number] };
      const dil = a.dilations ?? 1;
      const { x, filter } = args.inputs;
      if (isNchw(args.attrs) || !x || !filter || (Array.isArray(dil) ? dil[0] * dil[1] : dil) !== 1) return fallback(args);
      // 'same' with 1 < kernel < stride can need negative padding, and then wasm returns zeros (shape.ts).
      // This also covers a deconv's input gradient, which tfjs computes as this Conv2D.
      const explicit = a.pad === 'same' ? explicitSamePad(x.shape, filter.shape, a.strides) : null;
      if (explicit) return fallback({ ...args, attrs: { ...args.attrs, pad: explicit } as unknown as tf.NamedAttrMap });
      const c = convShape(x.shape, filter.shape as [number, number, number, number], a);
      if (!patchForwardPreferred(c)) return fallback(args);
      return tf.tidy(() => patchForward(asTensor<tf.Rank.R4>(x, args.backend), asTensor<tf.Rank.R4>(filter, args.backend), c));
    };
  });

  install('Conv2DBackpropFilter', 'wasm', (fallback) => (args) => {
    if (isNchw(args.attrs)) return (fallback ?? unsupported('Conv2DBackpropFilter'))(args);
    const { x, dy } = args.inputs;
    const attrs = args.attrs as unknown as FilterGradAttrs;
    return tf.tidy(() => conv2dBackpropFilter(asTensor<tf.Rank.R4>(x, args.backend), asTensor<tf.Rank.R4>(dy, args.backend), attrs));
  });

  install('Conv2DBackpropInput', 'wasm', (fallback) => (args) => {
    if (isNchw(args.attrs)) return (fallback ?? unsupported('Conv2DBackpropInput'))(args);
    const { dy, filter } = args.inputs;
    const attrs = args.attrs as unknown as InputGradAttrs;
    return tf.tidy(() => conv2dBackpropInput(asTensor<tf.Rank.R4>(dy, args.backend), asTensor<tf.Rank.R4>(filter, args.backend), attrs));
  });

  // wasm's Slice copies the whole input to JS before slicing it (docs/ops.md): copy just the slice.
  install('Slice', 'wasm', (fallback) => (args) => {
    const x = args.inputs.x;
    if (!fallback) throw new Error('registerFastKernels: wasm has no Slice kernel to wrap');
    if (!x || x.dtype === 'string') return fallback(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, begin, size);
    const be = heapBackend(args.backend);
    const out = be.makeOutput(s, x.dtype);
    // Views only after makeOutput: an allocation may grow the heap and detach earlier views.
    sliceInto(be.typedArrayFromHeap(x), x.shape, b, s, be.typedArrayFromHeap(out));
    return out;
  });

  // wasm's Concat makes a typed-array view per row and input (one per pixel along a channel axis), and
  // its SplitV slices through the Slice that copies the whole input first: copies between heap views.
  install('Concat', 'wasm', (fallback) => (args) => {
    const xs = (args.inputs as unknown as tf.TensorInfo[]).filter((t) => t.shape.every((d) => d > 0));
    const first = (args.inputs as unknown as tf.TensorInfo[])[0];
    if (!fallback) throw new Error('registerFastKernels: wasm has no Concat kernel to wrap');
    if (!first || first.dtype === 'string' || xs.length < 2) return fallback(args);
    const axis = tf.util.parseAxisParam((args.attrs as unknown as { axis: number }).axis, first.shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
    const be = heapBackend(args.backend);
    const out = be.makeOutput(outShape, first.dtype);
    const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
    // Views only after makeOutput: an allocation may grow the heap and detach earlier views.
    concatInto(xs.map((t) => be.typedArrayFromHeap(t)), xs.map((t) => tf.util.sizeFromShape(t.shape.slice(axis))), outer, be.typedArrayFromHeap(out));
    return out;
  });

  install('SplitV', 'wasm', (fallback) => (args) => {
    const x = args.inputs.x;
    if (!x || x.dtype === 'string') return (fallback ?? unsupported('SplitV'))(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.TensorInfo as tf.Tensor, numOrSizeSplits, ax);
    const be = heapBackend(args.backend);
    const outs = sizes.map((s) => be.makeOutput(x.shape.map((d, i) => (i === ax ? s : d)), x.dtype));
    const after = tf.util.sizeFromShape(x.shape.slice(ax + 1));
    splitFrom(be.typedArrayFromHeap(x), sizes.map((s) => s * after), tf.util.sizeFromShape(x.shape.slice(0, ax)), outs.map((o) => be.typedArrayFromHeap(o)));
    return outs;
  });

  // wasm's Identity copies its input. tfjs clones every tensor a recorded op saves for its gradient, so a
  // training step copied each conv input and filter once more, and the copies' new data ids defeated the
  // derived-filter and XNNPACK operator caches (keyed by data). Tensors are immutable: share the data,
  // as the cpu and webgl backends (and wasm's own Reshape) do.
  install('Identity', 'wasm', (fallback) => (args) => {
    const x = args.inputs.x;
    if (!x || x.dtype === 'string') return (fallback ?? unsupported('Identity'))(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });

  // wasm's matMul takes XNNPACK only without transposes; with one it runs a loop at ~1 GFLOP/s, and every
  // dense layer's gradient has one. An explicit transpose first is 4-25x faster at every shape measured.
  install('BatchMatMul', 'wasm', (fallback) => {
    if (!fallback) throw new Error('registerFastKernels: wasm has no BatchMatMul kernel to wrap');
    return (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return fallback(args);
      return tf.tidy(() => {
        const lastTwo = (t: tf.Tensor) => tf.transpose(t, [...t.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)));
        const a = asTensor(args.inputs.a, args.backend);
        const b = asTensor(args.inputs.b, args.backend);
        return tf.matMul(transposeA ? lastTwo(a) : a, transposeB ? lastTwo(b) : b);
      });
    };
  });
}
