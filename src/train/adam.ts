/**
 * Adam (Kingma & Ba 2015) over named variables, with the bias corrections computed in float64 from the
 * step count. tfjs's own AdamOptimizer keeps beta^t as a float32 variable multiplied every step and
 * recomputes it with pow() in setWeights, so a restored optimiser can differ in the last bit; here the
 * whole state is (t, m, v), which makes resume exact.
 */
import * as tf from '@tensorflow/tfjs';
import { ownVariable } from '../models/learner.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** A proposed step: the new moments and weights by variable name, and the step count they belong to. */
export interface AdamUpdate {
  t: number;
  m: Map<string, tf.Tensor>;
  v: Map<string, tf.Tensor>;
  w: Map<string, tf.Tensor>;
}

export class Adam {
  /** Steps taken. */
  t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    readonly vars: Map<string, tf.Variable>,
    public lr: number,
    readonly beta1: number,
    readonly beta2: number,
    readonly epsilon = 1e-8,
  ) {
    for (const [name, w] of vars) {
      this.m.set(name, ownVariable(tf.zerosLike(w), false));
      this.v.set(name, ownVariable(tf.zerosLike(w), false));
    }
  }

  /** One update from gradients keyed like `vars` (a missing gradient counts as zero). */
  apply(grads: Record<string, tf.Tensor | undefined>): void {
    this.commit(this.propose(grads));
  }

  /**
   * The next moments and weights for `grads`, computed but not assigned, so that a caller can check
   * them (the divergence guard, src/train/guard.ts) and then `commit` or `discard`. Same arithmetic as
   * `apply`, so a checked run is bit-identical to an unchecked one.
   */
  propose(grads: Record<string, tf.Tensor | undefined>): AdamUpdate {
    const t = this.t + 1;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    const u: AdamUpdate = { t, m: new Map(), v: new Map(), w: new Map() };
    tf.tidy(() => {
      for (const [name, w] of this.vars) {
        const g = grads[name] ?? tf.zerosLike(w);
        const m = tf.add(tf.mul(this.beta1, this.m.get(name)!), tf.mul(1 - this.beta1, g));
        const v = tf.add(tf.mul(this.beta2, this.v.get(name)!), tf.mul(1 - this.beta2, tf.square(g)));
        const mHat = tf.div(m, c1);
        const vHat = tf.div(v, c2);
        u.m.set(name, tf.keep(m));
        u.v.set(name, tf.keep(v));
        u.w.set(name, tf.keep(tf.sub(w, tf.mul(this.lr, tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon))))));
      }
    });
    return u;
  }

  /** Assigns a proposed update (and disposes its tensors). */
  commit(u: AdamUpdate): void {
    this.t = u.t;
    for (const [name, w] of this.vars) {
      this.m.get(name)!.assign(u.m.get(name)!);
      this.v.get(name)!.assign(u.v.get(name)!);
      w.assign(u.w.get(name)!);
    }
    this.discard(u);
  }

  /** Drops a proposed update: the variables and the step count stay as they were. */
  discard(u: AdamUpdate): void {
    tf.dispose([...u.m.values(), ...u.v.values(), ...u.w.values()]);
  }

  /** The state in tfjs's getWeights layout: `iter`, then `<name>/m` for every variable, then `<name>/v`. */
  getWeights(): NamedTensor[] {
    return [
      { name: 'iter', tensor: tf.scalar(this.t, 'int32') },
      ...[...this.m].map(([name, tensor]) => ({ name: `${name}/m`, tensor })),
      ...[...this.v].map(([name, tensor]) => ({ name: `${name}/v`, tensor })),
    ];
  }

  /** Restores the state from getWeights' layout (values are copied; the caller keeps the tensors). */
  setWeights(weights: NamedTensor[] | Record<string, tf.Tensor>): void {
    const byName = Array.isArray(weights) ? Object.fromEntries(weights.map((w) => [w.name, w.tensor])) : weights;
    const iter = byName.iter;
    if (!iter) throw new Error('Adam.setWeights: missing iter');
    this.t = iter.dataSync()[0];
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, variable] of map) {
        const t = byName[`${name}/${kind}`];
        if (!t) throw new Error(`Adam.setWeights: missing ${name}/${kind}`);
        if (t.shape.join() !== variable.shape.join()) throw new Error(`Adam.setWeights: ${name}/${kind} has shape [${t.shape}], expected [${variable.shape}]`);
        variable.assign(t);
      }
    }
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
