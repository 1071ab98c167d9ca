/**
 * Data: every PyramidSource (source.ts) and the one opener, `openSource` (open.ts), for the trainer, the
 * analysis code, the experiments, the benchmarks and `fsrgan data preview`.
 */
export { DATASET_DEFAULTS, datasetConfig, type DatasetConfig } from './config.js';
export { ImageDataset, splitIndices, type ImageSet, type ImageDatasetOptions, type ImageDatasetState } from './dataset.js';
export { loadEmoji, emojiAttribution, EMOJI_LICENSE, EMOJI_PACKAGE } from './emoji.js';
export { loadFashionMnist, FASHION_CLASSES } from './fashion.js';
export { loadFolder, type FolderProblem, type FolderOptions } from './folder.js';
export { poolPyramid, pyramidResolutions, areaResize } from './pyramid.js';
export { PyramidStats, type LevelStats } from './stats.js';
export { findRepoRoot } from './cache.js';
export { sourceSize, type PyramidSource, type SourceRecipe } from './source.js';
export { openRecipe } from './recipe.js';
export { StandInSource } from './standin.js';
export { TeacherSource, HeldOutTeacherSource, teacherOf, type TeacherSourceState } from './teacher.js';
export { LevelsSource } from './levels.js';
export { openSource, heldOutSource, isTeacherSpec, loadImageSet, DATASET_NAMES, type OpenOptions } from './open.js';
