/** Registry entry: D's first-layer filters against G's output atoms (alignment.ts; docs/analysis.md section 3). */
import * as tf from '@tensorflow/tfjs';
import { discFirstLayer } from '../../models/discriminator.js';
import { UserError } from '../../util/errors.js';
import { featureAlignment, type AlignmentReport } from '../alignment.js';
import { defineMeasurement, pick } from '../measurement.js';
import { arr, num, obj, report, tuple } from '../schema.js';
import { fmt, table } from '../table.js';

const matchStats = obj({ meanMatched: num, meanBest: num, meanAll: num });

export const alignment = defineMeasurement<AlignmentReport, 'alignment'>({
  name: 'alignment',
  schema: report('alignment', {
    reference: num,
    target: num,
    dim: num,
    observed: matchStats,
    random: obj({ meanMatched: num, stdMatched: num, meanBest: num, meanAll: num, draws: num }),
    pairs: arr(tuple(num, num, num)),
  }),
  defaults: { run: true, teacher: false },
  settings: (c) => pick(c, 'seed', 'alignment'),
  /**
   * D_l's first-layer filters against G's output atoms at the same resolution, for every D. A pair D's
   * filters act on (upsample(x_{l-1}), x_l): the x_l half (the last imageChannels input channels) is compared.
   */
  onRun: ({ run, config: c }) => {
    const out: Record<string, AlignmentReport> = {};
    for (const [r, d] of [...run.discriminators.entries()].sort((a, b) => a[0] - b[0])) {
      const block = run.generator.blocks[r];
      if (!block || d.patch !== run.generator.shape.patch) continue;
      const filters = tf.tidy(() => {
        const w = discFirstLayer(d);
        return d.input === 'pair' ? tf.slice(w, [0, 0, d.imageChannels, 0], [-1, -1, d.imageChannels, -1]) : w;
      });
      out[`D_r${r} vs G_r${r}`] = featureAlignment(filters, block.out, { randomDraws: c.alignment.randomDraws, seed: c.seed });
      filters.dispose();
    }
    if (!Object.keys(out).length) throw new UserError(`alignment: no discriminator of '${run.dir}' shares G's patch geometry.`);
    return out;
  },
  noTeacher: 'alignment compares a discriminator with a generator: analyse a run directory, not --teacher.',
  format: (results) => {
    const rows = results.map(([k, a]) => [k, `${a.reference}x${a.target}`, a.dim, a.observed.meanMatched, `${fmt(a.random.meanMatched)} +- ${fmt(a.random.stdMatched)}`, a.observed.meanBest, a.random.meanBest]);
    return table(['pair', 'banks', 'dim', 'matched |cos|', 'random', 'best', 'random best'], rows);
  },
});
