/**
 * Slice on tfjs-wasm without the detour through JS: wasm's own Slice kernel first copies the WHOLE input
 * out of the heap (`readSync`, a fresh ArrayBuffer) and then slices the copy, so cropping a 1M-float
 * activation or reading one element of it cost 1-3 ms plus garbage. This copies only the slice, between
 * views of the heap, in runs as long as the slice allows.
 */
import * as tf from '@tensorflow/tfjs';

type Typed = Float32Array | Int32Array | Uint8Array;

/**
 * out = x[begin : begin + size] for x of shape `shape` (row-major). Trailing axes taken whole are merged
 * into one contiguous run per copy.
 */
export function sliceInto(x: Typed, shape: number[], begin: number[], size: number[], out: Typed): void {
  const rank = shape.length;
  if (size.some((d) => d === 0)) return;
  // Axes [cut, rank) are copied as one run: every one of them after the first is taken whole.
  let cut = rank - 1;
  while (cut > 0 && size[cut] === shape[cut] && begin[cut] === 0) cut--;
  const run = size.slice(cut).reduce((a, b) => a * b, 1);
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  const idx = begin.slice(0, cut);
  let o = 0;
  for (;;) {
    let src = begin[cut] * strides[cut];
    for (let d = 0; d < cut; d++) src += idx[d] * strides[d];
    out.set(x.subarray(src, src + run), o);
    o += run;
    let d = cut - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < begin[d] + size[d]) break;
      idx[d] = begin[d];
    }
    if (d < 0) return;
  }
}
