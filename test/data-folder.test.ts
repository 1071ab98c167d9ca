import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadFolder, type FolderProblem } from '../src/data/folder.js';
import { run as runData } from '../src/cli/data.js';
import { UserError } from '../src/util/errors.js';
import { tempDir } from './temp-dirs.js';

type Pixel = (x: number, y: number) => [number, number, number, number];

function png(w: number, h: number, px: Pixel, colorType: 0 | 2 | 6 = 2): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) p.data.set(px(x, y), (y * w + x) * 4);
  return PNG.sync.write(p, { colorType });
}

const checker: Pixel = (x, y) => [(x * 37 + y * 11) % 256, (x * 5 + y * 71) % 256, (x * y) % 256, 255];

/** A folder with good images and one of each kind of bad file; returns its path. */
function fixtureFolder(): string {
  const dir = tempDir('fsrgan-folder-');
  writeFileSync(join(dir, 'good.png'), png(64, 64, checker));
  writeFileSync(join(dir, 'gray.png'), png(64, 64, (x, y) => [(x * 4 + y) % 256, (x * 4 + y) % 256, (x * 4 + y) % 256, 255], 0));
  writeFileSync(join(dir, 'alpha.png'), png(64, 64, (x) => (x < 32 ? [0, 0, 0, 0] : [255, 0, 0, 128]), 6));
  // 96x64: only the central 64 columns (green) survive the center crop.
  writeFileSync(join(dir, 'wide.png'), png(96, 64, (x) => (x < 16 ? [255, 0, 0, 255] : x >= 80 ? [0, 0, 255, 255] : [0, 255, 0, 255])));
  writeFileSync(join(dir, 'small48.png'), png(48, 48, () => [10, 20, 30, 255]));
  writeFileSync(join(dir, 'tiny.png'), png(8, 8, checker));
  const rgba = Buffer.alloc(64 * 64 * 4, 255);
  for (let i = 0; i < 64 * 64; i++) rgba.set([200, 100 + (i % 64), 50], i * 4);
  writeFileSync(join(dir, 'photo.jpg'), jpeg.encode({ width: 64, height: 64, data: rgba }, 90).data);
  const whole = png(64, 64, checker);
  writeFileSync(join(dir, 'truncated.png'), whole.subarray(0, Math.floor(whole.length / 2)));
  writeFileSync(join(dir, 'notes.png'), 'this is not an image');
  writeFileSync(join(dir, 'garbage.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(100, 7)]));
  writeFileSync(join(dir, 'readme.txt'), 'ignored');
  return dir;
}

const load = async (dir: string, extra: Partial<{ recursive: boolean; resolution: number }> = {}) => {
  const messages: FolderProblem[] = [];
  const out = await loadFolder(dir, { resolution: 32, background: [255, 255, 255], recursive: false, onMessage: (p) => messages.push(p), ...extra });
  return { ...out, messages };
};

afterEach(() => vi.restoreAllMocks());

describe('folder datasets', () => {
  it('names each bad file with what was done and keeps the good ones', async () => {
    const dir = fixtureFolder();
    const { set, messages } = await load(dir);
    const byFile = Object.fromEntries(messages.map((m) => [m.file, m]));
    expect(Object.keys(byFile).sort()).toEqual(['alpha.png', 'garbage.jpg', 'gray.png', 'notes.png', 'small48.png', 'tiny.png', 'truncated.png', 'wide.png']);
    expect(byFile['truncated.png']).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/corrupt PNG/) });
    expect(byFile['garbage.jpg']).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/corrupt JPEG/) });
    expect(byFile['notes.png']).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/not a PNG or JPEG/) });
    expect(byFile['tiny.png']).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/8x8 is smaller than 32x32/) });
    expect(byFile['gray.png']).toMatchObject({ action: 'converted', reason: expect.stringMatching(/grayscale, replicated to RGB/) });
    expect(byFile['alpha.png']).toMatchObject({ action: 'converted', reason: expect.stringMatching(/transparency, composited onto rgb\(255,255,255\)/) });
    expect(byFile['wide.png']).toMatchObject({ action: 'converted', reason: expect.stringMatching(/non-square 96x64, center-cropped to 64x64/) });
    expect(byFile['small48.png']).toMatchObject({ action: 'converted', reason: expect.stringMatching(/size 48x48 differs from the most common 64x64/) });
    expect(set.count).toBe(6); // alpha, good, gray, photo, small48, wide (sorted)
    expect(set.provenance).toMatchObject({ files: 10, skipped: 4, converted: 4, ignoredOtherFiles: 1 });

    const img = (k: number) => set.pixels.subarray(k * 32 * 32 * 3, (k + 1) * 32 * 32 * 3);
    // good.png (index 1): each output pixel is the rounded mean of a 2x2 block of the planted image.
    const good = img(1);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) s += checker(2 * x + dx, 2 * y + dy)[c];
          expect(good[(y * 32 + x) * 3 + c]).toBe(Math.round(s / 4));
        }
    // gray.png: R = G = B; wide.png: all green after the crop; alpha.png: white left, red over white right.
    const gray = img(2);
    for (let p = 0; p < gray.length; p += 3) expect(gray[p] === gray[p + 1] && gray[p] === gray[p + 2]).toBe(true);
    expect(new Set(Array.from(img(5)).map((v, i) => (i % 3 === 1 ? v === 255 : v === 0))).size).toBe(1);
    const alpha = img(0);
    expect(Array.from(alpha.subarray(0, 3))).toEqual([255, 255, 255]);
    const a = 128 / 255;
    const right = (5 * 32 + 20) * 3;
    expect(Array.from(alpha.subarray(right, right + 3))).toEqual([255, Math.round(255 * (1 - a)), Math.round(255 * (1 - a))]);
  });

  it('an all-bad folder is a UserError; so is an empty or missing one', async () => {
    const dir = tempDir('fsrgan-bad-');
    writeFileSync(join(dir, 'a.png'), 'nope');
    writeFileSync(join(dir, 'b.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2]));
    const messages: FolderProblem[] = [];
    const err = await loadFolder(dir, { resolution: 32, background: [0, 0, 0], recursive: false, onMessage: (p) => messages.push(p) }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/no usable image: all 2 file\(s\) were skipped \(first: a.png: not a PNG or JPEG/);
    expect(messages.map((m) => m.file)).toEqual(['a.png', 'b.jpg']);
    await expect(load(tempDir('fsrgan-empty-'))).rejects.toThrow(/has no .png\/.jpg\/.jpeg files/);
    await expect(load(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
  });

  it('recursive reads subfolders as classes; non-recursive ignores them with a hint', async () => {
    const dir = tempDir('fsrgan-rec-');
    for (const sub of ['cats', 'dogs']) {
      mkdirSync(join(dir, sub));
      for (let i = 0; i < 2; i++) writeFileSync(join(dir, sub, `${i}.png`), png(32, 32, () => [i * 100, 0, sub === 'cats' ? 0 : 255, 255]));
    }
    await expect(load(dir)).rejects.toThrow(/has 2 subfolder\(s\): read them with --recursive/);
    const { set } = await load(dir, { recursive: true });
    expect(set.classNames).toEqual(['cats', 'dogs']);
    expect(Array.from(set.labels)).toEqual([0, 0, 1, 1]);
    expect(set.pixels[2]).toBe(0);
    expect(set.pixels[2 * 32 * 32 * 3 + 2]).toBe(255);
  });

  it.skipIf(process.platform === 'win32')('a FIFO named like an image is skipped, not read (no hang)', async () => {
    const dir = tempDir('fsrgan-fifo-');
    writeFileSync(join(dir, 'ok.png'), png(32, 32, checker));
    execFileSync('mkfifo', [join(dir, 'pipe.png')]);
    const { set, messages } = await load(dir);
    expect(set.count).toBe(1);
    expect(messages).toEqual([{ file: 'pipe.png', action: 'skipped', reason: 'not a regular file' }]);
  });

  it('fsrgan data preview on a folder prints a line per bad file and writes one PNG per resolution', async () => {
    const dir = fixtureFolder();
    const out = tempDir('fsrgan-prev-');
    const logs: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a) => void logs.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a) => void logs.push(a.join(' ')));
    const rc = await runData(['preview', '--dataset', dir, '--out', out, '--n', '4', '--set', 'heldOutFraction=0', '--backend', 'wasm']);
    expect(rc).toBe(0);
    for (const r of [4, 8, 16, 32]) expect(existsSync(join(out, `preview-r${r}.png`))).toBe(true);
    const text = logs.join('\n');
    expect(text).toMatch(/^truncated.png: skipped \(corrupt PNG/m);
    expect(text).toMatch(/^gray.png: converted \(grayscale/m);
    expect(text).toMatch(/6 images/);
    expect(text).toMatch(/license: unknown/);
    expect(text).toMatch(/r= 32 +mean \[/);
  });
});
