/**
 * The feature extractor and the metrics on real images: train a small extractor (Fashion-MNIST when Debian's
 * dataset-fashion-mnist is installed, else a planted 10-class set), save and load it (tfjs artifacts, content
 * hash), then FID(real, real held-out) near 0 and growing monotonically with added noise and with dropped
 * classes (a planted mode collapse); the real-reference cache; a hand-written tfjs graph model as a stand-in for
 * Inception; bad files as UserErrors; no network access at any point; no tensor left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { ImageDataset, splitIndices, type ImageSet } from '../src/data/dataset.js';
import { datasetConfig } from '../src/data/config.js';
import { loadFashionMnist } from '../src/data/fashion.js';
import { loadExtractor, type Extractor } from '../src/metrics/extractor.js';
import { fid } from '../src/metrics/fid.js';
import { kid } from '../src/metrics/kid.js';
import { precisionRecall } from '../src/metrics/precision-recall.js';
import { datasetImages, extract, realReference } from '../src/metrics/reference.js';
import { DEFAULT_GRAPH } from '../src/metrics/graph-model.js';
import { trainExtractor, writeExtractor } from '../src/metrics/train-extractor.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';

const FASHION = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

/** 10 classes of 32x32 images: a bright square whose position is the class, on noise. */
function plantedSet(count: number): ImageSet {
  const rng = new Rng(5, 'test/planted-set');
  const r = 32;
  const pixels = new Uint8Array(count * r * r);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % 10;
    labels[i] = k;
    const y0 = 4 + 12 * Math.floor(k / 4) + rng.int(3);
    const x0 = 2 + 7 * (k % 4) + rng.int(3);
    for (let p = 0; p < r * r; p++) pixels[i * r * r + p] = rng.int(60);
    for (let y = y0; y < y0 + 8; y++) for (let x = x0; x < x0 + 6; x++) pixels[i * r * r + y * r + x] = 200 + rng.int(56);
  }
  return { name: 'planted', count, resolution: r, channels: 1, pixels, labels, classNames: Array.from({ length: 10 }, (_, k) => `c${k}`), license: 'CC0', attribution: '', provenance: {} };
}

/** The first `count` images of a set (Fashion-MNIST: its train part comes first). */
function head(set: ImageSet, count: number): ImageSet {
  const per = set.resolution * set.resolution * set.channels;
  return { ...set, count, pixels: set.pixels.subarray(0, count * per), labels: set.labels.subarray(0, count) };
}

let dir: string;
let set: ImageSet;
let modelPath: string;
let ex: Extractor;
let accuracy: number;

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'fsrgan-metrics-'));
  set = FASHION ? head(await loadFashionMnist(datasetConfig({})), 12_000) : plantedSet(6000);
  const t = trainExtractor(set, { dataset: set.name, splitSeed: 0, heldOutFraction: 0.25, steps: 150, batch: 64, learningRate: 2e-3, seed: 1, augment: true });
  accuracy = t.info.heldOutAccuracy as number;
  await writeExtractor(join(dir, 'ex'), t);
  tf.dispose([...t.params.values()]);
  modelPath = join(dir, 'ex', 'model.json');
  ex = loadExtractor(modelPath, DEFAULT_GRAPH);
});

afterAll(() => {
  ex?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe(`the extractor (${FASHION ? 'Fashion-MNIST, 12,000 images' : 'planted 10-class set: Fashion-MNIST is not installed'})`, () => {
  it('trains to well above chance in 150 steps and is stored as tfjs artifacts with its accuracy and content hash', () => {
    expect(accuracy).toBeGreaterThan(0.6);
    const json = JSON.parse(readFileSync(modelPath, 'utf8'));
    expect(json.format).toBe('fsrgan-extractor');
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.userDefinedMetadata.fsrgan.heldOutAccuracy).toBe(accuracy);
    expect(json.userDefinedMetadata.fsrgan.sha256).toBe(ex.sha256);
    expect(ex.name).toBe(`fsrgan-cnn-${set.name}`);
    expect(ex.featureDim).toBe(128);
    expect(ex.classNames).toEqual(set.classNames);
  });

  it('loads back to the same function', () => {
    const ds = new ImageDataset(set, { seed: 0, heldOutFraction: 0.25, minResolution: 32 });
    const x = ds.topImages([0, 1, 2, 3]);
    const again = loadExtractor(join(dir, 'ex'), DEFAULT_GRAPH);
    const a = ex.apply(x);
    const b = again.apply(x);
    expect(Array.from(a.features.dataSync())).toEqual(Array.from(b.features.dataSync()));
    expect(again.sha256).toBe(ex.sha256);
    tf.dispose([x, a.features, a.logits!, b.features, b.logits!]);
    again.dispose();
  });

  it('turns missing, foreign and damaged files into UserErrors naming the file and the fix', () => {
    expect(() => loadExtractor(join(dir, 'nope', 'model.json'), DEFAULT_GRAPH)).toThrow(/does not exist: train one with `fsrgan metrics train-extractor/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    expect(() => loadExtractor(bad, DEFAULT_GRAPH)).toThrow(UserError);
    writeFileSync(bad, 'not json');
    expect(() => loadExtractor(bad, DEFAULT_GRAPH)).toThrow(/is not a model.json/);
    const copy = join(dir, 'damaged');
    mkdir(copy);
    copyFileSync(modelPath, join(copy, 'model.json'));
    expect(() => loadExtractor(join(copy, 'model.json'), DEFAULT_GRAPH)).toThrow(/weight file 'weights.bin', which is missing/);
    const w = readFileSync(join(dir, 'ex', 'weights.bin'));
    w[100] ^= 0xff;
    writeFileSync(join(copy, 'weights.bin'), w);
    expect(() => loadExtractor(join(copy, 'model.json'), DEFAULT_GRAPH)).toThrow(/do not match the hash/);
  });
});

function mkdir(p: string) {
  rmSync(p, { recursive: true, force: true });
  mkdirSync(p, { recursive: true });
}

describe('metrics on real images', () => {
  /** Features of ImageSet indices, optionally with Gaussian pixel noise of std sigma (pixels in [-1, 1]). */
  function feats(ds: ImageDataset, idx: number[], sigma = 0) {
    return extract(ex, idx.length, (s, m) =>
      tf.tidy(() => {
        const x = datasetImages(ds, idx.slice(s, s + m), 32);
        return sigma ? (tf.add(x, tf.randomNormal(x.shape, 0, sigma, 'float32', 7 + s)) as tf.Tensor4D) : x;
      }),
    ).features;
  }

  it('FID(real, real held-out) is near 0 and grows monotonically with noise and with dropped classes', () => {
    const split = splitIndices(set.count, 0.25, 0);
    const ds = new ImageDataset(set, { seed: 0, heldOutFraction: 0.25, minResolution: 32 });
    const ref = feats(ds, split.train.slice(0, 2000));
    const held = split.heldout.slice(0, 1000);
    const base = fid(ref, feats(ds, held)).fid;
    const noisy = [0.1, 0.25, 0.5].map((s) => fid(ref, feats(ds, held, s)).fid);
    // Planted mode collapse: as many held-out images, from fewer and fewer classes.
    const keep = [7, 4, 2, 1].map((k) => {
      const pool = split.heldout.filter((i) => set.labels[i] < k);
      return Array.from({ length: 1000 }, (_, j) => pool[j % pool.length]);
    });
    const collapsed = keep.map((idx) => fid(ref, feats(ds, idx)).fid);
    const ladder = [base, ...noisy];
    for (let i = 1; i < ladder.length; i++) expect(ladder[i]).toBeGreaterThan(ladder[i - 1]);
    const drop = [base, ...collapsed];
    for (let i = 1; i < drop.length; i++) expect(drop[i]).toBeGreaterThan(drop[i - 1]);
    // "Near 0": the held-out floor (sampling error at n = 1,000) is a few percent of what dropping 3 of the
    // 10 classes costs (measured on Fashion-MNIST: 0.51 against 38; noise of std 0.5: 16).
    expect(base).toBeLessThan(0.05 * collapsed[0]);
    expect(base).toBeLessThan(0.1 * noisy[2]);
    // KID agrees on the collapse, and recall falls as classes drop while precision stays high.
    const kidOf = (f: ReturnType<typeof feats>) => kid(ref, f, { subsets: 10, subsetSize: 500, seed: 1 }).kid;
    expect(kidOf(feats(ds, keep[3]))).toBeGreaterThan(kidOf(feats(ds, keep[1])));
    expect(kidOf(feats(ds, keep[1]))).toBeGreaterThan(kidOf(feats(ds, held)));
    const prFull = precisionRecall(ref, feats(ds, held), 3);
    const prOne = precisionRecall(ref, feats(ds, keep[3]), 3);
    expect(prOne.recall).toBeLessThan(0.5 * prFull.recall);
    expect(prOne.precision).toBeGreaterThan(0.5);
  });

  it('caches the real reference per (extractor, dataset, split, resolution, n, seed) and reads it back', () => {
    const ds = new ImageDataset(set, { seed: 0, heldOutFraction: 0.25, minResolution: 8 });
    const cache = join(dir, 'cache');
    const before = tf.memory().numTensors;
    const a = realReference(ex, ds, 'train', 300, 16, 3, cache);
    const files = readdirSync(cache);
    expect(files.filter((f) => f.endsWith('.f32'))).toHaveLength(1);
    const b = realReference(ex, ds.heldOut(), 'train', 300, 16, 3, cache);
    expect(readdirSync(cache)).toEqual(files);
    expect(Array.from(b.features.data)).toEqual(Array.from(a.features.data));
    expect(a.key).toMatchObject({ extractor: ex.name, extractorSha256: ex.sha256, dataset: set.name, split: 'train', resolution: 16, n: 300, seed: 3 });
    realReference(ex, ds, 'heldout', 300, 16, 3, cache);
    expect(readdirSync(cache).filter((f) => f.endsWith('.f32'))).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a tfjs graph model as the extractor (the way an Inception-v3 plugs in)', () => {
  it('loads a hand-written graph model from disk, resizes and rescales the input, and gives its nodes', () => {
    const gdir = join(dir, 'graph');
    mkdir(gdir);
    const dim = (s: number[]) => ({ dim: s.map((v) => ({ size: String(v) })) });
    const node = (name: string, op: string, input: string[], attr: Record<string, unknown>) => ({ name, op, input, attr });
    const model = {
      format: 'graph-model',
      generatedBy: 'hand',
      convertedBy: 'test',
      modelTopology: {
        node: [
          node('x', 'Placeholder', [], { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim([-1, 8, 8, 3]) } }),
          node('flat_shape', 'Const', [], { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: dim([2]) } } }),
          node('w', 'Const', [], { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim([192, 6]) } } }),
          node('flat', 'Reshape', ['x', 'flat_shape'], { T: { type: 'DT_FLOAT' }, Tshape: { type: 'DT_INT32' } }),
          node('logits', 'MatMul', ['flat', 'w'], { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } }),
          node('feat', 'Relu', ['logits'], { T: { type: 'DT_FLOAT' } }),
        ],
        library: {},
        versions: { producer: 1 },
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'flat_shape', shape: [2], dtype: 'int32' }, { name: 'w', shape: [192, 6], dtype: 'float32' }] }],
    };
    const rng = new Rng(3, 'test/graph');
    const w = Float32Array.from({ length: 192 * 6 }, () => rng.normal());
    writeFileSync(join(gdir, 'group1-shard1of1.bin'), Buffer.concat([Buffer.from(Int32Array.from([-1, 192]).buffer), Buffer.from(w.buffer)]));
    writeFileSync(join(gdir, 'model.json'), JSON.stringify(model));
    const before = tf.memory().numTensors;
    const g = loadExtractor(join(gdir, 'model.json'), { ...DEFAULT_GRAPH, features: 'feat', logits: 'logits' });
    expect(g.kind).toBe('graph-model');
    expect(g.inputSize).toBe(8);
    expect(g.featureDim).toBe(6);
    expect(g.classNames).toHaveLength(6);
    const x = tf.randomUniform([5, 16, 16, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const out = g.apply(x);
    const want = tf.tidy(() => tf.relu(tf.matMul(tf.reshape(tf.div(tf.add(tf.image.resizeBilinear(x, [8, 8], false, true), 1), 2), [5, 192]), tf.tensor2d(w, [192, 6]))));
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(out.features, want))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-4);
    expect(out.logits!.shape).toEqual([5, 6]);
    tf.dispose([x, out.features, out.logits!, want]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => loadExtractor(join(gdir, 'model.json'), { ...DEFAULT_GRAPH, features: 'nosuchnode' })).toThrow(UserError);
  });
});

describe('no network access', () => {
  it('loading extractors, extracting features, the reference cache and every metric never touch the network', () => {
    const blocked = vi.fn(() => {
      throw new Error('network access attempted');
    });
    const spies = [
      vi.spyOn(globalThis, 'fetch').mockImplementation(blocked as never),
      vi.spyOn(http, 'request').mockImplementation(blocked as never),
      vi.spyOn(http, 'get').mockImplementation(blocked as never),
      vi.spyOn(https, 'request').mockImplementation(blocked as never),
      vi.spyOn(https, 'get').mockImplementation(blocked as never),
      vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(blocked as never),
    ];
    try {
      const e = loadExtractor(modelPath, DEFAULT_GRAPH);
      const ds = new ImageDataset(set, { seed: 0, heldOutFraction: 0.25, minResolution: 32 });
      const ref = realReference(e, ds, 'train', 200, 32, 1, join(dir, 'offline-cache'));
      const fk = realReference(e, ds, 'heldout', 200, 32, 1, join(dir, 'offline-cache'));
      fid(ref.features, fk.features);
      kid(ref.features, fk.features, { subsets: 2, subsetSize: 100, seed: 1 });
      precisionRecall(ref.features, fk.features, 3);
      e.dispose();
      expect(blocked).not.toHaveBeenCalled();
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
  });
});
