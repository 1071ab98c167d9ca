/** Registry entry: sliced Wasserstein distance of patches, generated against real (swd.ts; docs/analysis.md section 6). */
import { defineMeasurement, pick } from '../measurement.js';
import { arr, num, obj, report } from '../schema.js';
import { patchSwd, type SwdReport } from '../swd.js';
import { table } from '../table.js';

export const swd = defineMeasurement<SwdReport, 'swd'>({
  name: 'swd',
  schema: report('swd', { levels: arr(obj({ resolution: num, patch: num, descriptors: num, swd: num })) }),
  realData: true,
  defaults: { run: true, teacher: false },
  settings: (c) => pick(c, 'samples', 'seed', 'chunk', 'swd'),
  onRun: (ctx) => {
    const p = ctx.pyramids();
    return { learner: patchSwd(p.real, p.fake, { ...ctx.config.swd, seed: ctx.config.seed }) };
  },
  onTeacher: (ctx) => {
    const h = ctx.pair();
    return { 'teacher vs teacher': patchSwd(h.a, h.b, { ...ctx.config.swd, seed: ctx.config.seed }) };
  },
  format: (results) => {
    const rows = results.flatMap(([k, r]) => r.levels.map((l) => [k, l.resolution, l.patch, l.descriptors, l.swd]));
    return table(['subject', 'r', 'patch', 'descriptors', 'swd'], rows);
  },
});
