/**
 * Sweep files (docs/sweeps.md): a base training config plus axes (seeds, configs, presets, modes, `--set`
 * values, budgets), expanded into runs. Each run is a normal run directory named by its id, the id scheme
 * of `reproduce` (src/experiments/plan.ts): `<name>-s<seed>-<shortHash(configKey(config))>`, so the same
 * config always gets the same id, in any sweep and on any machine. Every problem of a sweep file is a
 * UserError naming the file and the field.
 */
import { basename } from 'node:path';
import { resolveAnalysisConfig, type AnalysisConfig } from '../analysis/pipeline.js';
import { findMeasurement, measurementNames } from '../analysis/registry.js';
import { configKey, runSteps, shortHash } from '../experiments/plan.js';
import { MODES, PRESETS, readConfigFile, resolveConfig, type TrainConfig } from '../train/config.js';
import { checkJsonDepth, readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';

/** A value an axis takes (JSON). */
export type AxisValue = string | number | boolean | null | AxisValue[] | { [k: string]: AxisValue };

export interface SweepAxes {
  /** Seeds of every point (required): the runs intervals are taken over. */
  seeds: number[];
  /** Training config files (families of configs); default: the sweep's `config`. */
  configs: string[];
  /** Named presets (src/train/config.ts PRESETS; '' = none). */
  presets: string[];
  /** train.mode values. */
  modes: string[];
  /** `dotted.key: [values]`: each key is an axis of --set values. */
  set: Record<string, AxisValue[]>;
  /** G steps per stage (train.steps, with train.stepsByLevel cleared). */
  budgets: number[];
}

export interface SweepReportSpec {
  /** Statistics shown in the table (glob patterns over `<what>.<subject>.<path>`; [] = every one that varies). */
  statistics: string[];
  /** Statistics drawn in the figure (patterns; [] = the first 6 of the table). */
  figure: string[];
}

export interface SweepSpec {
  /** A plain word; names the report folder (default: the file's name). */
  name: string;
  about: string;
  /** The base training config file (may `extends`); required unless axes.configs is given. */
  config: string;
  /** Overrides of every run (`dotted.key: value`, as --set). */
  set: Record<string, AxisValue>;
  axes: SweepAxes;
  /** Cores each run trains on (`fsrgan train --workers`); fixed here so that every executor trains a run alike. */
  workers: number;
  /** Measurements (src/analysis registry) taken on every finished run against held-out data. */
  analyses: string[];
  /** Analysis settings (docs/analysis.md) over the defaults. */
  analysis: AnalysisConfig;
  report: SweepReportSpec;
}

/** One run of an expanded sweep. */
export interface SweepRun {
  id: string;
  seed: number;
  /** The point of the sweep without its seed: 'train.lrG=0.002 budget=40' ('all' with no other axis). */
  group: string;
  /** The axis values of the point (seed left out). */
  axes: Record<string, AxisValue>;
  config: TrainConfig;
  /** G steps of the run (ETA). */
  steps: number;
}

export interface Sweep {
  spec: SweepSpec;
  file: string;
  runs: SweepRun[];
  /** Group labels in expansion order. */
  groups: string[];
  /** Hash of what a run's summary depends on besides its config: the analyses and their settings. */
  measureKey: string;
}

const TOP_KEYS = ['name', 'about', 'config', 'set', 'axes', 'workers', 'analyses', 'analysis', 'report'];
const AXIS_KEYS = ['seeds', 'configs', 'presets', 'modes', 'set', 'budgets'];
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The run id of a resolved config: reproduce's scheme (src/experiments/plan.ts). */
export function runId(config: TrainConfig): string {
  return `${config.name.replace(/[^a-zA-Z0-9@.-]+/g, '-')}-s${config.seed}-${shortHash(configKey(config))}`;
}

/** The hash a run summary's measurements depend on (besides the run): analyses and settings. */
export function measureKeyOf(analyses: string[], analysis: AnalysisConfig): string {
  return shortHash({ analyses, analysis });
}

function list<T>(v: unknown, field: string, each: (x: unknown, f: string) => T, allowEmpty = false): T[] {
  if (!Array.isArray(v)) throw new UserError(`${field} must be a list, got ${show(v)}.`);
  if (!allowEmpty && v.length === 0) throw new UserError(`${field} must not be empty.`);
  const out = v.map((x, i) => each(x, `${field}[${i}]`));
  const seen = out.map((x) => JSON.stringify(x));
  const dup = seen.findIndex((s, i) => seen.indexOf(s) !== i);
  if (dup >= 0) throw new UserError(`${field} lists ${seen[dup]} twice.`);
  return out;
}

const wholeNumber = (min: number, max = 0xffffffff) => (x: unknown, f: string) => {
  if (!Number.isInteger(x) || (x as number) < min || (x as number) > max) throw new UserError(`${f} must be a whole number from ${min} to ${max}, got ${show(x)}.`);
  return x as number;
};
const text = (x: unknown, f: string) => {
  if (typeof x !== 'string' || x === '') throw new UserError(`${f} must be a non-empty string, got ${show(x)}.`);
  return x;
};
const oneOf = (allowed: readonly string[]) => (x: unknown, f: string) => {
  if (typeof x !== 'string' || !allowed.includes(x)) throw new UserError(`${f} must be one of ${allowed.map((a) => a || "''").join(', ')}, got ${show(x)}.`);
  return x;
};

/** Parses a sweep file's content; `file` names it in messages and gives the default name. */
export function parseSweepSpec(v: unknown, file: string): SweepSpec {
  const at = (f: string) => `${file}: ${f}`;
  if (!isObject(v)) throw new UserError(`${file} must be a JSON object with config, axes and analyses (docs/sweeps.md).`);
  checkJsonDepth(v, `sweep file '${file}'`);
  for (const k of Object.keys(v)) if (!TOP_KEYS.includes(k)) throw new UserError(`${at(k)}: unknown key; known keys: ${TOP_KEYS.join(', ')}.`);
  const name = v.name === undefined ? basename(file).replace(/\.json$/i, '') : text(v.name, at('name'));
  if (!NAME_RE.test(name)) throw new UserError(`${at('name')} must be a plain word (letters, digits, '.', '_', '-'), got ${show(name)}.`);
  const about = v.about === undefined ? '' : text(v.about, at('about'));
  const ax = v.axes;
  if (!isObject(ax)) throw new UserError(`${at('axes')} must be an object with at least "seeds" (docs/sweeps.md).`);
  for (const k of Object.keys(ax)) if (!AXIS_KEYS.includes(k)) throw new UserError(`${at(`axes.${k}`)}: unknown axis; the axes are ${AXIS_KEYS.join(', ')}.`);
  if (ax.seeds === undefined) throw new UserError(`${at('axes.seeds')} is required: the seeds every point is trained with (intervals are over seeds).`);
  const setAxes = ax.set === undefined ? {} : ax.set;
  if (!isObject(setAxes)) throw new UserError(`${at('axes.set')} must be an object of "dotted.key": [values].`);
  const axes: SweepAxes = {
    seeds: list(ax.seeds, at('axes.seeds'), wholeNumber(0)),
    configs: ax.configs === undefined ? [] : list(ax.configs, at('axes.configs'), text),
    presets: ax.presets === undefined ? [] : list(ax.presets, at('axes.presets'), oneOf(['', ...Object.keys(PRESETS)])),
    modes: ax.modes === undefined ? [] : list(ax.modes, at('axes.modes'), oneOf(MODES)),
    set: Object.fromEntries(Object.entries(setAxes).map(([k, vals]) => [k, list(vals, at(`axes.set.${k}`), (x) => x as AxisValue)])),
    budgets: ax.budgets === undefined ? [] : list(ax.budgets, at('axes.budgets'), wholeNumber(1, 1e9)),
  };
  const config = v.config === undefined ? '' : text(v.config, at('config'));
  if (!config && axes.configs.length === 0) throw new UserError(`${at('config')} is required (a training config file), or list several in axes.configs.`);
  if (config && axes.configs.length) throw new UserError(`${at('config')}: give either config or axes.configs, not both.`);
  const set = v.set === undefined ? {} : v.set;
  if (!isObject(set)) throw new UserError(`${at('set')} must be an object of "dotted.key": value overrides.`);
  const workers = v.workers === undefined ? 1 : wholeNumber(1, 1024)(v.workers, at('workers'));
  const analyses = v.analyses === undefined ? ['sparsity', 'swd'] : list(v.analyses, at('analyses'), text);
  for (const [i, a] of analyses.entries()) if (!findMeasurement(a)) throw new UserError(`${at(`analyses[${i}]`)}: unknown measurement '${a}'; use ${measurementNames().join(', ')}.`);
  let analysis: AnalysisConfig;
  try {
    analysis = resolveAnalysisConfig(v.analysis ?? {});
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${at('analysis')}: ${e.message}`) : e;
  }
  const rep = v.report === undefined ? {} : v.report;
  if (!isObject(rep)) throw new UserError(`${at('report')} must be an object with statistics and figure lists.`);
  for (const k of Object.keys(rep)) if (!['statistics', 'figure'].includes(k)) throw new UserError(`${at(`report.${k}`)}: unknown key; known keys: statistics, figure.`);
  const report = {
    statistics: rep.statistics === undefined ? [] : list(rep.statistics, at('report.statistics'), text, true),
    figure: rep.figure === undefined ? [] : list(rep.figure, at('report.figure'), text, true),
  };
  return { name, about, config, set: set as Record<string, AxisValue>, axes, workers, analyses, analysis, report };
}

/** A `--set` string that sets `key` to exactly `value` (strings too: they are JSON-quoted). */
const setString = (key: string, value: AxisValue) => `${key}=${JSON.stringify(value)}`;

/** A point's label part: `train.lrG=0.002`, strings bare. */
const label = (key: string, value: AxisValue) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;

/** Expands a parsed spec into runs (seeds innermost); reads the config files. */
export async function expandSweep(spec: SweepSpec, file: string): Promise<Sweep> {
  const a = spec.axes;
  const files = a.configs.length ? a.configs : [spec.config];
  if (new Set(a.configs.map((c) => basename(c))).size !== a.configs.length) throw new UserError(`${file}: axes.configs: two files share a name; their runs could not be told apart in the report.`);
  const raw = new Map<string, Record<string, unknown>>();
  for (const f of files) {
    try {
      raw.set(f, await readConfigFile(f));
    } catch (e) {
      throw e instanceof UserError ? new UserError(`${file}: ${a.configs.length ? 'axes.configs' : 'config'}: ${e.message}`) : e;
    }
  }
  // Each axis as a list of [label key, value, --set strings]; a one-element list for an absent axis.
  type Choice = { key: string; value: AxisValue; sets: string[]; file?: string } | null;
  const dims: Choice[][] = [
    a.configs.length ? a.configs.map((f) => ({ key: 'config', value: basename(f).replace(/\.json$/i, ''), sets: [], file: f })) : [null],
    a.presets.length ? a.presets.map((p) => ({ key: 'preset', value: p || 'none', sets: [setString('preset', p)] })) : [null],
    a.modes.length ? a.modes.map((m) => ({ key: 'mode', value: m, sets: [setString('train.mode', m)] })) : [null],
    ...Object.entries(a.set).map(([k, vals]) => vals.map((v) => ({ key: k, value: v, sets: [setString(k, v)] }))),
    a.budgets.length ? a.budgets.map((b) => ({ key: 'budget', value: b, sets: [`train.steps=${b}`, 'train.stepsByLevel=[]'] })) : [null],
  ];
  let points: Choice[][] = [[]];
  for (const d of dims) points = points.flatMap((p) => d.map((c) => [...p, c]));
  const common = Object.entries(spec.set).map(([k, v]) => setString(k, v));
  const runs: SweepRun[] = [];
  const groups: string[] = [];
  const byId = new Map<string, string>();
  for (const point of points) {
    const chosen = point.filter((c): c is NonNullable<Choice> => c !== null);
    const f = chosen.find((c) => c.file)?.file ?? spec.config;
    const group = chosen.map((c) => label(c.key, c.value)).join(' ') || 'all';
    const axes = Object.fromEntries(chosen.map((c) => [c.key, c.value]));
    groups.push(group);
    for (const seed of a.seeds) {
      let config: TrainConfig;
      try {
        config = resolveConfig(raw.get(f)!, { sets: [...common, ...chosen.flatMap((c) => c.sets)], seed, file: f });
      } catch (e) {
        throw e instanceof UserError ? new UserError(`${file}: the run '${group}' seed ${seed}: ${e.message}`) : e;
      }
      if (spec.workers > config.train.batch) throw new UserError(`${file}: workers = ${spec.workers} is more than train.batch = ${config.train.batch} of the run '${group}': a run cannot have more replicas than images per step.`);
      const id = runId(config);
      const where = `'${group}' seed ${seed}`;
      if (byId.has(id)) throw new UserError(`${file}: ${byId.get(id)} and ${where} are the same run (${id}): two axis values give one config; drop one.`);
      byId.set(id, where);
      runs.push({ id, seed, group, axes, config, steps: runSteps(config) });
    }
  }
  return { spec, file, runs, groups, measureKey: measureKeyOf(spec.analyses, spec.analysis) };
}

/** Reads, checks and expands a sweep file. */
export async function loadSweep(file: string): Promise<Sweep> {
  const spec = parseSweepSpec(await readJsonFile(file, 'sweep'), file);
  return expandSweep(spec, file);
}
