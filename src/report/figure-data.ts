/**
 * What a figure of docs/theory.md section 4 reads about its runs (analysis files, metrics.jsonl, sample
 * grids) and what its drawing yields (charts, images, tables), as plain data; and the small readers of
 * that data shared by the drawings (figures.ts) and the claim rules (src/experiments/claims.ts), so that a
 * chart and the verdict next to it read the same numbers the same way.
 */
import type { MomentReport } from '../analysis/moments.js';
import type { RecoveryReport } from '../analysis/recovery.js';
import type { SwdReport } from '../analysis/swd.js';
import type { AnalysisFile, AnalysisName, ReportTypes } from '../analysis/validate.js';
import type { ChartSpec } from './render.js';

/** Figure drawings (figures.ts), one per figure of docs/theory.md section 4. */
export const FIGURE_KINDS = ['sparsity', 'moments', 'alignment', 'locality', 'layerwise', 'recovery', 'budget', 'family', 'modes', 'attention', 'style', 'conditional'] as const;
export type FigureKind = (typeof FIGURE_KINDS)[number];

/** What a drawing reads of its figure experiment (a FigureSpec of src/experiments/plan.ts has these and more). */
export interface FigureHead {
  /** 'F-moments'; also the name of the notebook and of the exported files. */
  name: string;
  title: string;
  /** What the figure shows and how to read it (the caption's first sentences). */
  about: string;
  builder: FigureKind;
}

/** What a figure reads of a run's training config (a TrainConfig has these and more). */
export interface FigureRunConfig {
  /** homeostasis: bias homeostasis's target (absent or 0 = off): sparsity on such runs is set, not learned. */
  generator: { resolutions: number[]; patch: number; homeostasis?: { active: number } };
  discriminator: { crop: number };
  analysis: { every: number; samples: number };
  train: { steps: number; stepsByLevel: number[] };
}

/** The run a result belongs to (a PlannedRun of src/experiments/plan.ts has these and more). */
export interface FigureRun {
  /** Folder name under <out>/runs: catalogue name, seed and a hash of the resolved config. */
  id: string;
  /** Catalogue name, e.g. 'teacher/layerwise'. */
  name: string;
  /** The role figures look up: 'layerwise', 'layerwise-crop', 'random-lower', 'end-to-end'. */
  method: string;
  /** Data label for grouping ('teacher-small', 'emoji', ...). */
  data: string;
  seed: number;
  /** Levels trained (the config's resolutions may be cut to these). */
  levels: number;
  config: FigureRunConfig;
}

/** Everything a figure may read about one run. */
export interface RunResult {
  run: FigureRun;
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

/** What a figure's drawing yields (its claims are judged by src/experiments/claims.ts). */
export interface FigureDrawing {
  name: string;
  title: string;
  caption: string;
  charts: FigureChart[];
  images: FigureImage[];
  tables: Table[];
}

// ---------------------------------------------------------------------------------------------------------
// Readers shared by drawings and claims

/** Three significant digits (for tables and verdict texts); non-finite values pass through. */
export const f3 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)) : x);
export const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
export const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

/** Steps per stage of a run's config, as text ('400' when equal at every stage, else '3000/6000/6000'). */
export function stepsPerStage(c: Pick<FigureRunConfig, 'generator' | 'train'>): string {
  const t = c.train;
  const per = c.generator.resolutions.map((_r, l) => (t.stepsByLevel.length ? t.stepsByLevel[l] : t.steps));
  return new Set(per).size === 1 ? String(per[0]) : per.join('/');
}

/** One subject's report of one analysis of a run, or null when it was not measured. */
export function result<W extends AnalysisName>(r: RunResult, what: W, subject: string): ReportTypes[W] | null {
  const f = r.analyses[what] as AnalysisFile<W> | undefined;
  return f?.results[subject] ?? null;
}

/** The runs of one method. */
export function byMethod(runs: RunResult[], method: string): RunResult[] {
  return runs.filter((r) => r.run.method === method);
}

export function dataLabels(runs: RunResult[]): string[] {
  return [...new Set(runs.map((r) => r.run.data))];
}

/** Prefix for group labels when a figure mixes data sets. */
export function groupLabel(runs: RunResult[], data: string, rest: string): string {
  return dataLabels(runs).length > 1 ? `${data} ${rest}` : rest;
}

/** The moment series logged during training (metrics.jsonl keys moments/r<res>/<key>), in drawing order. */
export const MOMENT_SERIES: [string, string][] = [['o1', 'order 1'], ['o2', 'order 2'], ['o3', 'order 3'], ['o4', 'order 4'], ['cross', 'cross-resolution']];

/** One moment series of one stage of a run, as logged during training. */
export interface StageMoments {
  stage: number;
  /** The stage's resolution. */
  res: number;
  /** 'o1', 'o2', ... (MOMENT_SERIES). */
  key: string;
  label: string;
  /** The metrics key, moments/r<res>/<key>. */
  k: string;
  /** The metrics lines that hold it, in step order. */
  pts: Record<string, number>[];
  /** Its noise floor (logged once), or null. */
  floor: number | null;
}

/** Every stage's moment series of a run (stages ascending, series in MOMENT_SERIES order); stages that logged none are left out. */
export function stageMoments(r: RunResult): StageMoments[] {
  const out: StageMoments[] = [];
  const stages = [...new Set(r.metrics.map((m) => m.stage))].sort((a, b) => a - b);
  for (const stage of stages) {
    const lines = r.metrics.filter((m) => m.stage === stage && m[`moments/r${m.resolution}/o1`] !== undefined);
    if (!lines.length) continue;
    const res = lines[0].resolution;
    for (const [key, label] of MOMENT_SERIES) {
      const k = `moments/r${res}/${key}`;
      const pts = lines.filter((m) => m[k] !== undefined);
      const floorLine = r.metrics.find((m) => m[`${k}_floor`] !== undefined);
      out.push({ stage, res, key, label, k, pts, floor: floorLine ? floorLine[`${k}_floor`] : null });
    }
  }
  return out;
}

export const swdAt = (r: RunResult, res: number) => (result(r, 'swd', 'learner') as SwdReport | null)?.levels.find((l) => l.resolution === res)?.swd ?? null;
export const momentAt = (r: RunResult, res: number, order: number) =>
  (result(r, 'moments', 'learner') as MomentReport | null)?.levels.find((l) => l.resolution === res)?.orders.find((o) => o.order === order) ?? null;

/** The methods F-layerwise compares, with their labels (in legend order). */
export const METHOD_LABEL: Record<string, string> = {
  layerwise: 'layerwise',
  'random-lower': 'random lower layers',
  'end-to-end': 'end-to-end',
  // The multi-resolution families of F-family (src/train/families.ts, docs/families.md).
  lapgan: 'LAPGAN',
  progan: 'ProGAN',
  stacked: 'stacked',
  srgan: 'SRGAN (supervised)',
  dcgan: 'DCGAN',
};

/** Methods whose generator makes every level of the pyramid (the rest: only the top one is theirs). */
const EVERY_LEVEL = ['layerwise', 'lapgan', 'progan', 'srgan'];

/** The resolutions a run's generator is meant to produce: every level for layerwise, the top one otherwise. */
export function qualityResolutions(r: RunResult): number[] {
  const rs = r.run.config.generator.resolutions;
  return EVERY_LEVEL.includes(r.run.method) ? rs : r.run.method === 'stacked' ? [rs[0], rs[rs.length - 1]] : [rs[rs.length - 1]];
}

/** Final quality numbers of one (data, method, resolution), one value per seed. */
export interface QualityCell {
  data: string;
  method: string;
  res: number;
  swd: number[];
  o1: number[];
  o2: number[];
  floor2: number[];
  /** FID and KID of the run's top level (F-family on image data; docs/metrics.md), with their real floors. */
  fid: number[];
  kid: number[];
  fidFloor: number[];
}

export const cellKey = (data: string, method: string, res: number) => `${data}|${method}|${res}`;

/** The quality cells of F-layerwise's methods (by cellKey), and as a list sorted by data, then resolution. */
export function qualityCells(runs: RunResult[]): { cells: Map<string, QualityCell>; list: QualityCell[] } {
  const cells = new Map<string, QualityCell>();
  for (const r of runs) {
    if (!METHOD_LABEL[r.run.method]) continue;
    // The sample-quality metrics (FID, KID) measure the run's top level only.
    const top = Math.max(...qualityResolutions(r));
    for (const res of qualityResolutions(r)) {
      const key = cellKey(r.run.data, r.run.method, res);
      const c = cells.get(key) ?? { data: r.run.data, method: r.run.method, res, swd: [], o1: [], o2: [], floor2: [], fid: [], kid: [], fidFloor: [] };
      const s = swdAt(r, res);
      if (s !== null) c.swd.push(s);
      const m1 = momentAt(r, res, 1);
      const m2 = momentAt(r, res, 2);
      if (m1) c.o1.push(m1.relError);
      if (m2) c.o2.push(m2.relError);
      if (m2?.noiseFloor != null) c.floor2.push(m2.noiseFloor);
      const fid = res === top ? result(r, 'fid', 'learner') : null;
      const kid = res === top ? result(r, 'kid', 'learner') : null;
      if (fid) c.fid.push(fid.fid);
      if (fid?.floor != null) c.fidFloor.push(fid.floor);
      if (kid) c.kid.push(kid.kid);
      cells.set(key, c);
    }
  }
  const list = [...cells.values()].sort((a, b) => (a.data === b.data ? a.res - b.res : a.data < b.data ? -1 : 1));
  return { cells, list };
}
