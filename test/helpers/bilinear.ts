/**
 * Bilinear 2x upsampling's taps in float64, written from PyTorch's align_corners=False definition (source
 * coordinate (o + 0.5) / 2 - 0.5, clamped at 0, two taps weighted by the fraction): the reference of the
 * bilinear op's tests and of the layers built on it.
 */

/** Taps of output index o along an axis of length n: [[index, weight], ...]. */
export function bilinearTaps(o: number, n: number): [number, number][] {
  const src = Math.max(0, (o + 0.5) / 2 - 0.5);
  const i0 = Math.floor(src);
  const i1 = Math.min(i0 + 1, n - 1);
  const f = src - i0;
  return [
    [i0, 1 - f],
    [i1, f],
  ];
}
