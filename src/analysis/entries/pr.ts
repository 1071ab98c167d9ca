/** Registry entry: improved precision and recall of k-NN manifolds (src/metrics/precision-recall.ts; docs/metrics.md). */
import { precisionRecall } from '../../metrics/precision-recall.js';
import { referenceRadii } from '../../metrics/reference.js';
import type { Method } from '../common.js';
import { defineMeasurement } from '../measurement.js';
import { metricInputs, metricMethod, metricSettings, NO_TEACHER } from '../metrics-context.js';
import { nullable, num, obj, report } from '../schema.js';
import { table } from '../table.js';

export interface PrReport {
  kind: 'pr';
  method: Method;
  /** Fraction of generated samples inside the real k-NN manifold. */
  precision: number;
  /** Fraction of real samples inside the generated k-NN manifold. */
  recall: number;
  k: number;
  /** The same for as many real held-out images. */
  floor: { precision: number; recall: number } | null;
}

export const prEntry = defineMeasurement<PrReport, 'pr'>({
  name: 'pr',
  schema: report('pr', { precision: num, recall: num, k: num, floor: nullable(obj({ precision: num, recall: num })) }),
  realData: true,
  imageData: true,
  defaults: { run: false, teacher: false },
  settings: (c) => metricSettings(c, 'pr'),
  onRun: (ctx) => {
    const m = metricInputs(ctx);
    const k = ctx.config.pr.k;
    const radii = referenceRadii(m.real, k, m.cacheDir);
    const p = precisionRecall(m.real.features, m.fake.features, k, radii);
    const f = m.floor ? precisionRecall(m.real.features, m.floor.features, k, radii) : null;
    const method = metricMethod(m, 'improved precision and recall: k-NN balls in feature space (Kynkaanniemi et al. 2019)', { k });
    return { learner: { kind: 'pr', method, precision: p.precision, recall: p.recall, k, floor: f && { precision: f.precision, recall: f.recall } } };
  },
  noTeacher: NO_TEACHER,
  format: (results) =>
    table(
      ['subject', 'precision', 'recall', 'floor P', 'floor R', 'k', 'extractor'],
      results.map(([k, r]) => [k, r.precision, r.recall, r.floor?.precision ?? 'n/a', r.floor?.recall ?? 'n/a', r.k, String(r.method.params.extractor)]),
    ),
});
