/** Registry entry: how far a change of one hidden position reaches (locality.ts; docs/analysis.md section 5). */
import type { GeneratorParams } from '../../models/generator.js';
import { DEFAULT_INIT } from '../../models/learner.js';
import type { AnalysisConfig } from '../config.js';
import { latents, randomInit } from '../context.js';
import { generatorLocality, type LocalityReport } from '../locality.js';
import { defineMeasurement, pick } from '../measurement.js';
import { arr, num, obj, report, tuple } from '../schema.js';
import { table } from '../table.js';

function localityOf(params: GeneratorParams, c: AnalysisConfig): LocalityReport {
  const z = latents(c.locality.samples, params.shape.zDim, c.seed);
  try {
    return generatorLocality(params, z, { epsilon: c.locality.epsilon, positions: c.locality.positions, seed: c.seed, chunk: c.chunk }, c.seed);
  } finally {
    z.dispose();
  }
}

export const locality = defineMeasurement<LocalityReport, 'locality'>({
  name: 'locality',
  schema: report('locality', {
    layers: arr(
      obj({
        layer: num,
        resolution: num,
        positions: arr(tuple(num, num)),
        profile: arr(obj({ distance: num, meanAbsChange: num, relative: num, pixels: num })),
        observedRadius: num,
        receptiveRadius: num,
      }),
    ),
  }),
  defaults: { run: true, teacher: true },
  settings: (c) => pick(c, 'seed', 'chunk', 'locality'),
  onRun: ({ run, config: c }) => ({
    learner: localityOf(run.generator, c),
    'random-init': randomInit(run.generator, run.config.generator.init, c.seed, (p) => localityOf(p, c)),
    ...(run.teacher ? { teacher: localityOf(run.teacher.params, c) } : {}),
  }),
  onTeacher: ({ teacher, config: c }) => ({
    teacher: localityOf(teacher.params, c),
    'random-init': randomInit(teacher.params, DEFAULT_INIT, c.seed, (p) => localityOf(p, c)),
  }),
  format: (results) => {
    const maxD = 4;
    const rows = results.flatMap(([k, r]) =>
      r.layers.map((l) => [
        k,
        l.resolution,
        l.profile[0]?.meanAbsChange ?? 0,
        ...Array.from({ length: maxD }, (_, d) => l.profile.find((e) => e.distance === d + 1)?.relative ?? '-'),
        `${l.observedRadius}/${l.receptiveRadius}`,
      ]),
    );
    return ['mean |dx_l| / eps at distance 0, then relative to it at distance 1..4 (patches)', ...table(['model', 'r', 'd=0', 'd=1', 'd=2', 'd=3', 'd=4', 'radius obs/rf'], rows)];
  },
});
