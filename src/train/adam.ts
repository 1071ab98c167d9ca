/**
 * Adam (Kingma & Ba 2015) over named variables, with the bias corrections computed in float64 from the
 * step count. tfjs's own AdamOptimizer keeps beta^t as a float32 variable multiplied every step and
 * recomputes it with pow() in setWeights, so a restored optimiser can differ in the last bit; here the
 * whole state is (t, m, v), which makes resume exact.
 *
 * The update is one JS loop per variable over float32 values (m and v live in JS arrays), not about a
 * dozen tensor kernels per variable: in a small model's step, kernel calls and not FLOPs are what costs
 * (docs/speed.md). The loop rounds to float32 after every operation, in the order the tensor ops did
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr (m/c1) / (sqrt(v/c2) + eps)
 * (each constant rounded to float32 as a tf scalar was), so runs are bit-identical to the tensor version
 * that trained every run before it (test/adam.test.ts checks that), on every IEEE backend.
 */
import * as tf from '@tensorflow/tfjs';
import { floatsOf } from '../ops/simd/heap.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** A gradient: a tensor, or its values in the variable's shape (a data-parallel mean arrives as one). */
export type Gradient = tf.Tensor | Float32Array;

/** A proposed step: the new moments and weights by variable name, and the step count they belong to. */
export interface AdamUpdate {
  t: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  w: Map<string, Float32Array>;
  /** The first non-finite quantity of the update (`<name>`, `<name> (Adam m)`, `<name> (Adam v)`), or null. */
  nonFinite: string | null;
}

const f = Math.fround;

export class Adam {
  /** Steps taken. */
  t = 0;
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();

  constructor(
    readonly vars: Map<string, tf.Variable>,
    public lr: number,
    readonly beta1: number,
    readonly beta2: number,
    readonly epsilon = 1e-8,
  ) {
    for (const [name, w] of vars) {
      this.m.set(name, new Float32Array(w.size));
      this.v.set(name, new Float32Array(w.size));
    }
  }

  /** One update from gradients keyed like `vars` (a missing gradient counts as zero). */
  apply(grads: Record<string, Gradient | undefined>): void {
    this.commit(this.propose(grads));
  }

  /**
   * The next moments and weights for `grads`, computed but not assigned, so that a caller can check
   * them (the divergence guard, src/train/guard.ts) and then `commit` or `discard`. Same arithmetic as
   * `apply`, so a checked run is bit-identical to an unchecked one.
   */
  propose(grads: Record<string, Gradient | undefined>): AdamUpdate {
    const t = this.t + 1;
    const b1 = f(this.beta1);
    const a1 = f(1 - this.beta1);
    const b2 = f(this.beta2);
    const a2 = f(1 - this.beta2);
    const c1 = f(1 - this.beta1 ** t);
    const c2 = f(1 - this.beta2 ** t);
    const lr = f(this.lr);
    const eps = f(this.epsilon);
    const u: AdamUpdate = { t, m: new Map(), v: new Map(), w: new Map(), nonFinite: null };
    for (const [name, w] of this.vars) {
      const given = grads[name];
      const size = given === undefined ? w.size : given instanceof Float32Array ? given.length : given.size;
      if (size !== w.size) throw new Error(`Adam.propose: the gradient of ${name} has ${size} values, the variable ${w.size}`);
      const n = w.size;
      const m0 = this.m.get(name)!;
      const v0 = this.v.get(name)!;
      const m1 = new Float32Array(n);
      const v1 = new Float32Array(n);
      const w1 = new Float32Array(n);
      // Views of the wasm heap stay valid while nothing is allocated on it: read both first.
      const g = given === undefined ? null : given instanceof Float32Array ? given : floatsOf(given);
      const w0 = floatsOf(w);
      let finite = true;
      for (let i = 0; i < n; i++) {
        const gi = g ? g[i] : 0;
        const mi = f(f(b1 * m0[i]) + f(a1 * gi));
        const vi = f(f(b2 * v0[i]) + f(a2 * f(gi * gi)));
        const wi = f(w0[i] - f(lr * f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps))));
        m1[i] = mi;
        v1[i] = vi;
        w1[i] = wi;
        // One test for all three: finite numbers times 0 are 0, NaN and Inf give NaN.
        if ((mi + vi + wi) * 0 !== 0) finite = false;
      }
      if (!finite && !u.nonFinite) u.nonFinite = firstNonFinite(name, w1, m1, v1);
      u.m.set(name, m1);
      u.v.set(name, v1);
      u.w.set(name, w1);
    }
    return u;
  }

  /** Assigns a proposed update. */
  commit(u: AdamUpdate): void {
    this.t = u.t;
    for (const [name, w] of this.vars) {
      this.m.set(name, u.m.get(name)!);
      this.v.set(name, u.v.get(name)!);
      // A new tensor for every value (never in place): the wasm backend caches XNNPACK operators and
      // derived filters per tensor data, so a value must not change under the same data (docs/ops.md).
      const t = tf.tensor(u.w.get(name)!, w.shape, 'float32');
      w.assign(t);
      t.dispose();
    }
  }

  /** Drops a proposed update: the variables and the step count stay as they were. */
  discard(u: AdamUpdate): void {
    void u;
  }

  /**
   * The state in tfjs's getWeights layout: `iter`, then `<name>/m` for every variable, then `<name>/v`.
   * Every tensor is new: the caller disposes them.
   */
  getWeights(): NamedTensor[] {
    const shape = (name: string) => this.vars.get(name)!.shape;
    return [
      { name: 'iter', tensor: tf.scalar(this.t, 'int32') },
      ...[...this.m].map(([name, a]) => ({ name: `${name}/m`, tensor: tf.tensor(a, shape(name), 'float32') })),
      ...[...this.v].map(([name, a]) => ({ name: `${name}/v`, tensor: tf.tensor(a, shape(name), 'float32') })),
    ];
  }

  /** Restores the state from getWeights' layout (values are copied; the caller keeps the tensors). */
  setWeights(weights: NamedTensor[] | Record<string, tf.Tensor>): void {
    const byName = Array.isArray(weights) ? Object.fromEntries(weights.map((w) => [w.name, w.tensor])) : weights;
    const iter = byName.iter;
    if (!iter) throw new Error('Adam.setWeights: missing iter');
    this.t = iter.dataSync()[0];
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, variable] of this.vars) {
        const t = byName[`${name}/${kind}`];
        if (!t) throw new Error(`Adam.setWeights: missing ${name}/${kind}`);
        if (t.shape.join() !== variable.shape.join()) throw new Error(`Adam.setWeights: ${name}/${kind} has shape [${t.shape}], expected [${variable.shape}]`);
        map.set(name, Float32Array.from(t.dataSync() as Float32Array));
      }
    }
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
  }
}

/** Which of an update's arrays holds the first NaN or Inf, named as the guard reports it. */
function firstNonFinite(name: string, w: Float32Array, m: Float32Array, v: Float32Array): string {
  const bad = (a: Float32Array) => a.some((x) => !Number.isFinite(x));
  if (bad(w)) return name;
  if (bad(m)) return `${name} (Adam m)`;
  return `${name} (Adam v)`;
}
