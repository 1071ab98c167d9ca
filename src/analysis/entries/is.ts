/** Registry entry: Inception Score over the extractor's classes (src/metrics/inception-score.ts; docs/metrics.md). */
import { inceptionScore, softmaxRows } from '../../metrics/inception-score.js';
import type { Extracted } from '../../metrics/reference.js';
import { UserError } from '../../util/errors.js';
import type { Method } from '../common.js';
import { defineMeasurement } from '../measurement.js';
import { metricInputs, metricMethod, metricSettings, NO_TEACHER } from '../metrics-context.js';
import { nullable, num, report } from '../schema.js';
import { table } from '../table.js';

export interface IsReport {
  kind: 'is';
  method: Method;
  /** exp(E KL(p(y|x) || p(y))), mean over the splits; in [1, classes]. */
  score: number;
  std: number;
  splits: number;
  classes: number;
  /** The score of as many real held-out images (what real data reaches with this extractor). */
  floor: number | null;
}

function score(e: Extracted, splits: number) {
  if (!e.logits) throw new UserError('the Inception Score needs class logits, and the extractor gives none: set metrics.graph.logits to the logits node of the graph model.');
  return inceptionScore(softmaxRows(e.logits, e.features.n, e.classes), e.features.n, e.classes, splits);
}

export const isEntry = defineMeasurement<IsReport, 'is'>({
  name: 'is',
  schema: report('is', { score: num, std: num, splits: num, classes: num, floor: nullable(num) }),
  realData: true,
  imageData: true,
  defaults: { run: false, teacher: false },
  settings: (c) => metricSettings(c, 'is'),
  onRun: (ctx) => {
    const m = metricInputs(ctx);
    const splits = ctx.config.is.splits;
    const s = score(m.fake, splits);
    const floor = m.floor ? score(m.floor, splits).score : null;
    const method = metricMethod(m, "exp(E_x KL(p(y|x) || p(y))) over the extractor's classes, mean and std over splits (Salimans et al. 2016)", { splits });
    return { learner: { kind: 'is', method, score: s.score, std: s.std, splits, classes: m.fake.classes, floor } };
  },
  noTeacher: NO_TEACHER,
  format: (results) =>
    table(
      ['subject', 'IS', 'std', 'real (floor)', 'classes', 'extractor'],
      results.map(([k, r]) => [k, r.score, r.std, r.floor ?? 'n/a', r.classes, String(r.method.params.extractor)]),
    ),
});
