/**
 * The measurement registry and the run directory's analysis cache (issue 18 items 3 and 4): a measurement
 * added by one registry entry appears in `fsrgan analyze`, its printed JSON and `<run>/analysis/<what>.json`;
 * analyze reuses a cached result with the same key and recomputes one whose key differs; the keys of
 * `analyze` and `reproduce` agree except where the real images differ; the run directory's readers
 * (config.json, metrics.jsonl, stage records) say what is wrong in one way.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { run as analyze } from '../src/cli/analyze.js';
import {
  analysisFileProblems,
  defaultWhat,
  defineMeasurement,
  formatAnalysis,
  measurementNames,
  parseAnalysisFile,
  parseJson,
  pick,
  registerMeasurement,
  resolveAnalysisConfig,
  BUILTIN,
  table,
  type AnyAnalysisFile,
} from '../src/analysis/index.js';
import { num, report } from '../src/analysis/schema.js';
import { train } from '../src/train/trainer.js';
import { analysisCachePath, analysisKey, cachedAnalyses, listStageRecords, readMetrics, readRunConfig, type CachedRun } from '../src/train/rundir.js';
import { UserError } from '../src/util/errors.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';

interface ToyReport {
  kind: 'toy';
  method: { computation: string; params: Record<string, number> };
  /** Mean absolute weight of G's output head per resolution, times `scale` (the toy's one setting). */
  heads: number[];
}

/** Calls of the toy's onRun, to see what the cache saves. */
let toyCalls = 0;

/** A measurement defined entirely here: one entry, registered at run time. */
const toy = defineMeasurement<ToyReport, 'toy'>({
  name: 'toy',
  schema: report('toy', { heads: { array: num } }),
  defaults: { run: true, teacher: false },
  settings: (c) => ({ ...pick(c, 'seed'), scale: 2 }),
  onRun: ({ run }) => {
    toyCalls++;
    const heads = run.generator.shape.resolutions.map((r) => 2 * (tf.tidy(() => tf.mean(tf.abs(run.generator.blocks[r].out)).dataSync()[0]) as number));
    return { learner: { kind: 'toy', method: { computation: 'mean |A_l| x scale', params: { scale: 2 } }, heads } };
  },
  format: (results) => table(['subject', 'heads'], results.map(([k, r]) => [k, r.heads.map((h) => h.toFixed(4)).join(' ')])),
});

let root = '';
let runDir = '';
let source: PlantedSource;
let unregister = () => {};

/** Runs the analyze CLI; returns stdout. */
async function cli(args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    expect(await analyze([...args, '--backend', 'wasm'])).toBe(0);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return lines.join('\n');
}

beforeAll(async () => {
  await initBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'fsrgan-registry-'));
  runDir = join(root, 'run');
  source = new PlantedSource();
  await train(tinyConfig({ train: { steps: 2 } }), runDir, { source });
  unregister = registerMeasurement(toy);
}, 60_000);

afterAll(async () => {
  unregister();
  source?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('a measurement added by one registry entry', () => {
  it('is known to --what, the default lists, the validators and the tables', () => {
    expect(measurementNames()).toContain('toy');
    expect(defaultWhat('run')).toEqual(['sparsity', 'moments', 'alignment', 'locality', 'swd', 'toy']);
    expect(defaultWhat('teacher')).toEqual(['sparsity', 'moments', 'locality']);
    expect(analysisFileProblems({ what: 'toy', source: 's', backend: 'wasm', seconds: 0, results: { a: { kind: 'toy', method: { computation: 'x', params: {} }, heads: ['1'] } } })).toEqual([
      'file.results.a.heads[0] must be a number',
    ]);
    expect(() => registerMeasurement(toy)).toThrow(/already registered/);
    expect(() => registerMeasurement({ ...BUILTIN[0], name: 'Bad Name' })).toThrow(/not a lower-case word/);
  });

  it('appears in fsrgan analyze on a trained run: in the printed JSON, in <run>/analysis/toy.json and in the table', async () => {
    toyCalls = 0;
    const printed = parseJson(await cli([runDir, '--what', 'sparsity,toy', '--samples', '16', '--json'])) as AnyAnalysisFile[];
    expect(printed.map((f) => f.what)).toEqual(['sparsity', 'toy']);
    const heads = (printed[1].results.learner as ToyReport).heads;
    expect(heads).toHaveLength(3);
    expect(heads.every((h) => Number.isFinite(h) && h > 0)).toBe(true);
    const saved = parseAnalysisFile(await readFile(join(runDir, 'analysis', 'toy.json'), 'utf8')) as unknown as AnyAnalysisFile;
    expect(saved.results).toEqual(printed[1].results);
    expect(toyCalls).toBe(1);
    const text = await cli([runDir, '--what', 'toy']);
    expect(text).toMatch(/^toy \(.*\)\nsubject\s+heads\nlearner\s+[0-9.]+ [0-9.]+ [0-9.]+/);
    expect(formatAnalysis(saved)[1]).toMatch(/^subject\s+heads$/);
    await expect(analyze(['--teacher', 'experiments/teacher-small.json', '--what', 'toy', '--backend', 'wasm'])).rejects.toThrow(/toy cannot run on a teacher alone/);
  });

  it('is cached in the run directory: the same settings reuse it, other settings recompute it', async () => {
    toyCalls = 0;
    await cli([runDir, '--what', 'toy', '--json']);
    expect(toyCalls).toBe(0);
    await cli([runDir, '--what', 'toy', '--seed', '5', '--json']);
    expect(toyCalls).toBe(1);
    // A damaged cache file is recomputed and replaced, not an error.
    const files = (await readdir(join(runDir, 'analysis'))).filter((f) => /^toy-[0-9a-f]{12}\.json$/.test(f));
    expect(files).toHaveLength(2);
    for (const f of files) await writeFile(join(runDir, 'analysis', f), '{"what": "toy"');
    await cli([runDir, '--what', 'toy', '--json']);
    expect(toyCalls).toBe(2);
    // Sparsity's key does not depend on the toy's settings or the locality ones: changing those keeps it.
    const before = await readFile(join(runDir, 'analysis', 'sparsity.json'), 'utf8');
    await cli([runDir, '--what', 'sparsity', '--samples', '16', '--set', 'locality.samples=3']);
    expect(await readFile(join(runDir, 'analysis', 'sparsity.json'), 'utf8')).toBe(before);
  });
});

describe('the analysis cache key', () => {
  const cached = (over: Partial<CachedRun> = {}): CachedRun => ({ dir: root, config: tinyConfig(), checkpoint: { step: 6, weightsSha256: 'ab' }, ...over });
  const c = resolveAnalysisConfig({ samples: 16 });
  const path = (what: string, real: 'train' | 'held-out', run = cached()) => analysisCachePath(run.dir, analysisKey(run, what, c, { generator: 'learner', real }));

  it('is shared by analyze (training stream) and reproduce (held-out) except for measurements of real images', () => {
    expect(path('sparsity', 'train')).toBe(path('sparsity', 'held-out'));
    expect(path('toy', 'train')).toBe(path('toy', 'held-out'));
    expect(path('moments', 'train')).not.toBe(path('moments', 'held-out'));
  });

  it('changes with the checkpoint, the run config, the generator and the measurement settings', () => {
    const base = path('sparsity', 'train');
    expect(path('sparsity', 'train', cached({ checkpoint: { step: 6, weightsSha256: 'cd' } }))).not.toBe(base);
    expect(path('sparsity', 'train', cached({ config: tinyConfig({ seed: 4 }) }))).not.toBe(base);
    const run = cached();
    expect(analysisCachePath(root, analysisKey(run, 'sparsity', c, { generator: 'ema', real: 'train' }))).not.toBe(base);
    expect(analysisCachePath(root, analysisKey(run, 'sparsity', { ...c, sparsity: { tau: 0.2 } }, { generator: 'learner', real: 'train' }))).not.toBe(base);
    expect(analysisCachePath(root, analysisKey(run, 'sparsity', { ...c, swd: { ...c.swd, directions: 3 } }, { generator: 'learner', real: 'train' }))).toBe(base);
  });

  it('computes only what is missing, in one call, and returns the files in the order asked', async () => {
    const dir = join(root, 'cache-only');
    const run = cached({ dir });
    const file = (what: string): AnyAnalysisFile => ({ what, source: dir, backend: 'wasm', seconds: 0, results: { learner: { kind: 'toy', method: { computation: 'x', params: {} }, heads: [what.length] } } });
    const asked: string[][] = [];
    const compute = (missing: string[]) => (asked.push(missing), missing.map(() => file('toy')));
    const first = await cachedAnalyses(run, ['toy'], c, { generator: 'learner', real: 'held-out' }, compute);
    const again = await cachedAnalyses(run, ['toy'], c, { generator: 'learner', real: 'train' }, compute);
    expect(asked).toEqual([['toy']]);
    expect(again).toEqual(first);
    // A file of an earlier reproduce (<run>/figures/<what>-<hash>.json) is not read.
    await mkdir(join(dir, 'figures'), { recursive: true });
    await writeFile(join(dir, 'figures', 'toy-a4019eeb.json'), 'old');
    expect(await cachedAnalyses(run, ['toy'], c, { generator: 'learner', real: 'train' }, compute)).toEqual(first);
  });
});

describe('the run directory readers', () => {
  it('read config.json, metrics.jsonl (a partial last line skipped) and the stage records of a trained run', async () => {
    expect((await readRunConfig(runDir)).name).toBe('tiny');
    const lines = await readMetrics(runDir);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => typeof l.step === 'number')).toBe(true);
    expect((await listStageRecords(runDir)).map((r) => r.level)).toEqual([1, 2, 3]);
    const copy = join(root, 'metrics-copy');
    await mkdir(copy);
    const text = await readFile(join(runDir, 'metrics.jsonl'), 'utf8');
    await writeFile(join(copy, 'metrics.jsonl'), text + '{"step": 99, "lo');
    expect(await readMetrics(copy)).toEqual(lines);
    await writeFile(join(copy, 'metrics.jsonl'), '{"step": 1}\n{"nostep": 1}\n');
    await expect(readMetrics(copy)).rejects.toThrow(/metrics.jsonl line 2 has no numeric "step"/);
    expect(await readMetrics(join(root, 'nowhere'))).toEqual([]);
  });

  it('say what is wrong with a folder that is not a run, in one wording', async () => {
    await expect(readRunConfig(root)).rejects.toThrow(UserError);
    await expect(readRunConfig(root)).rejects.toThrow(/is not a run directory \(no config.json\)/);
    const bad = join(root, 'damaged');
    await mkdir(bad);
    await writeFile(join(bad, 'config.json'), '{');
    await expect(readRunConfig(bad)).rejects.toThrow(/config.json is damaged .*restore it, or start the run again/);
  });
});
