/**
 * Sample-quality metrics offline, on CPU (docs/metrics.md): numerics on feature sets (FID, KID, IS,
 * precision/recall, support), feature extractors (fsrgan's CNN, a user's tfjs graph model) and the
 * real-reference cache. The registry entries that run them on a run are in src/analysis/entries/.
 */
export { features, moments, sampleIndices, selectRows, sqNorms, gramTiles, type Features, type Moments } from './features.js';
export { fid, frechetDistance, psdSqrt, traceSqrtProduct, type FrechetParts } from './fid.js';
export { kid, mmd2Unbiased, cubicKernelSum, DEFAULT_KID, type KidOptions, type KidResult } from './kid.js';
export { inceptionScore, softmaxRows, type InceptionScoreResult } from './inception-score.js';
export { knnRadii, precisionRecall, DEFAULT_PR, type PrecisionRecall } from './precision-recall.js';
export { supportEstimate, birthdayTest, duplicateThreshold, DEFAULT_SUPPORT, type SupportOptions, type SupportResult, type BirthdayResult } from './support.js';
export { loadExtractor, saveCnn, cnnExtractor, cnnForward, initCnn, DEFAULT_CNN, defaultExtractorDir, extractorFingerprint, type CnnSpec, type Extractor } from './extractor.js';
export { DEFAULT_GRAPH, type GraphOptions } from './graph-model.js';
export { trainExtractor, writeExtractor, accuracy, DEFAULT_TRAINING, type TrainExtractorOptions, type TrainedExtractor } from './train-extractor.js';
export { extract, realReference, referenceRadii, datasetImages, datasetKey, type Extracted, type Reference, type ReferenceKey } from './reference.js';
