/**
 * FID and KID outside the registry (src/analysis/quality.ts: a sampler and a dataset in, numbers with
 * provenance out) and logged during training (config.analysis.quality, src/train/quality-hooks.ts):
 * ordered on planted samplers (real images < one class only < noise), equal to an independent computation,
 * off by default (the run id's config key unchanged), refused on a teacher and without an extractor with
 * the command to run, no tensor left between firings, and training bit-identical with them on and off.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { ImageDataset, type ImageSet } from '../src/data/dataset.js';
import { generatorImages } from '../src/analysis/context.js';
import { arraySampler, QualityMeter, sampleQuality, type Sampler } from '../src/analysis/quality.js';
import { trainExtractor, writeExtractor } from '../src/metrics/train-extractor.js';
import { loadExtractor } from '../src/metrics/extractor.js';
import { DEFAULT_GRAPH } from '../src/metrics/graph-model.js';
import { extract, datasetImages, realReference } from '../src/metrics/reference.js';
import { fid } from '../src/metrics/fid.js';
import { kid } from '../src/metrics/kid.js';
import { DEFAULT_CONFIG } from '../src/train/config.js';
import { configKey } from '../src/experiments/plan.js';
import { train, type TrainHook } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { loadRun } from '../src/train/run.js';
import { qualityProvenancePath, TrainingQuality } from '../src/train/quality-hooks.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { tinyConfig } from './train-fixtures.js';

/** 16x16 RGB, 4 classes: a bright square in the corner of the class over dim noise. */
function plantedSet(name: string, count = 1200): ImageSet {
  const rng = new Rng(5, 'test/metrics-training');
  const r = 16;
  const pixels = new Uint8Array(count * r * r * 3);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 4);
  for (let i = 0; i < count; i++) {
    const k = labels[i];
    for (let p = 0; p < r * r * 3; p++) pixels[i * r * r * 3 + p] = rng.int(80);
    const y0 = k < 2 ? 1 : 9;
    const x0 = k % 2 ? 9 : 1;
    for (let y = y0; y < y0 + 6; y++) for (let x = x0; x < x0 + 6; x++) pixels[(i * r * r + y * r + x) * 3 + (k % 3)] = 255;
  }
  return { name, count, resolution: r, channels: 3, pixels, labels, classNames: ['a', 'b', 'c', 'd'], license: 'CC0', attribution: '', provenance: {} };
}

const set = plantedSet('planted-quality');
const dataset = () => new ImageDataset(set, { seed: 0, heldOutFraction: 0.25, minResolution: 4 });
let dir: string;
let modelPath: string;
/** The training config's settings (KID: the defaults, 100 subsets capped at the sample count). */
const inConfig = () => ({ extractor: modelPath, realSamples: 240, cacheDir: join(dir, 'cache') });
const quick = () => ({ ...inConfig(), kid: { subsets: 5, subsetSize: 64 } });

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'fsrgan-metrics-training-'));
  const t = trainExtractor(set, { dataset: set.name, splitSeed: 0, heldOutFraction: 0.25, steps: 60, batch: 32, learningRate: 2e-3, seed: 1, augment: false });
  await writeExtractor(join(dir, 'ex'), t);
  tf.dispose([...t.params.values()]);
  modelPath = join(dir, 'ex', 'model.json');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Images of the held-out side (index order), plus N(0, sigma^2) noise; or of one class only; or pure noise. */
function sampler(kind: 'real' | 'noise' | 'one-class', sigma = 0): Sampler {
  const held = dataset().heldOut();
  const pool = kind === 'one-class' ? held.indices.filter((i) => set.labels[i] === 0) : [...held.indices];
  return (s, m) => {
    if (kind === 'noise') return tf.randomUniform([m, 16, 16, 3], -1, 1, 'float32', 17 + s);
    const x = datasetImages(held, Array.from({ length: m }, (_, k) => pool[(s + k) % pool.length]), 16);
    if (sigma === 0) return x;
    const y = tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, sigma, 'float32', 29 + s)) as tf.Tensor4D);
    x.dispose();
    return y;
  };
}

describe('sampleQuality: FID and KID of a sampler against a dataset', () => {
  it('orders planted samplers: real held-out images near the floor, FID growing with added noise, a collapse to one class and pure noise far above', () => {
    const before = tf.memory().numTensors;
    const q = (k: 'real' | 'noise' | 'one-class', sigma = 0) => sampleQuality(sampler(k, sigma), 256, dataset(), 16, { ...quick(), floor: k === 'real' && sigma === 0 });
    const real = q('real');
    const noisy = [0.1, 0.3, 0.9].map((sigma) => q('real', sigma));
    const [one, noise] = [q('one-class'), q('noise')];
    const fids = [real, ...noisy].map((r) => r.fid!.fid);
    for (let i = 1; i < fids.length; i++) expect(fids[i], `sigma step ${i}`).toBeGreaterThan(fids[i - 1]);
    expect(noisy[2].kid!.kid).toBeGreaterThan(noisy[0].kid!.kid);
    // Real images: about their floor (other real images, as many), orders of magnitude below the planted failures.
    expect(real.fid!.fid).toBeLessThan(5 * real.floor!.fid!.fid);
    for (const bad of [one, noise]) {
      expect(bad.fid!.fid).toBeGreaterThan(100 * real.fid!.fid);
      expect(bad.kid!.kid).toBeGreaterThan(10 * Math.abs(real.kid!.kid) + 10 * real.kid!.std);
    }
    expect(real.provenance).toMatchObject({ dataset: 'planted-quality', split: 'train', resolution: 16, realSamples: 240, fakeSamples: 256, floorSamples: 256, extractorKind: 'fsrgan-cnn', kidSubsets: 5, kidSubsetSize: 64 });
    expect(String(real.provenance.extractorSha256)).toMatch(/^[0-9a-f]{16}$/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('equals FID and KID computed directly from the extractor, the reference and the numerics', () => {
    const one = sampler('one-class');
    const s: Sampler = (a, m) => tf.tidy(() => tf.avgPool(one(a, m), 2, 2, 'valid') as tf.Tensor4D);
    const got = sampleQuality(s, 64, dataset(), 8, quick());
    const ex = loadExtractor(modelPath, DEFAULT_GRAPH);
    try {
      const real = realReference(ex, dataset(), 'train', 240, 8, 0, join(dir, 'cache-direct'));
      const fake = extract(ex, 64, s);
      expect(got.fid!.fid).toBeCloseTo(fid(real.features, fake.features).fid, 8);
      expect(got.kid!.kid).toBeCloseTo(kid(real.features, fake.features, { subsets: 5, subsetSize: 64, seed: 0 }).kid, 10);
    } finally {
      ex.dispose();
    }
  });

  it('without a cached extractor: a UserError naming the command that builds it', () => {
    const other = new ImageDataset({ ...set, name: 'planted-quality-never-built' }, { seed: 0, heldOutFraction: 0.25, minResolution: 4 });
    expect(() => new QualityMeter(other, { realSamples: 10 })).toThrow(UserError);
    expect(() => new QualityMeter(other, { realSamples: 10 })).toThrow(/fsrgan metrics train-extractor --dataset planted-quality-never-built/);
    expect(() => new QualityMeter(other, { extractor: join(dir, 'nope', 'model.json') })).toThrow(/does not exist/);
  });
});

describe('config.analysis.quality: FID/KID logged during training', () => {
  const on = (what: string[] = ['fid', 'kid'], extra: Record<string, unknown> = {}) =>
    tinyConfig({ analysis: { every: 2, samples: 48, moments: false, alignment: false, quality: { what, ...inConfig() }, ...extra }, train: { steps: 4 }, log: { every: 1000 } });

  it('is off by default: the default is [], and a config that does not set it keeps its config key (run id)', () => {
    expect(DEFAULT_CONFIG.analysis.quality.what).toEqual([]);
    const k = configKey(tinyConfig({ analysis: { every: 2 } })) as Record<string, Record<string, unknown>>;
    expect(k.analysis).toEqual({ every: 2 });
    expect(JSON.stringify(configKey(tinyConfig()))).not.toMatch(/quality/);
  });

  it('is refused with the field and the fix: a teacher, analysis.every = 0, an unknown metric, a missing extractor', () => {
    const bad = (a: Record<string, unknown>, data?: string) => () => tinyConfig({ ...(data ? { data } : {}), analysis: a });
    expect(bad({ every: 2, quality: { what: ['fid'] } }, 'experiments/teacher-small.json')).toThrow(/config\.analysis\.quality\.what.*synthetic teacher.*analysis\.quality\.what = \[\]/);
    expect(bad({ every: 0, quality: { what: ['kid'] } })).toThrow(/analysis\.every.*0 \(off\)/);
    expect(bad({ every: 2, quality: { what: ['is'] } })).toThrow(/quality\.what\[0\] = "is" is not a training-time metric/);
    expect(() => new TrainingQuality(on(['fid'], { quality: { what: ['fid'], extractor: join(dir, 'missing.json') } }))).toThrow(/config\.analysis\.quality\.extractor .*does not exist/);
    // A folder whose default extractor was never built: named with the command, before the first step.
    const folder = join(dir, 'quality-folder-never-built');
    mkdirSync(folder, { recursive: true });
    const cfg = { ...on(['fid']), data: folder, analysis: { ...on(['fid']).analysis, quality: { ...on(['fid']).analysis.quality, extractor: '' } } };
    expect(() => new TrainingQuality(cfg)).toThrow(new RegExp(`fsrgan metrics train-extractor --dataset ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('logs fid/r<res>, kid/r<res> per output resolution, floors once per resolution, provenance once; equal to sampleQuality on the run', async () => {
    const run = join(dir, 'run-a');
    const cfg = on();
    await train(cfg, run, { source: dataset() });
    const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines.map((l) => l.step)).toEqual([2, 4, 6, 8, 10, 12]);
    for (const [stage, rs] of [[1, [4]], [2, [4, 8]], [3, [4, 8, 16]]] as [number, number[]][]) {
      const [first, second] = lines.filter((l) => l.stage === stage);
      for (const l of [first, second]) {
        for (const r of rs) {
          expect(l[`fid/r${r}`], `stage ${stage} r${r}`).toBeGreaterThan(0);
          expect(Number.isFinite(l[`kid/r${r}`])).toBe(true);
          expect(l[`kid/r${r}/std`]).toBeGreaterThanOrEqual(0);
        }
        expect(Object.keys(l).filter((k) => /^fid\/r\d+$/.test(k))).toHaveLength(rs.length);
      }
      // The floor of a resolution: in the first line that measures it, only.
      const top = rs[rs.length - 1];
      expect(first[`fid/r${top}_floor`]).toBeGreaterThan(0);
      expect(Object.keys(second).some((k) => k.endsWith('_floor'))).toBe(false);
      if (stage > 1) expect(first[`fid/r${rs[0]}_floor`]).toBeUndefined();
    }
    const prov = JSON.parse(readFileSync(qualityProvenancePath(run), 'utf8'));
    expect(prov).toMatchObject({ format: 1, what: ['fid', 'kid'], every: 2, latents: { stream: 'analysis/z', seed: cfg.seed, samples: 48 }, dataset: 'planted-quality', split: 'train', realSamples: 240, fakeSamples: 48 });
    expect(prov.extractorSha256).toMatch(/^[0-9a-f]{16}$/);
    // The last line's numbers: sampleQuality on the finished run's G at the same latents.
    const last = lines[lines.length - 1];
    const loaded = await loadRun(run, { source: false });
    try {
      const fake = generatorImages(loaded.generator, 48, cfg.seed, 3);
      for (const [i, r] of [4, 8, 16].entries()) {
        const q = sampleQuality(arraySampler(fake[i]), 48, dataset(), r, { ...inConfig(), seed: cfg.seed });
        expect(last[`fid/r${r}`]).toBeCloseTo(q.fid!.fid, 8);
        expect(last[`kid/r${r}`]).toBeCloseTo(q.kid!.kid, 10);
      }
    } finally {
      loaded.dispose();
    }
  });

  it('leaves no tensors behind between firings, and training is bit-identical with the metrics on and off', async () => {
    const counts: [number, number][] = [];
    const probe: TrainHook = { every: 2, fn: (ctx) => (counts.push([ctx.step, tf.memory().numTensors]), {}) };
    const [a, b] = [join(dir, 'run-off'), join(dir, 'run-on')];
    const over = { train: { steps: 8 }, log: { every: 3 } };
    await train(tinyConfig({ ...over, analysis: { every: 2, samples: 16 } }), a, { source: dataset() });
    await train(tinyConfig({ ...over, analysis: { every: 2, samples: 16, quality: { what: ['fid', 'kid'], ...inConfig() } } }), b, { source: dataset(), hooks: [probe] });
    const stage1 = counts.filter(([step]) => step >= 4 && step <= 8).map(([, n]) => n);
    expect(stage1).toHaveLength(3);
    expect(new Set(stage1).size).toBe(1);
    const state = async (d: string) => JSON.parse(readFileSync(join((await listCheckpoints(d))[0], 'state.json'), 'utf8'));
    const [sa, sb] = [await state(a), await state(b)];
    expect(sb.weightsSha256).toBe(sa.weightsSha256);
    expect(sb.rng).toEqual(sa.rng);
    expect(sb.source).toEqual(sa.source);
    expect(existsSync(qualityProvenancePath(a))).toBe(false);
    expect(existsSync(qualityProvenancePath(b))).toBe(true);
  });
});
