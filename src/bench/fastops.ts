/**
 * Layer ops with hand-written gradients, registered as tfjs kernels so that each input's gradient is
 * computed only when needed (lazy, unlike tf.customGrad) and the ops inside run untaped. They avoid what
 * the profile of a training step on wasm showed to cost far more than its FLOPs (docs/speed.md):
 * - matMul with a transposed operand (~1 GFLOP/s on wasm): explicit transposes of the smaller operand;
 * - Sum over leading axes (a transpose plus a reduction, ~6 ns per float): a JS column sum on the heap;
 * - LeakyRelu's gradient (Greater + Select, ~15 ns per float): y = x * step(x, alpha), dx = dy * same;
 * - Concat along a short last axis (a JS copy per pixel): one JS loop for upsample2x + concat.
 * On native TensorFlow (tfjs-node) the same kernels use plain tf ops throughout.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, type KernelArgs } from '../ops/tensor_info.js';
import { BLOCK_ROWS, biasActBackward, biasActForward } from '../ops/simd/bias_act.js';
import { filledTensor, floatsOf, wasmHeap } from '../ops/simd/heap.js';

/** JS loops beat the backend's kernels on wasm and equal them on cpu; native TensorFlow keeps tf ops. */
const jsLoops = () => tf.getBackend() !== 'tensorflow';

/** Sum over every axis but the last: t [..., C] -> [C] (float64 accumulation on wasm/cpu). */
export function colSum(t: tf.Tensor): tf.Tensor1D {
  const c = t.shape[t.rank - 1];
  if (!jsLoops()) return tf.sum(t, t.shape.slice(0, -1).map((_, i) => i)) as tf.Tensor1D;
  const v = floatsOf(t);
  const acc = new Float64Array(c);
  for (let o = 0; o < v.length; o += c) for (let j = 0; j < c; j++) acc[j] += v[o + j];
  return tf.tensor1d(Float32Array.from(acc));
}

/** Sums of t and of t*u per channel (u same shape), in one pass. */
function colSum2(t: tf.Tensor, u: tf.Tensor): [tf.Tensor1D, tf.Tensor1D] {
  if (!jsLoops()) return [colSum(t), colSum(tf.mul(t, u))];
  const c = t.shape[t.rank - 1];
  const a = floatsOf(t);
  const b = floatsOf(u);
  const s = new Float64Array(c);
  const p = new Float64Array(c);
  for (let o = 0; o < a.length; o += c) {
    for (let j = 0; j < c; j++) {
      s[j] += a[o + j];
      p[j] += a[o + j] * b[o + j];
    }
  }
  return [tf.tensor1d(Float32Array.from(s)), tf.tensor1d(Float32Array.from(p))];
}

/** Per-channel mean and biased variance of x [..., C], as [C] tensors. */
function moments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (!jsLoops()) {
    const m = tf.moments(x, x.shape.slice(0, -1).map((_, i) => i));
    return { mean: m.mean as tf.Tensor1D, variance: m.variance as tf.Tensor1D };
  }
  const c = x.shape[x.rank - 1];
  const v = floatsOf(x);
  const rows = v.length / c;
  const s = new Float64Array(c);
  const q = new Float64Array(c);
  for (let o = 0; o < v.length; o += c) {
    for (let j = 0; j < c; j++) {
      const e = v[o + j];
      s[j] += e;
      q[j] += e * e;
    }
  }
  const mean = new Float32Array(c);
  const variance = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const m = s[j] / rows;
    mean[j] = m;
    variance[j] = Math.max(q[j] / rows - m * m, 0);
  }
  return { mean: tf.tensor1d(mean), variance: tf.tensor1d(variance) };
}

export type Activation = 'linear' | 'relu' | 'lrelu';

interface ActAttrs {
  act: Activation;
  alpha: number;
  /** +1: act(x + b); -1: act(x - b) (the ReLU(x - b) of docs/theory.md section 1). */
  sign: number;
  hasBias: boolean;
}

/** d act / dz as a function of the output y (y > 0 exactly where z > 0, for alpha >= 0). */
function actMask(y: tf.Tensor, a: ActAttrs): tf.Tensor | null {
  if (a.act === 'linear') return null;
  return tf.step(y, a.act === 'lrelu' ? a.alpha : 0);
}

const KERNELS: tf.KernelConfig[] = [];
const GRADIENTS: tf.GradConfig[] = [];

KERNELS.push({
  kernelName: 'FsrganDense',
  backendName: '',
  kernelFunc: (({ inputs, backend }: KernelArgs) => tf.tidy(() => tf.matMul(asTensor(inputs.x, backend) as tf.Tensor2D, asTensor(inputs.w, backend) as tf.Tensor2D))) as unknown as tf.KernelFunc,
});
GRADIENTS.push({
  kernelName: 'FsrganDense',
  inputsToSave: ['x', 'w'],
  gradFunc: (dy, saved) => {
    const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
    const g = dy as tf.Tensor2D;
    const [n, cin] = x.shape;
    const cout = w.shape[1];
    return {
      // XNNPACK repacks its second operand on every call: transpose whichever side moves fewer floats.
      x: () => (2 * cin * cout < 2 * n * cout + n * cin ? tf.matMul(g, tf.transpose(w)) : tf.transpose(tf.matMul(w, tf.transpose(g)))),
      w: () => tf.matMul(tf.transpose(x), g),
    };
  },
});

/** The SIMD kernels' bias sign (0: no bias), or null where they do not apply (not wasm, C % 4 != 0). */
function simdBias(x: tf.TensorInfo, a: ActAttrs): -1 | 0 | 1 | null {
  if (!wasmHeap() || x.dtype !== 'float32' || x.shape[x.shape.length - 1] % 4 !== 0) return null;
  return a.hasBias ? (a.sign > 0 ? 1 : -1) : 0;
}

KERNELS.push({
  kernelName: 'FsrganBiasAct',
  backendName: '',
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
});

/** dz = dy * act'(y) and the bias gradient sign * sum(dz) in one SIMD pass (see src/ops/simd/bias_act.ts). */
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

GRADIENTS.push({
  kernelName: 'FsrganBiasAct',
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
});

interface BnAttrs {
  eps: number;
}

KERNELS.push({
  kernelName: 'FsrganBatchNorm',
  backendName: '',
  kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
    const { eps } = attrs as unknown as BnAttrs;
    return tf.tidy(() => {
      const x = asTensor(inputs.x, backend);
      const { mean, variance } = moments(x);
      const scale = tf.mul(tf.rsqrt(tf.add(variance, eps)), asTensor(inputs.gamma, backend));
      const shift = tf.sub(asTensor(inputs.beta, backend), tf.mul(mean, scale));
      return tf.add(tf.mul(x, scale), shift);
    });
  }) as unknown as tf.KernelFunc,
});
GRADIENTS.push({
  kernelName: 'FsrganBatchNorm',
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const { eps } = attrs as unknown as BnAttrs;
    const [x, gamma] = saved;
    const g = dy as tf.Tensor;
    const rows = x.size / x.shape[x.rank - 1];
    const { mean, variance } = moments(x);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.add(tf.mul(x, rstd), tf.neg(tf.mul(mean, rstd)));
    const [dbeta, dgamma] = colSum2(g, xhat);
    return {
      // dx = gamma rstd (dy - dbeta/M - xhat dgamma/M), the batch-statistics gradient.
      x: () => {
        const k = tf.mul(gamma, rstd);
        return tf.add(tf.add(tf.mul(g, k), tf.mul(xhat, tf.mul(k, tf.div(dgamma, -rows)))), tf.mul(k, tf.div(dbeta, -rows)));
      },
      gamma: () => dgamma,
      beta: () => dbeta,
    };
  },
});

/** [N,h,w,c1], [N,2h,2w,c2] -> [N,2h,2w,c1+c2]: nearest-neighbour upsample2x(tap) then x, along channels. */
function upsampleConcatJs(tap: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c1] = tap.shape;
  const c2 = x.shape[3];
  const c = c1 + c2;
  return filledTensor<tf.Rank.R4>([n, 2 * h, 2 * w, c], (out) => {
    const t = floatsOf(tap);
    const xv = floatsOf(x);
    let o = 0;
    let xi = 0;
    const rgbPair = c1 === 3 && c2 === 3; // the stage pair: unrolled, 2x faster than the loops below
    for (let b = 0; b < n; b++) {
      for (let yy = 0; yy < 2 * h; yy++) {
        const row = (b * h + (yy >> 1)) * w;
        for (let xx = 0; xx < 2 * w; xx++) {
          const ti = (row + (xx >> 1)) * c1;
          if (rgbPair) {
            out[o] = t[ti];
            out[o + 1] = t[ti + 1];
            out[o + 2] = t[ti + 2];
            out[o + 3] = xv[xi];
            out[o + 4] = xv[xi + 1];
            out[o + 5] = xv[xi + 2];
            o += 6;
            xi += 3;
            continue;
          }
          for (let j = 0; j < c1; j++) out[o++] = t[ti + j];
          for (let j = 0; j < c2; j++) out[o++] = xv[xi++];
        }
      }
    }
  });
}

KERNELS.push({
  kernelName: 'FsrganUpsampleConcat',
  backendName: '',
  kernelFunc: (({ inputs, backend }: KernelArgs) =>
    tf.tidy(() => {
      const tap = asTensor<tf.Rank.R4>(inputs.tap, backend);
      const x = asTensor<tf.Rank.R4>(inputs.x, backend);
      if (jsLoops()) return upsampleConcatJs(tap, x);
      return tf.concat([tf.image.resizeNearestNeighbor(tap, [x.shape[1], x.shape[2]]), x], 3);
    })) as unknown as tf.KernelFunc,
});
/** Gradients of upsampleConcatJs: dtap [N,h,w,c1] (2x2 block sums of dy's first c1 channels) and dx. */
function upsampleConcatGradJs(dy: tf.Tensor4D, c1: number, which: 'tap' | 'x'): tf.Tensor4D {
  const [n, hh, ww, c] = dy.shape;
  const c2 = c - c1;
  if (which === 'x') {
    return filledTensor<tf.Rank.R4>([n, hh, ww, c2], (out) => {
      const g = floatsOf(dy);
      for (let p = 0, o = 0; p < g.length; p += c) for (let j = c1; j < c; j++) out[o++] = g[p + j];
    });
  }
  const h = hh / 2;
  const w = ww / 2;
  return filledTensor<tf.Rank.R4>([n, h, w, c1], (out) => {
    const g = floatsOf(dy);
    out.fill(0);
    for (let b = 0, p = 0; b < n; b++) {
      for (let yy = 0; yy < hh; yy++) {
        const row = (b * h + (yy >> 1)) * w;
        for (let xx = 0; xx < ww; xx++, p += c) {
          const ti = (row + (xx >> 1)) * c1;
          for (let j = 0; j < c1; j++) out[ti + j] += g[p + j];
        }
      }
    }
  });
}

GRADIENTS.push({
  kernelName: 'FsrganUpsampleConcat',
  inputsToSave: ['tap'],
  gradFunc: (dy, saved) => {
    const g = dy as tf.Tensor4D;
    const c = g.shape[3];
    const c1 = (saved[0] as tf.Tensor4D).shape[3];
    if (jsLoops()) return { x: () => upsampleConcatGradJs(g, c1, 'x'), tap: () => upsampleConcatGradJs(g, c1, 'tap') };
    const part = (i: number) => tf.split(g, [c1, c - c1], 3)[i] as tf.Tensor4D;
    return {
      x: () => part(1),
      // Each tap pixel fed a 2x2 block: sum the block (a 2x2 average pool times 4).
      tap: () => tf.mul(tf.avgPool(part(0), 2, 2, 'valid'), 4),
    };
  },
});

const registeredFor = new Set<string>();

/** Registers the kernels and gradients for the active backend (idempotent). */
export function ensureFastOps(): void {
  const backend = tf.getBackend();
  if (registeredFor.has(backend)) return;
  registeredFor.add(backend);
  for (const k of KERNELS) if (!tf.getKernel(k.kernelName, backend)) tf.registerKernel({ ...k, backendName: backend });
  for (const g of GRADIENTS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
}

/** x [N,cin] @ w [cin,cout]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) throw new Error(`dense: x [${x.shape}] does not fit w [${w.shape}]`);
  ensureFastOps();
  return tf.engine().runKernel('FsrganDense', { x, w }) as tf.Tensor2D;
}

/** act(x + sign * b) with b [C] broadcast over the last axis of x (b omitted: act(x)). */
export function biasAct<T extends tf.Tensor>(x: T, b: tf.Tensor1D | null, act: Activation, opts: { alpha?: number; sign?: 1 | -1 } = {}): T {
  if (b && (b.rank !== 1 || b.shape[0] !== x.shape[x.rank - 1])) throw new Error(`biasAct: b [${b.shape}] does not match the channels of x [${x.shape}]`);
  const alpha = opts.alpha ?? 0.2;
  if (act === 'lrelu' && !(alpha >= 0)) throw new Error(`biasAct: leaky slope must be >= 0, got ${alpha}`);
  ensureFastOps();
  const attrs = { act, alpha, sign: opts.sign ?? 1, hasBias: b !== null };
  return tf.engine().runKernel('FsrganBiasAct', b ? { x, b } : { x }, attrs as unknown as tf.NamedAttrMap) as T;
}

/** Training-mode batch normalisation over every axis but the last (biased variance), gamma/beta [C]. */
export function batchNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): T {
  ensureFastOps();
  return tf.engine().runKernel('FsrganBatchNorm', { x, gamma, beta }, { eps } as unknown as tf.NamedAttrMap) as T;
}

/** [upsample2x(tap), x] along channels: tap [N,h,w,c1], x [N,2h,2w,c2] -> [N,2h,2w,c1+c2]. */
export function upsampleConcat(tap: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w] = tap.shape;
  if (x.rank !== 4 || x.shape[0] !== n || x.shape[1] !== 2 * h || x.shape[2] !== 2 * w) {
    throw new Error(`upsampleConcat: tap [${tap.shape}] upsampled 2x does not fit x [${x.shape}]`);
  }
  ensureFastOps();
  return tf.engine().runKernel('FsrganUpsampleConcat', { tap, x }) as tf.Tensor4D;
}
