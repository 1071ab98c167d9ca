/**
 * FID and KID of any image sampler against a dataset, with provenance (docs/metrics.md "FID and KID as a
 * library"): the one function behind the metrics logged during training (src/train/quality-hooks.ts) and
 * what a caller outside the measurement registry uses (a family comparison, a notebook) when it has a
 * generator and an ImageDataset but no run directory. `fsrgan metrics` and the registry entries
 * (entries/fid.ts, kid.ts) compute the same numbers from the same pieces: the extractor (extractor.ts), the
 * cached real reference (reference.ts) and the numerics (fid.ts, kid.ts).
 *
 * Offline and synchronous: the extractor is read from disk, never built here. A dataset whose default
 * extractor is not cached yet is a UserError naming `fsrgan metrics train-extractor`.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from '../data/cache.js';
import { ImageDataset, splitIndices } from '../data/dataset.js';
import { defaultExtractorDir, loadExtractor, type Extractor } from '../metrics/extractor.js';
import { moments, type Moments } from '../metrics/features.js';
import { fid } from '../metrics/fid.js';
import { DEFAULT_GRAPH, type GraphOptions } from '../metrics/graph-model.js';
import { DEFAULT_KID, kid } from '../metrics/kid.js';
import { extract, realReference, type Reference } from '../metrics/reference.js';
import { UserError } from '../util/errors.js';
import type { ImageArray } from './common.js';

/** The metrics this module computes. */
export const QUALITY_METRICS = ['fid', 'kid'] as const;
export type QualityMetric = (typeof QUALITY_METRICS)[number];

export interface QualityOptions {
  /** Which metrics (default both). */
  what: readonly QualityMetric[];
  /** model.json of the extractor; '' = the dataset's default (.cache/extractors/<dataset>/model.json). */
  extractor: string;
  /** A graph-model extractor's nodes and input (src/metrics/graph-model.ts). */
  graph: GraphOptions;
  /** Side of the dataset's split the real reference comes from. */
  split: 'train' | 'heldout';
  /** Real reference images (capped at the split's size). */
  realSamples: number;
  /** Seed of the reference's subset and of KID's subsets. */
  seed: number;
  /** KID's subsets and their size (capped at the smaller set). */
  kid: { subsets: number; subsetSize: number };
  /** Folder of the real-reference cache; '' = .cache/metrics at the repo root. */
  cacheDir: string;
  /** Images per extractor call (memory only). */
  chunk: number;
}

export const DEFAULT_QUALITY: QualityOptions = { what: QUALITY_METRICS, extractor: '', graph: { ...DEFAULT_GRAPH }, split: 'train', realSamples: 10000, seed: 0, kid: { ...DEFAULT_KID }, cacheDir: '', chunk: 256 };

/** Images of a sampler: `count` images from index `start`, [count,r,r,3] in [-1,1] (the caller disposes). */
export type Sampler = (start: number, count: number) => tf.Tensor4D;

/** A sampler over images already in memory (one level of generatorImages / sourceImages). */
export function arraySampler(x: ImageArray): Sampler {
  const size = x.h * x.w * x.c;
  return (s, m) => tf.tensor4d(x.data.subarray(s * size, (s + m) * size), [m, x.h, x.w, x.c]);
}

export interface QualityNumbers {
  fid?: { fid: number; meanTerm: number; covTerm: number };
  kid?: { kid: number; std: number; subsets: number; subsetSize: number };
}

export interface QualityResult extends QualityNumbers {
  /** The same numbers for as many real images of the other side of the split (a perfect generator's), when asked for. */
  floor: QualityNumbers | null;
  /** What the numbers depend on: the keys of every metric report's method.params (docs/metrics.md). */
  provenance: Record<string, string | number | boolean>;
}

/** The command that builds a dataset's default extractor, for messages. */
function buildCommand(ds: ImageDataset): string {
  const spec = ds.set.name.startsWith('folder:') ? '<the image folder>' : ds.set.name;
  return `fsrgan metrics train-extractor --dataset ${spec}`;
}

/** The model.json an option set names for a dataset; a UserError when it is not on disk. */
export function qualityExtractorPath(ds: ImageDataset, opts: Pick<QualityOptions, 'extractor'>, field = 'the extractor'): string {
  if (opts.extractor) {
    if (!existsSync(opts.extractor)) throw new UserError(`${field} '${opts.extractor}' does not exist: pass the model.json of an extractor (\`fsrgan metrics train-extractor --dataset D --out DIR\` writes DIR/model.json).`);
    return opts.extractor;
  }
  const path = join(defaultExtractorDir(findRepoRoot(), ds.set.name), 'model.json');
  if (!existsSync(path)) {
    throw new UserError(`no feature extractor for ${ds.set.name} is cached yet (${path}): build it once with \`${buildCommand(ds)}\` (about a minute), or \`fsrgan metrics RUN\` on any run on it, then try again.`);
  }
  return path;
}

/**
 * FID and KID of images against one dataset, the real references cached on disk and in memory (one per
 * resolution), so that a caller measuring again and again (the training hooks) pays for them once. Holds
 * no tensor between calls: the extractor is loaded per call and disposed.
 */
export class QualityMeter {
  readonly opts: QualityOptions;
  private refs = new Map<string, { ref: Reference; m: Moments | null }>();

  constructor(
    readonly dataset: ImageDataset,
    opts: Partial<QualityOptions> = {},
  ) {
    this.opts = { ...DEFAULT_QUALITY, ...opts, kid: { ...DEFAULT_QUALITY.kid, ...opts.kid }, graph: { ...DEFAULT_QUALITY.graph, ...opts.graph } };
    if (!this.opts.what.length) throw new UserError('QualityMeter: ask for at least one of fid, kid.');
    // Fails now, not at the first measurement, when the extractor is missing.
    qualityExtractorPath(dataset, this.opts);
  }

  private cacheDir(): string {
    return this.opts.cacheDir || join(findRepoRoot(), '.cache', 'metrics');
  }

  private reference(ex: Extractor, split: 'train' | 'heldout', n: number, r: number): { ref: Reference; moments: () => Moments } {
    const key = `${ex.sha256}/${split}/${n}/${r}`;
    let hit = this.refs.get(key);
    if (!hit) {
      hit = { ref: realReference(ex, this.dataset, split, n, r, this.opts.seed, this.cacheDir()), m: null };
      this.refs.set(key, hit);
    }
    const h = hit;
    return { ref: h.ref, moments: () => (h.m ??= moments(h.ref.features)) };
  }

  private numbers(real: { ref: Reference; moments: () => Moments }, fake: Reference['features']): QualityNumbers {
    const out: QualityNumbers = {};
    if (this.opts.what.includes('fid')) {
      const f = fid(real.moments(), fake);
      out.fid = { fid: f.fid, meanTerm: f.meanTerm, covTerm: f.covTerm };
    }
    if (this.opts.what.includes('kid')) {
      const k = kid(real.ref.features, fake, { ...this.opts.kid, seed: this.opts.seed });
      out.kid = { kid: k.kid, std: k.std, subsets: k.subsets, subsetSize: k.subsetSize };
    }
    return out;
  }

  /**
   * The metrics of n images of `sampler` at resolution r (of the dataset's pyramid: both sets are resized
   * to the extractor's input), and with `floor` those of n real images of the other side of the split.
   */
  measure(sampler: Sampler, n: number, r: number, opts: { floor?: boolean } = {}): QualityResult {
    const path = qualityExtractorPath(this.dataset, this.opts);
    const ex = loadExtractor(path, this.opts.graph);
    try {
      const fake = extract(ex, n, sampler, this.opts.chunk);
      const real = this.reference(ex, this.opts.split, this.opts.realSamples, r);
      const result: QualityResult = { ...this.numbers(real, fake.features), floor: null, provenance: {} };
      let floorSamples = 0;
      if (opts.floor) {
        const other = this.opts.split === 'train' ? 'heldout' : 'train';
        const size = splitIndices(this.dataset.set.count, this.dataset.options.heldOutFraction, this.dataset.options.seed)[other].length;
        if (size > 0) {
          const f = this.reference(ex, other, n, r).ref;
          result.floor = this.numbers(real, f.features);
          floorSamples = f.features.n;
        }
      }
      const accuracy = ex.info.heldOutAccuracy;
      result.provenance = {
        extractor: ex.name,
        extractorSha256: ex.sha256.slice(0, 16),
        extractorKind: ex.kind,
        ...(typeof accuracy === 'number' ? { extractorHeldOutAccuracy: accuracy } : {}),
        extractorPath: path,
        features: ex.featureDim,
        dataset: this.dataset.set.name,
        datasetKey: real.ref.key.datasetKey,
        split: this.opts.split,
        resolution: r,
        realSamples: real.ref.features.n,
        fakeSamples: fake.features.n,
        floorSamples,
        realSeed: this.opts.seed,
        ...(this.opts.what.includes('kid') ? { kidSubsets: this.opts.kid.subsets, kidSubsetSize: Math.min(this.opts.kid.subsetSize, real.ref.features.n, fake.features.n), kidSeed: this.opts.seed } : {}),
      };
      return result;
    } finally {
      ex.dispose();
    }
  }
}

/**
 * FID and KID of n images of a sampler (a generator of any family, real images, anything) against a
 * dataset, at resolution r, with provenance and, with `floor`, the floor. The library entry point of
 * docs/metrics.md; `n` of at least a few hundred (FID is biased upward at small n: compare equal n only).
 */
export function sampleQuality(sampler: Sampler, n: number, dataset: ImageDataset, r: number, opts: Partial<QualityOptions> & { floor?: boolean } = {}): QualityResult {
  return new QualityMeter(dataset, opts).measure(sampler, n, r, { floor: opts.floor });
}
