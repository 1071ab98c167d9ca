/**
 * Rebuilds a source from its recipe (PyramidSource.recipe) in another thread: a data-parallel replica
 * draws its own rows of every batch from its copy (src/train/replicas.ts), kept in the trainer's source's
 * state by the sessions' synchronisation.
 */
import * as tf from '@tensorflow/tfjs';
import type { GeneratorParams } from '../models/generator.js';
import type { Teacher } from '../teacher/build.js';
import type { TeacherConfig } from '../teacher/config.js';
import { teacherShape } from '../teacher/config.js';
import { LevelsSource } from './levels.js';
import type { PyramidSource, SourceRecipe } from './source.js';
import { StandInSource } from './standin.js';
import { TeacherSource } from './teacher.js';

/** The source a recipe describes, and a function that frees its tensors. */
export function openRecipe(r: SourceRecipe): { source: PyramidSource; dispose: () => void } {
  if (r.kind === 'stand-in') {
    const s = new StandInSource(r.resolutions, r.channels, r.batch, r.seed);
    return { source: s, dispose: () => s.dispose() };
  }
  if (r.kind === 'levels') {
    const inner = openRecipe(r.inner);
    return { source: new LevelsSource(inner.source, r.levels), dispose: inner.dispose };
  }
  const config = r.config as TeacherConfig;
  const t = (d: { shape: number[]; data: Float32Array }) => tf.tensor(d.data, d.shape);
  const blocks: GeneratorParams['blocks'] = {};
  for (const [res, b] of Object.entries(r.blocks)) blocks[Number(res)] = { deconv: t(b.deconv) as tf.Tensor4D, bias: t(b.bias) as tf.Tensor1D, out: t(b.out) as tf.Tensor4D };
  // Only what sampling reads: the construction's per-layer report stays with the trainer's teacher.
  const teacher: Teacher = { config, params: { shape: teacherShape(config), blocks }, layers: [] };
  return { source: new TeacherSource(teacher, r.seed), dispose: () => tf.dispose(Object.values(blocks).flatMap((b) => [b.deconv, b.bias, b.out])) };
}
