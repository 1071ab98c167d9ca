/**
 * The drawings of the figures of docs/theory.md section 4: charts (vega-lite specs from charts.ts and
 * charts-distributions.ts), images and the tables of numbers behind them, built from the results of their
 * runs (figure-data.ts). Pure functions of plain data; the claims each figure tests are judged by
 * src/experiments/claims.ts, and src/experiments/ trains, measures and writes.
 */
import type { AlignmentReport } from '../analysis/alignment.js';
import type { LocalityReport } from '../analysis/locality.js';
import type { RecoveryReport } from '../analysis/recovery.js';
import type { SparsityReport } from '../analysis/sparsity.js';
import { groupedBars, metricCurves, type BarRow, type MetricPoint, type NoiseFloor } from './charts.js';
import { countHistogram, decayCurve } from './charts-distributions.js';
import { budgetFigure, type BudgetPoint } from './budget.js';
import type { ChartSpec } from './render.js';
import {
  byMethod,
  f3,
  groupLabel,
  mean,
  METHOD_LABEL,
  momentAt,
  qualityCells,
  qualityResolutions,
  result,
  stageMoments,
  std,
  swdAt,
  type FigureChart,
  type FigureDrawing,
  type FigureHead,
  type FigureImage,
  type FigureKind,
  type RunResult,
  type Table,
} from './figure-data.js';

/** A drawing; F-budget's also takes the claims judged per budget (src/experiments/claims.ts). */
type Drawing = (spec: FigureHead, runs: RunResult[], budget: BudgetPoint[]) => FigureDrawing;

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

function samplesOf(r: RunResult): string {
  const a = r.analyses.sparsity ?? r.analyses.moments ?? r.analyses.swd ?? r.analyses.locality;
  const n = a ? (Object.values(a.results)[0] as { method: { params: Record<string, unknown> } }).method.params : null;
  return n ? String(n.samples ?? n.realImages ?? '') : '';
}

// ---------------------------------------------------------------------------------------------------------

const sparsityFigure: Drawing = (spec, runs) => {
  const rows: BarRow[] = [];
  const table: Table = { title: 'Active channels per hidden position', columns: ['data', 'resolution', 'channels', 'subject', 'mean active', 'std', 'fraction', `relative (tau) mean`, 'Hoyer', 'empty positions'], rows: [] };
  // The layerwise learner as shipped, and the same recipe without bias homeostasis (method 'layerwise-free',
  // the runs the claim reads): with homeostasis the active fraction is set by its target, not learned.
  const lw = [...byMethod(runs, 'layerwise'), ...byMethod(runs, 'layerwise-free')];
  for (const r of lw) {
    const homeostasis = r.run.config.generator.homeostasis?.active ?? 0;
    const learner = r.run.method === 'layerwise-free' ? 'learner (layerwise, no homeostasis)' : homeostasis > 0 ? `learner (layerwise, homeostasis a = ${homeostasis})` : 'learner (layerwise)';
    // Teacher and random init of a seed are the same in both methods' runs: drawn from one method's runs only.
    const subjects: [string, string][] = r.run.method === lw[0].run.method ? [['teacher', 'teacher'], ['learner', learner], ['random-init', 'random init']] : [['learner', learner]];
    const reps = subjects.map(([k, label]) => [label, result(r, 'sparsity', k)] as [string, SparsityReport | null]);
    for (const [label, rep] of reps) {
      if (!rep) continue;
      for (const l of rep.layers) {
        rows.push({ group: groupLabel(runs, r.run.data, `r${l.resolution}`), method: label, value: l.exact.activeFraction, error: l.exact.stdActive / l.channels });
        table.rows.push([r.run.data, l.resolution, l.channels, label, f3(l.exact.meanActive), f3(l.exact.stdActive), f3(l.exact.activeFraction), f3(l.relative.meanActive), f3(l.hoyer), f3(l.emptyFraction)]);
      }
    }
  }
  // The histogram shows the learner whose sparsity is learned where there is one (the claim's runs).
  const first = byMethod(runs, 'layerwise-free')[0] ?? lw[0];
  const n = first ? samplesOf(first) : '';
  const caption = `${spec.about} Bars: mean over seeds and over ${n} samples x hidden positions of the fraction of exactly non-zero channels; error bars: one standard deviation over positions, divided by the channel count (root mean square over seeds).`;
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
  return { name: spec.name, title: spec.title, caption, charts, images: [], tables: [table] };
};

// ---------------------------------------------------------------------------------------------------------

const momentsFigure: Drawing = (spec, runs) => {
  const charts: FigureChart[] = [];
  const tables: Table[] = [];
  const curve: Table = { title: 'Moment errors at each stage resolution, first and last logged step', columns: ['data', 'stage', 'resolution', 'order', 'first step', 'first', 'last step', 'last', 'first / last', 'noise floor'], rows: [] };
  for (const r of byMethod(runs, 'layerwise')) {
    const points: MetricPoint[] = [];
    const floors: NoiseFloor[] = [];
    const stages = [...new Set(r.metrics.map((m) => m.stage))].sort((a, b) => a - b);
    for (const { stage, res, key, label, k, pts, floor } of stageMoments(r)) {
      for (const m of pts) points.push({ step: m.step, value: m[k], series: label, stage });
      if (floor !== null && (key === 'o1' || key === 'o2')) floors.push({ value: floor, stage, label: `noise floor, ${label}` });
      if (pts.length < 2) continue;
      const [a, b] = [pts[0], pts[pts.length - 1]];
      curve.rows.push([r.run.data, stage, res, label, a.step, f3(a[k]), b.step, f3(b[k]), f3(a[k] / b[k]), floor === null ? null : f3(floor)]);
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
  return { name: spec.name, title: spec.title, caption: spec.about, charts, images: [], tables };
};

// ---------------------------------------------------------------------------------------------------------

const alignmentFigure: Drawing = (spec, runs) => {
  const rows: BarRow[] = [];
  const charts: FigureChart[] = [];
  const images: FigureImage[] = [];
  const table: Table = { title: 'Matched |cosine| of D first-layer filters and G output atoms', columns: ['data', 'pair', 'D filters', 'G atoms', 'dim', 'matched', 'best', 'all pairs', 'random matched', 'random std', 'matched / random'], rows: [] };
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
  const caption = `${spec.about} Bars: mean over seeds; error bars on the random reference: one standard deviation over draws (root mean square over seeds).`;
  if (rows.length) charts.unshift({ file: spec.name, spec: bars({ title: spec.title, caption, rows, xTitle: 'discriminator layer vs generator head', yTitle: 'mean matched |cosine|', methodTitle: 'filters' }) });
  return { name: spec.name, title: spec.title, caption, charts, images, tables: [table] };
};

// ---------------------------------------------------------------------------------------------------------

const localityFigure: Drawing = (spec, runs) => {
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
  return { name: spec.name, title: spec.title, caption: spec.about, charts, images: [], tables };
};

// ---------------------------------------------------------------------------------------------------------

const round1 = (x: number) => Math.round(x * 10) / 10;

const layerwiseFigure: Drawing = (spec, runs) => {
  const { list } = qualityCells(runs);
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
  // FID and KID (F-family on image data; the offline extractor of docs/metrics.md) at each run's top level.
  const withFid = list.filter((c) => c.fid.length);
  if (withFid.length) {
    // One floor per group (every run of a dataset and resolution has the same held-out reference).
    const floorByGroup = new Map<string, number[]>();
    for (const c of withFid) {
      const group = groupLabel(runs, c.data, `r${c.res}`);
      floorByGroup.set(group, [...(floorByGroup.get(group) ?? []), ...c.fidFloor]);
    }
    const fidFloors = [...floorByGroup].filter(([, v]) => v.length).map(([group, v]) => ({ group, method: 'real (floor)', value: mean(v) }));
    charts.push({
      file: `${spec.name}-fid`,
      spec: bars({
        title: 'FID at the top resolution',
        caption: `Frechet distance of the offline extractor's features of generated and held-out real images (lower is better; ${seedText}); the last bar of each group: as many real training images against the same held-out ones, the floor at this sample count. KID is in the table.`,
        rows: [...withFid.map((c) => ({ group: groupLabel(runs, c.data, `r${c.res}`), method: METHOD_LABEL[c.method], value: mean(c.fid), ...(c.fid.length > 1 ? { error: std(c.fid) } : {}) })), ...fidFloors],
        xTitle: 'data, resolution',
        yTitle: 'FID',
        methodOrder: [...order, 'real (floor)'],
      }),
    });
  }
  const metricCols = withFid.length ? ['FID', 'FID floor', 'KID'] : [];
  const table: Table = {
    title: 'Quality per resolution',
    columns: ['data', 'resolution', 'method', 'seeds', 'SWD mean', 'SWD std', 'moment o1', 'moment o2', 'o2 noise floor', ...metricCols],
    rows: list.map((c) => [
      c.data, c.res, METHOD_LABEL[c.method], c.swd.length, f3(mean(c.swd)), f3(std(c.swd)), f3(mean(c.o1)), f3(mean(c.o2)), c.floor2.length ? f3(mean(c.floor2)) : null,
      // FID as papers report it, to one decimal; KID to three significant digits.
      ...(withFid.length ? [c.fid.length ? round1(mean(c.fid)) : null, c.fidFloor.length ? round1(mean(c.fidFloor)) : null, c.kid.length ? f3(mean(c.kid)) : null] : []),
    ]),
  };
  const images: FigureImage[] = [];
  for (const r of runs) {
    if (r.run.seed !== runs[0].run.seed || !METHOD_LABEL[r.run.method]) continue;
    const top = Math.max(...qualityResolutions(r));
    if (r.samples[top]) images.push({ path: r.samples[top], caption: `${r.run.data}, ${METHOD_LABEL[r.run.method]}: samples at r${top} (seed ${r.run.seed}, fixed latents).` });
  }
  return { name: spec.name, title: spec.title, caption: spec.about, charts, images, tables: [table] };
};

// ---------------------------------------------------------------------------------------------------------

const recoveryFigure: Drawing = (spec, runs) => {
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
  const caption = `${spec.about} Bars: mean over seeds. The recovered fraction (|cos| > ${threshold}) is in the table.`;
  const charts = rows.length ? [{ file: spec.name, spec: bars({ title: spec.title, caption, rows, xTitle: 'output layer (resolution r_l)', yTitle: 'matched |cos| with the teacher', methodTitle: 'generator' }) }] : [];
  return { name: spec.name, title: spec.title, caption, charts, images: [], tables: [table] };
};

export const DRAWINGS: Record<FigureKind, Drawing> = {
  sparsity: sparsityFigure,
  moments: momentsFigure,
  alignment: alignmentFigure,
  locality: localityFigure,
  layerwise: layerwiseFigure,
  // F-family: the same quality-per-resolution drawing over the multi-resolution families' runs.
  family: layerwiseFigure,
  recovery: recoveryFigure,
  budget: (spec, _runs, points) => budgetFigure(spec, points),
  // F-modes is drawn from the 2-D lab's results, not from training runs (modes.ts, via src/experiments/reproduce.ts).
  modes: (spec) => {
    throw new Error(`${spec.name}: a 'modes' figure is drawn by modesFigure from the 2-D lab's results`);
  },
  // F-attention and F-style are drawn from the runs' generators (src/experiments/style-figures.ts).
  attention: (spec) => {
    throw new Error(`${spec.name}: an 'attention' figure is drawn by styleFigureOutput from the trained runs`);
  },
  style: (spec) => {
    throw new Error(`${spec.name}: a 'style' figure is drawn by styleFigureOutput from the trained runs`);
  },
  // F-cgan, F-acgan, F-text2img measure their runs with a classifier (src/experiments/conditional-figure.ts, via reproduce.ts).
  conditional: (spec) => {
    throw new Error(`${spec.name}: a 'conditional' figure is drawn by conditionalFigureOutput, which measures its runs`);
  },
};

/** Draws one figure from its runs' results (charts, images, tables; no verdicts of its own; F-budget draws the verdicts it is given). */
export function drawFigure(spec: FigureHead, runs: RunResult[], budget: BudgetPoint[] = []): FigureDrawing {
  return DRAWINGS[spec.builder](spec, runs, budget);
}
