/**
 * Data sources by name: `openSource('emoji' | 'fashion-mnist' | '<teacher config>.json' | '<folder>')`
 * returns a PyramidSource for the trainer, the analysis code and `fsrgan data preview`.
 */
import { stat } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { buildTeacher, teacherConfigFromFile, TeacherSource } from '../teacher/index.js';
import type { PyramidSource } from './source.js';
import { datasetConfig, type DatasetConfig } from './config.js';
import { ImageDataset, type ImageSet } from './dataset.js';
import { loadEmoji } from './emoji.js';
import { loadFashionMnist } from './fashion.js';
import { loadFolder, type FolderProblem } from './folder.js';

export { DATASET_DEFAULTS, datasetConfig, type DatasetConfig } from './config.js';
export { ImageDataset, splitIndices, type ImageSet, type ImageDatasetOptions, type ImageDatasetState } from './dataset.js';
export { loadEmoji, emojiAttribution, EMOJI_LICENSE, EMOJI_PACKAGE } from './emoji.js';
export { loadFashionMnist, FASHION_CLASSES } from './fashion.js';
export { loadFolder, type FolderProblem, type FolderOptions } from './folder.js';
export { poolPyramid, pyramidResolutions, areaResize } from './pyramid.js';
export { PyramidStats, type LevelStats } from './stats.js';
export { findRepoRoot } from './cache.js';
export type { PyramidSource } from './source.js';

export interface OpenOptions {
  /** User dataset config, merged strictly over DATASET_DEFAULTS (see docs/data.md). */
  config?: unknown;
  /** Where to start looking for the repo root (node_modules, .cache); default process.cwd(). */
  root?: string;
  /** Progress lines for long work (first-time cache preparation). */
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

/** An ImageDataset (train side of the split; `.heldOut()` for the other) for a named dataset or folder. */
export async function openImageDataset(spec: string, opts: OpenOptions = {}): Promise<ImageDataset> {
  const cfg = datasetConfig(opts.config);
  const set = await loadImageSet(spec, cfg, opts);
  return new ImageDataset(set, { seed: cfg.seed, heldOutFraction: cfg.heldOutFraction, minResolution: cfg.minResolution });
}

/** Maps a dataset spec to a PyramidSource; an unknown spec is a UserError listing the choices. */
export async function openSource(spec: string, opts: OpenOptions = {}): Promise<PyramidSource> {
  if (!spec) throw new UserError(`no dataset given: use ${CHOICES}.`);
  if (isTeacherSpec(spec)) return openTeacherSource(spec, datasetConfig(opts.config).seed, opts.onProgress);
  return openImageDataset(spec, opts);
}

/** True when a data spec names a synthetic teacher config (a .json file) rather than a dataset. */
export function isTeacherSpec(spec: string): boolean {
  return /\.json$/i.test(spec);
}

/**
 * Builds the teacher a config file describes and serves it as a source; `source.teacher` is that teacher,
 * whose tensors live as long as the caller keeps them (the process, in practice; disposeTeacher frees them).
 */
export async function openTeacherSource(file: string, seed: number, onProgress?: (line: string) => void): Promise<TeacherSource> {
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) throw new UserError(`the teacher config '${file}' does not exist (a data spec ending in .json names a teacher config file).`);
  const teacher = buildTeacher(await teacherConfigFromFile(file), onProgress);
  return new TeacherSource(teacher, seed);
}
