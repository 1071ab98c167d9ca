/**
 * The figures of docs/theory.md section 4, built from the results of their runs (analysis files,
 * metrics.jsonl, sample grids): charts (vega-lite specs from charts.ts), images, tables of the numbers
 * behind them, and the claims the figure tests, each with its numbers and whether it holds. Pure
 * functions of plain data; src/report/reproduce.ts trains, measures and writes.
 */
import type { AlignmentReport } from '../analysis/alignment.js';
import type { LocalityReport } from '../analysis/locality.js';
import type { MomentReport } from '../analysis/moments.js';
import type { RecoveryReport } from '../analysis/recovery.js';
import type { SparsityReport } from '../analysis/sparsity.js';
import type { SwdReport } from '../analysis/swd.js';
import type { AnalysisFile, AnalysisName, ReportTypes } from '../analysis/validate.js';
import { countHistogram, decayCurve, groupedBars, metricCurves, type BarRow, type MetricPoint, type NoiseFloor } from './charts.js';
import type { ChartSpec } from './render.js';
import type { FigureKind, FigureSpec, PlannedRun } from './figspec.js';

/** Everything a figure may read about one run. */
export interface RunResult {
  run: PlannedRun;
  /** Run directory. */
  dir: string;
  analyses: { [W in AnalysisName]?: AnalysisFile<W> };
  /** metrics.jsonl, one object per line. */
  metrics: Record<string, number>[];
  /** Sample grid PNG paths by resolution (the run's meaningful outputs). */
  samples: Record<number, string>;
  /** D_1 filters next to G_1 atoms in matched order (when alignment was measured). */
  tiles: string | null;
  /** Recovery of a random-init learner of the run's shape (when recovery was measured). */
  recoveryRandom: RecoveryReport | null;
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
}

/** A statement of the paper checked on this scale's runs. */
export interface Claim {
  id: 'sparsity' | 'moments' | 'alignment' | 'layerwise';
  figure: string;
  statement: string;
  /** null when the runs needed are missing. */
  holds: boolean | null;
  /** The numbers the verdict rests on. */
  numbers: Record<string, number>;
  /** The verdict in words, with the margin (how far from holding when it does not). */
  detail: string;
}

export interface FigureChart {
  /** File name without extension (under <out>/figures). */
  file: string;
  spec: ChartSpec;
}

export interface FigureImage {
  /** Path of the PNG (copied to <out>/figures by reproduce). */
  path: string;
  caption: string;
}

export interface FigureOutput {
  name: string;
  title: string;
  caption: string;
  charts: FigureChart[];
  images: FigureImage[];
  tables: Table[];
  claims: Claim[];
}

type Builder = (spec: FigureSpec, runs: RunResult[]) => FigureOutput;

/** Plot width for grouped bars: room for every group's label (labels are horizontal). */
function barWidth(rows: BarRow[]): number {
  const groups = [...new Set(rows.map((r) => String(r.group)))];
  return Math.max(320, groups.length * Math.max(60, 7 * Math.max(...groups.map((g) => g.length))));
}

/** Grouped bars whose group labels are never cut short (vega-lite would truncate long band labels). */
function bars(o: Parameters<typeof groupedBars>[0]): ChartSpec {
  return { ...groupedBars({ ...o, width: o.width ?? barWidth(o.rows) }), config: { axisX: { labelLimit: 400 } } } as ChartSpec;
}

/** Stage panels of a faceted chart each get their own step axis (a stage spans only its own steps). */
function ownStepAxes(spec: ChartSpec): ChartSpec {
  return 'facet' in spec ? ({ ...spec, resolve: { scale: { x: 'independent' } } } as ChartSpec) : spec;
}

const f3 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)) : x);
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

function result<W extends AnalysisName>(r: RunResult, what: W, subject: string): ReportTypes[W] | null {
  const f = r.analyses[what] as AnalysisFile<W> | undefined;
  return f?.results[subject] ?? null;
}

/** The runs of one method (first seed of each run name unless `allSeeds`). */
function byMethod(runs: RunResult[], method: string): RunResult[] {
  return runs.filter((r) => r.run.method === method);
}

function dataLabels(runs: RunResult[]): string[] {
  return [...new Set(runs.map((r) => r.run.data))];
}

/** Prefix for group labels when a figure mixes data sets. */
function groupLabel(runs: RunResult[], data: string, rest: string): string {
  return dataLabels(runs).length > 1 ? `${data} ${rest}` : rest;
}

function samplesOf(r: RunResult): string {
  const a = r.analyses.sparsity ?? r.analyses.moments ?? r.analyses.swd ?? r.analyses.locality;
  const n = a ? (Object.values(a.results)[0] as { method: { params: Record<string, unknown> } }).method.params : null;
  return n ? String(n.samples ?? n.realImages ?? '') : '';
}

// ---------------------------------------------------------------------------------------------------------

/** Sparsity claim threshold: "far below the channel count" read as at most a quarter of the channels active. */
export const SPARSE_FRACTION = 0.25;

const sparsityFigure: Builder = (spec, runs) => {
  const rows: BarRow[] = [];
  const table: Table = { title: 'Active channels per hidden position', columns: ['data', 'resolution', 'channels', 'subject', 'mean active', 'std', 'fraction', `relative (tau) mean`, 'Hoyer', 'empty positions'], rows: [] };
  const numbers: Record<string, number> = {};
  const failures: string[] = [];
  let checked = 0;
  const lw = byMethod(runs, 'layerwise');
  for (const r of lw) {
    const subjects: [string, string][] = [['teacher', 'teacher'], ['learner', 'learner (layerwise)'], ['random-init', 'random init']];
    const reps = subjects.map(([k, label]) => [label, result(r, 'sparsity', k)] as [string, SparsityReport | null]);
    for (const [label, rep] of reps) {
      if (!rep) continue;
      for (const l of rep.layers) {
        rows.push({ group: groupLabel(runs, r.run.data, `r${l.resolution}`), method: label, value: l.exact.activeFraction, error: l.exact.stdActive / l.channels });
        table.rows.push([r.run.data, l.resolution, l.channels, label, f3(l.exact.meanActive), f3(l.exact.stdActive), f3(l.exact.activeFraction), f3(l.relative.meanActive), f3(l.hoyer), f3(l.emptyFraction)]);
      }
    }
    const learner = result(r, 'sparsity', 'learner');
    const random = result(r, 'sparsity', 'random-init');
    if (!learner || !random) continue;
    learner.layers.forEach((l, i) => {
      checked++;
      const key = `${r.run.data}/r${l.resolution}`;
      numbers[`${key}/learner`] = l.exact.activeFraction;
      numbers[`${key}/randomInit`] = random.layers[i].exact.activeFraction;
      const t = result(r, 'sparsity', 'teacher');
      if (t) numbers[`${key}/teacher`] = t.layers[i].exact.activeFraction;
      if (!(l.exact.activeFraction <= SPARSE_FRACTION && l.exact.activeFraction < random.layers[i].exact.activeFraction)) {
        failures.push(`${key}: ${f3(l.exact.activeFraction)} of ${l.channels} channels active (random init ${f3(random.layers[i].exact.activeFraction)})`);
      }
    });
  }
  const first = lw[0];
  const n = first ? samplesOf(first) : '';
  const caption = `${spec.about} Bars: mean over ${n} samples x hidden positions of the fraction of exactly non-zero channels; error bars: one standard deviation over positions, divided by the channel count.`;
  const charts = rows.length
    ? [{ file: spec.name, spec: bars({ title: spec.title, caption, rows, xTitle: 'layer (resolution r_l)', yTitle: 'active fraction of channels', methodTitle: 'generator' }) }]
    : [];
  const top = first && result(first, 'sparsity', 'learner');
  if (first && top) {
    const l = top.layers.length - 1;
    const groups = (['teacher', 'learner', 'random-init'] as const).flatMap((k) => {
      const rep = result(first, 'sparsity', k);
      if (!rep) return [];
      // Values rebuilt from the histogram (fractions of positions per count) at 4,000 positions: the chart bins them back.
      const values = rep.layers[l].exact.histogram.flatMap((p, kk) => new Array<number>(Math.round(p * 4000)).fill(kk));
      return [{ name: k === 'random-init' ? 'random init' : k, values }];
    });
    charts.push({
      file: `${spec.name}-histogram`,
      spec: countHistogram({
        title: `Active channels per position at r${top.layers[l].resolution}`,
        caption: `Distribution over hidden positions of the number of exactly non-zero channels of the top layer (${top.layers[l].channels} channels; ${first.run.data}).`,
        groups,
        xTitle: 'active channels',
        yTitle: 'fraction of positions',
      }),
    });
  }
  const claim: Claim = {
    id: 'sparsity',
    figure: spec.name,
    statement: `The hidden layers of the trained generator are sparse: the mean number of active channels per position is far below the channel count (here: at most ${SPARSE_FRACTION * 100}% of the channels, and fewer than at random init).`,
    holds: checked ? failures.length === 0 : null,
    numbers,
    detail: checked === 0 ? 'no layerwise run with a sparsity analysis.' : failures.length ? `does not hold at ${failures.join('; ')}.` : `holds at all ${checked} layers (active fractions ${Object.entries(numbers).filter(([k]) => k.endsWith('/learner')).map(([k, v]) => `${k.replace('/learner', '')} ${f3(v)}`).join(', ')}).`,
  };
  return { name: spec.name, title: spec.title, caption, charts, images: [], tables: [table], claims: [claim] };
};

// ---------------------------------------------------------------------------------------------------------

const momentsFigure: Builder = (spec, runs) => {
  const charts: FigureChart[] = [];
  const tables: Table[] = [];
  const numbers: Record<string, number> = {};
  const failures: string[] = [];
  let checked = 0;
  const curve: Table = { title: 'Moment errors at each stage resolution, first and last logged step', columns: ['data', 'stage', 'resolution', 'order', 'first step', 'first', 'last step', 'last', 'first / last', 'noise floor'], rows: [] };
  for (const r of byMethod(runs, 'layerwise')) {
    const points: MetricPoint[] = [];
    const floors: NoiseFloor[] = [];
    const stages = [...new Set(r.metrics.map((m) => m.stage))].sort((a, b) => a - b);
    for (const st of stages) {
      const lines = r.metrics.filter((m) => m.stage === st && m[`moments/r${m.resolution}/o1`] !== undefined);
      if (!lines.length) continue;
      const res = lines[0].resolution;
      const series: [string, string][] = [['o1', 'order 1'], ['o2', 'order 2'], ['o3', 'order 3'], ['o4', 'order 4'], ['cross', 'cross-resolution']];
      for (const [key, label] of series) {
        const k = `moments/r${res}/${key}`;
        const pts = lines.filter((m) => m[k] !== undefined);
        for (const m of pts) points.push({ step: m.step, value: m[k], series: label, stage: st });
        const floorLine = r.metrics.find((m) => m[`${k}_floor`] !== undefined);
        const floor = floorLine ? floorLine[`${k}_floor`] : null;
        if (floor !== null && (key === 'o1' || key === 'o2')) floors.push({ value: floor, stage: st, label: `noise floor, ${label}` });
        if (pts.length < 2) continue;
        const [a, b] = [pts[0], pts[pts.length - 1]];
        curve.rows.push([r.run.data, st, res, label, a.step, f3(a[k]), b.step, f3(b[k]), f3(a[k] / b[k]), floor === null ? null : f3(floor)]);
        if (key === 'o1' || key === 'o2') {
          checked++;
          const id = `${r.run.data}/stage${st}/r${res}/${key}`;
          numbers[`${id}/first`] = a[k];
          numbers[`${id}/last`] = b[k];
          if (floor !== null) numbers[`${id}/floor`] = floor;
          if (!(b[k] < a[k])) failures.push(`${id}: ${f3(a[k])} at step ${a.step} -> ${f3(b[k])} at step ${b.step}`);
        }
      }
    }
    if (points.length) {
      const every = r.run.config.analysis.every;
      charts.push({
        file: charts.length ? `${spec.name}-${r.run.data}` : spec.name,
        spec: ownStepAxes(metricCurves({
          title: `${spec.title} (${r.run.data})`,
          caption: `${spec.about} Logged every ${every} steps on ${r.run.config.analysis.samples} held-out real and ${r.run.config.analysis.samples} generated images (patches ${r.run.config.generator.patch}x${r.run.config.generator.patch}); dashed rules: noise floors of orders 1 and 2. Panel = stage (its resolution: ${stages.map((s) => `stage ${s} r${r.run.config.generator.resolutions[s - 1]}`).join(', ')}).`,
          points,
          yTitle: 'relative error (log scale)',
          seriesTitle: 'moment',
          noiseFloor: floors,
          logY: true,
        })),
      });
    }
    const final = result(r, 'moments', 'learner');
    if (final) {
      tables.push({
        title: `Final moment errors of ${r.run.data} layerwise (analysis on ${final.method.params.realImages} held-out images) next to their noise floors`,
        columns: ['resolution', 'order', 'relative error', 'noise floor', 'error / floor'],
        rows: final.levels.flatMap((lv) =>
          [...lv.orders, ...(lv.cross ? [{ ...lv.cross, order: 'cross' as unknown as number }] : [])].map((o) => [lv.resolution, String(o.order), f3(o.relError), o.noiseFloor === null ? null : f3(o.noiseFloor), o.noiseFloor ? f3(o.relError / o.noiseFloor) : null]),
        ),
      });
    }
  }
  tables.unshift(curve);
  const claim: Claim = {
    id: 'moments',
    figure: spec.name,
    statement: 'Moment errors fall during training: at every stage, the first- and second-order patch-moment errors at the stage resolution are lower at its last logged step than at its first.',
    holds: checked ? failures.length === 0 : null,
    numbers,
    detail: checked === 0 ? 'no layerwise run logged moments (config.analysis.every = 0).' : failures.length ? `does not hold for ${failures.join('; ')}.` : `holds for all ${checked} (stage, order) pairs; first/last ratios ${curve.rows.filter((x) => x[3] === 'order 1' || x[3] === 'order 2').map((x) => `${dataLabels(runs).length > 1 ? `${x[0]} ` : ''}stage ${x[1]} ${x[3]} ${x[8]}`).join(', ')}.`,
  };
  return { name: spec.name, title: spec.title, caption: spec.about, charts, images: [], tables, claims: [claim] };
};

// ---------------------------------------------------------------------------------------------------------

/** "Well above the random reference": at least 3 reference standard deviations and 25% above its mean. */
export const ALIGN_SIGMAS = 3;
export const ALIGN_RATIO = 1.25;

const alignmentFigure: Builder = (spec, runs) => {
  const rows: BarRow[] = [];
  const charts: FigureChart[] = [];
  const images: FigureImage[] = [];
  const table: Table = { title: 'Matched |cosine| of D first-layer filters and G output atoms', columns: ['data', 'pair', 'D filters', 'G atoms', 'dim', 'matched', 'best', 'all pairs', 'random matched', 'random std', 'matched / random'], rows: [] };
  const numbers: Record<string, number> = {};
  const verdicts: string[] = [];
  let holds: boolean | null = null;
  for (const r of byMethod(runs, 'layerwise')) {
    const file = r.analyses.alignment;
    if (!file) continue;
    const entries = Object.entries(file.results) as [string, AlignmentReport][];
    for (const [pair, rep] of entries) {
      const g = groupLabel(runs, r.run.data, pair.replace(' vs ', ' · '));
      rows.push({ group: g, method: 'trained D vs G', value: rep.observed.meanMatched });
      rows.push({ group: g, method: 'random filters vs G', value: rep.random.meanMatched, error: rep.random.stdMatched });
      table.rows.push([r.run.data, pair, rep.reference, rep.target, rep.dim, f3(rep.observed.meanMatched), f3(rep.observed.meanBest), f3(rep.observed.meanAll), f3(rep.random.meanMatched), f3(rep.random.stdMatched), f3(rep.observed.meanMatched / rep.random.meanMatched)]);
    }
    // The claim is about D_1 (docs/theory.md 3.3): the first resolution.
    const [pair1, rep1] = entries[0];
    const ok = rep1.observed.meanMatched >= rep1.random.meanMatched + ALIGN_SIGMAS * rep1.random.stdMatched && rep1.observed.meanMatched >= ALIGN_RATIO * rep1.random.meanMatched;
    holds = (holds ?? true) && ok;
    const id = `${r.run.data}/${pair1.split(' ')[0]}`;
    numbers[`${id}/matched`] = rep1.observed.meanMatched;
    numbers[`${id}/random`] = rep1.random.meanMatched;
    numbers[`${id}/randomStd`] = rep1.random.stdMatched;
    const z = (rep1.observed.meanMatched - rep1.random.meanMatched) / Math.max(rep1.random.stdMatched, 1e-12);
    // Context for the verdict: the best value D_1 reached while it trained (logged by config.analysis).
    const r1 = r.run.config.generator.resolutions[0];
    const logged = r.metrics.filter((m) => m[`alignment/r${r1}/matched`] !== undefined);
    const peak = logged.reduce<Record<string, number> | null>((b, m) => (!b || m[`alignment/r${r1}/matched`] > b[`alignment/r${r1}/matched`] ? m : b), null);
    if (peak) numbers[`${id}/peakDuringTraining`] = peak[`alignment/r${r1}/matched`];
    const during = peak ? `; during training it peaked at ${f3(peak[`alignment/r${r1}/matched`])} at step ${peak.step}` : '';
    verdicts.push(`${r.run.data} ${pair1}: matched ${f3(rep1.observed.meanMatched)} vs random ${f3(rep1.random.meanMatched)} +- ${f3(rep1.random.stdMatched)} (${f3(rep1.observed.meanMatched / rep1.random.meanMatched)}x, ${f3(z)} sd)${during}`);
    const points: MetricPoint[] = [];
    const floors: NoiseFloor[] = [];
    for (const m of r.metrics) {
      const k = `alignment/r${m.resolution}/matched`;
      if (m[k] !== undefined) points.push({ step: m.step, value: m[k], series: `D_r${m.resolution} vs G_r${m.resolution}`, stage: m.stage });
      const rk = `alignment/r${m.resolution}/random`;
      if (m[rk] !== undefined) floors.push({ value: m[rk], stage: m.stage, label: 'random reference' });
    }
    if (points.length) {
      charts.push({
        file: `${spec.name}-training-${r.run.data}`,
        spec: ownStepAxes(metricCurves({
          title: `Alignment during training (${r.run.data})`,
          caption: `Matched |cosine| of the stage's D first layer with G's head at its resolution, logged every ${r.run.config.analysis.every} steps; dashed: the random-filter reference (5 draws), logged once per stage.`,
          points,
          yTitle: 'mean matched |cosine|',
          seriesTitle: 'pair',
          noiseFloor: floors,
        })),
      });
    }
    if (r.tiles) images.push({ path: r.tiles, caption: `${r.run.data}: left, D_1's first-layer filters; right, G's output atoms at r${r.run.config.generator.resolutions[0]}; same grid position = Hungarian-matched pair, best pairs first (each tile scaled to its own range).` });
  }
  const caption = `${spec.about} Error bars on the random reference: one standard deviation over draws.`;
  if (rows.length) charts.unshift({ file: spec.name, spec: bars({ title: spec.title, caption, rows, xTitle: 'discriminator layer vs generator head', yTitle: 'mean matched |cosine|', methodTitle: 'filters' }) });
  const claim: Claim = {
    id: 'alignment',
    figure: spec.name,
    statement: `D_1's first-layer filters align with G's output atoms: the mean matched |cosine| is well above the random reference (at least ${ALIGN_SIGMAS} reference standard deviations and ${ALIGN_RATIO}x its mean).`,
    holds,
    numbers,
    detail: holds === null ? 'no layerwise run with an alignment analysis.' : `${holds ? 'holds' : 'does not hold'}: ${verdicts.join('; ')}.`,
  };
  return { name: spec.name, title: spec.title, caption, charts, images, tables: [table], claims: [claim] };
};

// ---------------------------------------------------------------------------------------------------------

const swdAt = (r: RunResult, res: number) => (result(r, 'swd', 'learner') as SwdReport | null)?.levels.find((l) => l.resolution === res)?.swd ?? null;
const momentAt = (r: RunResult, res: number, order: number) =>
  (result(r, 'moments', 'learner') as MomentReport | null)?.levels.find((l) => l.resolution === res)?.orders.find((o) => o.order === order) ?? null;

const localityFigure: Builder = (spec, runs) => {
  const charts: FigureChart[] = [];
  const tables: Table[] = [];
  const lw = byMethod(runs, 'layerwise')[0];
  const loc = lw && (lw.analyses.locality?.results as Record<string, LocalityReport> | undefined);
  if (loc) {
    const layers = Object.entries(loc).flatMap(([subject, rep]) =>
      rep.layers.map((l) => ({ name: `${subject === 'random-init' ? 'random init' : subject} r${l.resolution}`, points: l.profile.map((p) => ({ distance: p.distance, value: p.relative })) })),
    );
    const any = Object.values(loc)[0];
    charts.push({
      file: spec.name,
      spec: decayCurve({
        title: 'Change of x_l after perturbing s_{l-1} at one position',
        caption: `${spec.about} Mean |change| of x_l per pixel, relative to distance 0, by Chebyshev distance in patches from the perturbed position (${any.method.params.samples ?? ''} samples, ${any.layers[0]?.positions.length ?? ''} positions; receptive radius ${any.layers[0]?.receptiveRadius ?? ''} patches).`,
        layers,
        yTitle: 'relative mean |change|',
        seriesTitle: 'generator, layer',
      }),
    });
    tables.push({
      title: 'Decay profiles',
      columns: ['subject', 'resolution', 'distance', 'mean |change| / epsilon', 'relative', 'observed radius', 'receptive radius'],
      rows: Object.entries(loc).flatMap(([subject, rep]) => rep.layers.flatMap((l) => l.profile.map((p) => [subject, l.resolution, p.distance, f3(p.meanAbsChange), f3(p.relative), l.observedRadius, l.receptiveRadius]))),
    });
  }
  const crop = byMethod(runs, 'layerwise-crop')[0];
  if (lw && crop) {
    const rs = crop.run.config.generator.resolutions;
    const size = crop.run.config.discriminator.crop;
    const rows: BarRow[] = [];
    const t: Table = { title: `Quality with a whole-image D versus a ${size}x${size} crop D (same budget; stages below the first cropped one are identical)`, columns: ['resolution', 'discriminator', 'SWD', 'moment o1', 'moment o2'], rows: [] };
    for (const res of rs) {
      for (const [r, label] of [[lw, 'whole-image D'], [crop, `${size}x${size} crop D`]] as [RunResult, string][]) {
        const s = swdAt(r, res);
        if (s !== null) rows.push({ group: `r${res}`, method: label, value: s });
        t.rows.push([res, label, s === null ? null : f3(s), f3(momentAt(r, res, 1)?.relError ?? NaN), f3(momentAt(r, res, 2)?.relError ?? NaN)]);
      }
    }
    if (rows.length) {
      charts.push({
        file: `${spec.name}-crop`,
        spec: bars({
          title: 'Patch discriminator versus whole-image discriminator',
          caption: `Sliced Wasserstein distance of patches against held-out data per resolution (lower is better). Both runs are layerwise with the same seed and budget; D sees ${size}x${size} crops (co-located in x_{l-1} and x_l) wherever the resolution exceeds ${size}, so only those stages differ.`,
          rows,
          xTitle: 'resolution',
          yTitle: 'sliced Wasserstein distance',
          methodTitle: 'discriminator',
        }),
      });
    }
    tables.push(t);
  }
  return { name: spec.name, title: spec.title, caption: spec.about, charts, images: [], tables, claims: [] };
};

// ---------------------------------------------------------------------------------------------------------

const METHOD_LABEL: Record<string, string> = { layerwise: 'layerwise', 'random-lower': 'random lower layers', 'end-to-end': 'end-to-end' };

/** The resolutions a run's generator is meant to produce: every level for layerwise, the top one otherwise. */
function qualityResolutions(r: RunResult): number[] {
  const rs = r.run.config.generator.resolutions;
  return r.run.method === 'layerwise' ? rs : [rs[rs.length - 1]];
}

const layerwiseFigure: Builder = (spec, runs) => {
  // (data, method, resolution) -> values over seeds.
  type Key = string;
  const cells = new Map<Key, { data: string; method: string; res: number; swd: number[]; o1: number[]; o2: number[]; floor2: number[] }>();
  for (const r of runs) {
    if (!METHOD_LABEL[r.run.method]) continue;
    for (const res of qualityResolutions(r)) {
      const key = `${r.run.data}|${r.run.method}|${res}`;
      const c = cells.get(key) ?? { data: r.run.data, method: r.run.method, res, swd: [], o1: [], o2: [], floor2: [] };
      const s = swdAt(r, res);
      if (s !== null) c.swd.push(s);
      const m1 = momentAt(r, res, 1);
      const m2 = momentAt(r, res, 2);
      if (m1) c.o1.push(m1.relError);
      if (m2) c.o2.push(m2.relError);
      if (m2?.noiseFloor != null) c.floor2.push(m2.noiseFloor);
      cells.set(key, c);
    }
  }
  const list = [...cells.values()].sort((a, b) => (a.data === b.data ? a.res - b.res : a.data < b.data ? -1 : 1));
  const seeds = Math.max(1, ...list.map((c) => c.swd.length));
  const order = Object.values(METHOD_LABEL);
  const barRows = (field: 'swd' | 'o2'): BarRow[] =>
    list.filter((c) => c[field].length).map((c) => ({ group: groupLabel(runs, c.data, `r${c.res}`), method: METHOD_LABEL[c.method], value: mean(c[field]), ...(c[field].length > 1 ? { error: std(c[field]) } : {}) }));
  const seedText = seeds > 1 ? `mean over ${seeds} seeds; error bars: one standard deviation over seeds` : 'one seed';
  const charts: FigureChart[] = [];
  const swdRows = barRows('swd');
  if (swdRows.length) {
    charts.push({
      file: spec.name,
      spec: bars({
        title: spec.title,
        caption: `${spec.about} Sliced Wasserstein distance of image patches against held-out real images (lower is better; ${seedText}). Random lower layers and end-to-end only produce their top resolution.`,
        rows: swdRows,
        xTitle: 'resolution',
        yTitle: 'sliced Wasserstein distance',
        methodOrder: order,
      }),
    });
  }
  const o2 = barRows('o2');
  const floors = list.filter((c) => c.method === 'layerwise' && c.floor2.length).map((c) => ({ group: groupLabel(runs, c.data, `r${c.res}`), method: 'noise floor', value: mean(c.floor2) }));
  if (o2.length) {
    charts.push({
      file: `${spec.name}-moments`,
      spec: bars({
        title: 'Second-moment error per resolution',
        caption: `||E[pp^T](real) - E[pp^T](G)|| / ||E[pp^T](real)|| of ${runs[0]?.run.config.generator.patch ?? ''}x${runs[0]?.run.config.generator.patch ?? ''} patches against held-out images (${seedText}); the last bar of each group: the noise floor (two disjoint halves of the held-out set).`,
        rows: [...o2, ...floors],
        xTitle: 'resolution',
        yTitle: 'relative second-moment error',
        methodOrder: [...order, 'noise floor'],
      }),
    });
  }
  const table: Table = {
    title: 'Quality per resolution',
    columns: ['data', 'resolution', 'method', 'seeds', 'SWD mean', 'SWD std', 'moment o1', 'moment o2', 'o2 noise floor'],
    rows: list.map((c) => [c.data, c.res, METHOD_LABEL[c.method], c.swd.length, f3(mean(c.swd)), f3(std(c.swd)), f3(mean(c.o1)), f3(mean(c.o2)), c.floor2.length ? f3(mean(c.floor2)) : null]),
  };
  const numbers: Record<string, number> = {};
  const verdicts: string[] = [];
  let holds: boolean | null = null;
  for (const data of dataLabels(runs)) {
    const lw = list.filter((c) => c.data === data && c.method === 'layerwise');
    for (const c of lw.slice(1)) {
      const rl = cells.get(`${data}|random-lower|${c.res}`);
      if (!rl || !rl.swd.length || !c.swd.length) {
        verdicts.push(`${data} r${c.res}: no random-lower run`);
        continue;
      }
      const [a, b] = [mean(c.swd), mean(rl.swd)];
      numbers[`${data}/r${c.res}/layerwise`] = a;
      numbers[`${data}/r${c.res}/randomLower`] = b;
      const ok = a < b;
      holds = (holds ?? true) && ok;
      verdicts.push(`${data} r${c.res}: SWD ${f3(a)} (layerwise) vs ${f3(b)} (random lower), ${ok ? `${f3(b / a)}x better` : `layerwise worse by ${f3(a / b)}x`}`);
    }
  }
  const claim: Claim = {
    id: 'layerwise',
    figure: spec.name,
    statement: 'Layerwise training with learned frozen lower layers beats the same stage trained on random frozen lower layers at every resolution above the first (lower patch SWD against held-out data).',
    holds,
    numbers,
    detail: holds === null ? `not checked: ${verdicts.join('; ') || 'no layerwise and random-lower runs'}.` : `${holds ? 'holds' : 'does not hold'}: ${verdicts.join('; ')}.`,
  };
  const images: FigureImage[] = [];
  for (const r of runs) {
    if (r.run.seed !== runs[0].run.seed || !METHOD_LABEL[r.run.method]) continue;
    const top = Math.max(...qualityResolutions(r));
    if (r.samples[top]) images.push({ path: r.samples[top], caption: `${r.run.data}, ${METHOD_LABEL[r.run.method]}: samples at r${top} (seed ${r.run.seed}, fixed latents).` });
  }
  return { name: spec.name, title: spec.title, caption: spec.about, charts, images, tables: [table], claims: [claim] };
};

// ---------------------------------------------------------------------------------------------------------

const recoveryFigure: Builder = (spec, runs) => {
  const rows: BarRow[] = [];
  const table: Table = { title: 'Recovery of the teacher dictionaries A*_l', columns: ['data', 'resolution', 'generator', 'teacher atoms', 'learned atoms', 'mean matched |cos|', 'recovered > threshold', 'mean signed cos', 'active-count rel. error'], rows: [] };
  let threshold = 0.9;
  for (const r of byMethod(runs, 'layerwise')) {
    for (const [rep, label] of [[result(r, 'recovery', 'learner'), 'learner (layerwise)'], [r.recoveryRandom, 'random init']] as [RecoveryReport | null, string][]) {
      if (!rep) continue;
      threshold = Number(rep.method.params.threshold ?? threshold);
      for (const l of rep.layers) {
        rows.push({ group: groupLabel(runs, r.run.data, `r${l.resolution}`), method: label, value: l.meanMatched });
        table.rows.push([r.run.data, l.resolution, label, l.teacherAtoms, l.learnedAtoms, f3(l.meanMatched), f3(l.recovered), f3(l.meanSigned), l.stats ? f3(l.stats.meanActive) : null]);
      }
    }
  }
  const caption = `${spec.about} The recovered fraction (|cos| > ${threshold}) is in the table.`;
  const charts = rows.length ? [{ file: spec.name, spec: bars({ title: spec.title, caption, rows, xTitle: 'output layer (resolution r_l)', yTitle: 'matched |cos| with the teacher', methodTitle: 'generator' }) }] : [];
  return { name: spec.name, title: spec.title, caption, charts, images: [], tables: [table], claims: [] };
};

export const BUILDERS: Record<FigureKind, Builder> = {
  sparsity: sparsityFigure,
  moments: momentsFigure,
  alignment: alignmentFigure,
  locality: localityFigure,
  layerwise: layerwiseFigure,
  recovery: recoveryFigure,
};

/** Builds one figure from its runs' results. */
export function buildFigure(spec: FigureSpec, runs: RunResult[]): FigureOutput {
  return BUILDERS[spec.builder](spec, runs);
}
