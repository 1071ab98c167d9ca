/**
 * Adam and the EMA update as JS loops (src/train/adam.ts, step.ts's updateEma) against the tensor ops
 * they replaced, written out here: bit for bit equal on cpu and wasm, over many steps, with betas and
 * learning rates the configs use, exact zeros (dead channels) and gradients spanning many magnitudes.
 * Runs trained before the change must stay reproducible (`--workers 1`, docs/training.md).
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { Adam } from '../src/train/adam.js';
import { updateEma } from '../src/train/step.js';
import type { Learner } from '../src/models/learner.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';

/** The tensor version of Adam.propose + commit that trained every run before the JS loop. */
function tensorAdamStep(w: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, t: number, lr: number, beta1: number, beta2: number, eps = 1e-8): void {
  const c1 = 1 - beta1 ** t;
  const c2 = 1 - beta2 ** t;
  tf.tidy(() => {
    const mn = tf.add(tf.mul(beta1, m), tf.mul(1 - beta1, g));
    const vn = tf.add(tf.mul(beta2, v), tf.mul(1 - beta2, tf.square(g)));
    const wn = tf.sub(w, tf.mul(lr, tf.div(tf.div(mn, c1), tf.add(tf.sqrt(tf.div(vn, c2)), eps))));
    m.assign(mn);
    v.assign(vn);
    w.assign(wn);
  });
}

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

/** Gradients over many magnitudes, with exact zeros and negative zeros among them. */
function gradient(rng: Rng, n: number): Float32Array {
  return Float32Array.from(rng.normals(n), (x, i) => (i % 7 === 0 ? (i % 2 ? -0 : 0) : x * 10 ** ((i % 11) - 6)));
}

describeEachBackend('Adam and EMA as JS loops', () => {
  it.each([
    [0.005, 0, 0.9],
    [2e-4, 0.5, 0.999],
    [1e-3, 0.9, 0.99],
  ])('Adam (lr %f, betas %f / %f) equals the tensor ops bit for bit over 40 steps', (lr, b1, b2) => {
    const rng = new Rng(3, `adam-${lr}-${b1}`);
    const n = 257;
    const init = rng.normals(n);
    const w = tf.variable(tf.tensor1d(init));
    const wRef = tf.variable(tf.tensor1d(init));
    const m = tf.variable(tf.zeros([n]));
    const v = tf.variable(tf.zeros([n]));
    const adam = new Adam(new Map([['w', w]]), lr, b1, b2);
    for (let t = 1; t <= 40; t++) {
      const g = gradient(rng, n);
      const gt = tf.tensor1d(g);
      // Alternate the two forms a gradient arrives in (a tensor; a data-parallel mean as an array).
      adam.apply({ w: t % 2 ? gt : g });
      tensorAdamStep(wRef, m, v, gt, t, lr, b1, b2);
      gt.dispose();
      expect(bits(w.dataSync()), `step ${t}`).toEqual(bits(wRef.dataSync()));
    }
    const state = adam.getWeights();
    expect(bits(state.find((s) => s.name === 'w/m')!.tensor.dataSync())).toEqual(bits(m.dataSync()));
    expect(bits(state.find((s) => s.name === 'w/v')!.tensor.dataSync())).toEqual(bits(v.dataSync()));
    tf.dispose([w, wRef, m, v, ...state.map((s) => s.tensor)]);
  });

  it('a proposed update names its first non-finite quantity, and restoring the state continues identically', () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    const adam = new Adam(new Map([['w', w]]), 0.1, 0.5, 0.9);
    expect(adam.propose({ w: new Float32Array([0.1, NaN, 0]) }).nonFinite).toBe('w');
    expect(adam.propose({ w: new Float32Array([0.1, 1e30, 0]) }).nonFinite).toBe('w (Adam v)');
    adam.apply({ w: new Float32Array([0.1, -0.2, 0.3]) });
    const copy = tf.variable(w.clone());
    const other = new Adam(new Map([['w', copy]]), 0.1, 0.5, 0.9);
    const saved = adam.getWeights();
    other.setWeights(saved);
    tf.dispose(saved.map((s) => s.tensor));
    adam.apply({ w: new Float32Array([0.3, 0.2, -0.1]) });
    other.apply({ w: new Float32Array([0.3, 0.2, -0.1]) });
    expect(bits(copy.dataSync())).toEqual(bits(w.dataSync()));
    tf.dispose([w, copy]);
  });

  it('updateEma equals beta * ema + (1 - beta) * w as tensor ops, bit for bit', () => {
    const rng = new Rng(4, 'ema');
    const n = 300;
    const mk = () => tf.variable(tf.tensor1d(rng.normals(n)));
    const learner = { vars: new Map([['g', mk()]]) } as unknown as Learner;
    const ema = { vars: new Map([['g', mk()]]) } as unknown as Learner;
    const ref = tf.variable(ema.vars.get('g')!.clone());
    for (const beta of [2 / 11, 0.5, 0.99, 0.999]) {
      tf.tidy(() => learner.vars.get('g')!.assign(tf.tensor1d(gradient(rng, n))));
      updateEma(ema, learner, ['g'], beta);
      tf.tidy(() => ref.assign(tf.add(tf.mul(beta, ref), tf.mul(1 - beta, learner.vars.get('g')!))));
      expect(bits(ema.vars.get('g')!.dataSync()), `beta ${beta}`).toEqual(bits(ref.dataSync()));
    }
    tf.dispose([...learner.vars.values(), ...ema.vars.values(), ref]);
  });
});
