/**
 * The sample-quality metrics (docs/metrics.md) where runs are compared: of one run directory (runMetrics,
 * what `fsrgan metrics RUN` does), summed up over seeds with the 95% t-interval the verdicts use
 * (metricsOverSeeds, `fsrgan metrics RUN1 RUN2 ...`), and as verdict tests (src/experiments/verdict.ts) for
 * claims and family comparisons: one statistic over seeds with the trace training logged
 * (config.analysis.quality: `fid/r<res>`, `kid/r<res>`), or the paired ratio of two methods per seed.
 *
 * For a generator that is not a run directory (a sampler) and an ImageDataset, use sampleQuality of
 * src/analysis/quality.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeRun, DEFAULT_ANALYSIS, type AnalysisConfig } from '../analysis/pipeline.js';
import { datasetOf, extractorPath, NO_TEACHER } from '../analysis/metrics-context.js';
import type { AnyAnalysisFile } from '../analysis/validate.js';
import { buildExtractor } from '../metrics/build-extractor.js';
import type { RunResult } from '../report/figure-data.js';
import { loadRun } from '../train/run.js';
import { cachedAnalyses } from '../train/rundir.js';
import { UserError } from '../util/errors.js';
import { INTERVAL_METHOD, tInterval, type TestInput, type TracePoint } from './verdict.js';

/** The sample-quality measurements of the registry. */
export const METRICS = ['fid', 'kid', 'is', 'pr', 'support'] as const;

export interface RunMetricsOptions {
  /** Measurements (default fid, kid). */
  what?: readonly string[];
  /** Analysis settings (samples, seed, metrics.*, kid.*, ...); default DEFAULT_ANALYSIS. */
  config?: AnalysisConfig;
  /** Measure the EMA generator (the run must keep one). */
  ema?: boolean;
  /** Train the dataset's default extractor when none is cached (about a minute, with progress on `log`); false: a UserError naming the command. */
  build?: boolean;
  log?: (line: string) => void;
}

/** One run's metric files, with what the summary over seeds needs. */
export interface RunMetrics {
  dir: string;
  seed: number;
  /** The config's name (runs of one config differ only in seed). */
  name: string;
  files: AnyAnalysisFile[];
}

/**
 * The sample-quality metrics of a run directory against its dataset (the reports of src/analysis/entries/,
 * each with its provenance in method.params), through the run's analysis cache: what `fsrgan metrics RUN`
 * computes and stores, callable from any experiment (family comparisons included).
 */
export async function runMetrics(dir: string, opts: RunMetricsOptions = {}): Promise<RunMetrics> {
  const what = [...(opts.what ?? ['fid', 'kid'])];
  const bad = what.find((w) => !(METRICS as readonly string[]).includes(w));
  if (bad) throw new UserError(`'${bad}' is not a sample-quality metric; use ${METRICS.join(', ')}.`);
  const config = opts.config ?? DEFAULT_ANALYSIS;
  const log = opts.log ?? (() => {});
  const loaded = await loadRun(dir, { source: true });
  try {
    const ds = datasetOf(loaded.source);
    if (!ds) throw new UserError(`${NO_TEACHER} ('${dir}' trains on ${loaded.config.data}.)`);
    const path = extractorPath(config, ds.set.name);
    if (!config.metrics.extractor && !existsSync(path)) {
      if (!opts.build) throw new UserError(`no feature extractor for ${ds.set.name} is cached yet (${path}): build it once with \`fsrgan metrics train-extractor --dataset ${loaded.config.data}\`, or run \`fsrgan metrics ${dir}\`, which builds it.`);
      log(`metrics: no default feature extractor for ${ds.set.name} yet; training it once (about a minute), cached in ${join(path, '..')}`);
      await buildExtractor(loaded.config.data, null, undefined, log);
    }
    const generator = opts.ema ? loaded.ema : loaded.generator;
    if (!generator) throw new UserError(`the run in '${dir}' kept no EMA generator (train.emaBeta = 0): drop --ema.`);
    const subject = { generator: opts.ema ? 'ema' : 'learner', real: 'train' } as const;
    const files = await cachedAnalyses(loaded, what, config, subject, (missing) => analyzeRun({ ...loaded, generator, learner: opts.ema ? loaded.emaLearner : loaded.learner }, missing, config, log), log);
    return { dir, seed: loaded.config.seed, name: loaded.config.name, files };
  } finally {
    loaded.dispose();
  }
}

/** The numbers of each metric a summary over seeds shows: paths into its report. */
export const SUMMARY_STATISTICS: Record<string, string[]> = {
  fid: ['fid', 'floor'],
  kid: ['kid', 'floor'],
  is: ['score', 'floor'],
  pr: ['precision', 'recall'],
  support: ['fake.support', 'fake.supportFromPairs'],
};

/**
 * Provenance fields that must agree between runs for their numbers to be averaged. Not datasetKey: a run's
 * train/held-out split follows its seed (dataset.seed = config.seed), so runs of different seeds have
 * different reference subsets, and that variation belongs to the spread over seeds.
 */
export const COMPARABLE = ['extractor', 'extractorSha256', 'dataset', 'split', 'resolution', 'realSamples', 'fakeSamples'] as const;

export interface SeedRow {
  what: string;
  statistic: string;
  n: number;
  runs: string[];
  seeds: number[];
  values: number[];
  mean: number;
  sd: number;
  /** The 95% t-interval of the mean (null with one run). */
  lo: number | null;
  hi: number | null;
}

export interface SeedSummary {
  interval: string;
  /** The provenance the runs share (COMPARABLE fields), per metric. */
  provenance: Record<string, Record<string, unknown>>;
  /** Seeds that occur more than once (their runs are not independent draws). */
  repeatedSeeds: number[];
  rows: SeedRow[];
}

const at = (v: unknown, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);

/**
 * Mean, sd and 95% t-interval over runs (seeds) of each metric's headline numbers (SUMMARY_STATISTICS) of
 * the `learner` subject. Runs whose numbers are not comparable (another extractor, dataset, split,
 * resolution or sample count: COMPARABLE) are a UserError naming the field and the runs.
 */
export function metricsOverSeeds(runs: RunMetrics[]): SeedSummary {
  const whats = [...new Set(runs.flatMap((r) => r.files.map((f) => f.what)))].filter((w) => w in SUMMARY_STATISTICS);
  const rows: SeedRow[] = [];
  const provenance: Record<string, Record<string, unknown>> = {};
  for (const what of whats) {
    const have = runs.flatMap((r) => {
      const f = r.files.find((x) => x.what === what);
      const rep = f ? Object.values(f.results)[0] : undefined;
      return rep ? [{ r, rep }] : [];
    });
    const shared: Record<string, unknown> = {};
    for (const k of COMPARABLE) {
      const vals = have.map(({ rep }) => at(rep, `method.params.${k}`));
      const first = vals[0];
      const other = vals.findIndex((v) => JSON.stringify(v) !== JSON.stringify(first));
      if (other >= 0) {
        throw new UserError(`the runs' ${what} numbers are not comparable: ${k} is ${JSON.stringify(first)} in '${have[0].r.dir}' but ${JSON.stringify(vals[other])} in '${have[other].r.dir}'; measure them with the same extractor, dataset, resolution and sample counts.`);
      }
      if (first !== undefined) shared[k] = first;
    }
    provenance[what] = shared;
    for (const statistic of SUMMARY_STATISTICS[what]) {
      const pts = have.flatMap(({ r, rep }) => {
        const v = at(rep, statistic);
        return typeof v === 'number' ? [{ r, v }] : [];
      });
      if (!pts.length) continue;
      const t = tInterval(pts.map((p) => p.v));
      rows.push({ what, statistic, n: pts.length, runs: pts.map((p) => p.r.dir), seeds: pts.map((p) => p.r.seed), values: pts.map((p) => p.v), ...t });
    }
  }
  const seeds = runs.map((r) => r.seed);
  return { interval: INTERVAL_METHOD, provenance, repeatedSeeds: [...new Set(seeds.filter((s, i) => seeds.indexOf(s) !== i))], rows };
}

// ---------------------------------------------------------------------------------------------------------
// Verdict tests (src/experiments/verdict.ts judgeTest) on figure runs (src/experiments/run.ts measureRun)

export type QualityStat = 'fid' | 'kid';

/** A run's final FID or KID (the `learner` report of its analysis file; null when not measured). */
export function qualityValue(r: RunResult, what: QualityStat): number | null {
  const f = (r.analyses as Record<string, AnyAnalysisFile | undefined>)[what];
  const rep = f?.results.learner as Record<string, unknown> | undefined;
  const v = rep?.[what];
  return typeof v === 'number' ? v : null;
}

/**
 * The training-time trace of `fid/r<res>` or `kid/r<res>` (config.analysis.quality) over the steps of the
 * stage whose resolution is `res` (its stage steps, as the other claims' traces); null when not logged.
 */
export function qualityTrace(r: RunResult, what: QualityStat, res: number): TracePoint[] | null {
  const key = `${what}/r${res}`;
  const pts = r.metrics.flatMap((m) => (m.resolution === res && Number.isFinite(m[key]) ? [{ step: m.stageStep ?? m.step, value: m[key] }] : []));
  return pts.length ? pts : null;
}

/** The top resolution of a run (where its final FID/KID is measured). */
const topOf = (r: RunResult) => r.run.config.generator.resolutions[r.run.levels - 1] ?? r.run.config.generator.resolutions.at(-1)!;

/**
 * One test over seeds: a run set's final FID (or KID) against a threshold, with the logged traces for the
 * convergence rule. Runs without the metric are left out.
 */
export function qualityTest(runs: RunResult[], opts: { key: string; what: QualityStat; threshold: number; holdsWhen: 'below' | 'above' }): TestInput {
  const values = runs.flatMap((r) => {
    const v = qualityValue(r, opts.what);
    return v === null ? [] : [{ seed: r.run.seed, value: v, trace: qualityTrace(r, opts.what, topOf(r)) }];
  });
  return { key: opts.key, statistic: opts.what.toUpperCase(), threshold: opts.threshold, holdsWhen: opts.holdsWhen, values };
}

/**
 * A family comparison as a test: per seed, the final FID (or KID) of method A's run over that of method B's
 * run of the same seed, below 1 when A is better. Its trace: the ratio of the two logged traces at the
 * stage steps both logged (null when either did not log). Seeds without both runs are left out. B's own
 * traces are the test's trained reference: "holds" needs B to have stopped improving.
 */
export function pairedQualityTest(a: RunResult[], b: RunResult[], opts: { key: string; what: QualityStat; threshold?: number }): TestInput {
  const refs: (TracePoint[] | null)[] = [];
  const values = a.flatMap((ra) => {
    const rb = b.find((x) => x.run.seed === ra.run.seed);
    const va = qualityValue(ra, opts.what);
    const vb = rb ? qualityValue(rb, opts.what) : null;
    if (!rb || va === null || vb === null) return [];
    const ta = qualityTrace(ra, opts.what, topOf(ra));
    const own = qualityTrace(rb, opts.what, topOf(rb));
    const tb = new Map((own ?? []).map((p) => [p.step, p.value]));
    const tr = (ta ?? []).flatMap((p) => (tb.has(p.step) ? [{ step: p.step, value: p.value / tb.get(p.step)! }] : []));
    refs.push(own);
    return [{ seed: ra.run.seed, value: va / vb, trace: tr.length ? tr : null }];
  });
  // B is trained too: A's lead is not final while B's own FID/KID still falls (verdict.ts, "trained reference").
  const reference = { what: `the ${b[0]?.run.method ?? 'reference'} runs' ${opts.what.toUpperCase()}`, improvesWhen: 'below' as const, traces: refs };
  return { key: opts.key, statistic: `${opts.what.toUpperCase()} ratio`, threshold: opts.threshold ?? 1, holdsWhen: 'below', values, reference };
}
