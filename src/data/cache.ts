/**
 * The prepared-dataset cache: one uint8 file of top-resolution images, one int32 file of labels and a
 * manifest (source, license, background, class map, checksum) per dataset, under `.cache/data` at the repo
 * root (git-ignored). A cache whose manifest does not match the request, or whose checksum fails, is rebuilt.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';
import { dirname, join, resolve } from 'node:path';
import type { ImageSet } from './dataset.js';

const FORMAT = 1;

/** The nearest folder at or above `start` whose package.json is fsrgan's; `start` itself when none is. */
export function findRepoRoot(start = process.cwd()): string {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fsrgan') return dir;
      } catch {
        // Not fsrgan's package.json: keep looking upward.
      }
    }
    const up = dirname(dir);
    if (up === dir) return resolve(start);
    dir = up;
  }
}

/** `cacheDir` when given, else `.cache/data` at the repo root found from `root` (default process.cwd()). */
export function cacheFolder(cacheDir: string | null, root?: string): string {
  return cacheDir ? resolve(cacheDir) : join(findRepoRoot(root), '.cache', 'data');
}

export interface CacheManifest {
  format: number;
  /** Everything the content depends on (source package and version, resolution, background, ...). */
  key: Record<string, unknown>;
  name: string;
  count: number;
  resolution: number;
  channels: 1 | 3;
  classNames: string[];
  license: string;
  attribution: string;
  provenance: Record<string, unknown>;
  files: { pixels: string; labels: string };
  /** sha256 of the pixel bytes followed by the label bytes (int32 little-endian). */
  checksum: string;
  created: string;
}

function labelBytes(labels: Int32Array): Buffer {
  const b = Buffer.alloc(labels.length * 4);
  labels.forEach((v, i) => b.writeInt32LE(v, i * 4));
  return b;
}

function checksum(pixels: Uint8Array, labels: Buffer): string {
  return 'sha256:' + createHash('sha256').update(pixels).update(labels).digest('hex');
}

/** Stable JSON (sorted keys), so that the same key always hashes the same. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The folder for one dataset and key: `<cache>/<name>-r<R>-<hash of key>`. */
export function entryFolder(cache: string, name: string, key: Record<string, unknown>): string {
  const h = createHash('sha256').update(stable({ format: FORMAT, ...key })).digest('hex').slice(0, 10);
  return join(cache, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-r${key.resolution ?? ''}-${h}`);
}

/**
 * Reads a cached ImageSet from `folder` if its manifest matches `key` and its checksum verifies; otherwise
 * returns why not (a reason to rebuild, printed as progress).
 */
export async function readCache(folder: string, key: Record<string, unknown>): Promise<ImageSet | { stale: string }> {
  let m: CacheManifest;
  try {
    m = JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as CacheManifest;
  } catch {
    return { stale: 'no cache yet' };
  }
  if (m.format !== FORMAT || stable(m.key) !== stable(key)) return { stale: 'the cache manifest does not match the request' };
  let pixels: Buffer;
  let labelsRaw: Buffer;
  try {
    pixels = await readFile(join(folder, m.files.pixels));
    labelsRaw = await readFile(join(folder, m.files.labels));
  } catch {
    return { stale: 'cache files are missing' };
  }
  if (pixels.length !== m.count * m.resolution * m.resolution * m.channels || labelsRaw.length !== m.count * 4) {
    return { stale: 'cache files have the wrong size' };
  }
  if (checksum(pixels, labelsRaw) !== m.checksum) return { stale: 'the cache checksum does not verify (corrupt files)' };
  const labels = new Int32Array(m.count);
  for (let i = 0; i < m.count; i++) labels[i] = labelsRaw.readInt32LE(i * 4);
  return {
    name: m.name,
    count: m.count,
    resolution: m.resolution,
    channels: m.channels,
    pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength),
    labels,
    classNames: m.classNames,
    license: m.license,
    attribution: m.attribution,
    provenance: { ...m.provenance, cache: folder, checksum: m.checksum },
  };
}

/** Writes `set` to `folder` (files first, manifest last, each by rename, so a torn write reads as stale). */
export async function writeCache(folder: string, key: Record<string, unknown>, set: ImageSet): Promise<void> {
  await mkdir(folder, { recursive: true });
  const labels = labelBytes(set.labels);
  const files = { pixels: `images-${set.resolution}.u8`, labels: 'labels.i32' };
  const manifest: CacheManifest = {
    format: FORMAT,
    key,
    name: set.name,
    count: set.count,
    resolution: set.resolution,
    channels: set.channels,
    classNames: set.classNames,
    license: set.license,
    attribution: set.attribution,
    provenance: set.provenance,
    files,
    checksum: checksum(set.pixels, labels),
    created: new Date().toISOString(),
  };
  await writeFileAtomic(join(folder, files.pixels), set.pixels);
  await writeFileAtomic(join(folder, files.labels), labels);
  await writeFileAtomic(join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
