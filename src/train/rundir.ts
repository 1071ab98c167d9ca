/**
 * The run directory, in one place: the paths of its files (layout in docs/training.md), its config.json
 * (read with one set of error messages), its metrics.jsonl (one validating reader), its stage records,
 * and its analysis cache. Training, `fsrgan analyze`, `fsrgan sample`, `fsrgan reproduce` and the
 * notebooks all go through here; checkpoints themselves are checkpoint.ts's, the lock lock.ts's.
 *
 * The analysis cache: `<run>/analysis/<what>-<key>.json`, where the key is a hash of what decides the
 * measurement's numbers: its settings (the parts of the analysis config it reads, registry entry
 * `settings`), the generator measured (trained or EMA), for measurements against real images which ones
 * (the training stream at the checkpoint, or the held-out ones), the run's config and its checkpoint. So
 * `fsrgan analyze` and `fsrgan reproduce` reuse each other's results whenever those agree. Files of
 * earlier versions (`<run>/figures/<what>-<hash>.json` of reproduce) are not read; `<run>/analysis/<what>.json`
 * is what `fsrgan analyze` last printed, a copy for people and notebooks, never read back as cache.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalysisConfig } from '../analysis/config.js';
import { measurement } from '../analysis/registry.js';
import { analysisFileProblems, parseJson, toJson, type AnyAnalysisFile } from '../analysis/validate.js';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { inTheWayError, outputError, UserError } from '../util/errors.js';
import { parseMetricsLines, type MetricsLine } from '../util/metrics-lines.js';
import { resolveConfig, type TrainConfig } from './config.js';
import { LOCK_FILE } from './lock.js';
import type { StageRecord } from './stages.js';

export type { MetricsLine } from '../util/metrics-lines.js';

/** The files and folders of a run directory. */
export interface RunPaths {
  dir: string;
  /** The full resolved config; written last when a run is created, so a folder without it is not a run. */
  config: string;
  /** Backend, tfjs version, creation time, the data source's description. */
  run: string;
  /** The synthetic teacher, when the data is one. */
  teacher: string;
  metrics: string;
  /** stages/<level>/stage.json. */
  stages: string;
  checkpoints: string;
  /** samples/step-<8 digits>/. */
  samples: string;
  /** The analysis cache and what `fsrgan analyze` last wrote. */
  analysis: string;
  lock: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: join(dir, 'config.json'),
    run: join(dir, 'run.json'),
    teacher: join(dir, 'teacher'),
    metrics: join(dir, 'metrics.jsonl'),
    stages: join(dir, 'stages'),
    checkpoints: join(dir, 'checkpoints'),
    samples: join(dir, 'samples'),
    analysis: join(dir, 'analysis'),
    lock: join(dir, LOCK_FILE),
  };
}

/** stages/<level>/stage.json of a run. */
export const stageRecordPath = (dir: string, level: number) => join(dir, 'stages', String(level), 'stage.json');

/** The sample-grid folder of step `step`. */
export const samplesPath = (dir: string, step: number) => join(dir, 'samples', `step-${String(step).padStart(8, '0')}`);

const isFile = (p: string) => stat(p).then((st) => st.isFile(), () => false);

// ---------------------------------------------------------------------------------------------------------
// config.json

/** Whether the folder holds a run (its config.json exists). */
export const hasRunConfig = (dir: string) => isFile(runPaths(dir).config);

/**
 * What to run once a disk problem that stopped training is fixed: a resume when the folder is a run
 * (config.json exists); before that, while the run was being created, there is nothing to resume, so the
 * same train command again (it starts over, overwriting the leftovers).
 */
export async function nextAfterStop(dir: string): Promise<string> {
  return (await hasRunConfig(dir))
    ? `resume with: fsrgan train --resume ${dir}`
    : `start the run again with fsrgan train --config <file> --out ${dir} (it stopped before its first checkpoint, so there is nothing to resume)`;
}

/** Reads and resolves a run's config.json; a folder whose creation was interrupted gets its own message. */
export async function readRunConfig(dir: string): Promise<TrainConfig> {
  const p = runPaths(dir);
  const raw = await readFile(p.config, 'utf8').catch(async () => {
    if (await isFile(p.run)) {
      throw new UserError(`'${dir}' holds a run that was interrupted before its first checkpoint (no config.json yet): start it again with fsrgan train --config <file> --out ${dir}.`);
    }
    throw new UserError(`'${dir}' is not a run directory (no config.json): pass the --out folder of fsrgan train.`);
  });
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new UserError(`${dir}/config.json is damaged (${(e as Error).message}): restore it, or start the run again.`);
  }
  try {
    return resolveConfig(json);
  } catch (e) {
    // Name the file: the same message for a config given with --config names that file instead.
    throw e instanceof UserError ? new UserError(`${p.config}: ${e.message}`) : e;
  }
}

/** Writes config.json (the step that makes a folder a run). */
export async function writeRunConfig(dir: string, config: TrainConfig): Promise<void> {
  await writeFileAtomic(runPaths(dir).config, JSON.stringify(config, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------------------
// metrics.jsonl

/**
 * The lines of a run's metrics.jsonl ([] when there is none yet), checked by parseMetricsLines: a
 * partial last line (a run killed mid-write) is skipped, any other bad line is a UserError naming it.
 */
export async function readMetrics(dir: string): Promise<MetricsLine[]> {
  const text = await readFile(runPaths(dir).metrics, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw e;
  });
  return parseMetricsLines(text);
}

// ---------------------------------------------------------------------------------------------------------
// stages/<level>/stage.json

export async function writeStageRecord(dir: string, rec: StageRecord): Promise<void> {
  const file = stageRecordPath(dir, rec.level);
  try {
    await mkdirs(join(file, '..'));
    await writeFileAtomic(file, JSON.stringify(rec, null, 2) + '\n');
  } catch (e) {
    throw inTheWayError(e, file, 'the stage record', `resume with: fsrgan train --resume ${dir}`);
  }
}

/** Tensor name -> hash, as hashVars writes it (a hand-edited record may hold anything). */
const isHashMap = (m: unknown) => !!m && typeof m === 'object' && !Array.isArray(m) && Object.values(m).every((h) => typeof h === 'string');

/** The record of stage `level`, or why it cannot be used ('it is missing', 'it is damaged (...)', ...). */
export async function readStageRecord(dir: string, level: number): Promise<{ record: StageRecord } | { problem: string }> {
  try {
    const rec = JSON.parse(await readFile(stageRecordPath(dir, level), 'utf8')) as StageRecord;
    if (rec && typeof rec === 'object' && rec.level === level && isHashMap(rec.frozenHashesStart) && isHashMap(rec.trainedHashesStart)) return { record: rec };
    return { problem: "it does not hold this stage's hashes" };
  } catch (e) {
    return { problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it is missing' : `it is damaged (${(e as Error).message})` };
  }
}

/** The stage records a run has written so far, by level (unusable ones left out). */
export async function listStageRecords(dir: string): Promise<StageRecord[]> {
  const levels = (await readdir(runPaths(dir).stages).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
  const out: StageRecord[] = [];
  for (const l of levels.sort((a, b) => a - b)) {
    const r = await readStageRecord(dir, l);
    if ('record' in r) out.push(r.record);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The analysis cache

/** What, besides the settings, decides a measurement's numbers on a run. */
export interface AnalysisSubject {
  /** The generator measured: the trained one, or its EMA (`fsrgan analyze --ema`). */
  generator: 'learner' | 'ema';
  /**
   * The real images of measurements that compare against them (registry `realData`): the training
   * stream at the checkpoint's position (`fsrgan analyze`) or the held-out images (`fsrgan reproduce`).
   */
  real: 'train' | 'held-out';
}

/** What the cache needs to know of a loaded run (src/train/run.ts's LoadedRun has it). */
export interface CachedRun {
  dir: string;
  config: TrainConfig;
  checkpoint: { step: number; weightsSha256: string };
}

const hashOf = (v: unknown, n: number) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, n);

/** The cache key of measurement `what` on a run: every input its numbers depend on (stored in the file too). */
export function analysisKey(run: CachedRun, what: string, config: AnalysisConfig, subject: AnalysisSubject): Record<string, unknown> {
  const m = measurement(what);
  return {
    what,
    settings: m.settings(config),
    generator: subject.generator,
    real: m.realData ? subject.real : null,
    runConfig: hashOf(run.config, 16),
    checkpoint: { step: run.checkpoint.step, weightsSha256: run.checkpoint.weightsSha256 },
  };
}

/** The cache file of a key: `<run>/analysis/<what>-<12 hex digits>.json`. */
export function analysisCachePath(dir: string, key: Record<string, unknown>): string {
  return join(runPaths(dir).analysis, `${String(key.what)}-${hashOf(key, 12)}.json`);
}

/** A cached file when it is there, readable, valid and stored under exactly this key; else null. */
async function readCached(path: string, key: Record<string, unknown>): Promise<AnyAnalysisFile | null> {
  let v: unknown;
  try {
    v = parseJson(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const { cacheKey, ...file } = v as Record<string, unknown>;
  if (JSON.stringify(cacheKey) !== JSON.stringify(key) || analysisFileProblems(file).length || file.what !== key.what) return null;
  return file as unknown as AnyAnalysisFile;
}

/**
 * The analyses `what` of a run, in that order: each read from the cache when stored under the same key,
 * the others computed together by `compute(missing)` (which returns them in the order asked) and stored.
 * A cache file that is damaged or from another key is recomputed and replaced.
 */
export async function cachedAnalyses(
  run: CachedRun,
  what: readonly string[],
  config: AnalysisConfig,
  subject: AnalysisSubject,
  compute: (missing: string[]) => AnyAnalysisFile[],
  log: (line: string) => void = () => {},
): Promise<AnyAnalysisFile[]> {
  const keys = new Map(what.map((w) => [w, analysisKey(run, w, config, subject)]));
  const found = new Map<string, AnyAnalysisFile>();
  for (const [w, key] of keys) {
    const f = await readCached(analysisCachePath(run.dir, key), key);
    if (f) found.set(w, f), log(`analyze: ${w} reused from ${analysisCachePath(run.dir, key)}`);
  }
  const missing = what.filter((w) => !found.has(w));
  if (missing.length) {
    const files = compute(missing);
    try {
      await mkdirs(runPaths(run.dir).analysis);
      for (const f of files) {
        const key = keys.get(f.what)!;
        await writeFileAtomic(analysisCachePath(run.dir, key), toJson({ ...f, cacheKey: key }) + '\n');
        // As a later call will read it back (JSON keeps every finite double; -0 becomes 0).
        found.set(f.what, parseJson(toJson(f)) as AnyAnalysisFile);
      }
    } catch (e) {
      throw outputError(e, runPaths(run.dir).analysis, 'the analysis folder');
    }
  }
  return what.map((w) => found.get(w)!);
}
