/** Registry entry: sparsity of the hidden layers (sparsity.ts; docs/analysis.md section 1). */
import type { GeneratorParams } from '../../models/generator.js';
import { DEFAULT_INIT } from '../../models/learner.js';
import type { AnalysisConfig } from '../config.js';
import { latents, randomInit } from '../context.js';
import { defineMeasurement, pick } from '../measurement.js';
import { arr, num, obj, report } from '../schema.js';
import { generatorSparsity, type SparsityReport } from '../sparsity.js';
import { table } from '../table.js';

const counts = obj({ meanActive: num, stdActive: num, activeFraction: num, histogram: arr(num) });

/** Sparsity of a generator at config.samples latents of config.seed (also what recovery compares). */
export function sparsityOf(params: GeneratorParams, c: AnalysisConfig): SparsityReport {
  const z = latents(c.samples, params.shape.zDim, c.seed);
  try {
    return generatorSparsity(params, z, { tau: c.sparsity.tau, chunk: c.chunk }, c.seed);
  } finally {
    z.dispose();
  }
}

export const sparsity = defineMeasurement<SparsityReport, 'sparsity'>({
  name: 'sparsity',
  schema: report('sparsity', {
    layers: arr(obj({ layer: num, resolution: num, channels: num, positions: num, exact: counts, relative: counts, hoyer: num, emptyFraction: num, maxActivation: num })),
  }),
  defaults: { run: true, teacher: true },
  settings: (c) => pick(c, 'samples', 'seed', 'chunk', 'sparsity'),
  onRun: ({ run, config: c }) => ({
    learner: sparsityOf(run.generator, c),
    'random-init': randomInit(run.generator, run.config.generator.init, c.seed, (p) => sparsityOf(p, c)),
    ...(run.teacher ? { teacher: sparsityOf(run.teacher.params, c) } : {}),
  }),
  onTeacher: ({ teacher, config: c }) => ({
    teacher: sparsityOf(teacher.params, c),
    'random-init': randomInit(teacher.params, DEFAULT_INIT, c.seed, (p) => sparsityOf(p, c)),
  }),
  format: (results) => {
    const rows = results.flatMap(([k, r]) => r.layers.map((l) => [k, l.resolution, l.channels, l.exact.meanActive, l.exact.activeFraction, l.relative.meanActive, l.hoyer, l.emptyFraction]));
    return table(['model', 'r', 'C', 'active', 'fraction', 'active>tau*max', 'hoyer', 'empty'], rows);
  },
});
