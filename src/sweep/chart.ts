/**
 * The sweep report's figure: one panel per drawn statistic (its own y scale), the mean over seeds at each
 * point of the sweep with its 95% t-interval as a bar. With a budgets axis of several budgets the x axis is
 * the budget and each other point is a line; otherwise the points are categories. A vega-lite spec,
 * rendered by src/report/render.ts.
 */
import type { ChartSpec } from '../report/render.js';
import type { SweepReport } from './report.js';
import { decodeStat } from './summary.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** The figure of a report; null when there is nothing finite to draw. */
export function sweepChart(r: SweepReport): ChartSpec | null {
  const budgets = new Set(r.groups.map((g) => g.axes.budget).filter((b) => typeof b === 'number'));
  const byBudget = budgets.size > 1;
  const axesOf = new Map(r.groups.map((g) => [g.group, g.axes]));
  // A point's label without its budget: the line it belongs to.
  const seriesOf = (group: string) =>
    Object.entries(axesOf.get(group) ?? {})
      .filter(([k]) => k !== 'budget')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ') || 'all';
  const values = r.rows
    .filter((x) => r.figure.includes(x.statistic) && Number.isFinite(decodeStat(x.mean)))
    .map((x) => {
      const lo = x.lo === null ? null : decodeStat(x.lo);
      const hi = x.hi === null ? null : decodeStat(x.hi);
      const ok = lo !== null && hi !== null && Number.isFinite(lo) && Number.isFinite(hi);
      return { statistic: x.statistic, point: x.group, series: seriesOf(x.group), budget: (axesOf.get(x.group)?.budget as number | undefined) ?? null, mean: decodeStat(x.mean), lo: ok ? lo : null, hi: ok ? hi : null, n: x.n };
    });
  if (!values.length) return null;
  const stats = r.figure.filter((s) => values.some((v) => v.statistic === s));
  const seeds = new Set(r.runs.map((x) => x.seed)).size;
  const caption = `Mean over ${seeds} seed${seeds === 1 ? '' : 's'} at each point of sweep ${r.sweep}; bars: ${r.interval}. One panel per statistic, each with its own scale.`;
  const x = byBudget
    ? { field: 'budget', type: 'quantitative', title: 'budget (G steps per stage)', scale: { type: 'log', nice: false, padding: 12 }, axis: { values: [...budgets].sort((a, b) => (a as number) - (b as number)) } }
    : { field: 'point', type: 'nominal', title: 'point of the sweep', sort: r.groups.map((g) => g.group), axis: { labelAngle: -30, labelLimit: 240 } };
  const color = byBudget ? { color: { field: 'series', type: 'nominal', title: 'point', sort: [...new Set(values.map((v) => v.series))] } } : {};
  const layer = [
    ...(byBudget ? [{ mark: { type: 'line' }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, ...color } }] : []),
    {
      mark: { type: 'point', filled: true, size: 50 },
      encoding: {
        x,
        y: { field: 'mean', type: 'quantitative', title: 'mean over seeds', scale: { zero: false } },
        ...color,
        tooltip: [{ field: 'point' }, { field: 'mean', format: '.4g' }, { field: 'lo', format: '.4g' }, { field: 'hi', format: '.4g' }, { field: 'n' }],
      },
    },
    { transform: [{ filter: 'datum.lo !== null' }], mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, ...color } },
  ];
  return {
    $schema: SCHEMA,
    title: `sweep ${r.sweep}`,
    description: caption,
    usermeta: { caption },
    data: { values },
    facet: { row: { field: 'statistic', type: 'nominal', sort: stats, title: null, header: { labelOrient: 'top', labelAnchor: 'start', labelFontWeight: 'bold', labelLimit: 480 } } },
    resolve: { scale: { y: 'independent' } },
    spec: { width: 360, height: 140, layer },
  } as unknown as ChartSpec;
}
