/**
 * Planning: the figure experiments of docs/theory.md section 4 as data. `experiments/figures/runs.json` is
 * the catalogue of training runs per scale (which config file, which overrides, how many levels), with the
 * analysis settings of each scale; `experiments/figures/F-*.json` says, per figure, which runs it needs at
 * each scale, which analyses it reads and which chart it draws. `planFigures` turns both into the list of
 * distinct runs (each trained once, shared by every figure that needs it). docs/figures.md.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveAnalysisConfig, type AnalysisConfig } from '../analysis/pipeline.js';
import { ANALYSES, type AnalysisName } from '../analysis/validate.js';
import { FIGURE_KINDS, type FigureKind, type FigureRun } from '../report/figure-data.js';
import { DEFAULT_CONFIG, readConfigFile, resolveConfig, type TrainConfig } from '../train/config.js';
import { isTeacherData } from '../train/data.js';
import { measurement } from '../analysis/registry.js';
import { mergeStrict, readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';

/** `test`: seconds (unit test, notebooks in CI); `quick`: minutes on 2 cores; `full`: the paper scale. */
export const SCALES = ['test', 'quick', 'full'] as const;
export type Scale = (typeof SCALES)[number];

/** One training run of the catalogue. */
export interface RunEntry {
  /** The role figures look up: 'layerwise', 'layerwise-free' (homeostasis off), 'layerwise-crop', 'random-lower', 'end-to-end'. */
  method: string;
  /** Data label for grouping ('teacher-small', 'teacher-paper', 'emoji'). */
  data: string;
  /** Training config file (experiments/*.json). */
  config: string;
  /** Train only the lowest `levels` levels of the config (0 = all): random lower layers below level `levels`. */
  levels: number;
  /** Overrides, `dotted.key: value` (as --set), on top of the scale's common overrides. */
  set: Record<string, unknown>;
  /** At most this many of the scale's seeds (0 = all): runs no claim is judged on need not repeat. */
  maxSeeds: number;
}

// `set: null` accepts any object (its keys are checked when the training config is resolved).
const RUN_DEFAULTS = { method: '', data: '', config: '', levels: 0, set: null as unknown, maxSeeds: 0 };
const RUN_ALLOWED = { 'run.method': ['layerwise', 'layerwise-free', 'layerwise-crop', 'random-lower', 'end-to-end', 'lapgan', 'progan', 'stacked', 'srgan', 'dcgan', 'sagan', 'stylegan', 'cgan', 'acgan', 'text2img', 'cfsr', 'cfsr-text'] };

export interface Catalogue {
  /** Seeds per scale: every run is trained with seeds 1..n (capped by its maxSeeds); `--seeds` overrides. */
  seeds: Record<Scale, number>;
  /** Overrides applied to every run of a scale (budgets, logging). */
  common: Record<Scale, Record<string, unknown>>;
  analysis: Record<Scale, AnalysisConfig>;
  runs: Record<Scale, Record<string, RunEntry>>;
}

export interface FigureScale {
  /** Catalogue names of the runs this figure reads at this scale. */
  runs: string[];
  /**
   * Steps per stage to train each run at ([] = the scale's own budget): F-budget's sweep. A budget run logs
   * about BUDGET_POINTS analysis points per stage, so that its convergence can be judged at every budget.
   */
  budgets: number[];
  /** F-modes (builder 'modes'): the 2-D lab's experiment at this scale instead of training runs; null otherwise. */
  toy?: ToyScale | null;
}

/** The 2-D lab's experiment of a 'modes' figure at one scale (src/toy/experiment.ts, docs/recipes.md). */
export interface ToyScale {
  seeds: number;
  steps: number;
  batch: number;
  /** Recipe names of src/toy/recipes.ts, or ['all']. */
  recipes: string[];
  targets: string[];
  /** Recipes whose density and D landscape over training are drawn (seed 1). */
  density: string[];
  /** Hidden widths of G and D ([] = the lab's defaults). */
  gHidden: number[];
  dHidden: number[];
}

const TOY_SCALE_DEFAULTS: ToyScale = { seeds: 1, steps: 1, batch: 1, recipes: [''], targets: [''], density: [''], gHidden: [0], dHidden: [0] };

/** Analysis points logged per stage by a budget run (analysis.every = budget / BUDGET_POINTS). */
export const BUDGET_POINTS = 20;

export interface FigureSpec {
  /** 'F-moments'; also the name of the notebook and of the exported files. */
  name: string;
  title: string;
  /** What the figure shows and how to read it (the caption's first sentences). */
  about: string;
  /** Its drawing (src/report/figures.ts) and the claims judged with it (src/experiments/claims.ts). */
  builder: FigureKind;
  /** Analyses (src/analysis) run on each of its runs. */
  analyses: AnalysisName[];
  /** The chart builder of src/report/charts.ts it draws with (documentation). */
  chart: string;
  /** null: the figure is not drawn at that scale (`"quick": null` in its file). */
  scales: Record<Scale, FigureScale | null>;
}

const FIGURE_DEFAULTS = { name: '', title: '', about: '', builder: '', analyses: [''], chart: '', scales: null as unknown };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function perScale<T>(v: unknown, field: string, each: (x: unknown, scale: Scale) => T): Record<Scale, T> {
  if (!isObject(v)) throw new UserError(`${field} must be an object with one entry per scale (${SCALES.join(', ')}).`);
  for (const k of Object.keys(v)) if (!(SCALES as readonly string[]).includes(k)) throw new UserError(`${field}.${k}: unknown scale; use ${SCALES.join(', ')}.`);
  for (const s of SCALES) if (!(s in v)) throw new UserError(`${field} has no entry for scale '${s}'.`);
  return Object.fromEntries(SCALES.map((s) => [s, each(v[s], s)])) as Record<Scale, T>;
}

/** Parses the catalogue (experiments/figures/runs.json); every problem is a UserError naming the field. */
export function parseCatalogue(v: unknown, file = 'runs.json'): Catalogue {
  if (!isObject(v)) throw new UserError(`${file} must be a JSON object with seeds, common, analysis and runs.`);
  for (const k of Object.keys(v)) if (!['seeds', 'common', 'analysis', 'runs', 'about'].includes(k)) throw new UserError(`${file}: unknown key '${k}' (known: about, seeds, common, analysis, runs).`);
  const seeds = perScale(v.seeds ?? Object.fromEntries(SCALES.map((s) => [s, 1])), `${file}: seeds`, (x, s) => {
    if (!Number.isInteger(x) || (x as number) < 1) throw new UserError(`${file}: seeds.${s} must be a whole number of seeds >= 1, got ${JSON.stringify(x)}.`);
    return x as number;
  });
  const common = perScale(v.common ?? Object.fromEntries(SCALES.map((s) => [s, {}])), `${file}: common`, (x, s) => {
    if (!isObject(x)) throw new UserError(`${file}: common.${s} must be an object of dotted.key: value overrides.`);
    return x;
  });
  const analysis = perScale(v.analysis, `${file}: analysis`, (x, s) => {
    try {
      return resolveAnalysisConfig(x ?? {});
    } catch (e) {
      throw new UserError(`${file}: analysis.${s}: ${(e as Error).message}`);
    }
  });
  const runs = perScale(v.runs, `${file}: runs`, (x, s) => {
    if (!isObject(x)) throw new UserError(`${file}: runs.${s} must be an object of named runs.`);
    return Object.fromEntries(
      Object.entries(x).map(([name, e]) => {
        const m = mergeStrict(RUN_DEFAULTS, e, 'run', RUN_ALLOWED);
        if (m.set !== null && !isObject(m.set)) throw new UserError(`${file}: runs.${s}.${name}.set must be an object of dotted.key: value overrides.`);
        const entry: RunEntry = { ...m, set: (m.set ?? {}) as Record<string, unknown> };
        if (!entry.config) throw new UserError(`${file}: runs.${s}.${name}.config is required (a training config file).`);
        if (!entry.method || !entry.data) throw new UserError(`${file}: runs.${s}.${name} needs a method and a data label.`);
        if (!Number.isInteger(entry.levels) || entry.levels < 0) throw new UserError(`${file}: runs.${s}.${name}.levels must be an integer >= 0.`);
        if (!Number.isInteger(entry.maxSeeds) || entry.maxSeeds < 0) throw new UserError(`${file}: runs.${s}.${name}.maxSeeds must be an integer >= 0 (0 = every seed of the scale).`);
        return [name, entry];
      }),
    );
  });
  return { seeds, common, analysis, runs };
}

/** Parses one figure file; every problem is a UserError naming the file and field. */
export function parseFigureSpec(v: unknown, file: string): FigureSpec {
  const raw = mergeStrict(FIGURE_DEFAULTS, isObject(v) ? { analyses: [], ...v } : v, file);
  if (!/^F-[a-z0-9-]+$/.test(raw.name)) throw new UserError(`${file}: name must look like F-<name> (lower case), got '${raw.name}'.`);
  if (!raw.title) throw new UserError(`${file}: title is required.`);
  if (!(FIGURE_KINDS as readonly string[]).includes(raw.builder)) throw new UserError(`${file}: builder must be one of ${FIGURE_KINDS.join(', ')}, got '${raw.builder}'.`);
  for (const a of raw.analyses) if (!(ANALYSES as readonly string[]).includes(a)) throw new UserError(`${file}: analyses: unknown '${a}'; use ${ANALYSES.join(', ')}.`);
  const scales = perScale(raw.scales, `${file}: scales`, (x, s): FigureScale | null => {
    // null: the figure is not drawn at this scale (the conditional families' real-data runs are too heavy for quick).
    if (x === null) return null;
    const f = mergeStrict({ runs: [''], budgets: [0], toy: null as unknown }, isObject(x) ? { budgets: [], toy: null, ...x } : x, `${file}: scales.${s}`);
    if (raw.builder === 'modes') {
      const toy = mergeStrict(TOY_SCALE_DEFAULTS, isObject(f.toy) ? { density: [], gHidden: [], dHidden: [], ...f.toy } : f.toy, `${file}: scales.${s}.toy`);
      for (const k of ['seeds', 'steps', 'batch'] as const) if (!Number.isInteger(toy[k]) || toy[k] < 1) throw new UserError(`${file}: scales.${s}.toy.${k} must be a whole number >= 1, got ${JSON.stringify(toy[k])}.`);
      return { runs: f.runs, budgets: [], toy };
    }
    if (f.runs.length === 0) throw new UserError(`${file}: scales.${s}.runs must name at least one run of the catalogue.`);
    for (const b of f.budgets) if (!Number.isInteger(b) || b < 1) throw new UserError(`${file}: scales.${s}.budgets must be whole numbers of steps per stage >= 1, got ${JSON.stringify(b)}.`);
    return { runs: f.runs, budgets: f.budgets, toy: null };
  });
  return { ...raw, builder: raw.builder as FigureKind, analyses: raw.analyses as AnalysisName[], scales };
}

/** The figure specs in `dir` (F-*.json), sorted by name; `only` keeps those named (a UserError names an unknown one). */
export async function loadFigureSpecs(dir: string, only: string[] = []): Promise<FigureSpec[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^F-.*\.json$/.test(f)).sort();
  if (files.length === 0) throw new UserError(`no figure experiments (F-*.json) in '${dir}'.`);
  const specs = await Promise.all(files.map(async (f) => parseFigureSpec(await readJsonFile(join(dir, f), 'figure experiment'), join(dir, f))));
  const names = specs.map((s) => s.name);
  for (const o of only) if (!names.includes(o)) throw new UserError(`--only: unknown figure '${o}'; the figures are ${names.join(', ')}.`);
  return only.length ? specs.filter((s) => only.includes(s.name)) : specs;
}

export async function loadCatalogue(dir: string): Promise<Catalogue> {
  const file = join(dir, 'runs.json');
  return parseCatalogue(await readJsonFile(file, 'figure run catalogue'), file);
}

/** One distinct training run of a plan: what a figure reads of it (FigureRun) and what training needs. */
export interface PlannedRun extends FigureRun {
  /** The config trained (resolutions cut to `levels`). */
  config: TrainConfig;
  /** The config before cutting: its data has every level. */
  fullConfig: TrainConfig;
  /** Figures that read this run, and the analyses they need. */
  figures: string[];
  analyses: AnalysisName[];
}

export interface PlannedFigure {
  spec: FigureSpec;
  /** Run ids in catalogue order, then budget, seeds innermost. */
  runs: string[];
}

export interface Plan {
  scale: Scale;
  /** The scale's seeds (runs with maxSeeds use the first few). */
  seeds: number[];
  analysis: AnalysisConfig;
  runs: PlannedRun[];
  figures: PlannedFigure[];
}

/** `set` objects ({"train.steps": 200}) as --set strings. */
function setStrings(set: Record<string, unknown>): string[] {
  return Object.entries(set).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/** A config cut to its lowest `levels` levels (resolutions, channels, per-level steps). */
export function cutConfig(c: TrainConfig, levels: number): TrainConfig {
  if (levels === 0 || levels === c.generator.resolutions.length) return c;
  if (levels > c.generator.resolutions.length) throw new UserError(`levels = ${levels} but the config has ${c.generator.resolutions.length} resolutions.`);
  const g = c.generator;
  const cut = {
    ...c,
    generator: { ...g, resolutions: g.resolutions.slice(0, levels), channels: g.channels.slice(0, levels) },
    train: { ...c.train, stepsByLevel: c.train.stepsByLevel.slice(0, levels) },
  };
  return resolveConfig(cut);
}

/** The first 8 hex digits of the sha256 of a value's JSON (run ids hash `configKey(config)`). */
export function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
}

/** The seeds of a scale: 1..n (`seeds` overrides the catalogue's n). */
export function scaleSeeds(catalogue: Catalogue, scale: Scale, seeds?: number): number[] {
  const n = seeds ?? catalogue.seeds[scale];
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UserError(`--seeds must be a whole number from 1 to 1000, got ${n}.`);
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The --set overrides that train a run at `budget` steps per stage (null: none). */
function budgetSets(budget: number | null): string[] {
  return budget === null ? [] : [`train.steps=${budget}`, 'train.stepsByLevel=[]', `analysis.every=${Math.max(1, Math.round(budget / BUDGET_POINTS))}`];
}

/** The distinct runs the figures need at `scale` (each once), and each figure's runs; `seeds` overrides the catalogue's seed count. */
export async function planFigures(specs: FigureSpec[], catalogue: Catalogue, scale: Scale, seedCount?: number): Promise<Plan> {
  const runs = new Map<string, PlannedRun>();
  const allSeeds = scaleSeeds(catalogue, scale, seedCount);
  const files = new Map<string, unknown>();
  const figures: PlannedFigure[] = [];
  for (const spec of specs) {
    const fs = spec.scales[scale];
    if (!fs) continue;
    const ids: string[] = [];
    for (const name of fs.runs) {
      const entry = catalogue.runs[scale][name];
      if (!entry) throw new UserError(`${spec.name}: scales.${scale}.runs names '${name}', which the catalogue has no entry for at scale ${scale}.`);
      if (!files.has(entry.config)) files.set(entry.config, await readConfigFile(entry.config));
      const seeds = entry.maxSeeds ? allSeeds.slice(0, entry.maxSeeds) : allSeeds;
      for (const [budget, seed] of (fs.budgets.length ? fs.budgets : [null]).flatMap((b) => seeds.map((sd) => [b, sd] as const))) {
        const sets = [...setStrings(catalogue.common[scale]), ...setStrings(entry.set), ...budgetSets(budget)];
        const full = resolveConfig({ ...(files.get(entry.config) as Record<string, unknown>), name: name.replace(/\//g, '-') }, { sets, seed, file: entry.config });
        const config = cutConfig(full, entry.levels);
        const id = `${name.replace(/[^a-zA-Z0-9@.-]+/g, '-')}-s${config.seed}-${shortHash(configKey(config))}`;
        let run = runs.get(id);
        if (!run) {
          run = { id, name, method: entry.method, data: entry.data, seed: config.seed, levels: config.generator.resolutions.length, config, fullConfig: full, figures: [], analyses: [] };
          runs.set(id, run);
        }
        if (!run.figures.includes(spec.name)) run.figures.push(spec.name);
        // The sample-quality metrics need an extractor trained on real images: none on a teacher's runs.
        for (const a of spec.analyses) if (!run.analyses.includes(a) && !(measurement(a).imageData && isTeacherData(config))) run.analyses.push(a);
        ids.push(id);
      }
    }
    figures.push({ spec, runs: ids });
  }
  return { scale, seeds: allSeeds, analysis: catalogue.analysis[scale], runs: [...runs.values()], figures };
}

/**
 * What a run id hashes: the resolved config's differences from DEFAULT_CONFIG (keys in a fixed order).
 * A new config field added with a default that keeps today's behaviour leaves every id as it was, so
 * runs trained before it (a `--scale full` that takes hours) are still found; changing a value, or a
 * default, makes a new run.
 */
export function configKey(c: TrainConfig): unknown {
  const diff = (v: unknown, d: unknown): unknown => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && d !== null && typeof d === 'object' && !Array.isArray(d)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const sub = diff((v as Record<string, unknown>)[k], (d as Record<string, unknown>)[k]);
        if (sub !== undefined) out[k] = sub;
      }
      return Object.keys(out).length ? out : undefined;
    }
    return JSON.stringify(v) === JSON.stringify(d) ? undefined : v;
  };
  return diff(c, DEFAULT_CONFIG) ?? {};
}

/** G steps of a run (all stages). */
export function runSteps(c: TrainConfig): number {
  const L = c.generator.resolutions.length;
  const per = (l: number) => (c.train.stepsByLevel.length ? c.train.stepsByLevel[l] : c.train.steps);
  return c.train.mode === 'layerwise' ? c.generator.resolutions.reduce((a, _r, l) => a + per(l), 0) : per(L - 1);
}
