/**
 * The `patch` plans of the conv gradients (filter_grad.ts, input_grad.ts) on tfjs-wasm: pad x where the
 * convolution reads past its border, then one call of a patch kernel (patch.ts) on the heap.
 */
import * as tf from '@tensorflow/tfjs';
import { transposedFilter } from '../derived.js';
import { crop, padHW } from '../layout.js';
import { wasmHeap, type WasmHeap } from './heap.js';
import type { ConvShape } from '../shape.js';
import { paddedK, patchKernel, type PatchGeometry, type PatchKernels } from './patch.js';

/** Input channels up to which the patch input gradient beats the sub-pixel XNNPACK plan (docs/ops.md). */
export const PATCH_MAX_CIN = 8;

/** A patch kernel, by name (patch.ts). */
type Pass = keyof PatchKernels;

/** Why patch kernel `pass` cannot run here, or null when it can. */
export function patchUnavailable(c: ConvShape, pass: Pass): string | null {
  if (!wasmHeap()) return 'needs the single-threaded tfjs-wasm backend';
  if (c.sh !== c.sw) return `needs equal strides (got ${c.sh}x${c.sw})`;
  if (pass !== 'inputGrad' && c.cout % 8 !== 0) return `needs Cout divisible by 8 (got ${c.cout})`;
  return null;
}

/**
 * Whether Conv2D itself should use the patch kernel: only for non-overlapping patches (kernel = stride)
 * with few input channels, where XNNPACK ran at 4-7 GFLOP/s and the patch kernel at 14-19; with
 * overlapping patches XNNPACK's conv is as fast or faster (docs/ops.md).
 */
export function patchForwardPreferred(c: ConvShape): boolean {
  return c.cin <= PATCH_MAX_CIN && c.kh === c.sh && c.kw === c.sw && patchUnavailable(c, 'forward') === null;
}

/** Padding after the last row/column so that every row the convolution reads exists. */
function geometry(c: ConvShape): { g: PatchGeometry; bottom: number; right: number } {
  const bottom = Math.max(0, (c.ho - 1) * c.sh + c.kh - c.h - c.top);
  const right = Math.max(0, (c.wo - 1) * c.sw + c.kw - c.w - c.left);
  const g: PatchGeometry = {
    n: c.n, hp: c.top + c.h + bottom, wp: c.left + c.w + right, c: c.cin,
    kh: c.kh, kw: c.kw, s: c.sh, ho: c.ho, wo: c.wo, cout: c.cout,
  };
  return { g, bottom, right };
}

function heapOrThrow(c: ConvShape, pass: Pass): WasmHeap {
  const why = patchUnavailable(c, pass);
  if (why) throw new Error(`the patch plan ${why}`);
  return wasmHeap()!;
}

/**
 * Pads x where the convolution reads past its border, then runs kernel `which` on (xp, operand, out)
 * with `out` a new tensor of `outShape` that the kernel overwrites.
 */
function onPaddedInput(which: 'filterGrad' | 'forward', x: tf.Tensor4D, operand: tf.Tensor4D, outShape: number[], c: ConvShape): tf.Tensor4D {
  const heap = heapOrThrow(c, which);
  const { g, bottom, right } = geometry(c);
  return tf.tidy(() => {
    const xp = padHW(x, c.top, bottom, c.left, right);
    const out = heap.empty<tf.Rank.R4>(outShape);
    patchKernel(g, heap.memory, which)(heap.ptr(xp), heap.ptr(operand), heap.ptr(out));
    return out;
  });
}

/** dW [kh,kw,Cin,Cout] of y = conv(x, W): x [N,H,W,Cin], dy [N,Ho,Wo,Cout]. */
export function patchFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, c: ConvShape): tf.Tensor4D {
  return onPaddedInput('filterGrad', x, dy, [c.kh, c.kw, c.cin, c.cout], c);
}

/** dx [N,H,W,Cin] of y = conv(x, W): dy [N,Ho,Wo,Cout], W [kh,kw,Cin,Cout]. */
export function patchInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, c: ConvShape): tf.Tensor4D {
  const heap = heapOrThrow(c, 'inputGrad');
  const { g } = geometry(c);
  return tf.tidy(() => {
    // W^T [Cout, K4], zero-padded to whole v128s, once per filter value.
    const wt = transposedFilter(w, paddedK(g));
    const dxp = heap.empty<tf.Rank.R4>([c.n, g.hp, g.wp, c.cin]);
    patchKernel(g, heap.memory, 'inputGrad')(heap.ptr(dy), heap.ptr(wt), heap.ptr(dxp));
    return crop(dxp, c.top, c.left, c.h, c.w);
  });
}

/** y [N,Ho,Wo,Cout] = conv(x, W): x [N,H,W,Cin], W [kh,kw,Cin,Cout]. */
export function patchForward(x: tf.Tensor4D, w: tf.Tensor4D, c: ConvShape): tf.Tensor4D {
  return onPaddedInput('forward', x, w, [c.n, c.ho, c.wo, c.cout], c);
}
