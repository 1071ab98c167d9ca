/**
 * `reproduce`: the paper figures end to end (docs/theory.md section 4, docs/figures.md). Plans the distinct
 * runs the chosen figures need at a scale (plan.ts), trains and measures each once (run.ts), builds every
 * figure with its claims (src/report/figures.ts, claims.ts) and writes `<out>/figures/<F-name>*.svg|png`,
 * `<out>/index.html` and `<out>/summary.json` (summary.ts). Notebooks call the same function
 * (`notebookFigure`).
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stepsPerStage, type RunResult } from '../report/figure-data.js';
import type { ChartSpec } from '../report/render.js';
import { UserError } from '../util/errors.js';
import { loadCatalogue, loadFigureSpecs, planFigures, runSteps, SCALES, type Plan, type Scale } from './plan.js';
import { DataCache, ensureExtractors, ensureRun, measureRun } from './run.js';
import { trainInProcesses, type PooledRun } from './train-pool.js';
import { currentBackend } from '../backend/index.js';
import { modesFigureOutput } from './modes.js';
import { styleFigureOutput } from './style-figures.js';
import { conditionalFigureOutput } from './conditional-figure.js';
import { buildFigure, readSummary, writeFigureFiles, writeSummaryPages, type FigureOutput, type FigureSummary, type ReproduceSummary, type RunSummary } from './summary.js';

export interface ReproduceOptions {
  /** Output folder: runs/, figures/, index.html, summary.json. */
  out: string;
  scale?: Scale;
  /** Figure names (F-...); default all. */
  only?: string[];
  /** Where F-*.json and runs.json live (default experiments/figures). */
  figuresDir?: string;
  /** false: never train; every run must already be complete in `out` (a UserError names a missing one). */
  train?: boolean;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
  /** Write summary.json and index.html (default true; notebooks reading someone's folder pass false). */
  pages?: boolean;
  /** Seeds per run (1..n; default: the catalogue's count for the scale). */
  seeds?: number;
  /**
   * Data-parallel replicas per training run (`fsrgan train --workers`; default: one per core, defaultWorkersFor,
   * with one process; 1 with several).
   */
  workers?: number;
  /** Processes that train and measure runs side by side (train-pool.ts; default 1: every run in this process). */
  jobs?: number;
}

export interface ReproduceResult {
  summary: ReproduceSummary;
  /** Figures with their vega-lite specs (for notebooks). */
  figures: FigureOutput[];
  out: string;
}

/** Plans, trains, measures and draws the figures; see ReproduceOptions. */
export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult> {
  const t0 = performance.now();
  const log = o.log ?? ((l: string) => console.log(l));
  const scale = o.scale ?? 'quick';
  if (!(SCALES as readonly string[]).includes(scale)) throw new UserError(`--scale must be one of ${SCALES.join(', ')}, got '${scale}'.`);
  const dir = o.figuresDir ?? join('experiments', 'figures');
  const specs = await loadFigureSpecs(dir, o.only ?? []);
  const plan: Plan = await planFigures(specs, await loadCatalogue(dir), scale, o.seeds);
  const skipped = specs.filter((s) => !s.scales[scale]).map((s) => s.name);
  const asked = (o.only ?? []).filter((n) => skipped.includes(n));
  if (asked.length) throw new UserError(`${asked.join(', ')} ${asked.length > 1 ? 'are' : 'is'} not drawn at scale ${scale} (its file says "${scale}": null); use --scale ${SCALES.filter((s) => specs.find((x) => x.name === asked[0])!.scales[s]).join(' or --scale ')}.`);
  const total = plan.runs.reduce((a, r) => a + runSteps(r.config), 0);
  if (skipped.length) log(`not drawn at scale ${scale}: ${skipped.join(', ')} (their figure files leave this scale out: runs too heavy for it; --scale test or full draws them)`);
  log(`reproduce ${plan.figures.map((f) => f.spec.name).join(', ')} at scale ${scale}, seeds ${plan.seeds.join(', ')}: ${plan.runs.length} runs, ${total} G steps, into ${o.out} (backend ${tf.getBackend()})`);
  const data = new DataCache();
  const runs: RunSummary[] = [];
  const results = new Map<string, RunResult>();
  const secs = { training: 0, analysis: 0, figures: 0 };
  try {
    if (o.train !== false) await ensureExtractors(plan.runs, plan.analysis, log);
    // With several processes they train and measure every run first (their wall time counts as training);
    // the loop below then finds each run complete and reads its measurements from the run's cache.
    const jobs = Math.max(1, Math.min(o.jobs ?? 1, plan.runs.length));
    let pooled: Map<string, PooledRun> | null = null;
    if (jobs > 1) {
      log(`training in ${jobs} processes, ${o.workers ?? 1} replica(s) each`);
      const t = performance.now();
      pooled = await trainInProcesses(plan.runs, { out: o.out, jobs, workers: o.workers, train: o.train !== false, analysis: plan.analysis, backend: backendRequest(), log });
      secs.training += (performance.now() - t) / 1000;
    }
    for (const [i, run] of plan.runs.entries()) {
      const rdir = join(o.out, 'runs', run.id);
      const tag = `[${i + 1}/${plan.runs.length} ${run.name} s${run.seed}]`;
      const t = performance.now();
      const how = pooled?.get(run.id) ?? (await ensureRun(run, rdir, data, o.train !== false, tag, log, o.workers));
      if (!pooled) secs.training += (performance.now() - t) / 1000;
      if (how.status === 'reused') log(`${tag} complete already: ${rdir}`);
      else log(`${tag} ${how.status} in ${how.seconds.toFixed(0)} s`);
      const ta = performance.now();
      results.set(run.id, await measureRun(run, rdir, plan.analysis, data, log));
      secs.analysis += (performance.now() - ta) / 1000;
      const metrics = results.get(run.id)!.metrics;
      const wall = metrics.length ? metrics[metrics.length - 1].wallTime : undefined;
      runs.push({ id: run.id, name: run.name, method: run.method, data: run.data, seed: run.seed, levels: run.levels, steps: runSteps(run.config), stepsPerStage: stepsPerStage(run.config), dir: rdir, figures: run.figures, status: how.status, seconds: how.seconds, wallTime: typeof wall === 'number' ? wall : null });
    }
  } finally {
    data.dispose();
  }
  const tf0 = performance.now();
  const figures: FigureOutput[] = [];
  const figSummaries: FigureSummary[] = [];
  for (const pf of plan.figures) {
    // F-modes: the 2-D lab's experiment (trained here, or read back from <out>/toy), not training runs.
    const rs = pf.runs.map((id) => results.get(id)!);
    // F-attention, F-style: drawn from the trained generators themselves (style-figures.ts); F-cgan, F-acgan,
    // F-text2img: their runs judged by the dataset's classifier (conditional-figure.ts).
    const drawn = pf.spec.builder === 'attention' || pf.spec.builder === 'style' ? await styleFigureOutput(pf.spec, rs, o.out) : pf.spec.builder === 'conditional' ? await conditionalFigureOutput(pf.spec, rs, scale, o.out, log) : null;
    const fig = drawn ?? (pf.spec.builder === 'modes' ? await modesFigureOutput(pf.spec, scale, o.out, o.train !== false, log) : buildFigure(pf.spec, rs));
    const w = await writeFigureFiles(fig, o.out);
    figures.push(fig);
    figSummaries.push({ ...fig, ...w, runs: pf.runs });
    const perData = (c: (typeof fig.claims)[number]) => (c.byData.length > 1 ? ` (${c.byData.map((d) => `${d.data} ${d.verdict}`).join(', ')})` : '');
    log(`${fig.name}: ${w.files.length} files${fig.claims.map((c) => `; claim ${c.id} ${c.verdict}${perData(c)}`).join('')}`);
  }
  secs.figures = (performance.now() - tf0) / 1000;
  const summary: ReproduceSummary = {
    scale,
    seeds: plan.seeds,
    created: new Date().toISOString(),
    backend: tf.getBackend(),
    tfjs: tf.version.tfjs,
    seconds: { total: (performance.now() - t0) / 1000, ...secs },
    analysis: plan.analysis,
    runs,
    figures: figSummaries,
    claims: figSummaries.flatMap((f) => f.claims),
  };
  if (o.pages !== false) await writeSummaryPages(o.out, summary);
  const pages = o.pages !== false ? `wrote ${join(o.out, 'index.html')} and summary.json` : 'done';
  log(`${pages} in ${summary.seconds.total.toFixed(0)} s (training ${secs.training.toFixed(0)} s, analysis ${secs.analysis.toFixed(0)} s, figures ${secs.figures.toFixed(0)} s)`);
  return { summary, figures, out: o.out };
}

/** What a training process asks initBackend for: the backend this process runs on. */
function backendRequest(): string {
  const b = tf.getBackend();
  return b === 'tensorflow' ? (currentBackend()?.requested ?? 'auto') : b;
}

/** One figure for a notebook: its summary entry (files relative to `out`), its chart specs, and the folder. */
export interface NotebookFigure {
  out: string;
  scale: Scale;
  figure: FigureSummary;
  specs: ChartSpec[];
}

export interface NotebookFigureOptions {
  /** A `fsrgan reproduce` output folder (FSRGAN_RUN_DIR): the figure is read from it, or built from its runs. */
  runDir?: string;
  /** Scale of the small experiment run when no runDir is given (default 'quick'). */
  scale?: Scale;
  /** Where that experiment is cached (default .cache/figures/<scale>): later notebooks reuse its runs. */
  cache?: string;
  log?: (line: string) => void;
  /** Replicas when runs are trained (default 1). */
  workers?: number;
}

/**
 * What a figure notebook shows: read from `runDir` when it holds the figure already (no tensors touched),
 * else built by `reproduce` (into `runDir`, or a small cached experiment) without rewriting index.html.
 */
export async function notebookFigure(name: string, o: NotebookFigureOptions = {}): Promise<NotebookFigure> {
  if (o.runDir) {
    const summary = await readSummary(o.runDir, 'FSRGAN_RUN_DIR');
    const figure = summary.figures.find((f) => f.name === name);
    if (figure) {
      const specs = await Promise.all(figure.charts.map(async (c) => JSON.parse(await readFile(join(o.runDir!, c.spec), 'utf8')) as ChartSpec));
      return { out: o.runDir, scale: summary.scale, figure, specs };
    }
    return fromReproduce(name, o.runDir, summary.scale, o.log, o.workers);
  }
  const scale = o.scale ?? 'quick';
  return fromReproduce(name, o.cache ?? join('.cache', 'figures', scale), scale, o.log, o.workers);
}

async function fromReproduce(name: string, out: string, scale: Scale, log?: (line: string) => void, workers?: number): Promise<NotebookFigure> {
  const res = await reproduce({ out, scale, only: [name], pages: false, log, workers });
  return { out, scale, figure: res.summary.figures[0], specs: res.figures[0].charts.map((c) => c.spec) };
}
