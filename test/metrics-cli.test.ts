/**
 * The metrics as registry measurements and as `fsrgan metrics`: analyzeRun with fid, kid, is, pr and support
 * on in-memory run pieces (valid reports, provenance in every one, the real reference cached, no tensor left
 * behind), a teacher run refused, and the CLI end to end on a tiny Fashion-MNIST run (files, the analysis
 * cache reused on the second call) with its user errors.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { analysisFileProblems, analyzeRun, formatAnalysis, parseJson, resolveAnalysisConfig, toJson } from '../src/analysis/index.js';
import { run } from '../src/cli/metrics.js';
import { main } from '../src/cli/main.js';
import { ImageDataset, type ImageSet } from '../src/data/dataset.js';
import { TeacherSource } from '../src/data/teacher.js';
import { createLearner, DEFAULT_INIT, disposeLearner, type Learner } from '../src/models/learner.js';
import { trainExtractor, writeExtractor } from '../src/metrics/train-extractor.js';
import { buildTeacher, disposeTeacher, resolveTeacherConfig } from '../src/teacher/index.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';

const FASHION = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const METRICS = ['fid', 'kid', 'is', 'pr', 'support'];

/** A small 4-class 32x32 RGB set: a coloured square whose corner is the class. */
function plantedSet(name: string, count = 1200): ImageSet {
  const rng = new Rng(9, 'test/metrics-cli');
  const r = 32;
  const pixels = new Uint8Array(count * r * r * 3);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 4);
  for (let i = 0; i < count; i++) {
    const k = labels[i];
    for (let p = 0; p < r * r * 3; p++) pixels[i * r * r * 3 + p] = rng.int(80);
    const y0 = k < 2 ? 2 : 18;
    const x0 = k % 2 ? 18 : 2;
    for (let y = y0; y < y0 + 12; y++) for (let x = x0; x < x0 + 12; x++) pixels[(i * r * r + y * r + x) * 3 + (k % 3)] = 255;
  }
  return { name, count, resolution: r, channels: 3, pixels, labels, classNames: ['a', 'b', 'c', 'd'], license: 'CC0', attribution: '', provenance: {} };
}

let dir: string;
let modelPath: string;
let learner: Learner;
const set = plantedSet('planted-metrics-cli');
const SHAPE = { resolutions: [8, 16, 32], channels: [8, 8, 8], zDim: 8, kernel: 4, patch: 4, imageChannels: 3 };
const quick = (cache: string) => ['samples=96', 'metrics.realSamples=300', `metrics.cacheDir=${cache}`, 'kid.subsets=3', 'kid.subsetSize=64', 'support.samples=96', 'support.quantile=0.01', 'support.trials=20', 'is.splits=4'];

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'fsrgan-metrics-cli-'));
  const t = trainExtractor(set, { dataset: set.name, splitSeed: 0, heldOutFraction: 0.25, steps: 40, batch: 32, learningRate: 2e-3, seed: 1, augment: false });
  await writeExtractor(join(dir, 'ex'), t);
  tf.dispose([...t.params.values()]);
  modelPath = join(dir, 'ex', 'model.json');
  learner = createLearner(SHAPE, new Rng(2, 'init'));
});

afterAll(() => {
  disposeLearner(learner);
  rmSync(dir, { recursive: true, force: true });
});

describe('the metrics in the measurement registry (analyzeRun)', () => {
  const pieces = () => ({
    dir: 'in-memory',
    config: { seed: 1, generator: { init: DEFAULT_INIT } },
    generator: learner.params,
    discriminators: new Map(),
    source: new ImageDataset(set, { seed: 0, heldOutFraction: 0.25, minResolution: 8 }),
    teacher: null,
    outputs: [8, 16],
  });

  it('gives valid reports with provenance in each, caches the real reference, leaks no tensor', () => {
    const cache = join(dir, 'cache-a');
    const config = resolveAnalysisConfig({}, [...quick(cache), `metrics.extractor=${modelPath}`]);
    const before = tf.memory().numTensors;
    const files = analyzeRun(pieces(), METRICS, config);
    expect(tf.memory().numTensors).toBe(before);
    expect(files.map((f) => f.what)).toEqual(METRICS);
    for (const f of files) {
      expect(analysisFileProblems(parseJson(toJson(f)))).toEqual([]);
      expect(formatAnalysis(f).length).toBeGreaterThan(1);
      const p = (f.results.learner as { method: { params: Record<string, unknown> } }).method.params;
      // The generator's top trained level is r16: real images are pooled to 16 and both resized to 32.
      expect(p).toMatchObject({ extractor: `fsrgan-cnn-${set.name}`, dataset: set.name, split: 'train', resolution: 16, realSamples: 300, fakeSamples: 96, floorSamples: 96, latentSeed: 0 });
      expect(String(p.extractorSha256)).toMatch(/^[0-9a-f]{16}$/);
    }
    const [fid, kid, is, pr] = files.map((f) => f.results.learner as unknown as Record<string, number> & { floor: unknown });
    // An untrained generator against its floor: far worse on every metric.
    expect(fid.fid).toBeGreaterThan(5 * (fid.floor as number));
    expect(kid.kid).toBeGreaterThan(kid.floor as number);
    expect(is.score).toBeGreaterThanOrEqual(1);
    expect(is.score).toBeLessThanOrEqual(4);
    expect(pr.recall).toBeLessThan((pr.floor as { recall: number }).recall);
    // Reference, floor set and k-NN radii, each stored once and read back by a second call.
    const stored = readdirSync(cache).sort();
    expect(stored.filter((f) => f.endsWith('.f32'))).toHaveLength(3);
    const again = analyzeRun(pieces(), ['fid'], config);
    expect(readdirSync(cache).sort()).toEqual(stored);
    expect(again[0].results.learner).toEqual(files[0].results.learner);
  });

  it('says what to do without an extractor, on a teacher run and on --teacher', () => {
    const config = resolveAnalysisConfig({}, quick(join(dir, 'cache-b')));
    expect(() => analyzeRun(pieces(), ['fid'], config)).toThrow(/no feature extractor for planted-metrics-cli yet: run `fsrgan metrics in-memory`/);
    const teacher = buildTeacher(resolveTeacherConfig({ resolutions: [4, 8], channels: [4, 4], zDim: 4, kernel: 4, patch: 2, targetActive: [2, 2], calibrationSamples: 64, seed: 3 }));
    try {
      const onTeacher = { ...pieces(), source: new TeacherSource(teacher, 1), teacher, generator: teacher.params, outputs: [4, 8] };
      expect(() => analyzeRun(onTeacher, ['kid'], config)).toThrow(/fsrgan has none for the synthetic teacher/);
    } finally {
      disposeTeacher(teacher);
    }
    expect(() => resolveAnalysisConfig({}, ['metrics.split=test'])).toThrow(/analysis.metrics.split must be one of train, heldout/);
    expect(() => resolveAnalysisConfig({}, ['kid.subsets=0'])).toThrow(/analysis.kid.subsets must be a positive integer/);
  });
});

describe('fsrgan metrics', () => {
  const quiet = () => [vi.spyOn(console, 'log').mockImplementation(() => {}), vi.spyOn(console, 'error').mockImplementation(() => {})];

  it('user mistakes are UserErrors naming the field and the fix', async () => {
    await expect(run([join(dir, 'not-a-run')])).rejects.toThrow(/is not a run directory \(no config.json\)/);
    await expect(run([dir, '--what', 'fid,swd'])).rejects.toThrow(/'swd' is not a sample-quality metric/);
    await expect(run([dir, '--what', 'fid,nope'])).rejects.toThrow(/--what: unknown measurement 'nope'/);
    await expect(run([])).rejects.toThrow(/give a run directory/);
    await expect(run(['train-extractor'])).rejects.toThrow(/needs --dataset/);
    await expect(run(['train-extractor', '--dataset', 'cifar-10'])).rejects.toThrow(/unknown dataset 'cifar-10'/);
    await expect(run(['train-extractor', '--dataset', 'experiments/teacher-small.json'])).rejects.toThrow(/no extractor for the synthetic teacher/);
    const spies = quiet();
    try {
      expect(await main(['metrics', join(dir, 'not-a-run')])).toBe(2);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    await expect(run([dir, '--set', 'kid.subsetSize=1'])).rejects.toThrow(UserError);
  });

  it.skipIf(!FASHION)('measures a tiny Fashion-MNIST run with a given extractor, writes the files and reuses the cache', async () => {
    const runDir = join(dir, 'run');
    const spies = quiet();
    try {
      const trainArgs = ['train', '--config', 'experiments/smoke.json', '--out', runDir, '--backend', 'wasm', '--set', 'data=fashion-mnist', 'train.steps=2', 'train.batch=8', 'log.every=1', 'log.checkpointEvery=2', 'log.sampleEvery=100'];
      expect(await main(trainArgs)).toBe(0);
      // The extractor of this test was trained on other images; any model.json will do for the plumbing.
      const args = [runDir, '--extractor', modelPath, '--backend', 'wasm', '--set', ...quick(join(dir, 'cache-c'))];
      expect(await main(['metrics', ...args])).toBe(0);
      for (const w of METRICS) expect(existsSync(join(runDir, 'analysis', `${w}.json`))).toBe(true);
      const fid = JSON.parse(readFileSync(join(runDir, 'analysis', 'fid.json'), 'utf8'));
      expect(fid.results.learner.method.params).toMatchObject({ dataset: 'fashion-mnist', resolution: 32, fakeSamples: 96 });
      const err = spies[1];
      err.mockClear();
      expect(await main(['metrics', ...args, '--what', 'fid,kid'])).toBe(0);
      expect(err.mock.calls.flat().join('\n')).toMatch(/fid reused from/);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
  });
});
