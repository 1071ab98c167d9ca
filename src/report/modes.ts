/**
 * Figure F-modes (docs/recipes.md): the 2-D lab's recipes on the ring and the grid over seeds, next to the
 * published numbers (cited as the papers', not ours), with GAN-Lab-style small multiples of G's density
 * over training and of D's landscape. A pure function of the lab's results (src/toy/experiment.ts).
 */
import type { ToyCell } from '../toy/experiment.js';
import { makeTarget } from '../toy/targets.js';
import { PUBLISHED } from '../toy/published.js';
import type { FigureChart, FigureDrawing, FigureHead, Table } from './figure-data.js';
import type { ChartSpec } from './render.js';

/** The lab settings a figure was drawn from (for the caption). */
export interface ModesSettings {
  seeds: number;
  steps: number;
  batch: number;
  /** Recipes whose density and D landscape are drawn (seed 1). */
  density: string[];
}

const f1 = (x: number) => x.toFixed(1);

/** Bars of the mean over seeds with +- 1 std, one panel per target, published numbers as black ticks. */
function summaryChart(cells: ToyCell[], measure: 'modes' | 'hq'): ChartSpec {
  const rows = cells.map((c) => {
    const s = measure === 'modes' ? c.modes : c.highQuality;
    const k = measure === 'modes' ? 1 : 100;
    return { target: c.target, recipe: c.label, mean: s.mean * k, lo: (s.mean - s.std) * k, hi: (s.mean + s.std) * k };
  });
  const recipesIn = new Set(cells.map((c) => c.recipe));
  const pub = PUBLISHED.filter((p) => recipesIn.has(p.recipe)).flatMap((p) => {
    const label = cells.find((c) => c.recipe === p.recipe)!.label;
    return (['ring', 'grid'] as const).map((t) => ({ target: t, recipe: label, value: measure === 'modes' ? p[t].modes : p[t].hq, source: `${p.model}, ${p.source.split(' (')[0]}` }));
  });
  const title = measure === 'modes' ? 'Modes covered (mean ± std over seeds; ticks: published)' : 'High-quality samples, % (mean ± std; ticks: published)';
  const y = measure === 'modes' ? 'modes covered' : '% high quality';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: [...rows.map((r) => ({ ...r, kind: 'ours' })), ...pub.map((p) => ({ ...p, kind: 'published' }))] },
    facet: { column: { field: 'target', type: 'nominal', title: null } },
    spec: {
      width: Math.max(240, 22 * new Set(rows.map((r) => r.recipe)).size),
      height: 220,
      layer: [
        { transform: [{ filter: "datum.kind === 'ours'" }], mark: { type: 'bar', color: '#4c78a8' }, encoding: { x: { field: 'recipe', type: 'nominal', sort: null, title: null, axis: { labelAngle: -45 } }, y: { field: 'mean', type: 'quantitative', title: y } } },
        { transform: [{ filter: "datum.kind === 'ours'" }], mark: { type: 'rule', color: '#222' }, encoding: { x: { field: 'recipe', type: 'nominal', sort: null }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
        {
          transform: [{ filter: "datum.kind === 'published'" }],
          mark: { type: 'tick', color: '#e45756', thickness: 2 },
          encoding: { x: { field: 'recipe', type: 'nominal', sort: null }, y: { field: 'value', type: 'quantitative' }, tooltip: [{ field: 'source' }, { field: 'value' }] },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
    config: { axisX: { labelLimit: 200 } },
  } as unknown as ChartSpec;
}

/** 2-D histogram of samples over the target's box: non-empty bins only (bins per side `n`). */
function bins(xy: number[], extent: number, n: number): { x: number; y: number; count: number }[] {
  const c = new Map<number, number>();
  const w = (2 * extent) / n;
  for (let i = 0; i + 1 < xy.length; i += 2) {
    const bx = Math.floor((xy[i] + extent) / w);
    const by = Math.floor((xy[i + 1] + extent) / w);
    if (bx < 0 || by < 0 || bx >= n || by >= n) continue;
    c.set(by * n + bx, (c.get(by * n + bx) ?? 0) + 1);
  }
  return [...c].map(([k, v]) => ({ x: -extent + ((k % n) + 0.5) * w, y: -extent + (Math.floor(k / n) + 0.5) * w, count: v }));
}

/** Small multiples (rows: recipes; columns: training step) of G's sample density or D's landscape, seed 1. */
function gridChart(cells: ToyCell[], target: 'ring' | 'grid', what: 'density' | 'landscape'): ChartSpec | null {
  const t = makeTarget(target);
  const values: Record<string, unknown>[] = [];
  const side = 40;
  for (const c of cells) {
    if (c.target !== target) continue;
    const r = c.runs[0];
    if (!r || !r.snapshots.length) continue;
    for (const s of r.snapshots) {
      if (what === 'density') for (const b of bins(s.samples, t.extent, side)) values.push({ recipe: c.label, step: s.step, ...b });
      else {
        const n = Math.round(Math.sqrt(s.landscape.length));
        // Each panel is scaled to [0, 1] on its own: logits of different objectives and steps differ in range.
        const lo = Math.min(...s.landscape);
        const hi = Math.max(...s.landscape);
        s.landscape.forEach((v, i) => values.push({ recipe: c.label, step: s.step, x: -t.extent + ((i % n) + 0.5) * ((2 * t.extent) / n), y: -t.extent + (Math.floor(i / n) + 0.5) * ((2 * t.extent) / n), d: hi > lo ? (v - lo) / (hi - lo) : 0.5 }));
      }
    }
  }
  if (!values.length) return null;
  const n = what === 'density' ? side : Math.round(Math.sqrt(cells.find((c) => c.target === target && c.runs[0]?.snapshots.length)!.runs[0].snapshots[0].landscape.length));
  const px = Math.max(2, Math.round(120 / n));
  // The true modes as crosses in every panel (a faceted chart's layers share its data: rows of kind 'mode').
  const panels = new Set(values.map((v) => `${v.recipe}\u0000${v.step}`));
  for (const key of panels) {
    const [recipe, step] = key.split('\u0000');
    for (const [x, y] of t.modes) values.push({ kind: 'mode', recipe, step: Number(step), x, y });
  }
  const scale = { domain: [-t.extent, t.extent] };
  const cellLayer = {
    transform: [{ filter: "datum.kind !== 'mode'" }],
    mark: { type: 'rect' },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale, bin: { step: (2 * t.extent) / n, extent: [-t.extent, t.extent] }, axis: null },
      y: { field: 'y', type: 'quantitative', scale, bin: { step: (2 * t.extent) / n, extent: [-t.extent, t.extent] }, axis: null },
      color:
        what === 'density'
          ? { field: 'count', type: 'quantitative', aggregate: 'sum', scale: { type: 'sqrt', scheme: 'blues' }, legend: { title: 'samples' } }
          : { field: 'd', type: 'quantitative', aggregate: 'mean', scale: { scheme: 'redblue', domain: [0, 1] }, legend: { title: 'D (scaled)' } },
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${target}: ${what === 'density' ? "G's samples" : "D's landscape"} over training (seed 1; columns: G step)`,
    data: { values },
    facet: { row: { field: 'recipe', type: 'nominal', title: null, sort: null }, column: { field: 'step', type: 'ordinal', title: 'G step' } },
    spec: {
      width: n * px,
      height: n * px,
      layer: [
        cellLayer,
        { transform: [{ filter: "datum.kind === 'mode'" }], mark: { type: 'point', shape: 'cross', size: 20, color: what === 'density' ? '#e45756' : '#222', opacity: 0.6 }, encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'y', type: 'quantitative', scale } } },
      ],
    },
  } as unknown as ChartSpec;
}

/** F-modes: summary bars with the published ticks, density and landscape small multiples, the tables. */
export function modesFigure(spec: FigureHead, cells: ToyCell[], s: ModesSettings): FigureDrawing {
  const charts: FigureChart[] = [
    // The main chart carries the figure's own name (figures/F-modes.svg), as every figure's does.
    { file: spec.name, spec: summaryChart(cells, 'modes') },
    { file: `${spec.name}-quality`, spec: summaryChart(cells, 'hq') },
  ];
  const shown = cells.filter((c) => s.density.includes(c.recipe));
  for (const target of ['ring', 'grid'] as const) {
    for (const what of ['density', 'landscape'] as const) {
      const c = gridChart(shown, target, what);
      if (c) charts.push({ file: `${spec.name}-${target}-${what}`, spec: c });
    }
  }
  const ours: Table = {
    title: `The lab: ${s.seeds} seeds, ${s.steps} G steps of batch ${s.batch} (mean ± std over seeds [min, max])`,
    columns: ['target', 'recipe', 'modes covered', 'of', '% high quality', 'reverse KL', 'seconds'],
    rows: cells.map((c) => [c.target, c.label, `${f1(c.modes.mean)} ± ${f1(c.modes.std)} [${c.modes.min}, ${c.modes.max}]`, c.totalModes, `${f1(100 * c.highQuality.mean)} ± ${f1(100 * c.highQuality.std)}`, `${c.reverseKl.mean.toFixed(3)} ± ${c.reverseKl.std.toFixed(3)}`, Math.round(c.seconds)]),
  };
  const published: Table = {
    title: 'Published numbers (the papers\' own, under their protocol: 400 epochs of 100k points, width-400 G, maxout D; not reproduced here)',
    columns: ['model', 'ring modes /8', 'ring % HQ', 'grid modes /25', 'grid % HQ', 'source'],
    rows: PUBLISHED.map((p) => [p.model, p.ring.modesSe !== undefined ? `${p.ring.modes} ± ${p.ring.modesSe}` : String(p.ring.modes), p.ring.hq, p.grid.modesSe !== undefined ? `${p.grid.modes} ± ${p.grid.modesSe}` : String(p.grid.modes), p.grid.hq, p.source]),
  };
  const caption =
    `${spec.about} Ours: ${s.seeds} seeds per cell, ${s.steps} G steps of batch ${s.batch} (the papers': 400,000 steps of batch 100, ${Math.round(400000 / s.steps)} times more), ` +
    'so compare the recipes with each other and the published ticks only for their order. A sample is high quality within 3 standard deviations of its nearest mode; a mode is covered when one high-quality sample falls on it; reverse KL between the nearest-mode histograms of G and of the target. Density and landscape panels: seed 1 of the recipes listed, D scaled to [0, 1] per panel (red high), crosses at the true modes.';
  return { name: spec.name, title: spec.title, caption, charts, images: [], tables: [ours, published] };
}
