/** Registry entry: FID of generated against real images in an extractor's feature space (src/metrics/fid.ts; docs/metrics.md). */
import { fid } from '../../metrics/fid.js';
import type { Method } from '../common.js';
import { defineMeasurement } from '../measurement.js';
import { metricInputs, metricMethod, metricSettings, NO_TEACHER } from '../metrics-context.js';
import { nullable, num, report } from '../schema.js';
import { table } from '../table.js';

export interface FidReport {
  kind: 'fid';
  method: Method;
  /** |mu_r - mu_g|^2 + tr(S_r) + tr(S_g) - 2 tr((S_r S_g)^(1/2)). */
  fid: number;
  meanTerm: number;
  covTerm: number;
  /** FID of as many real held-out images against the same reference: the value of a perfect generator at this sample count. */
  floor: number | null;
}

export const fidEntry = defineMeasurement<FidReport, 'fid'>({
  name: 'fid',
  schema: report('fid', { fid: num, meanTerm: num, covTerm: num, floor: nullable(num) }),
  realData: true,
  imageData: true,
  defaults: { run: false, teacher: false },
  settings: (c) => metricSettings(c),
  onRun: (ctx) => {
    const m = metricInputs(ctx);
    const f = fid(m.realMoments(), m.fake.features);
    const floor = m.floor ? fid(m.realMoments(), m.floor.features).fid : null;
    const method = metricMethod(m, 'Frechet distance of Gaussians fitted to extractor features (Heusel et al. 2017); trace of the square root by symmetric eigendecompositions, float64');
    return { learner: { kind: 'fid', method, fid: f.fid, meanTerm: f.meanTerm, covTerm: f.covTerm, floor } };
  },
  noTeacher: NO_TEACHER,
  format: (results) =>
    table(
      ['subject', 'fid', 'mean term', 'cov term', 'floor', 'real', 'generated', 'extractor'],
      results.map(([k, r]) => [k, r.fid, r.meanTerm, r.covTerm, r.floor ?? 'n/a', Number(r.method.params.realSamples), Number(r.method.params.fakeSamples), String(r.method.params.extractor)]),
    ),
});
