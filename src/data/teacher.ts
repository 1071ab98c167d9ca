/**
 * The synthetic teacher G* (src/teacher) as PyramidSources: `TeacherSource`, fresh samples of G* for
 * training (Rng stream 'teacher-source'), and `HeldOutTeacherSource`, the held-out real data of the
 * measurements (stream 'analysis/heldout'). Both are seeded and resumable.
 */
import * as tf from '@tensorflow/tfjs';
import { sampleTeacher, type Teacher } from '../teacher/build.js';
import { Rng, type RngState } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { generatorForward } from '../models/generator.js';
import type { PyramidSource, SourceRecipe } from './source.js';

export interface TeacherSourceState {
  rng: RngState;
  batches: number;
}

export class TeacherSource implements PyramidSource {
  readonly resolutions: number[];
  readonly channels = 3;
  private rng: Rng;
  private batches = 0;

  /** Draws z from Rng(seed, 'teacher-source'); the teacher stays owned by the caller. */
  constructor(
    /** The teacher this source samples (owned by the caller). */
    readonly teacher: Teacher,
    private readonly seed: number,
  ) {
    this.resolutions = [...teacher.config.resolutions];
    this.rng = new Rng(seed, 'teacher-source');
  }

  /** x_l [n,r_l,r_l,3] for every level, ascending. Not pyramid-consistent: see docs/teacher.md. */
  batch(n: number): tf.Tensor4D[] {
    if (!Number.isInteger(n) || n < 1) throw new Error(`TeacherSource.batch: n must be a positive integer, got ${n}`);
    const { z, s, x } = sampleTeacher(this.teacher, n, this.rng);
    tf.dispose([z, ...s]);
    this.batches++;
    return x;
  }

  /** Rows [from, to) of batch(n): every latent drawn as there, the teacher run on the rows' latents only. */
  batchRows(n: number, from: number, to: number): tf.Tensor4D[] {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= n)) throw new Error(`TeacherSource.batchRows: rows [${from}, ${to}) do not fit a batch of ${n}`);
    const zDim = this.teacher.params.shape.zDim;
    const all = this.rng.normals(n * zDim);
    this.batches++;
    const z = tf.tensor4d(all.subarray(from * zDim, to * zDim), [to - from, 1, 1, zDim]);
    const x = tf.tidy(() => generatorForward(this.teacher.params, z).x);
    z.dispose();
    return x;
  }

  recipe(): SourceRecipe {
    const plain = (t: tf.Tensor) => ({ shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) });
    const blocks = Object.fromEntries(Object.entries(this.teacher.params.blocks).map(([r, b]) => [r, { deconv: plain(b.deconv), bias: plain(b.bias), out: plain(b.out) }]));
    return { kind: 'teacher', seed: this.seed, config: this.teacher.config, blocks };
  }

  getState(): TeacherSourceState {
    return { rng: this.rng.getState(), batches: this.batches };
  }

  setState(state: unknown): void {
    const s = state as TeacherSourceState;
    if (!s || !Array.isArray(s.rng) || !Number.isInteger(s.batches)) {
      throw new UserError(`teacher source state must be {rng: [4 uint32], batches: integer}, got ${JSON.stringify(state)}.`);
    }
    this.rng.setState(s.rng);
    this.batches = s.batches;
  }

  describe(): Record<string, unknown> {
    const c = this.teacher.config;
    return {
      name: 'teacher',
      kind: 'synthetic forward super-resolution teacher (docs/theory.md section 1)',
      seed: this.seed,
      teacherSeed: c.seed,
      resolutions: c.resolutions,
      hiddenChannels: c.channels,
      zDim: c.zDim,
      patch: c.patch,
      targetActive: c.targetActive,
      coherence: this.teacher.layers.map((l) => l.coherence),
      license: 'generated (no data license)',
      batches: this.batches,
    };
  }
}

/** The teacher a source samples (a TeacherSource's), or null for real data. */
export function teacherOf(source: PyramidSource): Teacher | null {
  return source instanceof TeacherSource ? source.teacher : null;
}

/**
 * Teacher samples from the Rng stream 'analysis/heldout' of `seed` (the training source uses
 * 'teacher-source'), the lowest `levels` levels only.
 */
export class HeldOutTeacherSource implements PyramidSource {
  readonly resolutions: number[];
  readonly channels = 3;
  private rng: Rng;

  constructor(
    private readonly teacher: Teacher,
    private readonly seed: number,
    levels = teacher.config.resolutions.length,
  ) {
    this.resolutions = teacher.config.resolutions.slice(0, levels);
    this.rng = new Rng(seed, 'analysis/heldout');
  }

  batch(n: number): tf.Tensor4D[] {
    const { z, s, x } = sampleTeacher(this.teacher, n, this.rng);
    tf.dispose([z, ...s, ...x.slice(this.resolutions.length)]);
    return x.slice(0, this.resolutions.length);
  }

  getState(): RngState {
    return this.rng.getState();
  }

  setState(state: unknown): void {
    this.rng.setState(state as RngState);
  }

  describe(): Record<string, unknown> {
    return { name: 'teacher (held out)', stream: 'analysis/heldout', seed: this.seed, resolutions: this.resolutions };
  }
}
