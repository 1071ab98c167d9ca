import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { datasetConfig } from '../src/data/config.js';
import { loadEmoji } from '../src/data/emoji.js';
import { openSource } from '../src/data/index.js';
import { tempDir } from './temp-dirs.js';

const PKG = 'node_modules/emoji-datasource-twitter';
const ONLY = 'Food & Drink';
const OTHERS = ['Component', 'Flags', 'People & Body', 'Objects', 'Symbols', 'Activities', 'Travel & Places', 'Animals & Nature', 'Smileys & Emotion'];

interface Entry {
  image: string;
  category: string;
  sort_order: number;
  has_img_twitter: boolean;
}
const entries = (JSON.parse(readFileSync(join(PKG, 'emoji.json'), 'utf8')) as Entry[])
  .filter((e) => e.category === ONLY && e.has_img_twitter)
  .sort((a, b) => a.sort_order - b.sort_order);

/** Independent reference: decode, composite onto bg, 2x2 mean in float64, round. */
function reference(file: string, bg: number[]): number[] {
  const p = PNG.sync.read(readFileSync(join(PKG, 'img/twitter/64', file)));
  const px = (x: number, y: number, c: number) => {
    const i = (y * 64 + x) * 4;
    const a = p.data[i + 3] / 255;
    return a * p.data[i + c] + (1 - a) * bg[c];
  };
  const out: number[] = [];
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) out.push(Math.round((px(2 * x, 2 * y, c) + px(2 * x + 1, 2 * y, c) + px(2 * x, 2 * y + 1, c) + px(2 * x + 1, 2 * y + 1, c)) / 4));
  return out;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('emoji dataset (Twemoji, offline)', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'fsrgan-emoji-cache-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
  const cfg = (extra: object = {}) => datasetConfig({ cacheDir, emoji: { excludeCategories: OTHERS }, ...extra });

  it('prepares once, then loads from the cache; pixels match an independent decode + 2x2 mean', async () => {
    const lines: string[] = [];
    const a = await loadEmoji(cfg(), { onProgress: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/preparing the Twemoji dataset at 32x32 \(no cache yet\)/);
    expect(a.count).toBe(entries.length);
    expect(a.classNames).toEqual([ONLY]);
    expect(a.license).toBe('CC-BY-4.0');
    expect(a.attribution).toMatch(/Twemoji v[\d.]+ by Twitter, Inc and other contributors.*CC-BY 4.0/);
    expect(a.provenance).toMatchObject({ source: expect.stringMatching(/^npm emoji-datasource-twitter@\d/), background: [255, 255, 255] });
    for (const k of [0, entries.length - 1]) {
      const ref = reference(entries[k].image, [255, 255, 255]);
      const got = a.pixels.subarray(k * 3072, (k + 1) * 3072);
      const worst = ref.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
      expect(worst).toBeLessThanOrEqual(1); // float rounding at exact .5 may differ by one level
    }
    const again: string[] = [];
    const b = await loadEmoji(cfg(), { onProgress: (l) => again.push(l) });
    expect(again).toEqual([]);
    expect(Buffer.from(b.pixels).equals(Buffer.from(a.pixels))).toBe(true);
    expect(b.provenance.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('rebuilds when the checksum fails or the manifest does not match', async () => {
    const good = await loadEmoji(cfg());
    const folder = good.provenance.cache as string;
    const file = join(folder, readdirSync(folder).find((f) => f.endsWith('.u8'))!);
    const bytes = readFileSync(file);
    bytes[100] ^= 0xff;
    writeFileSync(file, bytes);
    const lines: string[] = [];
    const fixed = await loadEmoji(cfg(), { onProgress: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/checksum does not verify/);
    expect(Buffer.from(fixed.pixels).equals(Buffer.from(good.pixels))).toBe(true);

    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
    manifest.key.version = '0.0.1';
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
    const lines2: string[] = [];
    await loadEmoji(cfg(), { onProgress: (l) => lines2.push(l) });
    expect(lines2[0]).toMatch(/manifest does not match/);
  });

  it('the background is part of the cache key and of the pixels', async () => {
    const white = await loadEmoji(cfg());
    const black = await loadEmoji(cfg({ background: [0, 0, 0] }));
    expect(black.provenance.cache).not.toBe(white.provenance.cache);
    expect(black.provenance.background).toEqual([0, 0, 0]);
    const ref = reference(entries[0].image, [0, 0, 0]);
    const got = black.pixels.subarray(0, 3072);
    expect(ref.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0)).toBeLessThanOrEqual(1);
    // Fully transparent areas: white on one, black on the other, in most images.
    let transparent = 0;
    for (let i = 0; i < white.pixels.length; i++) if (white.pixels[i] === 255 && black.pixels[i] === 0) transparent++;
    expect(transparent / white.pixels.length).toBeGreaterThan(0.1);
  });

  it("openSource('emoji-twitter') is an ImageDataset with the license in describe()", async () => {
    const src = await openSource('emoji-twitter', { config: { cacheDir, emoji: { excludeCategories: OTHERS }, resolution: 16 } });
    expect(src.resolutions).toEqual([4, 8, 16]);
    expect(src.describe()).toMatchObject({ name: 'emoji-twitter', license: 'CC-BY-4.0', total: entries.length });
  });
});

describe('fsrgan data preview --dataset emoji (CLI, no network)', () => {
  it('writes one PNG per resolution and prints size, statistics and license', () => {
    const out = tempDir('fsrgan-emoji-prev-');
    const r = spawnSync(process.execPath, ['bin/fsrgan.mjs', 'data', 'preview', '--dataset', 'emoji', '--out', out, '--n', '16'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const res of [4, 8, 16, 32]) {
      const png = PNG.sync.read(readFileSync(join(out, `preview-r${res}.png`)));
      expect(png.width).toBeGreaterThan(4 * 64);
    }
    expect(r.stdout).toMatch(/dataset emoji-twitter: \d+ images/);
    expect(r.stdout).toMatch(/r= +4 +mean \[.*std \[.*min .* max /);
    expect(r.stdout).toMatch(/license: CC-BY-4.0/);
    expect(existsSync(join(out, 'preview-r32.png'))).toBe(true);
  });

  it('an unknown dataset prints one clear line, no stack trace, exit code 2', () => {
    const r = spawnSync(process.execPath, ['bin/fsrgan.mjs', 'data', 'preview', '--dataset', 'cifar-10', '--out', '/tmp/x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^fsrgan data: unknown dataset 'cifar-10': use 'emoji'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
