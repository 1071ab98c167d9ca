/**
 * `fsrgan sweep report`: every run's summary (from the run directories, or from the queue's jobs) turned
 * into one table, one figure and one JSON file, with the mean of each statistic over seeds at every point
 * of the sweep and its 95% Student t-interval (tInterval of src/experiments/verdict.ts, the rule the claims
 * use). `report.json`, `report.txt` and the figure hold only what the runs' numbers and the sweep file fix:
 * no times, hosts or worker ids, so the same sweep gives the same bytes from any executor on the same
 * backend. Who did what is in `provenance.json` beside them. docs/sweeps.md.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fmt, table } from '../analysis/table.js';
import { INTERVAL_METHOD, tInterval } from '../experiments/verdict.js';
import { writeFigure } from '../report/render.js';
import { outputError } from '../util/errors.js';
import { sweepChart } from './chart.js';
import { defaultStatistics } from './headline.js';
import type { AxisValue, Sweep } from './spec.js';
import { decodeStat, encodeStat, matchStat, type RunSummary, type StatValue } from './summary.js';
import { mkdirs } from '../util/atomic.js';

export interface ReportRow {
  statistic: string;
  group: string;
  n: number;
  seeds: number[];
  values: StatValue[];
  mean: StatValue;
  sd: StatValue;
  /** The 95% interval (null with fewer than two seeds). */
  lo: StatValue | null;
  hi: StatValue | null;
}

export interface SweepReport {
  sweep: string;
  about: string;
  analyses: string[];
  measureKey: string;
  interval: string;
  /** The axes besides seeds, in expansion order. */
  axes: string[];
  groups: { group: string; axes: Record<string, AxisValue>; runs: string[] }[];
  /** The statistics of the table and rows (report.statistics, or the analyses' headlines: headline.ts). */
  statistics: string[];
  /** The statistics drawn. */
  figure: string[];
  rows: ReportRow[];
  /** Every run with every number of its analyses. */
  runs: { id: string; group: string; seed: number; backend: string; stats: Record<string, StatValue> }[];
  /** Runs without a summary (not finished, or failed). */
  missing: string[];
}

/** Statistic names of the runs in first-seen order, filtered by patterns (in pattern order) or, with none, the analyses' headlines. */
function pickStatistics(names: string[], runs: Record<string, StatValue>[], patterns: string[], analyses: string[]): string[] {
  if (patterns.length) return patterns.flatMap((p) => names.filter((n) => matchStat(p, n))).filter((n, i, a) => a.indexOf(n) === i);
  return defaultStatistics(analyses, names, (n) => {
    const vals = runs.map((r) => JSON.stringify(r[n] ?? null));
    return vals.some((v) => v !== vals[0]);
  });
}

/** The report of a sweep from the summaries found (by run id); runs without one are listed as missing. */
export function buildReport(sweep: Sweep, summaries: Map<string, RunSummary>): SweepReport {
  const spec = sweep.spec;
  const runs = sweep.runs.filter((r) => summaries.has(r.id)).map((r) => {
    const s = summaries.get(r.id)!;
    return { id: r.id, group: r.group, seed: r.seed, backend: s.backend, stats: s.stats };
  });
  const names: string[] = [];
  for (const r of runs) for (const k of Object.keys(r.stats)) if (!names.includes(k)) names.push(k);
  const statistics = pickStatistics(names, runs.map((r) => r.stats), spec.report.statistics, spec.analyses);
  const figure = spec.report.figure.length ? pickStatistics(names, [], spec.report.figure, []) : statistics.slice(0, 6);
  const rows: ReportRow[] = [];
  for (const statistic of statistics) {
    for (const group of sweep.groups) {
      const have = runs.filter((r) => r.group === group && r.stats[statistic] !== undefined);
      if (!have.length) continue;
      const values = have.map((r) => decodeStat(r.stats[statistic]));
      const t = tInterval(values);
      rows.push({ statistic, group, n: have.length, seeds: have.map((r) => r.seed), values: values.map(encodeStat), mean: encodeStat(t.mean), sd: encodeStat(t.sd), lo: t.lo === null ? null : encodeStat(t.lo), hi: t.hi === null ? null : encodeStat(t.hi) });
    }
  }
  const groups = sweep.groups.map((g) => {
    const rs = sweep.runs.filter((r) => r.group === g);
    return { group: g, axes: rs[0]?.axes ?? {}, runs: rs.map((r) => r.id) };
  });
  const axes = Object.keys(sweep.runs[0]?.axes ?? {});
  return {
    sweep: spec.name,
    about: spec.about,
    analyses: spec.analyses,
    measureKey: sweep.measureKey,
    interval: INTERVAL_METHOD,
    axes,
    groups,
    statistics,
    figure,
    rows,
    runs,
    missing: sweep.runs.filter((r) => !summaries.has(r.id)).map((r) => r.id),
  };
}

const num = (v: StatValue | null) => (v === null ? '-' : fmt(decodeStat(v)));

/** The report as text: a header and one line per statistic and point. */
export function reportText(r: SweepReport): string {
  const seeds = [...new Set(r.runs.map((x) => x.seed))].sort((a, b) => a - b);
  const head = [
    `sweep ${r.sweep}: ${r.runs.length} runs at ${r.groups.length} point${r.groups.length === 1 ? '' : 's'}, seeds ${seeds.join(', ') || '-'}; analyses ${r.analyses.join(', ')}`,
    ...(r.about ? [r.about] : []),
    `interval: ${INTERVAL_METHOD}`,
    ...(r.missing.length ? [`${r.missing.length} run(s) missing (not finished or failed): ${r.missing.join(', ')}`] : []),
    '',
  ];
  if (!r.rows.length) return [...head, 'no statistics: every number is the same in every run (set report.statistics to choose some).', ''].join('\n');
  const body = table(
    ['statistic', 'point', 'n', 'mean', 'sd', '95% interval'],
    r.rows.map((x) => [x.statistic, x.group, x.n, num(x.mean), num(x.sd), x.lo === null ? '-' : `[${num(x.lo)}, ${num(x.hi)}]`]),
  );
  return [...head, ...body, ''].join('\n');
}

/** Who produced each run: machines, workers, events and seconds (not part of the compared report). */
export function provenance(sweep: Sweep, summaries: Map<string, RunSummary>): Record<string, unknown> {
  return {
    sweep: sweep.spec.name,
    runs: sweep.runs.filter((r) => summaries.has(r.id)).map((r) => {
      const s = summaries.get(r.id)!;
      return { id: r.id, status: s.status, seconds: s.seconds, events: s.events };
    }),
  };
}

/** Writes report.json, report.txt, figure.vl.json/.svg/.png and provenance.json into `dir`; returns the paths. */
export async function writeReport(dir: string, sweep: Sweep, summaries: Map<string, RunSummary>): Promise<{ report: SweepReport; files: string[] }> {
  const report = buildReport(sweep, summaries);
  const files: string[] = [];
  try {
    await mkdirs(dir);
    const put = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      files.push(join(dir, name));
    };
    await put('report.json', JSON.stringify(report, null, 2) + '\n');
    await put('report.txt', reportText(report));
    await put('provenance.json', JSON.stringify(provenance(sweep, summaries), null, 2) + '\n');
    const chart = sweepChart(report);
    if (chart) {
      await put('figure.vl.json', JSON.stringify(chart, null, 2) + '\n');
      const f = await writeFigure(chart, join(dir, 'figure'));
      files.push(f.svg, f.png);
    }
  } catch (e) {
    throw outputError(e, dir, 'the sweep report folder');
  }
  return { report, files };
}
