/** The typed dataset config (the defaults are the schema, merged with mergeStrict). See docs/data.md. */
import { mergeStrict } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { pyramidResolutions } from './pyramid.js';

export const DATASET_DEFAULTS = {
  /** Top resolution r_L: images are rasterised/downscaled once to r_L x r_L. */
  resolution: 32,
  /** Lowest resolution r_1; resolution / minResolution must be a power of two. */
  minResolution: 4,
  /** Fixes the train / held-out split and the order of batches. */
  seed: 0,
  /** Fraction of the images held out (never served by the training source); in [0, 1). */
  heldOutFraction: 0.1,
  /** RGB (0..255) that transparent pixels are composited onto (emoji, PNGs with alpha). */
  background: [255, 255, 255],
  emoji: {
    /** Include the skin-tone variants (about 1,900 near-duplicates of people emoji). */
    skinTones: false,
    /** emoji.json categories left out ('Component' holds skin-tone swatches and hair parts). */
    excludeCategories: ['Component'],
  },
  folder: {
    /** Also read images in subfolders; each subfolder (relative path) becomes a class. */
    recursive: false,
  },
  fashionMnist: {
    /** Folder of the Debian package dataset-fashion-mnist. */
    dir: '/usr/share/datasets/fashion-mnist',
    /** Pad the 28x28 images with 2 black pixels per side to 32x32 (then area-downscale to resolution). */
    padTo32: true,
  },
  /** Cache folder for prepared datasets; null means `.cache/data` at the repo root. */
  cacheDir: null as string | null,
};

export type DatasetConfig = typeof DATASET_DEFAULTS;

/** Merges a user config over the defaults and checks the values mergeStrict cannot (ranges, relations). */
export function datasetConfig(user?: unknown): DatasetConfig {
  const c = mergeStrict(DATASET_DEFAULTS, user, 'dataset');
  pyramidResolutions(c.resolution, c.minResolution);
  if (!Number.isInteger(c.seed)) throw new UserError(`dataset.seed must be an integer, got ${c.seed}.`);
  if (!(c.heldOutFraction >= 0 && c.heldOutFraction < 1)) {
    throw new UserError(`dataset.heldOutFraction must be in [0, 1), got ${c.heldOutFraction}.`);
  }
  if (c.background.length !== 3 || c.background.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
    throw new UserError(`dataset.background must be three integers 0..255 (RGB), got ${JSON.stringify(c.background)}.`);
  }
  if (c.cacheDir !== null && typeof c.cacheDir !== 'string') {
    throw new UserError(`dataset.cacheDir must be a folder path or null, got ${JSON.stringify(c.cacheDir)}.`);
  }
  return c;
}
