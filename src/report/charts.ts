/**
 * vega-lite specs for the figures of docs/theory.md section 4, built from plain typed data (numbers and
 * strings, no tensors) so that notebooks, the CLI and tests share them. Every chart carries a title, axis
 * titles and a caption (in `description` and `usermeta.caption`; read it back with `captionOf`).
 * Render with src/report/render.ts; show in a notebook with src/report/notebook.ts.
 *
 * This file holds the helpers every builder shares, the curves over training steps (metricCurves, fed by
 * metricsFromJsonl) and the grouped bars with error bars; the count histogram, heatmap and decay curves are in
 * src/report/charts-distributions.ts.
 */
import type { ChartSpec } from './render.js';
import { parseMetricsLines } from '../util/metrics-lines.js';

/** Fields every chart builder takes. */
export interface ChartBase {
  title: string;
  /** One or two sentences saying what is plotted and how to read it (sample counts, seeds, error bars). */
  caption: string;
  /** Plot width in pixels (per facet when faceted; default 320). */
  width?: number;
  /** Plot height in pixels (default 200). */
  height?: number;
}

/** One data row of a spec (shared by the builders of charts-distributions.ts). */
export type Row = Record<string, string | number | null>;
// Specs are assembled as plain JSON and cast once: vega-lite's union types reject conditional spreads, and the
// tests compile every builder's output with vega-lite itself.
export type Json = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** The schema, title and caption of a spec; throws naming `fn` when the title or caption is empty. */
export function header(fn: string, o: ChartBase, caption = o.caption): Json {
  if (typeof o.title !== 'string' || o.title === '') throw new Error(`${fn}: title must be a non-empty string`);
  if (typeof o.caption !== 'string' || o.caption === '') throw new Error(`${fn}: caption must be a non-empty string`);
  return { $schema: SCHEMA, title: o.title, description: caption, usermeta: { caption } };
}

/** Plot width and height, with the defaults of ChartBase. */
export function size(o: ChartBase): Json {
  return { width: o.width ?? 320, height: o.height ?? 200 };
}

/** The caption stored by a chart builder ('' for a spec built elsewhere). */
export function captionOf(spec: ChartSpec): string {
  const c = (spec as { usermeta?: { caption?: unknown } }).usermeta?.caption;
  return typeof c === 'string' ? c : '';
}

/** Keeps rows whose `field` is > 0 (log scales cannot show the rest) and says in the caption how many went. */
export function dropNonPositive(rows: Row[], field: string, caption: string): { rows: Row[]; caption: string } {
  const kept = rows.filter((r) => (r[field] as number) > 0);
  const dropped = rows.length - kept.length;
  return dropped === 0 ? { rows: kept, caption } : { rows: kept, caption: `${caption} (${dropped} non-positive value${dropped === 1 ? '' : 's'} omitted on the log scale.)` };
}

/** Throws naming `fn` and `what` unless `v` is a finite number. */
export function checkFinite(fn: string, what: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${fn}: ${what} must be a finite number, got ${String(v)}`);
}

// ---------------------------------------------------------------------------------------------------------
// (a) Metric curves over training steps

/** One value of one metric series at one training step (optionally tagged with the training stage). */
export interface MetricPoint {
  step: number;
  value: number;
  /** Series name, e.g. 'moment order 2'. */
  series: string;
  /** Training stage (layer index or resolution), when the run is layerwise. */
  stage?: string | number;
}

/** A horizontal reference line: the noise floor of docs/theory.md section 3.2 (error between two halves of the real data). */
export interface NoiseFloor {
  value: number;
  /** Stage it belongs to; omitted = every stage. */
  stage?: string | number;
  /** Legend text (default 'noise floor'). */
  label?: string;
}

export interface MetricCurvesOptions extends ChartBase {
  points: MetricPoint[];
  yTitle: string;
  /** Default 'training step'. */
  xTitle?: string;
  /** Legend title of the series (default 'series'). */
  seriesTitle?: string;
  /** 'facet' (default): one panel per stage, one colored line per series. 'color': one panel, color = stage, dash = series. */
  stageLayout?: 'facet' | 'color';
  noiseFloor?: number | NoiseFloor[];
  logY?: boolean;
}

/** Line chart of metrics over training steps (F-moments): one line per series, per stage. */
export function metricCurves(o: MetricCurvesOptions): ChartSpec {
  const fn = 'metricCurves';
  if (!Array.isArray(o.points) || o.points.length === 0) throw new Error(`${fn}: points must be a non-empty array`);
  const hasStage = o.points.some((p) => p.stage !== undefined);
  // Stages keep their type so that numeric stages sort numerically (2 before 10) in the facet header.
  const stages: (string | number)[] = [];
  for (const p of o.points) if (!stages.includes(p.stage ?? 'all')) stages.push(p.stage ?? 'all');
  let rows: Row[] = o.points.map((p) => {
    checkFinite(fn, `value of '${p.series}' at step ${p.step}`, p.value);
    checkFinite(fn, `step of '${p.series}'`, p.step);
    return { kind: 'curve', step: p.step, value: p.value, series: p.series, stage: p.stage ?? 'all' };
  });
  const floors: NoiseFloor[] = o.noiseFloor === undefined ? [] : typeof o.noiseFloor === 'number' ? [{ value: o.noiseFloor }] : o.noiseFloor;
  for (const f of floors) {
    checkFinite(fn, 'noiseFloor value', f.value);
    // A floor without a stage belongs to every panel (facet layout filters rows by stage).
    for (const s of f.stage === undefined ? stages : [f.stage]) {
      rows.push({ kind: 'floor', value: f.value, series: f.label ?? 'noise floor', stage: s, step: null });
    }
  }
  let caption = o.caption;
  if (o.logY) ({ rows, caption } = dropNonPositive(rows, 'value', caption));
  const facet = hasStage && (o.stageLayout ?? 'facet') === 'facet' && stages.length > 1;
  const byColor = hasStage && o.stageLayout === 'color';
  const y = { field: 'value', type: 'quantitative', title: o.yTitle, scale: o.logY ? { type: 'log' } : { zero: false } };
  const curve: Json = {
    transform: [{ filter: "datum.kind === 'curve'" }],
    mark: { type: 'line', point: o.points.length <= 400, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: o.xTitle ?? 'training step' },
      y,
      color: byColor ? { field: 'stage', type: 'nominal', title: 'stage' } : { field: 'series', type: 'nominal', title: o.seriesTitle ?? 'series' },
      ...(byColor ? { strokeDash: { field: 'series', type: 'nominal', title: o.seriesTitle ?? 'series' } } : {}),
      tooltip: [{ field: 'series' }, { field: 'stage' }, { field: 'step' }, { field: 'value' }],
    },
  };
  const floor: Json = {
    transform: [{ filter: "datum.kind === 'floor'" }],
    mark: { type: 'rule', strokeDash: [5, 4], color: '#555' },
    encoding: { y, tooltip: [{ field: 'series', title: 'rule' }, { field: 'value' }] },
  };
  const layer = floors.length ? [curve, floor] : [curve];
  const head = header(fn, o, caption);
  if (facet) {
    // Wrapped facets, at most 3 panels per row, narrower panels by default.
    const panel = { width: o.width ?? 240, height: o.height ?? 180 };
    return {
      ...head,
      data: { values: rows },
      facet: { field: 'stage', type: 'ordinal', title: null, header: { labelExpr: "'stage ' + datum.value", labelFontWeight: 'bold' } },
      columns: Math.min(3, stages.length),
      spec: { ...panel, layer },
    } as unknown as ChartSpec;
  }
  return { ...head, ...size(o), data: { values: rows }, layer } as unknown as ChartSpec;
}

/**
 * Parses a run's metrics.jsonl: one JSON object per line with a numeric `step`, an optional `stage`, and
 * metric fields. Every other numeric field becomes a series; nested objects and arrays are flattened
 * (`{"moments": {"2": 0.1}}` -> 'moments.2', `{"err": [0.1, 0.2]}` -> 'err[0]', 'err[1]'). Non-numeric
 * fields are ignored. The lines are read by parseMetricsLines (src/util/metrics-lines.ts): a truncated last
 * line (a run killed mid-write) is skipped; any other bad line throws a UserError naming the line.
 */
export function metricsFromJsonl(text: string, include?: RegExp | ((series: string) => boolean)): MetricPoint[] {
  const keep = include === undefined ? () => true : include instanceof RegExp ? (s: string) => include.test(s) : include;
  const out: MetricPoint[] = [];
  for (const rec of parseMetricsLines(text)) {
    const { step, stage, ...rest } = rec;
    const st = typeof stage === 'number' || typeof stage === 'string' ? stage : undefined;
    const visit = (name: string, v: unknown): void => {
      if (typeof v === 'number') {
        if (Number.isFinite(v) && keep(name)) out.push(st === undefined ? { step, value: v, series: name } : { step, value: v, series: name, stage: st });
      } else if (Array.isArray(v)) v.forEach((x, k) => visit(`${name}[${k}]`, x));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(`${name}.${k}`, x);
    };
    for (const [k, v] of Object.entries(rest)) visit(k, v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// (e) Grouped bars with error bars ((b)-(d) are in charts-distributions.ts)

export interface BarRow {
  /** The x group, e.g. a resolution (16). */
  group: string | number;
  /** The bar within the group, e.g. 'layerwise', 'random lower', 'end-to-end'. */
  method: string;
  value: number;
  /** Half-width of the error bar (say in the caption what it is, e.g. one std over 3 seeds); omitted = no bar. */
  error?: number;
}

export interface GroupedBarsOptions extends ChartBase {
  rows: BarRow[];
  /** e.g. 'resolution'. */
  xTitle: string;
  /** e.g. 'sliced Wasserstein distance (lower is better)'. */
  yTitle: string;
  /** Legend title (default 'method'). */
  methodTitle?: string;
  /** Order of the bars within a group (default: first appearance). */
  methodOrder?: string[];
}

/**
 * Grouped bars with error bars (F-layerwise quality per resolution): one bar per (group, method), one rule
 * per bar with an error. Rows that share a group and method (one per seed) are drawn as one bar at their
 * mean value, with the root mean square of their errors and their count `n` in the tooltip: vega-lite would
 * otherwise stack them, a bar n times too tall.
 */
export function groupedBars(o: GroupedBarsOptions): ChartSpec {
  const fn = 'groupedBars';
  if (!Array.isArray(o.rows) || o.rows.length === 0) throw new Error(`${fn}: rows must be a non-empty array`);
  const groups: (string | number)[] = [];
  const methods: string[] = o.methodOrder ? [...o.methodOrder] : [];
  const cells = new Map<string, { group: string | number; method: string; values: number[]; errors: number[] }>();
  for (const r of o.rows) {
    checkFinite(fn, `value of ${r.method} at ${r.group}`, r.value);
    if (r.error !== undefined) {
      checkFinite(fn, `error of ${r.method} at ${r.group}`, r.error);
      if (r.error < 0) throw new Error(`${fn}: error of ${r.method} at ${r.group} must be >= 0, got ${r.error}`);
    }
    if (!groups.includes(r.group)) groups.push(r.group);
    if (!methods.includes(r.method)) methods.push(r.method);
    const key = JSON.stringify([String(r.group), r.method]);
    const cell = cells.get(key) ?? { group: r.group, method: r.method, values: [], errors: [] };
    cell.values.push(r.value);
    if (r.error !== undefined) cell.errors.push(r.error);
    cells.set(key, cell);
  }
  const rows: Row[] = [...cells.values()].map((c) => {
    const value = c.values.reduce((a, v) => a + v, 0) / c.values.length;
    const e = c.errors.length ? Math.sqrt(c.errors.reduce((a, v) => a + v * v, 0) / c.errors.length) : null;
    return { group: String(c.group), method: c.method, value, n: c.values.length, lo: e === null ? null : value - e, hi: e === null ? null : value + e, hasError: e === null ? 0 : 1 };
  });
  const x = { field: 'group', type: 'ordinal', title: o.xTitle, sort: groups.map(String), axis: { labelAngle: 0 } };
  const xOffset = { field: 'method', type: 'nominal', sort: methods };
  return {
    ...header(fn, o),
    ...size(o),
    data: { values: rows },
    encoding: { x, xOffset },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'value', type: 'quantitative', title: o.yTitle },
          // Legend labels in full: methods such as 'learner (layerwise, no homeostasis)' differ at their end.
          color: { field: 'method', type: 'nominal', title: o.methodTitle ?? 'method', sort: methods, legend: { labelLimit: 400 } },
          tooltip: [{ field: 'group' }, { field: 'method' }, { field: 'value', format: '.4g' }, { field: 'n', title: 'rows (seeds) averaged' }, { field: 'lo', format: '.4g' }, { field: 'hi', format: '.4g' }],
        },
      },
      {
        transform: [{ filter: 'datum.hasError === 1' }],
        mark: { type: 'rule', color: 'black' },
        encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
    ],
  } as unknown as ChartSpec;
}
