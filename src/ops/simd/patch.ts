/**
 * Convolution kernels that read activations in place on tfjs-wasm's heap (docs/ops.md, "patch kernels").
 *
 * A convolution with stride s and kernel kh x kw reads, for output pixel u = (n,i,j), the patch
 * X_u[k] = xp[n, i*s + a, j*s + b, c] with k = a*L + t, t = b*C + c, L = kw*C: kh runs of L contiguous
 * floats of the padded input xp [N,Hp,Wp,C]. The three passes of a conv layer are then
 *   forward       y[u, :]   = X_u W                 (W as [K, Cout], tfjs's filter layout)
 *   input grad    dxp[patch u] += W dy[u, :]        (scatter-add; patches overlap when k > s)
 *   filter grad   dW       += X_u^T dy[u, :]
 * and the transposed convolution swaps the first two. XNNPACK computes these through packed, copied or
 * transposed operands; with 3 or 6 input channels that copying costs more than the arithmetic. Here the
 * patch is addressed directly: every inner-loop address is a constant offset from a pointer that moves
 * by one pixel.
 *
 * Each module is specialised to one geometry (all sizes are constants), compiled once and cached.
 */
import { compileOnce, Fn, type Local, type WasmMemory } from './asm.js';

export interface PatchGeometry {
  n: number;
  /** Padded input height and width (the caller pads; the kernels never bounds-check). */
  hp: number;
  wp: number;
  c: number;
  kh: number;
  kw: number;
  s: number;
  ho: number;
  wo: number;
  cout: number;
}

/** Pointers are byte offsets into the heap; every kernel overwrites its output. */
export interface PatchKernels {
  /** dw [K, Cout] = sum_u X_u^T dy[u]. */
  filterGrad(xp: number, dy: number, dw: number): void;
  /** y [N,Ho,Wo,Cout] = X W, W [K, Cout]. */
  forward(xp: number, w: number, y: number): void;
  /** dxp [N,Hp,Wp,C] = sum_u scatter(W dy[u]); wt is W transposed and zero-padded, [Cout, paddedK(g)]. */
  inputGrad(dy: number, wt: number, dxp: number): void;
}

const F = 4; // bytes per float

/** Why kernel `which` cannot take geometry g, or null. */
export function patchUnsupported(g: PatchGeometry, which: keyof PatchKernels): string | null {
  if (which !== 'inputGrad' && g.cout % 8 !== 0) return `Cout ${g.cout} is not a multiple of 8`;
  if ((g.ho - 1) * g.s + g.kh > g.hp || (g.wo - 1) * g.s + g.kw > g.wp) return 'the padded input is smaller than the convolution reads';
  return null;
}

/** Rows of the filter-gradient register block: the largest of 4, 3, 2, 1 dividing L. */
const rowBlock = (l: number) => [4, 3, 2, 1].find((r) => l % r === 0)!;

/**
 * filterGrad: for each image, for each block of R patch elements x 8 output channels (2R v128
 * accumulators), stream the image's pixels: two v128 loads of dy, R broadcasts of x, 2R multiply-adds.
 * The image's dy (Ho*Wo*Cout floats) stays in cache across the blocks. R = 4 (8 accumulators) measured
 * fastest; at R = 6 (15 live v128 values, more than V8 keeps in registers) it ran 1.1-1.75x slower.
 */
function filterGradFn(g: PatchGeometry): Fn {
  const L = g.kw * g.c;
  const R = rowBlock(L);
  const f = new Fn('filterGrad', ['i32', 'i32', 'i32']);
  const [xp, dy, dw] = [f.param(0), f.param(1), f.param(2)];
  const n = f.local('i32'), co = f.local('i32'), a = f.local('i32'), t = f.local('i32'), i = f.local('i32'), j = f.local('i32');
  const xImg = f.local('i32'), dyImg = f.local('i32'), px = f.local('i32'), pd = f.local('i32'), pw = f.local('i32');
  const acc: Local[][] = [];
  for (let r = 0; r < R; r++) acc.push([f.local('v128'), f.local('v128')]);
  const d0 = f.local('v128'), d1 = f.local('v128'), xs = f.local('v128');
  const rowBytes = g.wp * g.c * F;
  const imgBytes = g.hp * rowBytes;
  const dyImgBytes = g.ho * g.wo * g.cout * F;
  const K = g.kh * L;

  // dw = 0
  f.get(dw).set(pw);
  f.loop(t, 0, K * g.cout / 4, 1, () => { f.get(pw).vZero().vStore(0); f.inc(pw, 16); });

  f.get(xp).set(xImg);
  f.get(dy).set(dyImg);
  f.loop(n, 0, g.n, 1, () => {
    f.loop(co, 0, g.cout, 8, () => {
      f.loop(a, 0, g.kh, 1, () => {
        f.loop(t, 0, L, R, () => {
          // pw = dw + ((a*L + t)*Cout + co)*4
          f.get(a).i32(L).mul().get(t).add().i32(g.cout).mul().get(co).add().i32(F).mul().get(dw).add().set(pw);
          for (let r = 0; r < R; r++) for (let h = 0; h < 2; h++) f.get(pw).vLoad((r * g.cout + 4 * h) * F).set(acc[r][h]);
          // px = xImg + a*rowBytes + t*4 ; pd = dyImg + co*4
          f.get(xImg).get(a).i32(rowBytes).mul().add().get(t).i32(F).mul().add().set(px);
          f.get(dyImg).get(co).i32(F).mul().add().set(pd);
          f.loop(i, 0, g.ho, 1, () => {
            f.loop(j, 0, g.wo, 1, () => {
              f.get(pd).vLoad(0).set(d0);
              f.get(pd).vLoad(16).set(d1);
              for (let r = 0; r < R; r++) {
                f.get(px).vSplatLoad(r * F).set(xs);
                f.fma(acc[r][0], xs, d0);
                f.fma(acc[r][1], xs, d1);
              }
              f.inc(px, g.s * g.c * F);
              f.inc(pd, g.cout * F);
            });
            f.inc(px, g.s * rowBytes - g.wo * g.s * g.c * F);
          });
          for (let r = 0; r < R; r++) for (let h = 0; h < 2; h++) f.get(pw).get(acc[r][h]).vStore((r * g.cout + 4 * h) * F);
        });
      });
    });
    f.inc(xImg, imgBytes);
    f.inc(dyImg, dyImgBytes);
  });
  return f;
}

/** Pixels along a row per register block of the forward and input-gradient kernels. */
const P = 4;

/**
 * The loop over output pixels shared by forward and inputGrad: rows (n,i), then blocks of `P` pixels
 * along j, then single pixels for the Wo % P tail. `block(p, px, pd)` emits code for p pixels whose first
 * patch starts at byte px (pixel q at px + q*s*C*4) and whose dy/y row starts at pd (pixel q at +q*Cout*4).
 */
function pixelLoops(f: Fn, g: PatchGeometry, xBase: Local, dBase: Local, block: (p: number, px: Local, pd: Local) => void): void {
  const n = f.local('i32'), i = f.local('i32'), j = f.local('i32');
  const px = f.local('i32'), pd = f.local('i32');
  const rowBytes = g.wp * g.c * F;
  const full = Math.floor(g.wo / P);
  const tail = g.wo - full * P;
  f.get(xBase).set(px);
  f.get(dBase).set(pd);
  f.loop(n, 0, g.n, 1, () => {
    f.loop(i, 0, g.ho, 1, () => {
      if (full > 0) f.loop(j, 0, full, 1, () => { block(P, px, pd); f.inc(px, P * g.s * g.c * F); f.inc(pd, P * g.cout * F); });
      if (tail > 0) f.loop(j, 0, tail, 1, () => { block(1, px, pd); f.inc(px, g.s * g.c * F); f.inc(pd, g.cout * F); });
      f.inc(px, g.s * rowBytes - g.wo * g.s * g.c * F);
    });
    f.inc(px, (g.hp - g.ho * g.s) * rowBytes);
  });
}

/** Byte offset of patch element k from its pixel's patch start. */
const patchOffset = (g: PatchGeometry, k: number) => (Math.floor(k / (g.kw * g.c)) * g.wp * g.c + (k % (g.kw * g.c))) * F;

/**
 * forward: per block of p pixels x 8 output channels (2p v128 accumulators), run over the K patch
 * elements: p broadcasts of x, two v128 loads of W, 4p multiply-adds. Patch rows (a) loop at run time,
 * the elements of a row (t) are unrolled in groups of U with constant offsets.
 */
function forwardFn(g: PatchGeometry): Fn {
  const L = g.kw * g.c;
  const U = [4, 3, 2, 1].find((u) => L % u === 0)!;
  const f = new Fn('forward', ['i32', 'i32', 'i32']);
  const [xp, w, y] = [f.param(0), f.param(1), f.param(2)];
  const co = f.local('i32'), a = f.local('i32'), t = f.local('i32'), pa = f.local('i32'), pw = f.local('i32');
  const acc: Local[][] = [];
  for (let q = 0; q < P; q++) acc.push([f.local('v128'), f.local('v128')]);
  const w0 = f.local('v128'), w1 = f.local('v128'), xs = f.local('v128');
  const rowBytes = g.wp * g.c * F;
  pixelLoops(f, g, xp, y, (p, px, pd) => {
    f.loop(co, 0, g.cout, 8, () => {
      for (let q = 0; q < p; q++) for (let h = 0; h < 2; h++) f.vZero().set(acc[q][h]);
      f.get(w).get(co).i32(F).mul().add().set(pw);
      f.get(px).set(pa);
      f.loop(a, 0, g.kh, 1, () => {
        f.loop(t, 0, L, U, () => {
          for (let e = 0; e < U; e++) {
            f.get(pw).vLoad(e * g.cout * F).set(w0);
            f.get(pw).vLoad((e * g.cout + 4) * F).set(w1);
            for (let q = 0; q < p; q++) {
              f.get(pa).vSplatLoad((q * g.s * g.c + e) * F).set(xs);
              f.fma(acc[q][0], xs, w0);
              f.fma(acc[q][1], xs, w1);
            }
          }
          f.inc(pa, U * F);
          f.inc(pw, U * g.cout * F);
        });
        f.inc(pa, rowBytes - L * F);
      });
      f.get(pd).get(co).i32(F).mul().add().set(pa);
      for (let q = 0; q < p; q++) for (let h = 0; h < 2; h++) f.get(pa).get(acc[q][h]).vStore((q * g.cout + 4 * h) * F);
    });
  });
  return f;
}

/**
 * inputGrad: per block of p pixels x KB patch elements (KB/4 v128 accumulators per pixel, at most 12 in
 * all), run over Cout: p broadcasts of dy, KB/4 v128 loads of W^T, multiply-adds; then add each lane into
 * its place in dxp (scalar read-modify-write, so overlapping patches accumulate).
 */
/** K rounded up to whole v128s: the row length of inputGrad's W^T. */
export const paddedK = (g: PatchGeometry) => Math.ceil((g.kh * g.kw * g.c) / 4) * 4;

function inputGradFn(g: PatchGeometry): Fn {
  const K = g.kh * g.kw * g.c;
  const kv = paddedK(g) / 4;
  const kb = [3, 2, 1].find((b) => kv % b === 0)!;
  const f = new Fn('inputGrad', ['i32', 'i32', 'i32']);
  const [dy, wt, dxp] = [f.param(0), f.param(1), f.param(2)];
  const co = f.local('i32'), kc = f.local('i32'), pw = f.local('i32'), pdy = f.local('i32'), pz = f.local('i32');
  const acc: Local[][] = [];
  for (let q = 0; q < P; q++) acc.push(Array.from({ length: kb }, () => f.local('v128')));
  const wv: Local[] = Array.from({ length: kb }, () => f.local('v128'));
  const ds = f.local('v128');
  // dxp = 0
  f.get(dxp).set(pz);
  const total = g.n * g.hp * g.wp * g.c;
  if (total >= 4) f.loop(kc, 0, Math.floor(total / 4), 1, () => { f.get(pz).vZero().vStore(0); f.inc(pz, 16); });
  for (let e = Math.floor(total / 4) * 4; e < total; e++) f.get(dxp).f32Const0().f32Store(e * F);

  pixelLoops(f, g, dxp, dy, (p, px, pd) => {
    for (let c0 = 0; c0 < kv; c0 += kb) {
      for (let q = 0; q < p; q++) for (let h = 0; h < kb; h++) f.vZero().set(acc[q][h]);
      f.get(wt).i32(c0 * 16).add().set(pw);
      f.get(pd).set(pdy);
      f.loop(co, 0, g.cout, 1, () => {
        for (let h = 0; h < kb; h++) f.get(pw).vLoad(h * 16).set(wv[h]);
        for (let q = 0; q < p; q++) {
          f.get(pdy).vSplatLoad(q * g.cout * F).set(ds);
          for (let h = 0; h < kb; h++) f.fma(acc[q][h], ds, wv[h]);
        }
        f.inc(pw, kv * 16);
        f.inc(pdy, F);
      });
      for (let q = 0; q < p; q++) {
        for (let h = 0; h < kb; h++) {
          for (let l = 0; l < 4 && 4 * (c0 + h) + l < K; l++) {
            const off = q * g.s * g.c * F + patchOffset(g, 4 * (c0 + h) + l);
            f.get(px).get(px).f32Load(off).get(acc[q][h]).lane(l).f32Add().f32Store(off);
          }
        }
      }
    }
  });
  return f;
}

const builders: Record<keyof PatchKernels, (g: PatchGeometry) => Fn> = {
  filterGrad: filterGradFn,
  forward: forwardFn,
  inputGrad: inputGradFn,
};

/** Kernel `which` for geometry `g` on `memory` (compiled on first use, then cached). */
export function patchKernel<K extends keyof PatchKernels>(g: PatchGeometry, memory: WasmMemory, which: K): PatchKernels[K] {
  const why = patchUnsupported(g, which);
  if (why) throw new Error(`patch kernel ${which}: ${why}`);
  return compileOnce(memory, `patch ${JSON.stringify([which, g])}`, () => builders[which](g)) as PatchKernels[K];
}
