/**
 * The input gradient of a 2-D convolution (tfjs kernel `Conv2DBackpropInput`), which is also the forward
 * pass of the transposed convolution. wasm's own kernel runs at 1-5 GFLOP/s (docs/engine.md); this one maps
 * it onto XNNPACK's stride-1 conv2d or onto one matMul.
 */
import * as tf from '@tensorflow/tfjs';
import { derivedFilter, transposedFilter } from './derived.js';
import { crop, fitSize, swapMiddle } from './layout.js';
import { convShape, type ConvAttrs } from './shape.js';
import { PATCH_MAX_CIN, patchInputGrad, patchUnavailable } from './simd/conv.js';

/** Attributes of tfjs's Conv2DBackpropInput kernel that fsrgan supports (NHWC, no dilation). */
export interface InputGradAttrs extends ConvAttrs {
  inputShape: [number, number, number, number];
}

/**
 * - `matmul`: kernel = stride without padding: one matMul dy W^T, then the depth-to-space interleave.
 * - `subpixel`: one stride-1 conv2d with the s*s phase sub-filters stacked, interleave, crop.
 * - `phases`: one stride-1 conv2d per output phase with exactly that phase's taps, then an interleave by
 *   concatenation (needs H and W divisible by the stride). No wasted FLOPs: `subpixel` computes a
 *   (T x U) phase grid with ceil(k/s)^2 taps per phase, T = H/s + 1 for 'same' k4 s2, and pads kernel 3
 *   to 2x2 taps per phase: 1.27x the FLOPs at an 8x8 grid, 1.56x at 4x4, 2.8x for k3 s2 at 4x4.
 * - `patch` (tfjs-wasm only): one hand-written SIMD kernel that scatters W dy[u] into each patch of a
 *   zero dx (simd/patch.ts); chosen for few input channels, where the others mostly copy.
 */
export type InputGradPlan = 'matmul' | 'subpixel' | 'phases' | 'patch';

/** Output rows of one phase-folded axis: see conv2dBackpropInput. */
interface AxisPlan {
  /** Taps per phase, ceil(k/s). */
  m: number;
  /** First and last phase-block index t the output needs. */
  tmin: number;
  tmax: number;
  /** Rows to pad (>= 0) or drop (< 0) before dy's first row, and to pad after its last. */
  before: number;
  after: number;
  /** Rows to drop from the interleaved result before the first output row. */
  crop: number;
}

function axisPlan(k: number, s: number, padBefore: number, outLen: number, dyLen: number): AxisPlan {
  const m = Math.ceil(k / s);
  const tmin = Math.floor(padBefore / s);
  const tmax = Math.floor((padBefore + outLen - 1) / s);
  return { m, tmin, tmax, before: m - 1 - tmin, after: tmax - (dyLen - 1), crop: padBefore - tmin * s };
}

/**
 * Sub-filters of all s*s output phases side by side: W [kh,kw,Cin,Cout] (conv layout) ->
 * F [mh,mw,Cout,(ry,rx,Cin)] with F[jy,jx,co,(ry,rx,ci)] = W[ry + sh(mh-1-jy), rx + sw(mw-1-jx), ci, co]
 * (zero where that tap is past the kernel). Built in one JS loop from the filter's values: the filter is
 * small, and wasm's GatherV2 + Transpose took 5-10 ms per call for a 64x64 k4 filter whatever the batch,
 * a fixed cost that dominated small layers and the per-replica steps of data-parallel training
 * (docs/speed.md). Built once per filter value (derived.ts).
 */
function phaseFilter(w: tf.Tensor4D, sh: number, sw: number, mh: number, mw: number): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const c4 = sh * sw * cin;
  return derivedFilter<tf.Rank.R4>(w, `subpixel ${sh} ${sw} ${mh} ${mw}`, [mh, mw, cout, c4], (src, out) => {
    for (let jy = 0; jy < mh; jy++)
      for (let jx = 0; jx < mw; jx++)
        for (let ry = 0; ry < sh; ry++)
          for (let rx = 0; rx < sw; rx++) {
            const a = ry + sh * (mh - 1 - jy);
            const b = rx + sw * (mw - 1 - jx);
            if (a >= kh || b >= kw) continue;
            const dst = (jy * mw + jx) * cout * c4 + (ry * sw + rx) * cin;
            const tap = (a * kw + b) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const row = tap + ci * cout;
              for (let co = 0; co < cout; co++) out[dst + co * c4 + ci] = src[row + co];
            }
          }
  });
}

/** One output phase along one axis: rows p = s*u + rho, u < U (see conv2dBackpropInput). */
interface PhaseAxis {
  /** Residue r = (rho + padBefore) mod s: the phase's taps are W[s*m + r]. */
  r: number;
  /** Taps of this phase, ceil((k - r) / s) (0 when k < s leaves the phase untouched). */
  m: number;
  /** dy rows [start, end) feed the phase, after padding `before` rows and `after` rows of zeros. */
  start: number;
  end: number;
  before: number;
  after: number;
}

function phaseAxis(k: number, s: number, padBefore: number, rho: number, outLen: number, dyLen: number): PhaseAxis {
  const r = (rho + padBefore) % s;
  const delta = Math.floor((rho + padBefore) / s);
  const m = Math.max(0, Math.ceil((k - r) / s));
  const u = outLen / s;
  // Output u reads dy rows u + delta - (m-1) .. u + delta.
  const first = delta - (m - 1);
  const last = u - 1 + delta;
  const start = Math.min(Math.max(first, 0), dyLen);
  const end = Math.max(Math.min(last + 1, dyLen), start);
  return { r, m, start, end, before: start - first, after: last + 1 - end };
}

/** The taps of one phase: F[jy,jx,co,ci] = W[sh(my-1-jy) + ry, sw(mx-1-jx) + rx, ci, co] -> [my,mx,Cout,Cin]. */
function onePhaseFilter(w: tf.Tensor4D, sh: number, sw: number, py: PhaseAxis, px: PhaseAxis): tf.Tensor4D {
  const [, kw, cin, cout] = w.shape;
  return derivedFilter<tf.Rank.R4>(w, `phase ${sh} ${sw} ${py.r} ${py.m} ${px.r} ${px.m}`, [py.m, px.m, cout, cin], (src, out) => {
    for (let jy = 0; jy < py.m; jy++)
      for (let jx = 0; jx < px.m; jx++) {
        const tap = ((sh * (py.m - 1 - jy) + py.r) * kw + sw * (px.m - 1 - jx) + px.r) * cin * cout;
        const dst = (jy * px.m + jx) * cout * cin;
        for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) out[dst + co * cin + ci] = src[tap + ci * cout + co];
      }
  });
}

/** The `phases` plan (see InputGradPlan); h and wd are multiples of the strides. */
function viaPhases(dy: tf.Tensor4D, w: tf.Tensor4D, n: number, h: number, wd: number, sh: number, sw: number, top: number, left: number): tf.Tensor4D {
  const [kh, kw, cin] = w.shape;
  const [, ho, wo] = dy.shape;
  const u = h / sh;
  const v = wd / sw;
  const rows: tf.Tensor4D[] = [];
  for (let rhoY = 0; rhoY < sh; rhoY++) {
    const py = phaseAxis(kh, sh, top, rhoY, h, ho);
    const cols: tf.Tensor4D[] = [];
    for (let rhoX = 0; rhoX < sw; rhoX++) {
      const px = phaseAxis(kw, sw, left, rhoX, wd, wo);
      if (py.m === 0 || px.m === 0 || py.end === py.start || px.end === px.start) {
        cols.push(tf.zeros([n, u, v, cin]));
        continue;
      }
      const part = crop(dy, py.start, px.start, py.end - py.start, px.end - px.start);
      const pad: tf.backend_util.ExplicitPadding = [[0, 0], [py.before, py.after], [px.before, px.after], [0, 0]];
      cols.push(tf.conv2d(part, onePhaseFilter(w, sh, sw, py, px), 1, pad)); // [N,U,V,Cin]
    }
    // [N,U,V,(rx,ci)] is [N,U,(V,rx),ci]: the column interleave is a concat along channels.
    const row = sw === 1 ? cols[0] : tf.concat(cols, 3);
    rows.push(tf.reshape(row, [n * u, 1, v * sw * cin, 1]) as tf.Tensor4D);
  }
  // [(N,U), ry, (V,rx,ci)]: the row interleave is a concat along the axis after U.
  const all = sh === 1 ? rows[0] : tf.concat(rows, 1);
  return tf.reshape(all, [n, h, wd, cin]);
}

/** Multiply-adds per image of the subpixel plan over those of the exact phases plan (>= 1). */
function subpixelWaste(kh: number, kw: number, sh: number, sw: number, h: number, wd: number, ho: number, wo: number, top: number, left: number): number {
  const py = axisPlan(kh, sh, top, h, ho);
  const px = axisPlan(kw, sw, left, wd, wo);
  const sub = (py.tmax - py.tmin + py.m) * (px.tmax - px.tmin + px.m) * sh * sw * py.m * px.m;
  let exact = 0;
  for (let ry = 0; ry < sh; ry++) for (let rx = 0; rx < sw; rx++) exact += phaseAxis(kh, sh, top, ry, h, ho).m * phaseAxis(kw, sw, left, rx, wd, wo).m;
  return sub / Math.max(1, exact * (h / sh) * (wd / sw));
}

/**
 * dx for y = conv2d(x, W, strides, pad): dy [N,Ho,Wo,Cout], W [kh,kw,Cin,Cout] -> [N,H,W,Cin].
 *
 * Sub-pixel form: along each axis write q = p + padBefore = t*s + r. Output row p of phase r gathers
 * dy[t-m] W[r+s*m] for m < ceil(k/s), so all s*s phases are ONE stride-1 conv of (padded) dy with the
 * phase filters stacked along the output channels, followed by a depth-to-space interleave (a 4-D
 * transpose: wasm's DepthToSpace and 5-D transposes are 10-20x slower) and a crop. Kernel = stride
 * without padding is one matMul plus the interleave.
 */
export function conv2dBackpropInput(dy: tf.Tensor4D, w: tf.Tensor4D, attrs: InputGradAttrs, plan?: InputGradPlan): tf.Tensor4D {
  const { inputShape } = attrs;
  const shape = convShape(inputShape, w.shape, attrs);
  const { n, h, w: wd, cin, cout, kh, kw, sh, sw, top, left, ho, wo } = shape;
  if (dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[3] !== cout || w.shape[2] !== inputShape[3]) {
    throw new Error(`conv2dBackpropInput: dy [${dy.shape}] and filter [${w.shape}] do not fit input [${inputShape}]`);
  }
  const nonOverlapping = kh === sh && kw === sw && top === 0 && left === 0;
  const divisible = h % sh === 0 && wd % sw === 0;
  // The phases plan pays s*s convolutions and a concat interleave to skip the subpixel plan's extra
  // rows and zero taps; it wins once those exceed ~15% (measured on wasm, docs/speed.md). wasm's concat
  // copies one channel run per pixel, so with few channels (RGB outputs) the interleave costs too much.
  const auto = cin <= PATCH_MAX_CIN && patchUnavailable(shape, 'inputGrad') === null ? 'patch'
    : nonOverlapping ? 'matmul'
    : divisible && sh * sw > 1 && cin >= 16 && subpixelWaste(kh, kw, sh, sw, h, wd, ho, wo, top, left) > 1.15 ? 'phases' : 'subpixel';
  const p = plan ?? auto;
  if (p === 'matmul' && !nonOverlapping) throw new Error('conv2dBackpropInput: the matmul plan needs kernel = stride and no padding');
  if (p === 'phases' && !divisible) throw new Error('conv2dBackpropInput: the phases plan needs the input size divisible by the stride');
  if (p === 'patch') return patchInputGrad(dy, w, shape);
  return tf.tidy((): tf.Tensor4D => {
    if (p === 'phases') return viaPhases(dy, w, n, h, wd, sh, sw, top, left);
    if (p === 'matmul') {
      const wt = transposedFilter(w, kh * kw * cin); // [Cout,(a,b,ci)]
      const cols = tf.matMul(tf.reshape(dy, [n * ho * wo, cout]), wt); // [(n,i,j),(a,b,ci)]
      // With Wo = 1 (the generator's first layer, from [N,1,1,z]) the interleave is a pure reshape.
      const out: tf.Tensor4D = wo === 1
        ? tf.reshape(cols, [n, ho * kh, kw, cin])
        : tf.reshape(swapMiddle(tf.reshape(cols, [n * ho, wo, kh, kw * cin])), [n, ho * kh, wo * kw, cin]);
      // 'same' with kernel = stride may pad the last block (crop it); 'valid' may leave rows unread (zeros).
      return fitSize(out, h, wd);
    }
    const py = axisPlan(kh, sh, top, h, ho);
    const px = axisPlan(kw, sw, left, wd, wo);
    let src = dy;
    if (py.before < 0 || px.before < 0) {
      const y0 = Math.max(-py.before, 0);
      const x0 = Math.max(-px.before, 0);
      src = crop(dy, y0, x0, ho - y0, wo - x0);
    }
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0], [Math.max(py.before, 0), Math.max(py.after, 0)], [Math.max(px.before, 0), Math.max(px.after, 0)], [0, 0]];
    const f = phaseFilter(w, sh, sw, py.m, px.m);
    const z = tf.conv2d(src, f, 1, pad); // [N, T, U, (ry,rx,ci)], T >= tmax-tmin+1
    const [, zt, zu] = z.shape;
    const full: tf.Tensor4D = sh === 1 && sw === 1 ? z : tf.reshape(swapMiddle(tf.reshape(z, [n * zt, zu, sh, sw * cin])), [n, zt * sh, zu * sw, cin]);
    return crop(full, py.crop, px.crop, h, wd);
  });
}
