/**
 * Flatness: the share of neighbouring pixel pairs inside the picture that have the same colour. Emoji and
 * Fashion-MNIST are flat shapes with sharp edges on a white or black background; a generator that gets
 * their layout and colour statistics right but paints every pixel a little differently ("mottled", as
 * docs/findings.md describes the emoji learner) has the right patch SWD, mean colours and even the right
 * total variation, and far fewer flat pairs. This counts what the eye sees there:
 *
 *   flat = #{pairs (p, q) horizontally or vertically adjacent, not both background, max_c |x_pc - x_qc| < tol}
 *          / #{pairs not both background}
 *
 * with "background" a pixel whose every channel is beyond +-0.9 the same way (white or black in [-1, 1]),
 * so that the count is about the drawn shapes, not about how much background an image has. tol = 0.1 is
 * 5% of the [-1, 1] range: the anti-aliased steps of a real edge are larger, JPEG-free flat fills smaller.
 */
import type { ImageArray } from './common.js';

export interface FlatnessOptions {
  /** Largest per-channel difference of a "same colour" pair (default 0.1, in [-1, 1] units). */
  tol?: number;
  /** A pixel beyond +-edge in every channel the same way is background (default 0.9). */
  edge?: number;
}

/** The flat fraction of `a` (see the header); NaN when every pair is background. */
export function flatFraction(a: ImageArray, o: FlatnessOptions = {}): number {
  const tol = o.tol ?? 0.1;
  const edge = o.edge ?? 0.9;
  const { data, n, h, w, c } = a;
  const background = (p: number) => {
    let hi = true;
    let lo = true;
    for (let k = 0; k < c; k++) {
      hi &&= data[p + k] > edge;
      lo &&= data[p + k] < -edge;
    }
    return hi || lo;
  };
  let flat = 0;
  let pairs = 0;
  const visit = (p: number, q: number) => {
    if (background(p) && background(q)) return;
    pairs++;
    let d = 0;
    for (let k = 0; k < c; k++) d = Math.max(d, Math.abs(data[p + k] - data[q + k]));
    if (d < tol) flat++;
  };
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const p = ((i * h + y) * w + x) * c;
        if (x + 1 < w) visit(p, p + c);
        if (y + 1 < h) visit(p, p + w * c);
      }
  return pairs ? flat / pairs : NaN;
}
