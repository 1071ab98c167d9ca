/** A source cut to its lowest levels: LevelsSource. */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { sourceSize, type PyramidSource, type SourceRecipe } from './source.js';

/**
 * The lowest `levels` levels of another source: trains a generator with fewer layers on the same data
 * (the random-lower baseline at an intermediate level, src/experiments/run.ts). Its held-out side is the
 * inner source's, truncated the same way.
 */
export class LevelsSource implements PyramidSource {
  readonly resolutions: number[];
  readonly channels: number;

  constructor(
    readonly inner: PyramidSource,
    readonly levels: number,
  ) {
    if (!Number.isInteger(levels) || levels < 1 || levels > inner.resolutions.length) {
      throw new Error(`LevelsSource: levels must be an integer in [1, ${inner.resolutions.length}], got ${levels}`);
    }
    this.resolutions = inner.resolutions.slice(0, levels);
    this.channels = inner.channels;
  }

  batch(n: number): tf.Tensor4D[] {
    const xs = this.inner.batch(n);
    tf.dispose(xs.slice(this.levels));
    return xs.slice(0, this.levels);
  }

  /** Present when the inner source has it (see PyramidSource.batchRows). */
  get batchRows(): ((n: number, from: number, to: number) => tf.Tensor4D[]) | undefined {
    const inner = this.inner;
    if (!inner.batchRows || !inner.recipe) return undefined;
    return (n, from, to) => {
      const xs = inner.batchRows!(n, from, to);
      tf.dispose(xs.slice(this.levels));
      return xs.slice(0, this.levels);
    };
  }

  get recipe(): (() => SourceRecipe) | undefined {
    const inner = this.inner;
    if (!inner.batchRows || !inner.recipe) return undefined;
    return () => ({ kind: 'levels', levels: this.levels, inner: inner.recipe!() });
  }

  getState(): unknown {
    return this.inner.getState();
  }

  setState(state: unknown): void {
    this.inner.setState(state);
  }

  describe(): Record<string, unknown> {
    return { ...this.inner.describe(), levels: this.resolutions };
  }

  get size(): number | null {
    return sourceSize(this.inner);
  }

  heldOut(): PyramidSource {
    if (!this.inner.heldOut) throw new UserError(`the data '${String(this.inner.describe().name)}' has no held-out split.`);
    return new LevelsSource(this.inner.heldOut(), this.levels);
  }
}
