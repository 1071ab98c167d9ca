/**
 * F-budget (issue 15): each claim's statistics against the training budget, so that a reader sees where a
 * claim starts to hold and where its statistic stops changing. One panel per test of a claim (a statistic
 * at one layer, stage or resolution): the mean over seeds with its 95% interval at every budget (steps per
 * stage), the threshold as a dashed line, and the verdict at that budget as the colour of the point. The
 * verdicts are judged by src/experiments/claims.ts and passed in as plain data (BudgetPoint).
 */
import type { ChartSpec } from './render.js';
import { f3, type FigureDrawing, type FigureHead, type Table } from './figure-data.js';

/** One test of one claim judged on the runs of one budget. */
export interface BudgetPoint {
  claim: string;
  /** The test's key ('teacher-small/r16'). */
  test: string;
  statistic: string;
  /** Steps per stage. */
  budget: number;
  seeds: number;
  mean: number;
  lo: number | null;
  hi: number | null;
  threshold: number;
  holdsWhen: 'below' | 'above';
  converged: boolean | null;
  verdict: string;
}

const VERDICTS = ['holds', 'inconclusive', 'does not hold'];

/** The faceted chart: one panel per (claim, test), budget on a log axis. */
export function budgetChart(title: string, caption: string, points: BudgetPoint[]): ChartSpec {
  if (!points.length) throw new Error('budgetChart: no points');
  const rows = points.map((p) => ({ ...p, panel: `${p.claim}: ${p.test}`, hasInterval: p.lo !== null && p.hi !== null ? 1 : 0 }));
  const x = { field: 'budget', type: 'quantitative', scale: { type: 'log', padding: 14 }, title: 'steps per stage', axis: { values: [...new Set(points.map((p) => p.budget))], format: 'd' } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    description: caption,
    usermeta: { caption },
    data: { values: rows },
    columns: 4,
    facet: { field: 'panel', type: 'nominal', title: null, sort: [...new Set(rows.map((r) => r.panel))] },
    spec: {
      width: 170,
      height: 110,
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { y: { field: 'threshold', type: 'quantitative', title: null } } },
        { transform: [{ filter: 'datum.hasInterval === 1' }], mark: { type: 'rule', color: '#444' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
        { mark: { type: 'line', color: '#444', strokeWidth: 1 }, encoding: { x, y: { field: 'mean', type: 'quantitative' } } },
        {
          mark: { type: 'point', filled: true, size: 45 },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative' },
            color: { field: 'verdict', type: 'nominal', title: 'verdict', scale: { domain: VERDICTS, range: ['#1a7f37', '#999999', '#c62828'] } },
            tooltip: [{ field: 'panel' }, { field: 'budget' }, { field: 'mean', format: '.4g' }, { field: 'lo', format: '.4g' }, { field: 'hi', format: '.4g' }, { field: 'verdict' }],
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as unknown as ChartSpec;
}

/** The F-budget drawing: the chart and the table of every point. */
export function budgetFigure(spec: FigureHead, points: BudgetPoint[]): FigureDrawing {
  const budgets = [...new Set(points.map((p) => p.budget))].sort((a, b) => a - b);
  const seeds = Math.max(0, ...points.map((p) => p.seeds));
  const caption = `${spec.about} Budgets ${budgets.join(', ')} steps per stage, up to ${seeds} seeds each; points: mean over seeds, bars: 95% t-interval, dashed: the claim's threshold; colour: the verdict at that budget (inconclusive when the interval straddles the threshold, the statistic is still moving, or its trained reference still improving).`;
  const table: Table = { title: 'Claims by budget', columns: ['claim', 'test', 'statistic', 'steps per stage', 'seeds', 'mean', '95% interval', 'holds when', 'converged', 'verdict'], rows: [] };
  for (const p of points) {
    table.rows.push([p.claim, p.test, p.statistic, p.budget, p.seeds, f3(p.mean), p.lo === null || p.hi === null ? null : `[${f3(p.lo)}, ${f3(p.hi)}]`, `${p.holdsWhen} ${f3(p.threshold)}`, p.converged === null ? 'unknown' : p.converged ? 'yes' : 'no', p.verdict]);
  }
  const charts = points.length ? [{ file: spec.name, spec: budgetChart(spec.title, caption, points) }] : [];
  return { name: spec.name, title: spec.title, caption, charts, images: [], tables: [table] };
}
