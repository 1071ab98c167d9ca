/**
 * Bias + activation in one pass over the wasm heap, and its gradient with the bias gradient in the same
 * pass: out = act(x + sign*b) for x [rows, C] with C % 4 == 0; backward dz = dy * act'(y), db = sum dz.
 *
 * Why: as tf ops the forward was three kernels (add, step, mul: three passes over the activation) and the
 * backward two more plus a JS column sum at ~4 ns per float (2.3 ms of a 32-image stage step). These are
 * the memory-bound parts of a step, the ones two concurrent workers slow each other on (docs/speed.md).
 * The bias gradient accumulates in float32 over blocks of BLOCK_ROWS rows, each block added to a float64
 * total by the caller, so the sum's error does not grow with the batch.
 */
import { compileOnce, Fn, type Local, type WasmMemory } from './asm.js';

export type Act = 'linear' | 'relu' | 'lrelu';

/** Rows per float32 partial sum of the bias gradient. */
export const BLOCK_ROWS = 64;

export interface BiasActKernels {
  /** (x, b, out, rows, C/4, alpha): out = act(x +- b); b is ignored (pass 0) without bias. */
  forward: (x: number, b: number, out: number, rows: number, c4: number, alpha: number) => void;
  /** (y, dy, dz, part, rows, C/4, alpha): dz = dy * act'(y) (not written for 'linear'); part += column sums of dz. */
  backward: (y: number, dy: number, dz: number, part: number, rows: number, c4: number, alpha: number) => void;
}

/** act(z) of the v128 local z, left on the stack. */
function activate(f: Fn, act: Act, z: Local, av: Local, zero: Local): void {
  if (act === 'relu') f.get(z).get(zero).fMax4();
  else if (act === 'lrelu') f.get(z).get(z).get(av).fMul4().get(z).get(zero).fGt4().vSelect();
  else f.get(z);
}

function forwardFn(act: Act, bias: -1 | 0 | 1): Fn {
  const f = new Fn('forward', ['i32', 'i32', 'i32', 'i32', 'i32', 'f32']);
  const [x, b, out, rows, c4, alpha] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
  const r = f.local('i32');
  const g = f.local('i32');
  const pb = f.local('i32');
  const z = f.local('v128');
  const av = f.local('v128');
  const zero = f.local('v128');
  f.get(alpha).fSplat4().set(av);
  f.vZero().set(zero);
  f.loop(r, 0, { local: rows }, 1, () => {
    f.get(b).set(pb);
    f.loop(g, 0, { local: c4 }, 1, () => {
      f.get(x).vLoad();
      if (bias !== 0) {
        f.get(pb).vLoad();
        if (bias > 0) f.fAdd4(); else f.fSub4();
      }
      f.set(z);
      f.get(out);
      activate(f, act, z, av, zero);
      f.vStore();
      f.inc(x, 16).inc(out, 16).inc(pb, 16);
    });
  });
  return f;
}

function backwardFn(act: Act, withBias: boolean): Fn {
  const f = new Fn('backward', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f32']);
  const [y, dy, dz, part, rows, c4, alpha] = [0, 1, 2, 3, 4, 5, 6].map((i) => f.param(i));
  const r = f.local('i32');
  const g = f.local('i32');
  const pp = f.local('i32');
  const d = f.local('v128');
  const av = f.local('v128');
  const zero = f.local('v128');
  f.get(alpha).fSplat4().set(av);
  f.vZero().set(zero);
  f.loop(r, 0, { local: rows }, 1, () => {
    f.get(part).set(pp);
    f.loop(g, 0, { local: c4 }, 1, () => {
      if (act === 'relu') f.get(dy).vLoad().get(y).vLoad().get(zero).fGt4().vAnd();
      else if (act === 'lrelu') f.get(dy).vLoad().get(dy).vLoad().get(av).fMul4().get(y).vLoad().get(zero).fGt4().vSelect();
      else f.get(dy).vLoad();
      f.set(d);
      if (act !== 'linear') f.get(dz).get(d).vStore();
      if (withBias) f.get(pp).get(pp).vLoad().get(d).fAdd4().vStore();
      f.inc(y, 16).inc(dy, 16).inc(dz, 16).inc(pp, 16);
    });
  });
  return f;
}

/** The forward kernel for `act` with bias sign `bias` (0: no bias), compiled once per memory. */
export function biasActForward(memory: WasmMemory, act: Act, bias: -1 | 0 | 1): BiasActKernels['forward'] {
  return compileOnce(memory, `bias-act forward ${act} ${bias}`, () => forwardFn(act, bias));
}

/** The backward kernel for `act`, accumulating the bias gradient when `withBias`. */
export function biasActBackward(memory: WasmMemory, act: Act, withBias: boolean): BiasActKernels['backward'] {
  return compileOnce(memory, `bias-act backward ${act} ${withBias}`, () => backwardFn(act, withBias));
}
