/**
 * A tiny WebAssembly assembler: just enough to write SIMD kernels that run on tfjs-wasm's own heap.
 *
 * Why hand-assembled: the layers with few channels (RGB images, the stage pair) spend their time copying
 * and packing 1M-float activations around XNNPACK calls (docs/ops.md); a kernel that reads activations
 * in place needs code on the same linear memory, and no wasm toolchain installs here. The module imports
 * the backend's `WebAssembly.Memory`, declares no data, no globals and no table, so it can never write
 * anywhere but through the pointers it is given.
 *
 * Only the opcodes the kernels use are defined. Encodings: WebAssembly core spec 2.0, section 5.4
 * (instructions) and the fixed-width SIMD proposal (prefix 0xfd, LEB128 sub-opcode).
 */

/** The parts of the WebAssembly JS API used here (tsconfig has no DOM lib, and @types/node omits them). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
export const WasmJs = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export type ValType = 'i32' | 'f32' | 'v128';
const typeCode: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`asm: uleb of ${n}`);
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  if (!Number.isInteger(n)) throw new Error(`asm: sleb of ${n}`);
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const name = (s: string) => [...uleb(utf8(s).length), ...utf8(s)];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

/** A local variable of the function being written (its index). */
export type Local = number & { readonly __local: unique symbol };

/**
 * One function body. Methods append instructions in stack-machine order; loads and stores take a
 * constant byte offset (folded into the instruction's memarg, so unrolled code needs no address math).
 */
export class Fn {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];
  private depth = 0;

  constructor(readonly name: string, readonly params: ValType[]) {}

  /** Parameter i (i32 pointers and sizes, in declaration order). */
  param(i: number): Local {
    if (i >= this.params.length) throw new Error(`asm ${this.name}: no parameter ${i}`);
    return i as Local;
  }

  local(type: ValType): Local {
    this.locals.push(type);
    return (this.params.length + this.locals.length - 1) as Local;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(sub: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(sub), ...imm);
  }

  get(l: Local) { return this.op(0x20, ...uleb(l)); }
  set(l: Local) { return this.op(0x21, ...uleb(l)); }
  tee(l: Local) { return this.op(0x22, ...uleb(l)); }
  i32(v: number) { return this.op(0x41, ...sleb(v | 0)); }
  add() { return this.op(0x6a); }
  sub() { return this.op(0x6b); }
  mul() { return this.op(0x6c); }
  ltU() { return this.op(0x49); }
  drop() { return this.op(0x1a); }

  /** local += delta (i32). */
  inc(l: Local, delta: number) { return this.get(l).i32(delta).add().set(l); }

  f32Load(offset = 0) { return this.op(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0) { return this.op(0x38, 2, ...uleb(offset)); }
  f32Add() { return this.op(0x92); }
  f32Const0() { return this.op(0x43, 0, 0, 0, 0); }

  /** v128.load with natural alignment hint 4 bytes (activations are only float-aligned). */
  vLoad(offset = 0) { return this.simd(0x00, 2, ...uleb(offset)); }
  vStore(offset = 0) { return this.simd(0x0b, 2, ...uleb(offset)); }
  /** v128.load32_splat: one float broadcast to four lanes. */
  vSplatLoad(offset = 0) { return this.simd(0x09, 2, ...uleb(offset)); }
  vZero() { return this.simd(0x0c, ...new Array(16).fill(0)); }
  fAdd4() { return this.simd(0xe4); }
  fMul4() { return this.simd(0xe6); }
  lane(i: number) { return this.simd(0x1f, i); }
  /** f32x4.splat of the f32 on the stack. */
  fSplat4() { return this.simd(0x13); }
  fSub4() { return this.simd(0xe5); }
  fMax4() { return this.simd(0xe9); }
  /** f32x4.gt: all-ones lanes where a > b. */
  fGt4() { return this.simd(0x44); }
  vAnd() { return this.simd(0x4e); }
  /** v128.bitselect(a, b, mask): a's bits where mask is set, else b's. */
  vSelect() { return this.simd(0x52); }

  /** acc += a * b on v128 locals. */
  fma(acc: Local, a: Local, b: Local) { return this.get(acc).get(a).get(b).fMul4().fAdd4().set(acc); }

  /**
   * `for (i = from; i < to; i += step) body()` over an i32 local, with `to` a constant or `{ local }` (a
   * Local is a number at run time, so a bare one would read as a constant). The body must run at least
   * once (callers guarantee from < to): the test sits at the bottom.
   */
  loop(i: Local, from: number, to: number | { local: Local }, step: number, body: () => void): this {
    this.i32(from).set(i);
    this.op(0x03, 0x40); // loop (empty block type)
    this.depth++;
    body();
    this.inc(i, step);
    this.get(i);
    if (typeof to === 'number') this.i32(to); else this.get(to.local);
    this.ltU().op(0x0d, 0); // br_if 0: back to the loop head
    this.depth--;
    return this.op(0x0b);
  }

  /** The body with its local declarations, as the code section wants it. */
  encode(): number[] {
    if (this.depth !== 0) throw new Error(`asm ${this.name}: unbalanced blocks`);
    const groups: number[][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === typeCode[t]) last[0]++;
      else groups.push([1, typeCode[t]]);
    }
    const body = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t]), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * Module bytes: every function exported under its name, no results (kernels write through pointers),
 * memory imported as env.memory.
 */
export function assemble(fns: Fn[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [typeCode[p]])), 0]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(types)),
    // import env.memory: memory type, limits flag 0 (no maximum), minimum 1 page
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ];
  return new Uint8Array(bytes);
}

/** Compiles and instantiates `fns` against `memory`; returns the exported functions by name. */
export function instantiate(fns: Fn[], memory: WasmMemory): Record<string, (...args: number[]) => void> {
  const module = new WasmJs.Module(assemble(fns));
  const instance = new WasmJs.Instance(module, { env: { memory } });
  return instance.exports as unknown as Record<string, (...args: number[]) => void>;
}

const compiledByMemory = new WeakMap<WasmMemory, Map<string, (...args: number[]) => void>>();

/**
 * The function `build()` writes, assembled and instantiated against `memory` once per `key` (keys name
 * everything the code is specialised to, and must be unique across the kernel modules).
 */
export function compileOnce(memory: WasmMemory, key: string, build: () => Fn): (...args: number[]) => void {
  let cache = compiledByMemory.get(memory);
  if (!cache) compiledByMemory.set(memory, (cache = new Map()));
  let k = cache.get(key);
  if (!k) {
    const fn = build();
    k = instantiate([fn], memory)[fn.name];
    cache.set(key, k);
  }
  return k;
}
