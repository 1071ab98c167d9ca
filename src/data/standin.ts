/**
 * N(0,1) images standing in for real data where only speed is measured (`fsrgan bench train`): one batch
 * per level, drawn once from the seed and served again on every call, so that drawing data costs nothing
 * (the PyTorch twin times its step on a fixed random batch too). Data-parallel replicas rebuild it from its
 * recipe and take their rows (PyramidSource.batchRows).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import type { PyramidSource, SourceRecipe } from './source.js';

export class StandInSource implements PyramidSource {
  private levels: tf.Tensor4D[] | null = null;
  private calls = 0;

  constructor(
    readonly resolutions: number[],
    readonly channels: number,
    /** Images per batch (the only size it serves). */
    readonly batchSize: number,
    private readonly seed: number,
  ) {}

  private fixed(n: number): tf.Tensor4D[] {
    if (n !== this.batchSize) throw new Error(`StandInSource: serves batches of ${this.batchSize}, asked for ${n}`);
    const rng = new Rng(this.seed, 'stand-in');
    this.levels ??= this.resolutions.map((r) => tf.tensor4d(rng.normals(n * r * r * this.channels), [n, r, r, this.channels]));
    this.calls++;
    return this.levels;
  }

  batch(n: number): tf.Tensor4D[] {
    return this.fixed(n).map((x) => x.clone());
  }

  batchRows(n: number, from: number, to: number): tf.Tensor4D[] {
    return this.fixed(n).map((x) => tf.slice(x, [from, 0, 0, 0], [to - from, -1, -1, -1]));
  }

  recipe(): SourceRecipe {
    return { kind: 'stand-in', resolutions: [...this.resolutions], channels: this.channels, batch: this.batchSize, seed: this.seed };
  }

  getState(): { calls: number } {
    return { calls: this.calls };
  }

  setState(state: unknown): void {
    this.calls = (state as { calls: number }).calls;
  }

  describe(): Record<string, unknown> {
    return { name: 'stand-in', kind: 'N(0,1) images, one fixed batch (benchmarks)', seed: this.seed, resolutions: this.resolutions };
  }

  dispose(): void {
    if (this.levels) tf.dispose(this.levels);
    this.levels = null;
  }
}
