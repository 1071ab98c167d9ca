/**
 * biasAct(x, b, act) = act(x + sign * b), b [C] broadcast over the last axis: every bias and the
 * activation after it as one op. On wasm (float32, C % 4 = 0) one SIMD pass each way over the heap
 * (simd/bias_act.ts), the bias gradient accumulated in the backward pass; elsewhere tf ops and a JS
 * column sum. The ReLU(x - b) of docs/theory.md section 1 is sign -1. The leaky slope's gradient is
 * `dy * step(y, alpha)` (LeakyRelu's own gradient, Greater + Select, cost ~15 ns per float on wasm).
 * Once differentiable only: its gradient is not itself recorded (R1 needs src/ops/activations.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { colSum } from './colsum.js';
import { runOp, type OpDef } from './registry.js';
import { BLOCK_ROWS, biasActBackward, biasActForward } from './simd/bias_act.js';
import { wasmHeap } from './simd/heap.js';
import { asTensor, type KernelArgs } from './tensor_info.js';

export type Activation = 'linear' | 'relu' | 'lrelu';

interface ActAttrs {
  act: Activation;
  alpha: number;
  /** +1: act(x + b); -1: act(x - b). */
  sign: number;
  hasBias: boolean;
}

/** d act / dz as a function of the output y (y > 0 exactly where z > 0, for alpha >= 0). */
function actMask(y: tf.Tensor, a: ActAttrs): tf.Tensor | null {
  if (a.act === 'linear') return null;
  return tf.step(y, a.act === 'lrelu' ? a.alpha : 0);
}

/** The SIMD kernels' bias sign (0: no bias), or null where they do not apply (not wasm, C % 4 != 0). */
function simdBias(x: tf.TensorInfo, a: ActAttrs): -1 | 0 | 1 | null {
  if (!wasmHeap() || x.dtype !== 'float32' || x.shape[x.shape.length - 1] % 4 !== 0) return null;
  return a.hasBias ? (a.sign > 0 ? 1 : -1) : 0;
}

/** dz = dy * act'(y) and the bias gradient sign * sum(dz) in one SIMD pass (see simd/bias_act.ts). */
function simdBiasActGrad(y: tf.Tensor, dy: tf.Tensor, a: ActAttrs, bias: -1 | 0 | 1): { dz: tf.Tensor; db: tf.Tensor1D | null } {
  const heap = wasmHeap()!;
  const c = y.shape[y.rank - 1];
  const rows = y.size / c;
  const dz = a.act === 'linear' ? dy : heap.empty(y.shape);
  const part = bias !== 0 ? heap.empty([c]) : null;
  const kernel = biasActBackward(heap.memory, a.act, part !== null);
  // Float32 partial sums over blocks of rows, totalled in float64 here: the error does not grow with N.
  const total = new Float64Array(c);
  const partView = part ? heap.view(part) : null; // no allocation from here on: the view stays valid
  const [py, pdy, pdz, pp] = [heap.ptr(y), heap.ptr(dy), heap.ptr(dz), part ? heap.ptr(part) : 0];
  for (let r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
    const n = Math.min(BLOCK_ROWS, rows - r0);
    partView?.fill(0);
    const off = r0 * c * 4;
    kernel(py + off, pdy + off, pdz + off, pp, n, c / 4, a.alpha);
    if (partView) for (let j = 0; j < c; j++) total[j] += partView[j];
  }
  if (!part) return { dz, db: null };
  part.dispose();
  const db = Float32Array.from(total, (v) => bias * v);
  return { dz, db: tf.tensor1d(db) };
}

export const BIAS_ACT: OpDef = {
  name: 'FsrganBiasAct',
  kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
    const a = attrs as unknown as ActAttrs;
    const bias = inputs.x ? simdBias(inputs.x, a) : null;
    return tf.tidy(() => {
      let z = asTensor(inputs.x, backend);
      if (bias !== null && (bias !== 0 || a.act !== 'linear')) {
        const heap = wasmHeap()!;
        const c = z.shape[z.rank - 1];
        const out = heap.empty(z.shape);
        const b = bias !== 0 ? heap.ptr(asTensor(inputs.b, backend)) : 0;
        biasActForward(heap.memory, a.act, bias)(heap.ptr(z), b, heap.ptr(out), z.size / c, c / 4, a.alpha);
        return out;
      }
      if (a.hasBias) z = a.sign > 0 ? tf.add(z, asTensor(inputs.b, backend)) : tf.sub(z, asTensor(inputs.b, backend));
      if (a.act === 'relu') return tf.relu(z);
      if (a.act === 'lrelu') return tf.mul(z, tf.step(z, a.alpha));
      return a.hasBias ? z : tf.clone(z);
    });
  }) as unknown as tf.KernelFunc,
  gradient: {
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const a = attrs as unknown as ActAttrs;
      const bias = simdBias(saved[0], a);
      if (bias !== null) {
        // Both in one pass, here rather than in the closures: tfjs runs each closure in a tidy of its own,
        // which would dispose the other's result.
        const { dz, db } = simdBiasActGrad(saved[0], dy as tf.Tensor, a, bias);
        const grads: Record<string, () => tf.Tensor> = { x: () => dz };
        if (db) grads.b = () => db;
        return grads;
      }
      const mask = actMask(saved[0], a);
      const dz = mask ? tf.mul(dy as tf.Tensor, mask) : (dy as tf.Tensor);
      const grads: Record<string, () => tf.Tensor> = { x: () => dz };
      if (a.hasBias) grads.b = () => (a.sign > 0 ? colSum(dz) : tf.neg(colSum(dz)));
      return grads;
    },
  },
};

/** act(x + sign * b) with b [C] broadcast over the last axis of x (b omitted: act(x)). */
export function biasAct<T extends tf.Tensor>(x: T, b: tf.Tensor1D | null, act: Activation, opts: { alpha?: number; sign?: 1 | -1 } = {}): T {
  if (b && (b.rank !== 1 || b.shape[0] !== x.shape[x.rank - 1])) throw new Error(`biasAct: b [${b.shape}] does not match the channels of x [${x.shape}]`);
  const alpha = opts.alpha ?? 0.2;
  if (act === 'lrelu' && !(alpha >= 0)) throw new Error(`biasAct: leaky slope must be >= 0, got ${alpha}`);
  const attrs = { act, alpha, sign: opts.sign ?? 1, hasBias: b !== null };
  return runOp<T>(BIAS_ACT, b ? { x, b } : { x }, attrs);
}
