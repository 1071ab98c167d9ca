/**
 * What the trainer and the analysis code consume: batches of resolution pyramids (x_1, ..., x_L), from
 * the synthetic teacher or from a real dataset, deterministic given a seed and resumable from its state.
 * Every implementation lives in src/data (ImageDataset in dataset.ts, TeacherSource and
 * HeldOutTeacherSource in teacher.ts, LevelsSource in levels.ts); `openSource` (open.ts) opens one by name.
 */
import type * as tf from '@tensorflow/tfjs';

export interface PyramidSource {
  /** Image resolutions r_1 < ... < r_L, each twice the previous. */
  readonly resolutions: number[];
  /** Image channels (3 for color). */
  readonly channels: number;
  /**
   * The next batch: one tensor [n,r_l,r_l,channels] per resolution, ascending. Levels are consistent
   * (real data: x_{l-1} = 2x2 average pool of x_l). The caller disposes the tensors.
   */
  batch(n: number): tf.Tensor4D[];
  /** JSON-serialisable iteration/RNG state, for exact resume. */
  getState(): unknown;
  setState(state: unknown): void;
  /** What this source is (name, size, seed, license, ...), recorded in run directories. */
  describe(): Record<string, unknown>;

  // Optional abilities (absent where a source does not have them).

  /** Images a finite source serves before repeating (ImageDataset); absent or null for an endless one (a teacher). */
  readonly size?: number | null;
  /** The other side of its train / held-out split, as a fresh source (ImageDataset; LevelsSource over one). */
  heldOut?(): PyramidSource;
}

/** Images a finite source serves before repeating (`size`), or null for an endless one. */
export function sourceSize(s: PyramidSource): number | null {
  return typeof s.size === 'number' ? s.size : null;
}
