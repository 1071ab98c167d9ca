/**
 * The one opener of data sources: `openSource('emoji' | 'fashion-mnist' | '<folder>' | '<teacher config>.json')`
 * returns a PyramidSource for the trainer (src/train/data.ts), the experiments (through it), the quality
 * benchmark and `fsrgan data preview`; `heldOutSource` gives the held-out real data that matches one.
 */
import { stat } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { buildTeacher, teacherConfigFromFile, type Teacher } from '../teacher/index.js';
import type { PyramidSource } from './source.js';
import { datasetConfig, type DatasetConfig } from './config.js';
import { ImageDataset, type ImageSet } from './dataset.js';
import { loadEmoji } from './emoji.js';
import { loadFashionMnist } from './fashion.js';
import { loadFolder, type FolderProblem } from './folder.js';
import { HeldOutTeacherSource, TeacherSource } from './teacher.js';

export interface OpenOptions {
  /**
   * User dataset config, merged strictly over DATASET_DEFAULTS (see docs/data.md). A teacher config reads
   * only its `seed` (the seed of the sampled z).
   */
  config?: unknown;
  /** Where to start looking for the repo root (node_modules, .cache); default process.cwd(). */
  root?: string;
  /** Progress lines for long work (first-time cache preparation, building a teacher). */
  onProgress?: (line: string) => void;
  /** One call per bad or converted file of a folder dataset. */
  onMessage?: (p: FolderProblem) => void;
}

export const DATASET_NAMES: Record<string, string> = {
  emoji: 'emoji-twitter',
  'emoji-twitter': 'emoji-twitter',
  'fashion-mnist': 'fashion-mnist',
};

const CHOICES = "'emoji' (alias 'emoji-twitter'), 'fashion-mnist', a teacher config .json file, or a folder of PNG/JPEG images";

/** True when a data spec names a synthetic teacher config (a .json file) rather than a dataset. */
export function isTeacherSpec(spec: string): boolean {
  return /\.json$/i.test(spec);
}

/**
 * Maps a data spec to a PyramidSource; an unknown spec is a UserError listing the choices.
 * - a dataset name or a folder: an ImageDataset (train side of the split; `.heldOut()` for the other);
 * - a teacher config (.json): the teacher it describes, built here, served as a TeacherSource whose
 *   `teacher` (see `teacherOf`) lives as long as the caller keeps it (disposeTeacher frees it).
 */
export async function openSource(spec: string, opts: OpenOptions = {}): Promise<PyramidSource> {
  if (!spec) throw new UserError(`no dataset given: use ${CHOICES}.`);
  if (isTeacherSpec(spec)) return openTeacherSource(spec, datasetConfig(opts.config).seed, opts.onProgress);
  return openImageDataset(spec, opts);
}

/** Loads the images a dataset spec names (not a teacher config) at the configured top resolution. */
export async function loadImageSet(spec: string, cfg: DatasetConfig, opts: OpenOptions = {}): Promise<ImageSet> {
  const named = DATASET_NAMES[spec.toLowerCase()];
  if (named === 'emoji-twitter') return loadEmoji(cfg, opts);
  if (named === 'fashion-mnist') return loadFashionMnist(cfg);
  const st = await stat(spec).catch(() => null);
  if (st?.isDirectory()) {
    const { set } = await loadFolder(spec, { resolution: cfg.resolution, background: cfg.background, recursive: cfg.folder.recursive, ...opts });
    return set;
  }
  throw new UserError(`unknown dataset '${spec}'${st ? ' (a file, not a folder)' : ''}: use ${CHOICES}.`);
}

async function openImageDataset(spec: string, opts: OpenOptions): Promise<ImageDataset> {
  const cfg = datasetConfig(opts.config);
  const set = await loadImageSet(spec, cfg, opts);
  return new ImageDataset(set, { seed: cfg.seed, heldOutFraction: cfg.heldOutFraction, minResolution: cfg.minResolution });
}

async function openTeacherSource(file: string, seed: number, onProgress?: (line: string) => void): Promise<TeacherSource> {
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) throw new UserError(`the teacher config '${file}' does not exist (a data spec ending in .json names a teacher config file).`);
  const teacher = buildTeacher(await teacherConfigFromFile(file), onProgress);
  return new TeacherSource(teacher, seed);
}

/**
 * Held-out real data matching `source` (same levels): teacher samples from their own stream when the
 * data is synthetic, else the source's held-out split. A fresh source each call, so drawing from it
 * never moves the training source.
 */
export function heldOutSource(source: PyramidSource, teacher: Teacher | null, seed: number): PyramidSource {
  if (teacher) return new HeldOutTeacherSource(teacher, seed, source.resolutions.length);
  if (source.heldOut) return source.heldOut();
  throw new UserError(
    `measurements against real data need held-out images, and the data '${String(source.describe().name)}' has none: use a teacher or a dataset with dataset.heldOutFraction > 0 (or set config.analysis.every = 0).`,
  );
}
