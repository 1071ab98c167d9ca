/**
 * Twemoji from the npm package emoji-datasource-twitter (offline): each 64x64 RGBA PNG is composited onto
 * the configured background, area-downscaled once to the top resolution and cached (docs/data.md).
 * Labels are the emoji.json categories; each image also carries its text (`ImageSet.names`: the emoji's
 * name and short names, for text-to-emoji), listed afresh from emoji.json so that the cache format is
 * unchanged. Images: CC-BY-4.0 (Twitter, Inc and other contributors).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import type { DatasetConfig } from './config.js';
import type { ImageSet } from './dataset.js';
import { cacheFolder, entryFolder, findRepoRoot, readCache, writeCache } from './cache.js';
import { compositeOnto, decodeImage, fitSquare } from './decode.js';

export const EMOJI_PACKAGE = 'emoji-datasource-twitter';
export const EMOJI_LICENSE = 'CC-BY-4.0';
const SOURCE_SIZE = 64;

interface EmojiEntry {
  image: string;
  category: string;
  name: string | null;
  short_names?: string[];
  sort_order: number;
  has_img_twitter: boolean;
  skin_variations?: Record<string, { image: string; has_img_twitter: boolean }>;
}

export interface LoadOptions {
  /** Where to look for the repo root (its node_modules and .cache); default process.cwd(). */
  root?: string;
  /** Progress lines for long work (first-time preparation). */
  onProgress?: (line: string) => void;
}

/** The attribution CC-BY-4.0 asks for, naming the changes made. */
export function emojiAttribution(twemojiVersion: string, packageVersion: string, resolution: number, background: number[]): string {
  return (
    `Emoji graphics: Twemoji ${twemojiVersion} by Twitter, Inc and other contributors (https://github.com/jdecked/twemoji), ` +
    `licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/); PNGs from the npm package ` +
    `${EMOJI_PACKAGE} ${packageVersion} (emoji-data by Cal Henderson, MIT). Changed: composited onto ` +
    `rgb(${background.join(',')}) and downscaled from ${SOURCE_SIZE}x${SOURCE_SIZE} to ${resolution}x${resolution}.`
  );
}

function packageDir(root: string): string {
  try {
    return dirname(createRequire(join(root, 'package.json')).resolve(`${EMOJI_PACKAGE}/package.json`));
  } catch {
    throw new UserError(`the emoji dataset needs the npm package ${EMOJI_PACKAGE}; install it with \`npm install ${EMOJI_PACKAGE}\` in ${root}.`);
  }
}

/** Loads (from the cache, or by preparing it once) the Twemoji set at `cfg.resolution`. */
export async function loadEmoji(cfg: DatasetConfig, opts: LoadOptions = {}): Promise<ImageSet> {
  const progress = opts.onProgress ?? (() => {});
  if (cfg.resolution > SOURCE_SIZE) {
    throw new UserError(`dataset.resolution ${cfg.resolution} is above the emoji source size ${SOURCE_SIZE}; use 64 or less.`);
  }
  const root = findRepoRoot(opts.root);
  const dir = packageDir(root);
  const version = (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const readme = await readFile(join(dir, 'README.md'), 'utf8').catch(() => '');
  const twemojiVersion = /\|\s*Twitter\s*\|[^|]*Twemoji[^|]*?(v[\d.]+)/.exec(readme)?.[1] ?? 'unknown version';
  const key = {
    source: EMOJI_PACKAGE,
    version,
    resolution: cfg.resolution,
    background: cfg.background,
    skinTones: cfg.emoji.skinTones,
    excludeCategories: [...cfg.emoji.excludeCategories].sort(),
  };
  const folder = entryFolder(cacheFolder(cfg.cacheDir, root), 'emoji-twitter', key);
  const { files, classNames } = await emojiFiles(dir, cfg);
  const imgDir = join(dir, 'img', 'twitter', String(SOURCE_SIZE));
  // The names of the images the set holds: those whose PNG is present, in the set's order.
  const withNames = (set: ImageSet): ImageSet => {
    const names = files.filter((f) => existsSync(join(imgDir, f.image))).map((f) => f.text);
    return names.length === set.count ? { ...set, names } : set;
  };
  const cached = await readCache(folder, key);
  if (!('stale' in cached)) return withNames(cached);

  progress(`emoji: preparing the Twemoji dataset at ${cfg.resolution}x${cfg.resolution} (${cached.stale}); cache: ${folder}`);
  const r = cfg.resolution;
  const pixels = new Uint8Array(files.length * r * r * 3);
  const labels: number[] = [];
  const missing: string[] = [];
  let count = 0;
  for (let i = 0; i < files.length; i++) {
    const file = join(imgDir, files[i].image);
    if (!existsSync(file)) {
      missing.push(files[i].image);
      continue;
    }
    const img = decodeImage(await readFile(file));
    pixels.set(fitSquare(compositeOnto(img.rgba, cfg.background), img.height, img.width, r), count * r * r * 3);
    labels.push(classNames.indexOf(files[i].category));
    count++;
    if ((i + 1) % 500 === 0 || i + 1 === files.length) progress(`emoji: ${i + 1}/${files.length} images decoded`);
  }
  if (count === 0) throw new UserError(`no Twemoji PNGs found under ${imgDir}; reinstall ${EMOJI_PACKAGE}.`);
  if (missing.length) progress(`emoji: ${missing.length} images listed in emoji.json are missing from the package and were skipped`);
  const set: ImageSet = {
    name: 'emoji-twitter',
    count,
    resolution: r,
    channels: 3,
    pixels: pixels.subarray(0, count * r * r * 3),
    labels: Int32Array.from(labels),
    classNames,
    license: EMOJI_LICENSE,
    attribution: emojiAttribution(twemojiVersion, version, r, cfg.background),
    provenance: {
      source: `npm ${EMOJI_PACKAGE}@${version}`,
      twemoji: twemojiVersion,
      background: cfg.background,
      skinTones: cfg.emoji.skinTones,
      excludeCategories: cfg.emoji.excludeCategories,
      sourceSize: SOURCE_SIZE,
      missing: missing.length,
    },
  };
  await writeCache(folder, key, set);
  progress(`emoji: cached ${count} images in ${folder}`);
  // Read back through the checksum, so a first run and a cached run return the same thing.
  const again = await readCache(folder, key);
  if ('stale' in again) throw new Error(`loadEmoji: the cache just written to ${folder} does not read back (${again.stale})`);
  return withNames(again);
}

/** An emoji's text: its name and short names, lower case, '_' and '-' as spaces ("heavy black heart heart"). */
export function emojiText(e: { name: string | null; short_names?: string[] }): string {
  return [e.name ?? '', ...(e.short_names ?? [])].join(' ').toLowerCase().replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/** The images emoji.json lists for a dataset config (sort order; skin tones after their base), and the class names. */
async function emojiFiles(dir: string, cfg: DatasetConfig): Promise<{ files: { image: string; category: string; text: string }[]; classNames: string[] }> {
  const entries = (JSON.parse(await readFile(join(dir, 'emoji.json'), 'utf8')) as EmojiEntry[]).sort((a, b) => a.sort_order - b.sort_order);
  const categoryOrder = Object.keys(JSON.parse(await readFile(join(dir, 'categories.json'), 'utf8')) as object);
  const excluded = new Set(cfg.emoji.excludeCategories);
  const files: { image: string; category: string; text: string }[] = [];
  for (const e of entries) {
    if (excluded.has(e.category)) continue;
    const text = emojiText(e);
    if (e.has_img_twitter) files.push({ image: e.image, category: e.category, text });
    if (cfg.emoji.skinTones) {
      for (const v of Object.values(e.skin_variations ?? {})) if (v.has_img_twitter) files.push({ image: v.image, category: e.category, text });
    }
  }
  const present = new Set(files.map((f) => f.category));
  const classNames = [...categoryOrder.filter((c) => present.has(c)), ...[...present].filter((c) => !categoryOrder.includes(c)).sort()];
  return { files, classNames };
}
