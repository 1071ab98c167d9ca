/**
 * `reproduce`: the paper figures end to end (docs/theory.md section 4, docs/figures.md). Plans the distinct
 * runs the chosen figures need at a scale (src/report/figspec.ts), trains each once into
 * `<out>/runs/<id>` (a complete run is reused, an interrupted one resumed), runs the analyses each run's
 * figures need against held-out real data (cached next to the run), builds every figure
 * (src/report/figures.ts) and writes `<out>/figures/<F-name>*.svg|png`, `<out>/index.html` and
 * `<out>/summary.json`. Notebooks call the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { ImageDataset } from '../data/dataset.js';
import type { PyramidSource } from '../data/source.js';
import { createLearner, disposeLearner } from '../models/learner.js';
import { analyzeRun, type AnalysisConfig, type RunPieces } from '../analysis/pipeline.js';
import { teacherRecovery, type RecoveryReport } from '../analysis/recovery.js';
import { parseAnalysisFile, toJson, type AnalysisFile, type AnalysisName } from '../analysis/validate.js';
import { disposeTeacher, TeacherSource, type Teacher } from '../teacher/index.js';
import { HeldOutTeacherSource, LevelsSource, discImageFilters, heldOutSource, sourceSize } from '../train/analysis-hooks.js';
import { openTrainData } from '../train/data.js';
import { loadRun, sampleRun, type LoadedRun } from '../train/run.js';
import { resumeTraining, train, type ProgressEvent } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { gridPng } from './png.js';
import { writeFigure, type ChartSpec } from './render.js';
import { filterPairPng } from './tiles.js';
import { buildFigure, type Claim, type FigureOutput, type RunResult } from './figures.js';
import { loadCatalogue, loadFigureSpecs, planFigures, runSteps, SCALES, shortHash, type Plan, type PlannedRun, type Scale } from './figspec.js';
import { writeIndexHtml } from './html.js';

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
}

export interface RunSummary extends Pick<PlannedRun, 'id' | 'name' | 'method' | 'data' | 'seed' | 'levels'> {
  steps: number;
  dir: string;
  figures: string[];
  /** 'trained', 'resumed' or 'reused' (complete already). */
  status: 'trained' | 'resumed' | 'reused';
  /** Training seconds of this invocation (0 when reused) and as recorded by the run. */
  seconds: number;
  wallTime: number | null;
}

export interface FigureSummary extends Omit<FigureOutput, 'charts'> {
  /** Files written, relative to `out`. */
  files: string[];
  charts: { file: string; svg: string; png: string; spec: string; title: string }[];
  runs: string[];
}

export interface ReproduceSummary {
  scale: Scale;
  created: string;
  backend: string;
  tfjs: string;
  seconds: { total: number; training: number; analysis: number; figures: number };
  analysis: AnalysisConfig;
  runs: RunSummary[];
  figures: FigureSummary[];
  claims: Claim[];
}

export interface ReproduceResult {
  summary: ReproduceSummary;
  /** Figures with their vega-lite specs (for notebooks). */
  figures: FigureOutput[];
  out: string;
}

const exists = (p: string) => stat(p).then(() => true, () => false);
const MARKER = 'reproduce.json';

/** Teachers built once per config file; image datasets once per (data, seed). */
class DataCache {
  private teachers = new Map<string, Teacher>();
  private images = new Map<string, ImageDataset>();

  /** A fresh training source for a run (the state a new `fsrgan train` would start from), and its teacher. */
  async open(run: PlannedRun, log: (line: string) => void): Promise<{ source: PyramidSource; teacher: Teacher | null }> {
    const c = run.fullConfig;
    let source: PyramidSource;
    let teacher: Teacher | null = this.teachers.get(c.data) ?? null;
    const imageKey = `${c.data}|${c.seed}`;
    if (teacher) source = new TeacherSource(teacher, c.seed);
    else if (this.images.has(imageKey)) {
      const d = this.images.get(imageKey)!;
      source = new ImageDataset(d.set, { ...d.options });
    } else {
      const data = await openTrainData(c, (m) => log(`  ${m}`));
      teacher = data.teacher;
      if (teacher) this.teachers.set(c.data, teacher);
      else if (data.source instanceof ImageDataset) this.images.set(imageKey, data.source);
      source = data.source;
    }
    return { source: run.levels < c.generator.resolutions.length ? new LevelsSource(source, run.levels) : source, teacher };
  }

  dispose(): void {
    for (const t of this.teachers.values()) disposeTeacher(t);
    this.teachers.clear();
  }
}

function progressLine(tag: string, every: number, log: (l: string) => void): (e: ProgressEvent) => void {
  return (e) => {
    const head = `  ${tag} stage ${e.stageIndex + 1}/${e.stages} (r${e.resolution})`;
    if (e.kind === 'step' && (e.stageStep % every === 0 || e.stageStep === e.stageSteps)) {
      log(`${head} step ${e.stageStep}/${e.stageSteps}  lossD ${e.lossD!.toFixed(3)}  lossG ${e.lossG!.toFixed(3)}  ${e.imagesPerSec!.toFixed(0)} img/s`);
    } else if (e.kind === 'rollback' || e.kind === 'interrupted') log(`${head} ${e.kind} at step ${e.step}`);
  };
}

/** Trains (or resumes, or reuses) one run; returns how. */
async function ensureRun(run: PlannedRun, dir: string, data: DataCache, allowTrain: boolean, tag: string, log: (l: string) => void): Promise<Pick<RunSummary, 'status' | 'seconds'>> {
  if (await exists(join(dir, MARKER))) return { status: 'reused', seconds: 0 };
  if (!allowTrain) throw new UserError(`the run ${run.id} is not complete in '${dir}': run fsrgan reproduce without training disabled first.`);
  const t0 = performance.now();
  const { source, teacher } = await data.open(run, log);
  const opts = { source, teacher: teacher ?? undefined, onProgress: progressLine(tag, run.config.log.progressEvery, log), onMessage: (m: string) => log(`  ${m}`) };
  let status: RunSummary['status'] = 'trained';
  let res;
  if (await exists(join(dir, 'config.json'))) {
    log(`${tag} resuming ${run.id}`);
    status = 'resumed';
    res = await resumeTraining(dir, opts);
  } else {
    // A folder without config.json is an interrupted start: begin again.
    await rm(dir, { recursive: true, force: true });
    log(`${tag} training ${run.id}: ${run.config.train.mode}, ${run.levels} levels, ${runSteps(run.config)} steps`);
    res = await train(run.config, dir, opts);
  }
  if (!res.completed) throw new UserError(`training ${run.id} stopped at step ${res.step}; run reproduce again to resume it.`);
  const seconds = (performance.now() - t0) / 1000;
  await writeFileAtomic(join(dir, MARKER), JSON.stringify({ id: run.id, name: run.name, completed: new Date().toISOString(), seconds }, null, 2) + '\n');
  return { status, seconds };
}

/** Held-out real data of a run: the teacher's own held-out stream, or the dataset's held-out split, cut to the run's levels. */
async function heldOutOf(run: PlannedRun, loaded: LoadedRun, data: DataCache, log: (l: string) => void): Promise<PyramidSource> {
  if (loaded.teacher) return new HeldOutTeacherSource(loaded.teacher, run.seed, run.levels);
  const { source } = await data.open(run, log);
  return heldOutSource(source, null, run.seed);
}

/** Analyses a run still lacks (cached as <dir>/figures/<what>-<hash>.json), sample grids, tiles, recovery reference. */
async function measureRun(run: PlannedRun, dir: string, analysis: AnalysisConfig, data: DataCache, log: (l: string) => void): Promise<RunResult> {
  const fdir = join(dir, 'figures');
  const h = shortHash(analysis);
  const fileOf = (w: AnalysisName) => join(fdir, `${w}-${h}.json`);
  const missing: AnalysisName[] = [];
  for (const w of run.analyses) if (!(await exists(fileOf(w)))) missing.push(w);
  const loaded = await loadRun(dir, { source: false });
  const result: RunResult = { run, dir, analyses: {}, metrics: [], samples: {}, tiles: null, recoveryRandom: null };
  try {
    if (missing.length) {
      const pieces: RunPieces = { dir, config: loaded.config, generator: loaded.generator, discriminators: loaded.discriminators, source: null, teacher: loaded.teacher, outputs: loaded.outputs };
      let c = analysis;
      if (missing.some((w) => w === 'moments' || w === 'swd')) {
        pieces.source = await heldOutOf(run, loaded, data, log);
        // A held-out split smaller than the sample count would repeat images (and the floor's halves would share them).
        const n = sourceSize(pieces.source);
        if (n !== null && n < c.samples) c = { ...c, samples: n };
      }
      const files = analyzeRun(pieces, missing, c, (l) => log(`  ${run.id}: ${l.replace(/^analyze: /, '')}`));
      await mkdir(fdir, { recursive: true });
      for (const f of files) await writeFileAtomic(fileOf(f.what), toJson(f) + '\n');
    }
    for (const w of run.analyses) (result.analyses as Record<string, AnalysisFile>)[w] = parseAnalysisFile(await readFile(fileOf(w), 'utf8'));
    await mkdir(fdir, { recursive: true });
    for (const r of loaded.outputs) {
      const p = join(fdir, `samples-r${r}.png`);
      if (!(await exists(p))) {
        const x = sampleRun(loaded, { n: 16, seed: 0, resolution: r });
        await writeFile(p, gridPng(x, { cols: 8, scale: Math.max(1, Math.round(48 / r)) }));
        x.dispose();
      }
      result.samples[r] = p;
    }
    const align = result.analyses.alignment;
    if (align) {
      const r1 = run.config.generator.resolutions[0];
      const rep = align.results[`D_r${r1} vs G_r${r1}`];
      const d = loaded.discriminators.get(r1);
      if (rep && d) {
        const p = join(fdir, `tiles-r${r1}.png`);
        const filters = discImageFilters(d);
        await writeFile(p, filterPairPng(filters, loaded.generator.blocks[r1].out, rep.pairs.map(([i, j]) => [i, j] as [number, number]), { gap: 2 }));
        filters.dispose();
        result.tiles = p;
      }
    }
    if (result.analyses.recovery && loaded.teacher) result.recoveryRandom = randomRecovery(loaded, analysis);
  } finally {
    loaded.dispose();
  }
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8').catch(() => '');
  result.metrics = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, number>);
  return result;
}

/** Recovery of the teacher by a random-init learner of the run's shape (the reference of F-recovery). */
function randomRecovery(run: LoadedRun, c: AnalysisConfig): RecoveryReport {
  const l = createLearner(run.generator.shape, new Rng(c.seed, 'analysis/random-init'), run.config.generator.init);
  try {
    return teacherRecovery(l.params, run.teacher!.params, { threshold: c.recovery.threshold });
  } finally {
    disposeLearner(l);
  }
}

/** Writes a figure's charts (SVG, PNG, vega-lite JSON) and copies its images into <out>/figures. */
async function writeFigureFiles(fig: FigureOutput, out: string): Promise<Pick<FigureSummary, 'files' | 'charts' | 'images'>> {
  const fdir = join(out, 'figures');
  await mkdir(fdir, { recursive: true });
  const files: string[] = [];
  const charts: FigureSummary['charts'] = [];
  for (const c of fig.charts) {
    const base = join(fdir, c.file);
    const w = await writeFigure(c.spec, base);
    await writeFile(`${base}.vl.json`, JSON.stringify(c.spec) + '\n');
    const rel = (p: string) => relative(out, p);
    charts.push({ file: c.file, svg: rel(w.svg), png: rel(w.png), spec: rel(`${base}.vl.json`), title: String((c.spec as { title?: unknown }).title ?? c.file) });
    files.push(rel(w.svg), rel(w.png));
  }
  const images = [];
  for (const [k, im] of fig.images.entries()) {
    const name = `${fig.name}-${k + 1}-${basename(im.path)}`;
    await copyFile(im.path, join(fdir, name));
    files.push(join('figures', name));
    images.push({ path: join('figures', name), caption: im.caption });
  }
  return { files, charts, images };
}

/** Plans, trains, measures and draws the figures; see ReproduceOptions. */
export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult> {
  const t0 = performance.now();
  const log = o.log ?? ((l: string) => console.log(l));
  const scale = o.scale ?? 'quick';
  if (!(SCALES as readonly string[]).includes(scale)) throw new UserError(`--scale must be one of ${SCALES.join(', ')}, got '${scale}'.`);
  const dir = o.figuresDir ?? join('experiments', 'figures');
  const specs = await loadFigureSpecs(dir, o.only ?? []);
  const plan: Plan = await planFigures(specs, await loadCatalogue(dir), scale);
  const total = plan.runs.reduce((a, r) => a + runSteps(r.config), 0);
  log(`reproduce ${specs.map((s) => s.name).join(', ')} at scale ${scale}: ${plan.runs.length} runs, ${total} G steps, into ${o.out} (backend ${tf.getBackend()})`);
  const data = new DataCache();
  const runs: RunSummary[] = [];
  const results = new Map<string, RunResult>();
  const secs = { training: 0, analysis: 0, figures: 0 };
  try {
    for (const [i, run] of plan.runs.entries()) {
      const rdir = join(o.out, 'runs', run.id);
      const tag = `[${i + 1}/${plan.runs.length} ${run.name} s${run.seed}]`;
      const t = performance.now();
      const how = await ensureRun(run, rdir, data, o.train !== false, tag, log);
      secs.training += (performance.now() - t) / 1000;
      if (how.status === 'reused') log(`${tag} complete already: ${rdir}`);
      else log(`${tag} ${how.status} in ${how.seconds.toFixed(0)} s`);
      const ta = performance.now();
      results.set(run.id, await measureRun(run, rdir, plan.analysis, data, log));
      secs.analysis += (performance.now() - ta) / 1000;
      const metrics = results.get(run.id)!.metrics;
      const wall = metrics.length ? metrics[metrics.length - 1].wallTime : undefined;
      runs.push({ id: run.id, name: run.name, method: run.method, data: run.data, seed: run.seed, levels: run.levels, steps: runSteps(run.config), dir: rdir, figures: run.figures, ...how, wallTime: typeof wall === 'number' ? wall : null });
    }
  } finally {
    data.dispose();
  }
  const tf0 = performance.now();
  const figures: FigureOutput[] = [];
  const figSummaries: FigureSummary[] = [];
  for (const pf of plan.figures) {
    const fig = buildFigure(pf.spec, pf.runs.map((id) => results.get(id)!));
    const w = await writeFigureFiles(fig, o.out);
    figures.push(fig);
    figSummaries.push({ ...fig, ...w, runs: pf.runs });
    log(`${fig.name}: ${w.files.length} files${fig.claims.map((c) => `; claim ${c.id} ${c.holds === null ? 'not checked' : c.holds ? 'holds' : 'does NOT hold'}`).join('')}`);
  }
  secs.figures = (performance.now() - tf0) / 1000;
  const summary: ReproduceSummary = {
    scale,
    created: new Date().toISOString(),
    backend: tf.getBackend(),
    tfjs: tf.version.tfjs,
    seconds: { total: (performance.now() - t0) / 1000, ...secs },
    analysis: plan.analysis,
    runs,
    figures: figSummaries,
    claims: figSummaries.flatMap((f) => f.claims),
  };
  if (o.pages !== false) {
    await writeFile(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    await writeIndexHtml(join(o.out, 'index.html'), summary);
  }
  const pages = o.pages !== false ? `wrote ${join(o.out, 'index.html')} and summary.json` : 'done';
  log(`${pages} in ${summary.seconds.total.toFixed(0)} s (training ${secs.training.toFixed(0)} s, analysis ${secs.analysis.toFixed(0)} s, figures ${secs.figures.toFixed(0)} s)`);
  return { summary, figures, out: o.out };
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
}

/**
 * What a figure notebook shows: read from `runDir` when it holds the figure already (no tensors touched),
 * else built by `reproduce` (into `runDir`, or a small cached experiment) without rewriting index.html.
 */
export async function notebookFigure(name: string, o: NotebookFigureOptions = {}): Promise<NotebookFigure> {
  if (o.runDir) {
    const text = await readFile(join(o.runDir, 'summary.json'), 'utf8').catch(() => {
      throw new UserError(`FSRGAN_RUN_DIR='${o.runDir}' holds no summary.json: point it at the --out folder of fsrgan reproduce.`);
    });
    const summary = JSON.parse(text) as ReproduceSummary;
    const figure = summary.figures.find((f) => f.name === name);
    if (figure) {
      const specs = await Promise.all(figure.charts.map(async (c) => JSON.parse(await readFile(join(o.runDir!, c.spec), 'utf8')) as ChartSpec));
      return { out: o.runDir, scale: summary.scale, figure, specs };
    }
    return fromReproduce(name, o.runDir, summary.scale, o.log);
  }
  const scale = o.scale ?? 'quick';
  return fromReproduce(name, o.cache ?? join('.cache', 'figures', scale), scale, o.log);
}

async function fromReproduce(name: string, out: string, scale: Scale, log?: (line: string) => void): Promise<NotebookFigure> {
  const res = await reproduce({ out, scale, only: [name], pages: false, log });
  return { out, scale, figure: res.summary.figures[0], specs: res.figures[0].charts.map((c) => c.spec) };
}
