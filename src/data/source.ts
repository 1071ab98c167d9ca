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
  /**
   * Rows [from, to) of the batch `batch(n)` would serve, advancing the state exactly as it does: each
   * data-parallel replica draws its own rows (src/train/replicas.ts). Sources with it also have `recipe`.
   */
  batchRows?(n: number, from: number, to: number): tf.Tensor4D[];
  /** Plain data (structured-cloneable) from which `openRecipe` (recipe.ts) rebuilds this source elsewhere. */
  recipe?(): SourceRecipe;
}

/** A tensor as plain data. */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** How to rebuild a source in a replica's thread (recipe.ts): a teacher's tensors, levels of another, N(0,1) stand-ins. */
export type SourceRecipe =
  | { kind: 'teacher'; seed: number; config: unknown; blocks: Record<number, { deconv: TensorData; bias: TensorData; out: TensorData }> }
  | { kind: 'levels'; levels: number; inner: SourceRecipe }
  | { kind: 'stand-in'; resolutions: number[]; channels: number; batch: number; seed: number };

/** Images a finite source serves before repeating (`size`), or null for an endless one. */
export function sourceSize(s: PyramidSource): number | null {
  return typeof s.size === 'number' ? s.size : null;
}
