/**
 * One GAN training step of an architecture from arch.ts, exactly what bench/torch_twin.py times:
 * D step (fake = G(z) without gradient; loss softplus(-D(real)) + softplus(D(fake)), batch means) then
 * G step (softplus(-D(G(z'))), gradients for G's trainable variables only), each followed by Adam
 * (betas 0.5/0.999, the DCGAN recipe). Gradients travel as one flat vector per network so that
 * data-parallel replicas (src/parallel) can average them: with batch-mean losses, the mean of the
 * replicas' shard gradients is the full-batch gradient (except through BatchNorm, whose statistics are
 * per shard, as in PyTorch's DistributedDataParallel without SyncBatchNorm; docs/speed.md).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { FlatAdam } from '../parallel/adam.js';
import { flatSize, readFlat, writeFlat } from '../parallel/flat.js';
import type { Replica, ReplicaContext } from '../parallel/replica.js';
import type { ArchSpec } from './arch.js';
import { buildNet, disposeNet, forward, type Net } from './net.js';

export interface GanInit {
  arch: ArchSpec;
  /** Fixes weights and the stand-in real batch. */
  seed: number;
}

/** One replica's share of a step: latents for the D step and the G step, [shard, zDim] row-major. */
export interface GanShard {
  zD: Float32Array;
  zG: Float32Array;
}

/** The split all-reduce of src/parallel (a ReplicaContext is one). */
export type GradientReducer = Pick<ReplicaContext, 'allReduceStart' | 'allReduceFinish'>;

export interface GanLosses {
  lossD: number;
  lossG: number;
}

/** Net's trainable parameters and the optimiser that updates them. */
interface Trained {
  net: Net;
  params: Float32Array;
  grad: Float32Array;
  opt: FlatAdam;
}

function trained(net: Net, lr: number): Trained {
  const n = flatSize(net.trainable);
  const params = readFlat(net.trainable);
  return { net, params, grad: new Float32Array(n), opt: new FlatAdam(n, lr, 0.5, 0.999) };
}

/** The real batch stand-in: N(0,1) images [batch, h, w, c] from the seed (identical on every replica). */
export function realBatch(arch: ArchSpec, seed: number): Float32Array {
  const [h, w, c] = arch.image;
  return new Rng(seed, 'real').normals(arch.batch * h * w * c);
}

export class GanTrainer {
  readonly G: Trained;
  readonly D: Trained;
  /** Images per replica per step. */
  readonly shard: number;
  private readonly real: tf.Tensor4D;
  /**
   * Whether the D step judges real and fake images in one batch. Not with BatchNorm in D: its batch
   * statistics would mix the two (DCGAN normalises them separately, and so does the PyTorch twin).
   */
  private readonly jointD: boolean;

  /**
   * Replica `rank` of `world` trains on rows [rank*shard, (rank+1)*shard) of the real batch; `reduce`
   * averages gradient vectors over replicas in place (absent for one replica).
   */
  constructor(readonly arch: ArchSpec, seed: number, readonly rank = 0, readonly world = 1, private readonly reduce?: GradientReducer) {
    if (arch.batch % world !== 0) throw new Error(`GanTrainer: batch ${arch.batch} is not divisible by ${world} replicas`);
    this.shard = arch.batch / world;
    this.G = trained(buildNet(arch.G, [arch.zDim], new Rng(seed, 'G')), arch.lrG ?? 2e-4);
    this.D = trained(buildNet(arch.D, arch.image, new Rng(seed, 'D')), arch.lrD ?? 2e-4);
    const [h, w, c] = arch.image;
    const per = h * w * c;
    const all = realBatch(arch, seed);
    this.jointD = !arch.D.some((l) => l.op === 'bn');
    this.real = tf.tensor4d(all.subarray(rank * this.shard * per, (rank + 1) * this.shard * per), [this.shard, h, w, c]);
  }

  /** Floats in the longest gradient vector (for the all-reduce's shared memory). */
  get reduceFloats(): number {
    return Math.max(this.G.params.length, this.D.params.length);
  }

  private latents(z: Float32Array, what: string): tf.Tensor2D {
    if (z.length !== this.shard * this.arch.zDim) throw new Error(`GanTrainer.step: ${what} has ${z.length} values, expected ${this.shard} x ${this.arch.zDim}`);
    return tf.tensor2d(z, [this.shard, this.arch.zDim]);
  }

  /** Gradients -> flat vector -> the mean over replicas starts (see apply). */
  private contribute(t: Trained, grads: tf.NamedTensorMap): void {
    const list = t.net.trainable.map((v) => {
      const g = grads[v.name];
      if (!g) throw new Error(`GanTrainer: no gradient for ${v.name}`);
      return g;
    });
    readFlat(list, t.grad);
    tf.dispose(Object.values(grads));
    this.reduce?.allReduceStart(t.grad);
  }

  /** The mean over replicas (waits for it) -> Adam -> variables. */
  private apply(t: Trained): void {
    this.reduce?.allReduceFinish();
    t.opt.step(t.params, t.grad);
    writeFlat(t.net.trainable, t.params);
  }

  /** The last gradient vectors (after the all-reduce): what the optimiser consumed. */
  lastGradients(): { G: Float32Array; D: Float32Array } {
    return { G: this.G.grad.slice(), D: this.D.grad.slice() };
  }

  /**
   * One D step and one G step on this replica's shard; returns the shard's losses. `real` [shard,h,w,c]
   * replaces the stand-in batch (bench quality trains on data); the caller keeps it.
   */
  step(zD: Float32Array, zG: Float32Array, realBatch?: tf.Tensor4D): GanLosses {
    const G = this.G.net;
    const D = this.D.net;
    const real = realBatch ?? this.real;
    const zd = this.latents(zD, 'zD');
    const fake = tf.tidy(() => forward(G, zd));
    zd.dispose();
    const d = tf.variableGrads(() => {
      if (!this.jointD) return tf.add(tf.mean(tf.softplus(tf.neg(forward(D, real)))), tf.mean(tf.softplus(forward(D, fake)))) as tf.Scalar;
      // One D pass over [real; fake]: the same gradients with half the kernel calls, and each call does
      // twice the work (fixed costs per call are what small per-replica batches pay most; docs/speed.md).
      const [onReal, onFake] = tf.split(forward(D, tf.concat([real, fake])), 2);
      return tf.add(tf.mean(tf.softplus(tf.neg(onReal))), tf.mean(tf.softplus(onFake))) as tf.Scalar;
    }, this.D.net.trainable);
    fake.dispose();
    this.contribute(this.D, d.grads);
    const zg = this.latents(zG, 'zG');
    const g = tf.variableGrads(() => {
      // G's forward pass does not read D, so it runs while the other replicas' D gradients arrive; D's
      // update lands before D judges the result, as in the sequential step.
      const fakeG = forward(G, zg);
      this.apply(this.D);
      return tf.mean(tf.softplus(tf.neg(forward(D, fakeG)))) as tf.Scalar;
    }, this.G.net.trainable);
    zg.dispose();
    this.contribute(this.G, g.grads);
    this.apply(this.G);
    const losses = { lossD: d.value.dataSync()[0], lossG: g.value.dataSync()[0] };
    tf.dispose([d.value, g.value]);
    return losses;
  }

  /** Images of G for latents z [m, zDim] (BatchNorm with the batch's own statistics, as in training). */
  sample(z: Float32Array, m: number): tf.Tensor4D {
    return tf.tidy(() => forward(this.G.net, tf.tensor2d(z, [m, this.arch.zDim])) as tf.Tensor4D);
  }

  dispose(): void {
    disposeNet(this.G.net);
    disposeNet(this.D.net);
    this.real.dispose();
  }
}

/** Replica factory for src/parallel's pool: one GanTrainer per replica, gradients averaged every step. */
export function createGanReplica(init: GanInit, ctx: ReplicaContext): Replica<GanShard, GanLosses> {
  const t = new GanTrainer(init.arch, init.seed, ctx.rank, ctx.world, ctx.world > 1 ? ctx : undefined);
  return {
    reduceFloats: t.reduceFloats,
    step: (m) => t.step(m.zD, m.zG),
    dispose: () => t.dispose(),
  };
}

/**
 * A replica that trains on its own, batch/world images per step, and never exchanges gradients. `bench
 * train` runs `world` of them at once to measure what that many concurrent workers reach on this machine
 * when nothing synchronises them (shared caches, memory bandwidth, other tenants): the ceiling for the
 * data-parallel replicas above. `msg.steps` steps per call, latents from the replica's own stream.
 */
export function createIndependentReplica(init: GanInit, ctx: ReplicaContext): Replica<{ steps: number }, number> {
  const shard = init.arch.batch / ctx.world;
  const t = new GanTrainer({ ...init.arch, batch: shard }, init.seed);
  const rng = new Rng(init.seed + ctx.rank, 'independent');
  const n = shard * init.arch.zDim;
  return {
    reduceFloats: 1,
    step: ({ steps }) => {
      for (let i = 0; i < steps; i++) t.step(rng.normals(n), rng.normals(n));
      return steps;
    },
    dispose: () => t.dispose(),
  };
}
