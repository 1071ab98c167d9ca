import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');

async function fsrgan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/fsrgan.mjs', ...args], { cwd: ROOT, env: { ...process.env, FSRGAN_BACKEND: 'wasm' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('fsrgan teacher (CLI, wasm)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fsrgan-teacher-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sample on teacher-small (fresh build, n = 512): sparsity within 20% of target and coherence below the bound', async () => {
    const out = join(dir, 'small');
    const r = await fsrgan('teacher', 'sample', '--config', 'experiments/teacher-small.json', '--n', '512', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const stats = JSON.parse(await readFile(join(out, 'stats.json'), 'utf8'));
    expect(JSON.parse(r.stdout)).toEqual(stats);
    const config = JSON.parse(await readFile(join(ROOT, 'experiments/teacher-small.json'), 'utf8'));
    expect(stats.n).toBe(512);
    expect(stats.layers.map((l: { resolution: number }) => l.resolution)).toEqual(config.resolutions);
    for (const l of stats.layers) {
      expect(l.channels).toBeGreaterThan(0);
      expect(Math.abs(l.realisedActive - l.targetActive) / l.targetActive).toBeLessThan(0.2);
      expect(l.coherence).toBeLessThan(l.coherenceBound);
      expect(l.coherenceBound).toBe(config.coherenceBound);
    }
    expect(stats.consistencyGap).toHaveLength(config.resolutions.length - 1);
    for (const g of stats.consistencyGap) expect(g).toBeGreaterThan(0);
    // One grid per resolution: 64 tiles in 8 x 8, each r * scale pixels plus 1-pixel gaps.
    for (const res of config.resolutions) {
      const png = PNG.sync.read(await readFile(join(out, `samples_r${res}.png`)));
      const tile = res * Math.round(64 / res);
      expect(png.width).toBe(8 * tile + 9);
    }
  });

  it('build then sample --teacher gives the same sample grid as sampling from the config', async () => {
    const tdir = join(dir, 'saved');
    expect((await fsrgan('teacher', 'build', '--config', 'experiments/teacher-small.json', '--out', tdir)).code).toBe(0);
    const r = await fsrgan('teacher', 'sample', '--teacher', tdir, '--n', '512', '--out', join(dir, 'loaded'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/coherence/);
    const a = await readFile(join(dir, 'small', 'samples_r32.png'));
    const b = await readFile(join(dir, 'loaded', 'samples_r32.png'));
    expect(b.equals(a)).toBe(true);
  });

  it('a bad config or teacher directory prints one clear message, no stack trace', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ resolutions: [8, 16], chanels: [4, 4] }));
    const r = await fsrgan('teacher', 'sample', '--config', bad, '--out', join(dir, 'x'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: unknown key teacher\.chanels/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const r2 = await fsrgan('teacher', 'sample', '--teacher', join(dir, 'nothing'), '--out', join(dir, 'y'));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/teacher\.json: not a teacher directory/);
  });
});
