/**
 * `fsrgan bench quality` end to end at a tiny budget on the small teacher: the FSR learner, the fsrgan
 * DCGAN and (when python3-torch is installed) the PyTorch DCGAN, each measured per level against held-out
 * images, with a real-vs-real floor. The measurement itself is checked on a planted answer: a set against
 * itself has SWD 0 and moment errors 0, and a shifted set does not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { benchQuality, measure, type Contender } from '../src/bench/quality.js';
import type { ImageArray } from '../src/analysis/common.js';
import { Rng } from '../src/util/rng.js';

const ROOT = process.cwd();
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'fsrgan-quality-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function images(n: number, r: number, seed: number, shift = 0): ImageArray {
  const data = Float32Array.from(new Rng(seed).normals(n * r * r * 3, 0.3), (v) => v + shift);
  return { data, n, h: r, w: r, c: 3 };
}

describe('bench quality [wasm]', () => {
  it('measures a set against itself as 0 and against a shifted set as more', () => {
    const a = [images(64, 8, 1), images(64, 16, 2)];
    const same = measure(a, a, 1);
    for (const l of same) {
      expect(l.swd).toBeCloseTo(0, 6);
      expect(l.moment1).toBeCloseTo(0, 6);
      expect(l.moment2).toBeCloseTo(0, 6);
    }
    const shifted = measure(a, [images(64, 8, 1, 0.5), images(64, 16, 2, 0.5)], 1);
    for (const l of shifted) {
      expect(l.swd).toBeGreaterThan(0.1);
      expect(l.moment1).toBeGreaterThan(0.1);
    }
  });

  it('trains every contender on the same images and writes the table, the JSON and the grids', async () => {
    const contenders: Contender[] = hasTorch ? ['fsr', 'dcgan', 'torch'] : ['fsr', 'dcgan'];
    const log: string[] = [];
    const rows = await benchQuality({
      root: ROOT,
      out: dir,
      datasets: ['teacher'],
      contenders,
      samples: 64,
      seed: 3,
      sets: ['train.stepsByLevel=[2,2,2]', 'train.batch=8', 'log.checkpointEvery=1000', 'log.sampleEvery=1000'],
      log: (l) => log.push(l),
    });
    expect(rows.map((r) => r.contender)).toEqual(['real', ...contenders]);
    const fsr = rows.find((r) => r.contender === 'fsr')!;
    expect(fsr.images).toBe(3 * 2 * 8);
    for (const r of rows) {
      expect(r.levels.map((l) => l.resolution)).toEqual([8, 16, 32]);
      for (const l of r.levels) expect(Number.isFinite(l.swd) && l.swd >= 0).toBe(true);
      expect(r.grid && existsSync(r.grid)).toBe(true);
    }
    // The DCGANs train on the FSR run's number of images (rounded to whole batches of 64).
    for (const r of rows.filter((x) => x.contender === 'dcgan' || x.contender === 'torch')) expect(r.images).toBe(64);
    const md = await readFile(join(dir, 'quality.md'), 'utf8');
    expect(md).toMatch(/\| teacher \| fsr \| 48 \|/);
    const json = JSON.parse(await readFile(join(dir, 'quality.json'), 'utf8')) as { rows: unknown[]; seed: number };
    expect(json.seed).toBe(3);
    expect(json.rows).toHaveLength(rows.length);
  }, 240_000);
});
