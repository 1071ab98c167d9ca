/**
 * A user's folder of PNG/JPEG files as an ImageSet. Bad files never stop the load: each one gets a message
 * naming the file and what was done (docs/data.md), and only a folder with no usable image is an error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import type { ImageSet } from './dataset.js';
import { compositeOnto, decodeImage, fitSquare } from './decode.js';

export interface FolderProblem {
  /** Path relative to the folder. */
  file: string;
  action: 'skipped' | 'converted';
  reason: string;
}

export interface FolderOptions {
  /** Top resolution R: images are center-cropped to a square and area-downscaled to R x R. */
  resolution: number;
  /** RGB (0..255) that transparent pixels are composited onto. */
  background: number[];
  /** Read subfolders too; each subfolder path becomes a class. */
  recursive: boolean;
  /** Called once per bad or converted file, in file order, after the folder has been read. */
  onMessage?: (p: FolderProblem) => void;
  /** Progress lines for large folders. */
  onProgress?: (line: string) => void;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

async function listImages(
  root: string,
  recursive: boolean,
): Promise<{ files: string[]; subfolders: number; others: number; unreadable: FolderProblem[] }> {
  const files: string[] = [];
  const unreadable: FolderProblem[] = [];
  let subfolders = 0;
  let others = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (dir === root) throw new UserError(`cannot read dataset folder '${root}': ${(e as Error).message}.`);
      unreadable.push({ file: relative(root, dir), action: 'skipped', reason: `cannot read subfolder (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(full);
        else subfolders++;
      } else if (IMAGE_EXT.test(e.name)) files.push(relative(root, full));
      else others++;
    }
  };
  await walk(root);
  return { files: files.sort(), subfolders, others, unreadable };
}

/** Reads every PNG/JPEG in `dir` (sorted by path) into an ImageSet at `opts.resolution`. */
export async function loadFolder(dir: string, opts: FolderOptions): Promise<{ set: ImageSet; problems: FolderProblem[] }> {
  const root = resolve(dir);
  const st = await stat(root).catch(() => null);
  if (!st) throw new UserError(`dataset folder '${dir}' does not exist.`);
  if (!st.isDirectory()) throw new UserError(`dataset '${dir}' is not a folder (expected a folder of PNG/JPEG files).`);
  const { files, subfolders, others, unreadable } = await listImages(root, opts.recursive);
  if (files.length === 0) {
    const hint = !opts.recursive && subfolders > 0 ? ` It has ${subfolders} subfolder(s): read them with --recursive (fsrgan data preview) or --set dataset.folder.recursive=true (fsrgan train).` : '';
    throw new UserError(`dataset folder '${dir}' has no .png/.jpg/.jpeg files.${hint}`);
  }
  const r = opts.resolution;
  const kept: { file: string; pixels: Uint8Array; size: string; notes: string[] }[] = [];
  const problems: FolderProblem[] = [...unreadable];
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const skip = (reason: string) => problems.push({ file, action: 'skipped', reason });
    const full = join(root, file);
    // Only regular files: reading a FIFO or device would block forever.
    const fst = await stat(full).catch(() => null);
    if (!fst || !fst.isFile()) {
      skip('not a regular file');
      continue;
    }
    let img;
    try {
      img = decodeImage(await readFile(full));
    } catch (e) {
      skip((e as Error).message);
      continue;
    }
    const size = `${img.width}x${img.height}`;
    if (Math.min(img.width, img.height) < r) {
      skip(`${size} is smaller than ${r}x${r}; lower dataset.resolution (--resolution) to use it`);
      continue;
    }
    const notes: string[] = [];
    if (img.gray) notes.push('grayscale, replicated to RGB');
    if (img.alpha) notes.push(`has transparency, composited onto rgb(${opts.background.join(',')})`);
    if (img.width !== img.height) {
      const s = Math.min(img.width, img.height);
      notes.push(`non-square ${size}, center-cropped to ${s}x${s}`);
    }
    kept.push({ file, pixels: fitSquare(compositeOnto(img.rgba, opts.background), img.height, img.width, r), size, notes });
    if ((i + 1) % 500 === 0) opts.onProgress?.(`folder: ${i + 1}/${files.length} files read`);
  }
  // Mixed sizes: name the files whose size differs from the most common one.
  const bySize = new Map<string, number>();
  for (const k of kept) bySize.set(k.size, (bySize.get(k.size) ?? 0) + 1);
  if (bySize.size > 1) {
    const common = [...bySize].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
    for (const k of kept) if (k.size !== common) k.notes.push(`size ${k.size} differs from the most common ${common}`);
  }
  for (const k of kept) {
    if (k.notes.length) problems.push({ file: k.file, action: 'converted', reason: `${k.notes.join('; ')}; area-downscaled to ${r}x${r}` });
  }
  problems.sort((a, b) => a.file.localeCompare(b.file));
  for (const p of problems) opts.onMessage?.(p);
  if (kept.length === 0) {
    throw new UserError(
      `dataset folder '${dir}' has no usable image: all ${files.length} file(s) were skipped (first: ${problems[0].file}: ${problems[0].reason}).`,
    );
  }
  const classOf = (f: string) => (dirname(f) === '.' ? basename(root) : dirname(f));
  const classNames = [...new Set(kept.map((k) => classOf(k.file)))].sort();
  const pixels = new Uint8Array(kept.length * r * r * 3);
  kept.forEach((k, i) => pixels.set(k.pixels, i * r * r * 3));
  const set: ImageSet = {
    name: `folder:${basename(root)}`,
    count: kept.length,
    resolution: r,
    channels: 3,
    pixels,
    labels: Int32Array.from(kept, (k) => classNames.indexOf(classOf(k.file))),
    classNames,
    license: 'unknown (user folder)',
    attribution: '',
    provenance: {
      source: root,
      recursive: opts.recursive,
      background: opts.background,
      files: files.length,
      skipped: problems.filter((p) => p.action === 'skipped').length,
      converted: problems.filter((p) => p.action === 'converted').length,
      ignoredOtherFiles: others,
      ignoredSubfolders: opts.recursive ? 0 : subfolders,
    },
  };
  return { set, problems };
}
