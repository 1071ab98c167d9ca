/**
 * Summaries: a figure's output (its drawing, src/report/figures.ts, with the verdicts of its claims,
 * claims.ts), the files written for it under `<out>/figures`, and `<out>/summary.json` (every run, figure
 * and claim with its numbers) next to the `<out>/index.html` rendered from it (src/report/html.ts).
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { AnalysisConfig } from '../analysis/pipeline.js';
import type { FigureDrawing, RunResult } from '../report/figure-data.js';
import { drawFigure } from '../report/figures.js';
import { writeIndexHtml } from '../report/html.js';
import { writeFigure } from '../report/render.js';
import { UserError } from '../util/errors.js';
import { budgetPoints, judgeFigure, type Claim } from './claims.js';
import type { FigureSpec, PlannedRun, Scale } from './plan.js';
import type { RunStatus } from './run.js';

/** A figure: its drawing and the claims it tests, judged. */
export interface FigureOutput extends FigureDrawing {
  claims: Claim[];
}

/** Builds one figure from its runs' results: the drawing, then the verdicts of its claims. */
export function buildFigure(spec: FigureSpec, runs: RunResult[]): FigureOutput {
  if (spec.builder === 'budget') return { ...drawFigure(spec, runs, budgetPoints(runs)), claims: [] };
  return { ...drawFigure(spec, runs), claims: judgeFigure(spec, runs) };
}

export interface RunSummary extends Pick<PlannedRun, 'id' | 'name' | 'method' | 'data' | 'seed' | 'levels'> {
  /** G steps of all stages, and per stage ('400', or '3000/6000/6000'). */
  steps: number;
  stepsPerStage: string;
  dir: string;
  figures: string[];
  /** 'trained', 'resumed' or 'reused' (complete already). */
  status: RunStatus;
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
  /** The scale's seeds (runs that no claim is judged on may use only the first). */
  seeds: number[];
  created: string;
  backend: string;
  tfjs: string;
  seconds: { total: number; training: number; analysis: number; figures: number };
  analysis: AnalysisConfig;
  runs: RunSummary[];
  figures: FigureSummary[];
  claims: Claim[];
}

/** Writes a figure's charts (SVG, PNG, vega-lite JSON) and copies its images into <out>/figures. */
export async function writeFigureFiles(fig: FigureOutput, out: string): Promise<Pick<FigureSummary, 'files' | 'charts' | 'images'>> {
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

/** Writes <out>/summary.json and the page made from it, <out>/index.html. */
export async function writeSummaryPages(out: string, summary: ReproduceSummary): Promise<void> {
  await writeFile(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  await writeIndexHtml(join(out, 'index.html'), summary);
}

/** Reads <dir>/summary.json back; a UserError when there is none (`setting` names where `dir` came from). */
export async function readSummary(dir: string, setting: string): Promise<ReproduceSummary> {
  const text = await readFile(join(dir, 'summary.json'), 'utf8').catch(() => {
    throw new UserError(`${setting}='${dir}' holds no summary.json: point it at the --out folder of fsrgan reproduce.`);
  });
  return JSON.parse(text) as ReproduceSummary;
}
