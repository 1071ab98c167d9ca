import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { ImageDataset, splitIndices, type ImageSet } from '../src/data/dataset.js';
import { datasetConfig } from '../src/data/config.js';
import { loadFashionMnist, parseIdx } from '../src/data/fashion.js';
import { openSource } from '../src/data/index.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { tempDir } from './temp-dirs.js';

function set(count: number, r = 4): ImageSet {
  const rng = new Rng(count, 'fixture');
  return {
    name: 'planted',
    count,
    resolution: r,
    channels: 3,
    pixels: Uint8Array.from({ length: count * r * r * 3 }, () => rng.int(256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % 2),
    classNames: ['even', 'odd'],
    license: 'CC0',
    attribution: '',
    provenance: {},
  };
}

const opts = { seed: 11, heldOutFraction: 0.25, minResolution: 1 };
const data = (levels: tf.Tensor4D[]) => {
  const out = levels.map((x) => Array.from(x.dataSync()));
  tf.dispose(levels);
  return out;
};

beforeAll(async () => {
  await initBackend('wasm');
});

describe('ImageDataset', () => {
  it('same seed gives the same batches; another seed gives others', () => {
    const s = set(40);
    const a = new ImageDataset(s, opts);
    const b = new ImageDataset(s, opts);
    const c = new ImageDataset(s, { ...opts, seed: 12 });
    for (let i = 0; i < 5; i++) {
      const ba = data(a.batch(7));
      expect(data(b.batch(7))).toEqual(ba);
      if (i === 0) expect(data(c.batch(7))).not.toEqual(ba);
    }
  });

  it('each epoch visits every train image exactly once, and epochs are reshuffled', () => {
    const ds = new ImageDataset(set(40), opts);
    const e1 = ds.nextIndices(ds.size);
    const e2 = ds.nextIndices(ds.size);
    expect([...e1].sort((x, y) => x - y)).toEqual([...ds.indices]);
    expect([...e2].sort((x, y) => x - y)).toEqual([...ds.indices]);
    expect(e2).not.toEqual(e1);
    expect(ds.getState()).toMatchObject({ epoch: 2, position: 0 });
  });

  it('setState restores the exact next batch, also across an epoch boundary and through JSON', () => {
    const s = set(40);
    const ds = new ImageDataset(s, opts);
    tf.dispose(ds.batch(25)); // 30 train images: the next batch of 8 crosses into epoch 1
    const saved = JSON.parse(JSON.stringify(ds.getState()));
    const next = data(ds.batch(8));
    tf.dispose(ds.batch(3));
    ds.setState(saved);
    expect(data(ds.batch(8))).toEqual(next);
    const fresh = new ImageDataset(s, opts);
    fresh.setState(saved);
    expect(data(fresh.batch(8))).toEqual(next);
    const a = new ImageDataset(s, opts);
    a.setState(saved);
    const expected = a.nextIndices(8).map((i) => s.labels[i]);
    const b = new ImageDataset(s, opts);
    b.setState(saved);
    const { levels, labels: y } = b.batchWithLabels(8);
    expect(data(levels)).toEqual(next);
    expect(Array.from(y)).toEqual(expected);
  });

  it('rejects a state from another dataset or seed with a UserError', () => {
    const ds = new ImageDataset(set(40), opts);
    const other = new ImageDataset(set(40), { ...opts, seed: 5 });
    expect(() => ds.setState(other.getState())).toThrow(UserError);
    expect(() => ds.setState({ ...ds.getState(), position: 999 })).toThrow(/invalid epoch\/position/);
    expect(() => ds.setState(null)).toThrow(/does not belong/);
  });

  it('train / held-out split: no overlap, covers everything, deterministic by seed', () => {
    const a = splitIndices(1000, 0.1, 3);
    expect(a.heldout.length).toBe(100);
    expect(a.train.length).toBe(900);
    const train = new Set(a.train);
    expect(a.heldout.some((i) => train.has(i))).toBe(false);
    expect(new Set([...a.train, ...a.heldout]).size).toBe(1000);
    expect(splitIndices(1000, 0.1, 3)).toEqual(a);
    expect(splitIndices(1000, 0.1, 4).heldout).not.toEqual(a.heldout);
    const ds = new ImageDataset(set(40), opts);
    const held = ds.heldOut();
    expect(held.subset).toBe('heldout');
    expect(held.size + ds.size).toBe(40);
    const served = new Set(ds.nextIndices(ds.size * 3));
    expect(held.nextIndices(held.size).some((i) => served.has(i))).toBe(false);
    expect(() => new ImageDataset(set(40), { ...opts, heldOutFraction: 0 }).heldOut()).toThrow(/heldout split is empty/);
  });

  it('labels follow the images and describe() records name, size, resolutions, license, seed', () => {
    const s = set(40);
    const ds = new ImageDataset(s, { ...opts, minResolution: 1 });
    const peek = new ImageDataset(s, { ...opts, minResolution: 1 });
    const idx = peek.nextIndices(6);
    const { levels, labels } = ds.batchWithLabels(6);
    tf.dispose(levels);
    expect(Array.from(labels)).toEqual(idx.map((i) => i % 2));
    expect(ds.describe()).toMatchObject({ name: 'planted', size: 30, total: 40, resolutions: [1, 2, 4], license: 'CC0', seed: 11 });
  });
});

describe('dataset config and openSource', () => {
  it('datasetConfig rejects bad fields naming them', () => {
    expect(datasetConfig({ resolution: 16 }).resolution).toBe(16);
    expect(() => datasetConfig({ resolution: 24 })).toThrow(/resolution 24 must be minResolution 4 times a power of two/);
    expect(() => datasetConfig({ heldOutFraction: 1 })).toThrow(/dataset.heldOutFraction must be in \[0, 1\)/);
    expect(() => datasetConfig({ background: [0, 0] })).toThrow(/dataset.background must be three integers/);
    expect(() => datasetConfig({ backgroud: [0, 0, 0] })).toThrow(/did you mean dataset.background/);
  });

  it('a teacher config .json opens the synthetic teacher as a PyramidSource', async () => {
    const file = join(tempDir('fsrgan-teacher-'), 'teacher.json');
    writeFileSync(file, JSON.stringify({ resolutions: [8, 16], channels: [8, 8], targetActive: [2, 2], calibrationSamples: 256, seed: 3 }));
    const src = await openSource(file, { config: { seed: 5 } });
    expect(src.resolutions).toEqual([8, 16]);
    expect(src.describe()).toMatchObject({ name: 'teacher', seed: 5 });
    const levels = src.batch(2);
    expect(levels.map((x) => x.shape)).toEqual([[2, 8, 8, 3], [2, 16, 16, 3]]);
    tf.dispose(levels);
    writeFileSync(file, JSON.stringify({ resolution: [8] }));
    await expect(openSource(file)).rejects.toThrow(UserError);
  });

  it('an unknown spec is a UserError listing the choices', async () => {
    await expect(openSource('cifar-10')).rejects.toThrow(/unknown dataset 'cifar-10'.*'emoji'.*'fashion-mnist'.*teacher config.*folder/);
    await expect(openSource('/no/such/teacher.json')).rejects.toThrow(UserError);
  });
});

describe('Fashion-MNIST', () => {
  it('parseIdx reads a planted IDX buffer and rejects a truncated one', () => {
    const buf = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    expect(parseIdx(buf, 'x')).toEqual({ dims: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
    expect(() => parseIdx(buf.subarray(0, 15), 'x')).toThrow(/truncated/);
  });

  it('a missing install is a UserError naming the apt package', async () => {
    const cfg = datasetConfig({ fashionMnist: { dir: tempDir('fsrgan-nofm-') } });
    await expect(loadFashionMnist(cfg)).rejects.toThrow(/apt-get install dataset-fashion-mnist/);
  });

  const installed = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
  it.skipIf(!installed)('loads 70,000 images, 10 classes, padded to 32 (when installed)', async () => {
    const s = await loadFashionMnist(datasetConfig({ resolution: 32 }));
    expect(s.count).toBe(70000);
    expect(s.channels).toBe(1);
    expect(new Set(s.labels).size).toBe(10);
    // The 2-pixel padding is black; the 28x28 interior is not all black.
    let border = 0;
    let inner = 0;
    for (let i = 0; i < 100; i++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          const v = s.pixels[i * 1024 + y * 32 + x];
          if (y < 2 || y >= 30 || x < 2 || x >= 30) border += v;
          else inner += v;
        }
    expect(border).toBe(0);
    expect(inner).toBeGreaterThan(0);
  });
});
