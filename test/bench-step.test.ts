/**
 * GanTrainer.step against the plain sequential step written out here: D judges real and fake in two
 * passes, Adam in float64, then the G step through the updated D. The trainer judges [real; fake] in one
 * pass and updates D in the middle of the G step's tape (so that G's forward pass overlaps the replicas'
 * all-reduce); neither may change a number.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { GanTrainer, realBatch } from '../src/bench/gan.js';
import { forward, type Net } from '../src/bench/net.js';
import { readFlat, writeFlat } from '../src/parallel/flat.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';
import { TINY } from './helpers/tiny-gan.js';

/** torch.optim.Adam (betas 0.5/0.999, eps 1e-8) in float64. */
class Adam64 {
  t = 0;
  m: Float64Array;
  v: Float64Array;
  constructor(n: number, readonly lr: number) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
  }
  step(p: Float64Array, g: Float32Array): void {
    this.t++;
    for (let i = 0; i < p.length; i++) {
      this.m[i] = 0.5 * this.m[i] + 0.5 * g[i];
      this.v[i] = 0.999 * this.v[i] + 0.001 * g[i] * g[i];
      p[i] -= (this.lr * this.m[i] / (1 - 0.5 ** this.t)) / (Math.sqrt(this.v[i] / (1 - 0.999 ** this.t)) + 1e-8);
    }
  }
}

function gradsOf(net: Net, f: () => tf.Scalar): Float32Array {
  const { value, grads } = tf.variableGrads(f, net.trainable);
  const flat = readFlat(net.trainable.map((v) => grads[v.name]));
  tf.dispose([value, ...Object.values(grads)]);
  return flat;
}

function assign(net: Net, p: Float64Array): void {
  writeFlat(net.trainable, Float32Array.from(p));
}

const rel = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
};

describeEachBackend('GanTrainer.step', () => {
  it('is the sequential D step then G step (two D passes, float64 Adam, G judged by the updated D)', () => {
    const arch = TINY;
    const t = new GanTrainer(arch, 3);
    const ref = new GanTrainer(arch, 3); // same seed: same initial weights; only its networks are used
    const [h, w, c] = arch.image;
    const real = tf.tensor4d(realBatch(arch, 3), [arch.batch, h, w, c]);
    const G = ref.G.net;
    const D = ref.D.net;
    const pG = Float64Array.from(readFlat(G.trainable));
    const pD = Float64Array.from(readFlat(D.trainable));
    const adamG = new Adam64(pG.length, 2e-4);
    const adamD = new Adam64(pD.length, 2e-4);
    const rng = new Rng(4, 'z');
    try {
      for (let step = 0; step < 3; step++) {
        const zD = rng.normals(arch.batch * arch.zDim);
        const zG = rng.normals(arch.batch * arch.zDim);
        t.step(zD, zG);
        const got = t.lastGradients();

        const zd = tf.tensor2d(zD, [arch.batch, arch.zDim]);
        const fake = tf.tidy(() => forward(G, zd));
        const gD = gradsOf(D, () => tf.add(tf.mean(tf.softplus(tf.neg(forward(D, real)))), tf.mean(tf.softplus(forward(D, fake)))) as tf.Scalar);
        adamD.step(pD, gD);
        assign(D, pD);
        const zg = tf.tensor2d(zG, [arch.batch, arch.zDim]);
        const gG = gradsOf(G, () => tf.mean(tf.softplus(tf.neg(forward(D, forward(G, zg))))) as tf.Scalar);
        adamG.step(pG, gG);
        assign(G, pG);
        tf.dispose([zd, fake, zg]);

        expect(rel(got.D, gD)).toBeLessThan(1e-4);
        // The G gradient flows through D: had the trainer judged G's samples with the old D, this differs
        // by the D update (6e-3 relative at the first step).
        expect(rel(got.G, gG)).toBeLessThan(1e-4);
        expect(rel(readFlat(t.D.net.trainable), Float32Array.from(pD))).toBeLessThan(1e-5);
        expect(rel(readFlat(t.G.net.trainable), Float32Array.from(pG))).toBeLessThan(1e-5);
      }
    } finally {
      t.dispose();
      ref.dispose();
      real.dispose();
    }
  });
});
