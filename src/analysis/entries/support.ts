/** Registry entry: birthday-paradox support estimate (Arora & Zhang 2017; src/metrics/support.ts; docs/metrics.md). */
import { supportEstimate, type BirthdayResult } from '../../metrics/support.js';
import type { Method } from '../common.js';
import { defineMeasurement } from '../measurement.js';
import { metricInputs, metricMethod, metricSettings, NO_TEACHER } from '../metrics-context.js';
import { nullable, num, obj, report } from '../schema.js';
import { table } from '../table.js';

export interface SupportReport {
  kind: 'support';
  method: Method;
  /** Squared feature distance at or below which two samples are duplicates (the support.quantile of real pairs). */
  tau: number;
  fake: BirthdayResult;
  real: BirthdayResult;
}

const birthday = obj({
  n: num,
  duplicatePairs: num,
  pairRate: num,
  supportFromPairs: num,
  s50: nullable(num),
  support: nullable(num),
  supportAbove: nullable(num),
});

export const supportEntry = defineMeasurement<SupportReport, 'support'>({
  name: 'support',
  schema: report('support', { tau: num, fake: birthday, real: birthday }),
  realData: true,
  imageData: true,
  defaults: { run: false, teacher: false },
  settings: (c) => metricSettings(c, 'support'),
  onRun: (ctx) => {
    const m = metricInputs(ctx);
    const opts = { ...ctx.config.support, seed: ctx.config.seed };
    const s = supportEstimate(m.real.features, m.fake.features, opts);
    const method = metricMethod(m, 'birthday paradox: smallest batch size s50 with a duplicate pair in half the batches, support ~ s50^2 (Arora & Zhang 2017); duplicates: squared feature distance <= the quantile of real pairs', {
      quantile: opts.quantile,
      pairSamples: opts.samples,
      trials: opts.trials,
      supportSeed: opts.seed,
      realDisjoint: s.realDisjoint,
    });
    return { learner: { kind: 'support', method, tau: s.tau, fake: s.fake, real: s.real } };
  },
  noTeacher: NO_TEACHER,
  format: (results) => {
    const shown = (b: BirthdayResult) => (b.support !== null ? b.support : `> ${b.supportAbove}`);
    return table(
      ['subject', 'set', 'n', 'dup pairs', 's50', 'support s50^2', '1/pair rate'],
      results.flatMap(([k, r]) => [
        [k, 'generated', r.fake.n, r.fake.duplicatePairs, r.fake.s50 ?? 'none', shown(r.fake), r.fake.supportFromPairs],
        [k, 'real', r.real.n, r.real.duplicatePairs, r.real.s50 ?? 'none', shown(r.real), r.real.supportFromPairs],
      ]),
    );
  },
});
