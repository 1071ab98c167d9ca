/**
 * Acceptance: `fsrgan train --config experiments/smoke.json` leaves a complete run directory with
 * verified freezing, and `fsrgan sample` is deterministic in (run, seed).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageRecord } from '../src/train/stages.js';

const run = promisify(execFile);
const fsrgan = (...args: string[]) => run(process.execPath, ['bin/fsrgan.mjs', ...args], { env: { ...process.env, FSRGAN_BACKEND: 'wasm' }, maxBuffer: 1 << 24 });

describe('fsrgan train / sample (smoke)', () => {
  let dir = '';
  let stdout = '';
  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'fsrgan-smoke-')), 'run');
    ({ stdout } = await fsrgan('train', '--config', 'experiments/smoke.json', '--out', dir));
  }, 120_000);
  afterAll(() => rm(join(dir, '..'), { recursive: true, force: true }));

  it('leaves the run directory: config, teacher, metrics, stages, checkpoints, samples', async () => {
    expect(stdout).toMatch(/stage 3\/3 \(r32\) done at step/);
    // Every core by default (src/train/replicas.ts defaultWorkers); the checkpoints record the replicas when
    // there are several, from the step-0 checkpoint on (a run killed before the next resumes with them).
    const cores = availableParallelism();
    expect(stdout).toMatch(new RegExp(`, ${cores} workers?\\n`));
    for (const ck of await readdir(join(dir, 'checkpoints'))) {
      expect(JSON.parse(await readFile(join(dir, 'checkpoints', ck, 'state.json'), 'utf8')).workers).toBe(cores > 1 ? cores : undefined);
    }
    const names = (await readdir(dir)).sort();
    expect(names).toEqual(expect.arrayContaining(['checkpoints', 'config.json', 'metrics.jsonl', 'run.json', 'samples', 'stages', 'teacher']));
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ name: 'smoke', data: 'experiments/teacher-small.json', train: { mode: 'layerwise' } });
    expect((await stat(join(dir, 'teacher', 'teacher.json'))).isFile()).toBe(true);
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(3);
    for (const k of ['stage', 'step', 'lossD', 'lossG', 'lrG', 'lrD', 'wallTime', 'imagesPerSec']) expect(lines[0]).toHaveProperty(k);
    const samples = await readdir(join(dir, 'samples'));
    const last = samples.sort()[samples.length - 1];
    expect((await readdir(join(dir, 'samples', last))).sort()).toEqual(['r16.png', 'r32.png', 'r8.png']);
    expect((await readdir(join(dir, 'checkpoints'))).length).toBeGreaterThanOrEqual(1);
  });

  it('every stage.json has equal frozen hashes at start and end, and trainedLayers naming what changed', async () => {
    const levels = (await readdir(join(dir, 'stages'))).sort();
    expect(levels).toEqual(['1', '2', '3']);
    for (const l of levels) {
      const r = JSON.parse(await readFile(join(dir, 'stages', l, 'stage.json'), 'utf8')) as StageRecord;
      expect(Object.keys(r.frozenHashesStart).length).toBe(6);
      expect(r.frozenHashesEnd).toEqual(r.frozenHashesStart);
      expect(r.trainedLayers).toEqual(['deconv', 'bias', 'out'].map((p) => `g.r${r.resolution}.${p}`));
      expect(r.trainedLayers.filter((n) => r.trainedHashesEnd![n] !== r.trainedHashesStart[n])).toEqual(r.trainedLayers);
    }
  });

  it('--workers beyond the images of a step is refused before anything is written', async () => {
    const out = join(dir, '..', 'too-many');
    const err = await fsrgan('train', '--config', 'experiments/smoke.json', '--out', out, '--workers', '33').then(() => null, (e: { stderr: string; code: number }) => e);
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/--workers 33 is more than train\.batch = 32/);
    await expect(stat(out)).rejects.toThrow();
  });

  it('fsrgan sample is deterministic: same run and seed -> same bytes', async () => {
    const out = (name: string) => join(dir, name);
    await fsrgan('sample', dir, '--n', '16', '--seed', '1', '--out', out('a.png'));
    await fsrgan('sample', dir, '--n', '16', '--seed', '1', '--out', out('b.png'));
    await fsrgan('sample', dir, '--n', '16', '--seed', '2', '--out', out('c.png'));
    const [a, b, c] = await Promise.all(['a.png', 'b.png', 'c.png'].map((f) => readFile(out(f))));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  }, 60_000);
});
