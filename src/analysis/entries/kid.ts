/** Registry entry: KID, unbiased MMD^2 with the cubic polynomial kernel over subsets (src/metrics/kid.ts; docs/metrics.md). */
import { kid } from '../../metrics/kid.js';
import type { Method } from '../common.js';
import { defineMeasurement } from '../measurement.js';
import { metricInputs, metricMethod, metricSettings, NO_TEACHER } from '../metrics-context.js';
import { nullable, num, report } from '../schema.js';
import { table } from '../table.js';

export interface KidReport {
  kind: 'kid';
  method: Method;
  /** Mean of MMD^2_u over the subsets. */
  kid: number;
  /** Std over the subsets. */
  std: number;
  subsets: number;
  subsetSize: number;
  /** KID of as many real held-out images against the same reference (about 0: KID is unbiased). */
  floor: number | null;
  floorStd: number | null;
}

export const kidEntry = defineMeasurement<KidReport, 'kid'>({
  name: 'kid',
  schema: report('kid', { kid: num, std: num, subsets: num, subsetSize: num, floor: nullable(num), floorStd: nullable(num) }),
  realData: true,
  imageData: true,
  defaults: { run: false, teacher: false },
  settings: (c) => metricSettings(c, 'kid'),
  onRun: (ctx) => {
    const m = metricInputs(ctx);
    const opts = { ...ctx.config.kid, seed: ctx.config.seed };
    const k = kid(m.real.features, m.fake.features, opts);
    const f = m.floor ? kid(m.real.features, m.floor.features, opts) : null;
    const method = metricMethod(m, 'unbiased MMD^2, kernel (x.y/d + 1)^3, mean and std over random subsets (Binkowski et al. 2018)', {
      subsets: k.subsets,
      subsetSize: k.subsetSize,
      kidSeed: opts.seed,
    });
    return { learner: { kind: 'kid', method, kid: k.kid, std: k.std, subsets: k.subsets, subsetSize: k.subsetSize, floor: f?.kid ?? null, floorStd: f?.std ?? null } };
  },
  noTeacher: NO_TEACHER,
  format: (results) =>
    table(
      ['subject', 'kid', 'std', 'floor', 'subsets', 'size', 'extractor'],
      results.map(([k, r]) => [k, r.kid, r.std, r.floor ?? 'n/a', r.subsets, r.subsetSize, String(r.method.params.extractor)]),
    ),
});
