/**
 * The metrics where runs are compared (src/experiments/quality.ts): the summary over seeds with the
 * verdicts' t-interval, refused for runs measured differently; FID/KID as verdict tests (one method against
 * a threshold, two methods paired by seed) whose verdicts follow planted numbers; and end to end on
 * Fashion-MNIST, `fsrgan train` logging fid/r32 and kid/r32 and `fsrgan metrics RUN1 RUN2` summing up
 * (one run given twice: Fashion-MNIST takes seconds per load).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { metricsOverSeeds, pairedQualityTest, qualityTest, qualityTrace, type RunMetrics } from '../src/experiments/quality.js';
import { judgeTest, tInterval } from '../src/experiments/verdict.js';
import type { RunResult } from '../src/report/figure-data.js';
import type { ImageSet } from '../src/data/dataset.js';
import { trainExtractor, writeExtractor } from '../src/metrics/train-extractor.js';
import { qualityProvenancePath } from '../src/train/quality-hooks.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';

const FASHION = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const params = (over: Record<string, unknown> = {}) => ({ extractor: 'fsrgan-cnn-x', extractorSha256: 'a'.repeat(16), dataset: 'x', datasetKey: 'k', split: 'train', resolution: 32, realSamples: 100, fakeSamples: 50, ...over });
function runMetricsOf(dir: string, seed: number, fid: number, kid: number, over: Record<string, unknown> = {}): RunMetrics {
  const file = (what: string, rep: Record<string, unknown>) => ({ what, source: dir, backend: 'wasm', seconds: 0, results: { learner: { kind: what, method: { computation: '', params: params(over) }, ...rep } } });
  return { dir, seed, name: 'cfg', files: [file('fid', { fid, meanTerm: 0, covTerm: fid, floor: 1 }), file('kid', { kid, std: 0.1, subsets: 3, subsetSize: 10, floor: null, floorStd: null })] };
}

describe('metricsOverSeeds', () => {
  it('gives each headline number over runs with the t-interval of the verdicts', () => {
    const s = metricsOverSeeds([runMetricsOf('a', 0, 10, 0.5), runMetricsOf('b', 1, 12, 0.7), runMetricsOf('c', 2, 17, 0.6)]);
    const fid = s.rows.find((r) => r.what === 'fid' && r.statistic === 'fid')!;
    expect(fid).toMatchObject({ n: 3, seeds: [0, 1, 2], values: [10, 12, 17], ...tInterval([10, 12, 17]) });
    expect(fid.lo).toBeLessThan(13);
    expect(fid.hi).toBeGreaterThan(13);
    // A null floor (KID without one) is left out; FID's floor is summed up too.
    expect(s.rows.map((r) => `${r.what}.${r.statistic}`)).toEqual(['fid.fid', 'fid.floor', 'kid.kid']);
    expect(s.provenance.fid).toMatchObject({ extractorSha256: 'a'.repeat(16), resolution: 32, fakeSamples: 50 });
    expect(s.repeatedSeeds).toEqual([]);
    expect(metricsOverSeeds([runMetricsOf('a', 4, 1, 0), runMetricsOf('b', 4, 2, 0)]).repeatedSeeds).toEqual([4]);
  });

  it('refuses runs measured with another extractor, resolution or sample count, naming the field and both runs', () => {
    const a = runMetricsOf('run-a', 0, 10, 0.5);
    expect(() => metricsOverSeeds([a, runMetricsOf('run-b', 1, 12, 0.7, { extractorSha256: 'b'.repeat(16) })])).toThrow(UserError);
    expect(() => metricsOverSeeds([a, runMetricsOf('run-b', 1, 12, 0.7, { extractorSha256: 'b'.repeat(16) })])).toThrow(/fid numbers are not comparable: extractorSha256 .*'run-a'.*'run-b'/);
    expect(() => metricsOverSeeds([a, runMetricsOf('run-b', 1, 12, 0.7, { fakeSamples: 51 })])).toThrow(/fakeSamples/);
    expect(() => metricsOverSeeds([a, runMetricsOf('run-b', 1, 12, 0.7, { resolution: 16 })])).toThrow(/resolution/);
  });
});

/** A figure run with a final FID and a logged fid/r32 trace that falls from `from` times it and settles there (or still falls steeply). */
function figureRun(method: string, seed: number, final: number, settled = true, from = 2): RunResult {
  const rng = new Rng(seed, `test/${method}`);
  const metrics = Array.from({ length: 20 }, (_, i) => {
    const step = (i + 1) * 10;
    const v = settled ? final * ((i < 5 ? from - ((from - 1) * i) / 5 : 1) + 0.002 * (rng.uniform() - 0.5)) : final * (3 - (2 * i) / 19);
    return { step: 400 + step, stageStep: step, resolution: 32, stage: 3, 'fid/r32': v, 'fid/r16': 1 };
  });
  const config = { generator: { resolutions: [8, 16, 32], patch: 4 }, discriminator: { crop: 0 }, analysis: { every: 10, samples: 64 }, train: { steps: 200, stepsByLevel: [] } };
  const fid = { what: 'fid', source: '', backend: 'wasm', seconds: 0, results: { learner: { kind: 'fid', method: { computation: '', params: {} }, fid: final, meanTerm: 0, covTerm: final, floor: 1 } } };
  return { run: { id: `${method}-${seed}`, name: `emoji/${method}`, method, data: 'emoji', seed, levels: 3, config }, dir: '', analyses: { fid } as RunResult['analyses'], metrics, samples: {}, tiles: null, recoveryRandom: null };
}

describe('FID as verdict tests', () => {
  const a = [20, 21, 23].map((f, s) => figureRun('layerwise', s, f));
  // The DCGAN's FID starts higher (3x its final value against 2x), so the paired ratio moves, then settles.
  const b = [40, 44, 41].map((f, s) => figureRun('dcgan', s, f, true, 3));

  it('one method against a threshold: the final values over seeds, the trace of its top stage', () => {
    const t = qualityTest(a, { key: 'emoji/layerwise', what: 'fid', threshold: 30, holdsWhen: 'below' });
    expect(t.values.map((v) => v.value)).toEqual([20, 21, 23]);
    expect(t.values[0].trace).toHaveLength(20);
    expect(judgeTest(t).verdict).toBe('holds');
    expect(judgeTest({ ...t, threshold: 10 }).verdict).toBe('does not hold');
    // Still falling steeply toward the threshold: not a "does not hold" from an unconverged run.
    const moving = [20, 21, 23].map((f, s) => figureRun('layerwise', s, f, false));
    expect(judgeTest(qualityTest(moving, { key: 'k', what: 'fid', threshold: 10, holdsWhen: 'below' })).verdict).toBe('inconclusive');
    expect(qualityTrace(a[0], 'kid', 32)).toBeNull();
  });

  it('two methods paired by seed: the ratio A/B, holding when A is better, not when the roles swap', () => {
    const t = pairedQualityTest(a, b, { key: 'emoji/layerwise-vs-dcgan', what: 'fid' });
    expect(t.values.map((v) => v.value)).toEqual([20 / 40, 21 / 44, 23 / 41]);
    expect(t.values.every((v) => v.trace && v.trace.length === 20)).toBe(true);
    expect(judgeTest(t).verdict).toBe('holds');
    expect(judgeTest(pairedQualityTest(b, a, { key: 'swapped', what: 'fid' })).verdict).toBe('does not hold');
    // B still improving (its FID falling steeply to the end): A's lead is not final, so inconclusive.
    const learningB = [40, 44, 41].map((f, s) => figureRun('dcgan', s, f, false));
    const open = judgeTest(pairedQualityTest(a, learningB, { key: 'k', what: 'fid' }));
    expect(open.reference).toMatchObject({ what: "the dcgan runs' FID", improving: true });
    expect(open.verdict).toBe('inconclusive');
    // A seed without its partner run is left out.
    expect(pairedQualityTest(a, b.slice(0, 2), { key: 'k', what: 'fid' }).values).toHaveLength(2);
  });
});

describe('end to end on Fashion-MNIST', () => {
  it.skipIf(!FASHION)('fsrgan train logs fid/r32 and kid/r32; fsrgan metrics RUN1 RUN2 writes the summary with the interval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fsrgan-metrics-seeds-'));
    dirs.push(dir);
    // Any fsrgan extractor serves the plumbing; a tiny one trained on random 2-class images.
    const r = 32;
    const count = 64;
    const rng = new Rng(3, 'test/metrics-seeds');
    const pixels = Uint8Array.from({ length: count * r * r * 3 }, () => rng.int(256));
    const set: ImageSet = { name: 'noise', count, resolution: r, channels: 3, pixels, labels: Int32Array.from({ length: count }, (_, i) => i % 2), classNames: ['a', 'b'], license: 'CC0', attribution: '', provenance: {} };
    const t = trainExtractor(set, { dataset: 'noise', splitSeed: 0, heldOutFraction: 0.25, steps: 2, batch: 8, learningRate: 1e-3, seed: 1, augment: false });
    await writeExtractor(join(dir, 'ex'), t);
    tf.dispose([...t.params.values()]);
    const model = join(dir, 'ex', 'model.json');
    const cache = join(dir, 'cache');
    const spies = [vi.spyOn(console, 'log').mockImplementation(() => {}), vi.spyOn(console, 'error').mockImplementation(() => {}), vi.spyOn(console, 'warn').mockImplementation(() => {})];
    try {
      // One run (Fashion-MNIST loads take seconds each), measured twice: the plumbing of the summary; its numerics are tested above.
      const runs = [join(dir, 'run-0')];
      for (const [s, out] of runs.entries()) {
        const args = ['train', '--config', 'experiments/smoke.json', '--out', out, '--backend', 'wasm', '--seed', String(s), '--set', 'data=fashion-mnist', 'train.steps=2', 'train.batch=8', 'log.every=1', 'log.checkpointEvery=2', 'log.sampleEvery=100'];
        args.push('analysis.every=2', 'analysis.samples=16', 'analysis.moments=false', 'analysis.alignment=false', 'analysis.quality.what=["fid","kid"]', `analysis.quality.extractor=${model}`, 'analysis.quality.realSamples=64', `analysis.quality.cacheDir=${cache}`);
        const code = await main(args);
        if (code !== 0) throw new Error(spies.flatMap((x) => x.mock.calls.flat()).filter((l) => /error|not /i.test(String(l))).join('\n').slice(-2000));
      }
      const lines = readFileSync(join(runs[0], 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
      const top = lines.filter((l) => l['fid/r32'] !== undefined);
      expect(top.length).toBeGreaterThan(0);
      expect(top[0]['kid/r32']).toBeTypeOf('number');
      expect(JSON.parse(readFileSync(qualityProvenancePath(runs[0]), 'utf8'))).toMatchObject({ dataset: 'fashion-mnist', fakeSamples: 16, realSamples: 64 });
      const out = join(dir, 'summary');
      const quick = ['samples=48', 'metrics.realSamples=64', `metrics.cacheDir=${cache}`, 'kid.subsets=3', 'kid.subsetSize=16'];
      const code = await main(['metrics', runs[0], runs[0], '--what', 'fid,kid', '--extractor', model, '--out', out, '--backend', 'wasm', '--set', ...quick]);
      if (code !== 0) throw new Error(spies.flatMap((x) => x.mock.calls.flat()).filter((l) => /error|not /i.test(String(l))).join('\n').slice(-2000));
      const summary = JSON.parse(readFileSync(join(out, 'metrics-summary.json'), 'utf8'));
      const fid = summary.rows.find((x: { what: string; statistic: string }) => x.what === 'fid' && x.statistic === 'fid');
      expect(fid).toMatchObject({ n: 2, seeds: [0, 0], sd: 0, lo: fid.mean, hi: fid.mean });
      expect(fid.mean).toBeGreaterThan(0);
      expect(summary.repeatedSeeds).toEqual([0]);
      expect(summary.interval).toMatch(/t-interval/);
      expect(summary.provenance.fid).toMatchObject({ dataset: 'fashion-mnist', resolution: 32, fakeSamples: 48 });
      for (const run of runs) expect(existsSync(join(run, 'analysis', 'fid.json'))).toBe(true);
      const printed = spies[0].mock.calls.flat().join('\n');
      expect(printed).toMatch(/over 2 runs \(seeds 0, 0\)/);
      expect(printed).toMatch(/seed\(s\) 0 occur more than once/);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
  });
});
