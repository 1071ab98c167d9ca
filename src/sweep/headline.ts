/**
 * The statistics a sweep report shows when the sweep file does not choose (`report.statistics`): for each
 * built-in measurement, the numbers its docs lead with (docs/analysis.md, docs/metrics.md), of the trained
 * generator. A measurement without an entry here (one added at run time) shows every number of it that
 * varies over runs. Patterns as in report.statistics: `*` is any run of characters.
 */
import { matchStat } from './summary.js';

export const HEADLINES: Record<string, string[]> = {
  sparsity: ['sparsity.learner.layers.*.exact.meanActive'],
  moments: ['moments.learner.levels.*.orders.o*.relError'],
  alignment: ['alignment.*.observed.meanMatched'],
  recovery: ['recovery.learner.layers.*.recovered', 'recovery.learner.layers.*.meanMatched'],
  locality: ['locality.learner.layers.*.observedRadius'],
  swd: ['swd.learner.levels.*.swd'],
  fid: ['fid.*.fid'],
  kid: ['kid.*.kid'],
  is: ['is.*.score'],
  pr: ['pr.*.precision', 'pr.*.recall'],
  support: ['support.*.fake.support'],
};

/** The default statistics of a report: each analysis's headlines, or its varying numbers when it has none. */
export function defaultStatistics(analyses: string[], names: string[], varies: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const a of analyses) {
    const mine = names.filter((n) => n.startsWith(`${a}.`));
    const picked = HEADLINES[a] ? HEADLINES[a].flatMap((p) => mine.filter((n) => matchStat(p, n))) : mine.filter(varies);
    for (const n of picked) if (!out.includes(n)) out.push(n);
  }
  return out;
}
