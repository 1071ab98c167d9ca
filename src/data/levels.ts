/** A source cut to its lowest levels: LevelsSource. */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { sourceSize, type PyramidSource } from './source.js';

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
