/**
 * What a measurement of the registry (registry.ts) is handed: the pieces of a run (RunContext) or a
 * teacher alone (TeacherContext), the analysis config, and the shared ways of drawing images from a
 * generator or a source and of building the random-init reference learner.
 */
import * as tf from '@tensorflow/tfjs';
import { generatorForward, type GeneratorParams } from '../models/generator.js';
import { createLearner, disposeLearner, learnerForward, type Learner, type LearnerInit } from '../models/learner.js';
import { calibrateLayer } from '../models/calibrate.js';
import type { Discriminator } from '../models/discriminator.js';
import type { PyramidSource } from '../data/source.js';
import type { Teacher } from '../teacher/index.js';
import { Rng } from '../util/rng.js';
import type { ImageArray } from './common.js';
import type { AnalysisConfig } from './config.js';

/** The calibration fields of a training config's generator.init (src/train/config.ts). */
export interface CalibrationInit {
  calibrate: boolean;
  active: number;
  calibrationSamples: number;
}

/** What analyzeRun needs from a run directory; src/train/run.ts's LoadedRun provides all of it. */
export interface RunPieces {
  dir: string;
  config: { seed: number; generator: { init: LearnerInit & Partial<CalibrationInit> } };
  /** The trained learner. */
  generator: GeneratorParams;
  /** The same generator as a Learner: a model family's forward pass (src/train/families.ts) is used when it has one. */
  learner?: Learner | null;
  /** D per resolution it judges. */
  discriminators: Map<number, Discriminator>;
  /** Real data (null: moments and SWD are unavailable). */
  source: PyramidSource | null;
  teacher: Teacher | null;
  /** Resolutions whose generated images are meaningful (trained stages). */
  outputs: number[];
}

export type Log = (line: string) => void;

/** A measurement's view of a run. */
export interface RunContext {
  run: RunPieces;
  config: AnalysisConfig;
  /** The resolutions up to the highest trained one (generated images exist there). */
  levels: number[];
  /**
   * Real images (run.source) and generated ones (latents of config.seed) at `levels`, config.samples each,
   * drawn once per analyzeRun call and shared by the measurements that need them (registry `realData`).
   */
  pyramids(): { real: ImageArray[]; fake: ImageArray[] };
}

/** A measurement's view of a teacher alone (`fsrgan analyze --teacher`). */
export interface TeacherContext {
  teacher: Teacher;
  config: AnalysisConfig;
  /** Two independent teacher samples at every level (seeds config.seed and config.seed + 1), drawn once. */
  pair(): { a: ImageArray[]; b: ImageArray[] };
}

/** Latents [n,1,1,zDim] from Rng(seed, 'analysis/z'). */
export function latents(n: number, zDim: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed, 'analysis/z').normals(n * zDim), [n, 1, 1, zDim]);
}

/** Concatenates per-chunk level data into one ImageArray per level. */
function gather(chunks: ImageArray[][]): ImageArray[] {
  return chunks[0].map((first, l) => {
    const n = chunks.reduce((a, c) => a + c[l].n, 0);
    const data = new Float32Array(n * first.h * first.w * first.c);
    let o = 0;
    for (const c of chunks) data.set(c[l].data, o), (o += c[l].data.length);
    return { data, n, h: first.h, w: first.w, c: first.c };
  });
}

function toArrays(xs: tf.Tensor4D[]): ImageArray[] {
  return xs.map((x) => {
    const [n, h, w, c] = x.shape;
    return { data: x.dataSync() as Float32Array, n, h, w, c };
  });
}

/** Images of a generator at levels 1..upTo, n samples at latents from `seed`, in chunks. */
export function generatorImages(g: GeneratorParams | Learner, n: number, seed: number, upTo: number, chunk = 256): ImageArray[] {
  const params = 'params' in g ? g.params : g;
  // A model family's generator runs its own forward pass (learnerForward); the FSR learner the shared one.
  const forward = (z: tf.Tensor4D) => ('params' in g ? learnerForward(g, z, upTo).x : generatorForward(params, z, upTo).x);
  const z = latents(n, params.shape.zDim, seed);
  const chunks: ImageArray[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const xs = tf.tidy(() => forward(tf.slice(z, [s, 0, 0, 0], [m, -1, -1, -1])));
    chunks.push(toArrays(xs));
    tf.dispose(xs);
  }
  z.dispose();
  return gather(chunks);
}

/** n real pyramids from a source, in chunks. */
export function sourceImages(source: PyramidSource, n: number, chunk = 256): ImageArray[] {
  const chunks: ImageArray[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const xs = source.batch(Math.min(chunk, n - s));
    chunks.push(toArrays(xs));
    tf.dispose(xs);
  }
  return gather(chunks);
}

/**
 * The random-init reference learner: the run's shape and init recipe at Rng(seed, 'analysis/random-init'),
 * calibrated layer by layer when the run calibrates (src/models/calibrate.ts): what training starts from,
 * so that "sparser than random init" means sparser than the start, not than an uncalibrated net.
 */
export function randomInit<T>(params: GeneratorParams, init: LearnerInit & Partial<CalibrationInit>, seed: number, fn: (g: GeneratorParams) => T): T {
  const l = createLearner(params.shape, new Rng(seed, 'analysis/random-init'), init);
  try {
    if (init.calibrate) {
      const z = latents(init.calibrationSamples ?? 256, params.shape.zDim, seed + 1);
      try {
        params.shape.resolutions.forEach((_, i) => calibrateLayer(l.params, i, z, init.active ?? 0.2));
      } finally {
        z.dispose();
      }
    }
    return fn(l.params);
  } finally {
    disposeLearner(l);
  }
}
