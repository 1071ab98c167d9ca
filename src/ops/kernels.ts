/**
 * Per-backend kernel replacements (docs/ops.md, ENGINE.md). On wasm the missing Conv2DBackpropFilter
 * and the slow Conv2DBackpropInput are rebuilt from fast XNNPACK convolutions and matMuls. Registering
 * kernels (rather than wrapping ops) makes tf.conv2d's gradient, tf.conv2dTranspose and every higher
 * derivative use them, with tfjs's own gradient definitions. Kernels run with the tape off, so the tf ops
 * inside them are not recorded. Registering is idempotent.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilter, type FilterGradAttrs } from './filter_grad.js';
import { conv2dBackpropInput, type InputGradAttrs } from './input_grad.js';

const registered = new Set<string>();

/** Which implementation each differentiable op uses on each backend, for `fsrgan info`. */
export function kernelPlan(backend: string): Record<string, string> {
  if (backend === 'wasm') {
    return {
      conv2d: 'tf.conv2d (XNNPACK)',
      'conv2d filter gradient': 'one stride-1 dilated conv2d with batch as channels (XNNPACK); kernel = stride: one matMul',
      deconv2d: 'tf.conv2dTranspose (wasm kernel)',
    };
  }
  if (backend === 'cpu') {
    return { conv2d: 'tf.conv2d (cpu reference kernels)', deconv2d: 'tf.conv2dTranspose (cpu reference kernels)' };
  }
  return { conv2d: 'tf.conv2d (native)', deconv2d: 'tf.conv2dTranspose (native)' };
}

/**
 * Wraps a kernel input (a TensorInfo) as a Tensor owned by the enclosing tidy. The extra reference keeps
 * the caller's data alive when the tidy disposes the wrapper.
 */
function asTensor<R extends tf.Rank>(info: tf.TensorInfo | undefined, backend: tf.KernelBackend): tf.Tensor<R> {
  if (!info) throw new Error('fsrgan kernel: missing input');
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend) as tf.Tensor<R>;
}

interface BackpropFilterAttrs extends FilterGradAttrs {
  dataFormat?: 'NHWC' | 'NCHW';
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

function backpropFilterKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const a = attrs as unknown as BackpropFilterAttrs;
  if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (fsrgan wasm kernel): only NHWC is supported');
  return tf.tidy(() => conv2dBackpropFilter(asTensor<tf.Rank.R4>(inputs.x, backend), asTensor<tf.Rank.R4>(inputs.dy, backend), a));
}

interface BackpropInputAttrs extends InputGradAttrs {
  dataFormat?: 'NHWC' | 'NCHW';
}

function backpropInputKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const a = attrs as unknown as BackpropInputAttrs;
  if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropInput (fsrgan wasm kernel): only NHWC is supported');
  return tf.tidy(() => conv2dBackpropInput(asTensor<tf.Rank.R4>(inputs.dy, backend), asTensor<tf.Rank.R4>(inputs.filter, backend), a));
}

/** Installs fsrgan's kernels for `backend` (called by initBackend). */
export function registerFastKernels(backend: string): void {
  if (registered.has(backend)) return;
  registered.add(backend);
  if (backend !== 'wasm') return;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: backpropFilterKernel as tf.KernelFunc });
  }
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: backpropInputKernel as tf.KernelFunc });
}
