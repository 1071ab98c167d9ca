/**
 * vega-lite specs for the figures of docs/theory.md section 4 that show what one measurement found across
 * items: a grouped count histogram (F-sparsity), a heatmap of a matrix (F-alignment) and decay curves over
 * distance (F-locality). The shared header/size/caption helpers and the curves over training steps and grouped
 * bars are in src/report/charts.ts; every chart carries a title, axis titles and a caption (read it back with
 * `captionOf` from there).
 */
import type { ChartSpec } from './render.js';
import { checkFinite, dropNonPositive, header, size, type ChartBase, type Row } from './charts.js';

// ---------------------------------------------------------------------------------------------------------
// (b) Histogram of counts for several groups

export interface HistogramGroup {
  /** e.g. 'teacher', 'learner', 'random init'. */
  name: string;
  /** One count per item (e.g. active channels per patch). */
  values: number[];
}

export interface HistogramBin {
  /** Smallest value in the bin (bins are [lo, lo + width)). */
  lo: number;
  count: number;
}

/** Counts of `values` in bins [k*width, (k+1)*width) for k from floor(min/width) to floor(max/width). */
export function histogramBins(values: number[], width = 1, range?: [number, number]): HistogramBin[] {
  if (!(width > 0)) throw new Error(`histogramBins: width must be > 0, got ${width}`);
  if (values.length === 0 && !range) return [];
  const lo = Math.floor((range ? range[0] : Math.min(...values)) / width);
  const hi = Math.floor((range ? range[1] : Math.max(...values)) / width);
  const counts = new Array<number>(hi - lo + 1).fill(0);
  for (const v of values) {
    const k = Math.floor(v / width) - lo;
    if (k >= 0 && k < counts.length) counts[k]++;
  }
  return counts.map((count, k) => ({ lo: (lo + k) * width, count }));
}

export interface CountHistogramOptions extends ChartBase {
  groups: HistogramGroup[];
  /** e.g. 'active channels per patch'. */
  xTitle: string;
  /** Default 'fraction of patches' (normalize) or 'patches'. */
  yTitle?: string;
  /** Bin width (default 1, or wider so that there are at most 40 bins). */
  binWidth?: number;
  /** Plot fractions of each group's total instead of counts, so groups of different sizes compare (default true). */
  normalize?: boolean;
  /** Legend title (default 'group'). */
  groupTitle?: string;
}

/** Grouped histogram (F-sparsity): one bar per (bin, group); every group gets every bin, zeros included. */
export function countHistogram(o: CountHistogramOptions): ChartSpec {
  const fn = 'countHistogram';
  if (!Array.isArray(o.groups) || o.groups.length === 0) throw new Error(`${fn}: groups must be a non-empty array`);
  const all = o.groups.flatMap((g) => g.values);
  if (all.length === 0) throw new Error(`${fn}: every group is empty`);
  all.forEach((v) => checkFinite(fn, 'every value', v));
  let min = Infinity;
  let max = -Infinity;
  for (const v of all) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const width = o.binWidth ?? Math.max(1, Math.ceil((max - min + 1) / 40));
  const normalize = o.normalize ?? true;
  const rows: Row[] = [];
  for (const g of o.groups) {
    for (const b of histogramBins(g.values, width, [min, max])) {
      const label = width === 1 ? String(b.lo) : `${b.lo}-${b.lo + width - 1}`;
      rows.push({ group: g.name, lo: b.lo, bin: label, count: b.count, value: normalize ? b.count / Math.max(1, g.values.length) : b.count });
    }
  }
  return {
    ...header(fn, o),
    ...size(o),
    data: { values: rows },
    mark: 'bar',
    encoding: {
      x: { field: 'bin', type: 'ordinal', title: o.xTitle, sort: { field: 'lo', op: 'min', order: 'ascending' }, axis: { labelAngle: 0 } },
      xOffset: { field: 'group', type: 'nominal', sort: o.groups.map((g) => g.name) },
      y: { field: 'value', type: 'quantitative', title: o.yTitle ?? (normalize ? 'fraction of patches' : 'patches') },
      color: { field: 'group', type: 'nominal', title: o.groupTitle ?? 'group', sort: o.groups.map((g) => g.name) },
      tooltip: [{ field: 'group' }, { field: 'bin' }, { field: 'count' }, { field: 'value', format: '.3f' }],
    },
  } as unknown as ChartSpec;
}

// ---------------------------------------------------------------------------------------------------------
// (c) Heatmap of a matrix

export interface HeatmapOptions extends ChartBase {
  /** Rows of equal length; matrix[i][j] is drawn at row i (y), column j (x). */
  matrix: number[][];
  /** Title of the column axis (x), e.g. 'G output atom'. */
  xTitle: string;
  /** Title of the row axis (y), e.g. 'D first-layer filter'. */
  yTitle: string;
  /** Legend title (default 'value'). */
  valueTitle?: string;
  /** Color domain (default the data's range; [0, 1] suits |cosine|). */
  domain?: [number, number];
  /** vega color scheme (default 'viridis'). */
  scheme?: string;
}

/** Axis label values for an index axis of n entries: all when few, about 8 evenly spaced when many. */
function indexTicks(n: number): number[] | undefined {
  if (n <= 16) return undefined;
  const step = Math.ceil(n / 8);
  return Array.from({ length: Math.ceil(n / step) }, (_, k) => k * step);
}

/** Heatmap (F-alignment |cosine| matrix): one rect per matrix entry. */
export function heatmap(o: HeatmapOptions): ChartSpec {
  const fn = 'heatmap';
  const m = o.matrix;
  if (!Array.isArray(m) || m.length === 0 || !Array.isArray(m[0]) || m[0].length === 0) throw new Error(`${fn}: matrix must be a non-empty number[][]`);
  const cols = m[0].length;
  const rows: Row[] = [];
  m.forEach((r, i) => {
    if (r.length !== cols) throw new Error(`${fn}: matrix row ${i} has ${r.length} entries, row 0 has ${cols}`);
    r.forEach((v, j) => {
      checkFinite(fn, `matrix[${i}][${j}]`, v);
      rows.push({ row: i, col: j, value: v });
    });
  });
  const xv = indexTicks(cols);
  const yv = indexTicks(m.length);
  return {
    ...header(fn, o),
    width: o.width ?? Math.min(400, Math.max(120, cols * 8)),
    height: o.height ?? Math.min(400, Math.max(120, m.length * 8)),
    data: { values: rows },
    mark: 'rect',
    encoding: {
      x: { field: 'col', type: 'ordinal', title: o.xTitle, axis: { labelAngle: 0, ...(xv ? { values: xv } : {}) } },
      y: { field: 'row', type: 'ordinal', title: o.yTitle, axis: yv ? { values: yv } : {} },
      color: {
        field: 'value',
        type: 'quantitative',
        title: o.valueTitle ?? 'value',
        scale: { scheme: o.scheme ?? 'viridis', ...(o.domain ? { domain: o.domain } : {}) },
      },
      tooltip: [{ field: 'row' }, { field: 'col' }, { field: 'value', format: '.3f' }],
    },
  } as unknown as ChartSpec;
}

// ---------------------------------------------------------------------------------------------------------
// (d) Decay curves

export interface DecaySeries {
  /** e.g. 'layer 3 (16x16)'. */
  name: string;
  points: { distance: number; value: number }[];
}

export interface DecayCurveOptions extends ChartBase {
  layers: DecaySeries[];
  /** Default 'distance from the perturbed patch (patches)'. */
  xTitle?: string;
  /** Default 'mean |change|'. */
  yTitle?: string;
  /** Legend title (default 'layer'). */
  seriesTitle?: string;
  logY?: boolean;
}

/** Decay of a perturbation's effect with distance (F-locality): one line with points per layer. */
export function decayCurve(o: DecayCurveOptions): ChartSpec {
  const fn = 'decayCurve';
  if (!Array.isArray(o.layers) || o.layers.length === 0) throw new Error(`${fn}: layers must be a non-empty array`);
  let rows: Row[] = o.layers.flatMap((l) =>
    l.points.map((p) => {
      checkFinite(fn, `distance in '${l.name}'`, p.distance);
      checkFinite(fn, `value in '${l.name}'`, p.value);
      return { layer: l.name, distance: p.distance, value: p.value };
    }),
  );
  let caption = o.caption;
  if (o.logY) ({ rows, caption } = dropNonPositive(rows, 'value', caption));
  return {
    ...header(fn, o, caption),
    ...size(o),
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'distance', type: 'quantitative', title: o.xTitle ?? 'distance from the perturbed patch (patches)' },
      y: { field: 'value', type: 'quantitative', title: o.yTitle ?? 'mean |change|', scale: o.logY ? { type: 'log' } : {} },
      color: { field: 'layer', type: 'nominal', title: o.seriesTitle ?? 'layer', sort: o.layers.map((l) => l.name) },
      tooltip: [{ field: 'layer' }, { field: 'distance' }, { field: 'value', format: '.4g' }],
    },
  } as unknown as ChartSpec;
}
