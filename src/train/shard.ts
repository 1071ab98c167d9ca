/**
 * What a training step does differently as one of several data-parallel replicas (src/train/replicas.ts):
 * every replica draws the whole batch's randomness from its copy of the run's Rng streams (latents,
 * augmentations, penalty weights: the same draws a single replica makes) and computes on its own rows of
 * it; then the gradients, with the loss and penalty appended, are averaged over replicas (src/parallel's
 * all-reduce, the same bits everywhere), so every replica applies the same update and makes the same
 * guard decision. With rows weighted by their share of the batch, the average is the full-batch
 * gradient of the batch-mean losses, whatever the split. Not so for what is not a mean over images: the
 * relativistic objective's mean(D(fake)) inside softplus is taken per shard (as BatchNorm statistics are
 * per shard in PyTorch's DistributedDataParallel).
 */
import * as tf from '@tensorflow/tfjs';
import { floatsOf } from '../ops/simd/heap.js';
import type { Gradient } from './adam.js';
import type { AugmentDraw } from './augment.js';

/** The split all-reduce of src/parallel (a ReplicaContext is one). */
export interface MeanReducer {
  allReduceStart(v: Float32Array): void;
  allReduceFinish(): void;
}

export interface StepShard {
  /** This replica's rows [from, to) of every batch of config.train.batch images. */
  from: number;
  to: number;
  /** Images per batch (config.train.batch). */
  batch: number;
  /** Replicas. */
  world: number;
  reducer: MeanReducer;
  /** One buffer per update kind, of the reduce capacity (reused every step). */
  buffers: { D: Float32Array; G: Float32Array };
}

/** Rows [from, to) of x (drawn for the whole batch); x itself without a shard. */
export function shardRows<T extends tf.Tensor>(shard: StepShard | undefined, x: T): T {
  if (!shard) return x;
  return tf.slice(x, [shard.from, ...x.shape.slice(1).map(() => 0)], [shard.to - shard.from, ...x.shape.slice(1)]) as T;
}

/** The shard's rows of a per-image array. */
export function shardArray<A extends Float32Array | Int32Array>(shard: StepShard | undefined, a: A): A {
  return shard ? (a.subarray(shard.from, shard.to) as A) : a;
}

/** The shard's images of an augmentation drawn for the whole batch. */
export function shardAugment(shard: StepShard | undefined, d: AugmentDraw): AugmentDraw {
  if (!shard) return d;
  const out: AugmentDraw = { size: d.size };
  for (const k of ['brightness', 'saturation', 'contrast', 'dy', 'dx', 'cy', 'cx'] as const) {
    const a = d[k];
    if (a) (out as unknown as Record<string, Float32Array | Int32Array>)[k] = shardArray(shard, a);
  }
  return out;
}

/** An update's gradients, loss and penalty, averaged over the replicas. */
export interface ReducedUpdate {
  grads: Record<string, Gradient>;
  loss: number;
  penalty: number;
}

/**
 * Contributes this shard's gradients of `vars` (in the map's order), loss and penalty to the mean over
 * replicas; `finish()` waits for the others and returns the mean (views of `buffer`, valid until the
 * next reduction into it). Start, other work, then finish: the replicas meet only in finish.
 */
export function startReduce(shard: StepShard, kind: 'D' | 'G', vars: Map<string, tf.Variable>, grads: Record<string, tf.Tensor>, loss: tf.Scalar, penalty: tf.Scalar | null): () => ReducedUpdate {
  const v = shard.buffers[kind];
  // Rows weighted by their share of the batch: the mean over replicas is then the full-batch mean.
  const weight = (shard.world * (shard.to - shard.from)) / shard.batch;
  let o = 0;
  const at = new Map<string, [number, number]>();
  for (const [name, w] of vars) {
    const g = grads[name];
    if (g) v.set(floatsOf(g), o);
    else v.fill(0, o, o + w.size);
    at.set(name, [o, o + w.size]);
    o += w.size;
  }
  v[o] = loss.dataSync()[0];
  v[o + 1] = penalty ? penalty.dataSync()[0] : 0;
  const n = o + 2;
  if (weight !== 1) for (let i = 0; i < n; i++) v[i] *= weight;
  const used = v.subarray(0, n);
  shard.reducer.allReduceStart(used);
  return () => {
    shard.reducer.allReduceFinish();
    const out: Record<string, Gradient> = {};
    for (const [name, [a, b]] of at) out[name] = used.subarray(a, b);
    return { grads: out, loss: used[n - 2], penalty: used[n - 1] };
  };
}
