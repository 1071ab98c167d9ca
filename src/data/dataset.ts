/**
 * A real image dataset as a PyramidSource: the top-resolution images in memory as uint8, a train /
 * held-out split fixed by the seed, batches in an order fixed by the seed (each epoch a fresh permutation),
 * and each batch served as a pyramid pooled from the top level (x_{l-1} = 2x2 average pool of x_l).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import type { PyramidSource } from './source.js';
import { poolPyramid, pyramidResolutions } from './pyramid.js';

/** Decoded images at the top resolution plus what they are; the input of ImageDataset. */
export interface ImageSet {
  /** Short name ('emoji-twitter', 'fashion-mnist', 'folder:<path>'). */
  name: string;
  /** Number of images N. */
  count: number;
  /** Top resolution R. */
  resolution: number;
  /** Stored channels: 3 (RGB) or 1 (gray, replicated to RGB when served). */
  channels: 1 | 3;
  /** Pixels [N,R,R,channels], 0..255. */
  pixels: Uint8Array;
  /** Class index of each image [N]. */
  labels: Int32Array;
  /** Class names; labels index into this list. */
  classNames: string[];
  /** The text of each image [N] where the dataset has one (emoji: name and short names), for text conditioning. */
  names?: string[];
  /** SPDX-style license of the images. */
  license: string;
  /** Attribution text required or requested by the license. */
  attribution: string;
  /** Provenance recorded in describe(): source package and version, background, cache path, ... */
  provenance: Record<string, unknown>;
}

export interface ImageDatasetOptions {
  seed: number;
  /** Fraction of images held out, in [0, 1). */
  heldOutFraction: number;
  /** Lowest pyramid resolution r_1. */
  minResolution: number;
  /** Which side of the split this source serves. */
  subset?: 'train' | 'heldout';
}

/** JSON state of an ImageDataset: where in which epoch the next batch starts. */
export interface ImageDatasetState {
  dataset: string;
  subset: 'train' | 'heldout';
  seed: number;
  size: number;
  epoch: number;
  position: number;
}

/** Indices of the held-out and train images: a seeded permutation, the first round(N*f) held out. */
export function splitIndices(count: number, heldOutFraction: number, seed: number): { train: number[]; heldout: number[] } {
  const perm = new Rng(seed, 'data-split').permutation(count);
  const nHeld = Math.round(count * heldOutFraction);
  const byIndex = (a: number, b: number) => a - b;
  return { heldout: perm.slice(0, nHeld).sort(byIndex), train: perm.slice(nHeld).sort(byIndex) };
}

export class ImageDataset implements PyramidSource {
  readonly resolutions: number[];
  readonly channels = 3;
  readonly subset: 'train' | 'heldout';
  /** Indices into the ImageSet of the images this source serves, ascending. */
  readonly indices: readonly number[];
  private epoch = 0;
  private position = 0;
  private order: number[] | null = null;

  constructor(
    readonly set: ImageSet,
    readonly options: ImageDatasetOptions,
  ) {
    if (set.pixels.length !== set.count * set.resolution * set.resolution * set.channels || set.labels.length !== set.count) {
      throw new Error(`ImageDataset: pixels/labels do not match [${set.count},${set.resolution},${set.resolution},${set.channels}]`);
    }
    this.resolutions = pyramidResolutions(set.resolution, options.minResolution);
    this.subset = options.subset ?? 'train';
    const split = splitIndices(set.count, options.heldOutFraction, options.seed);
    this.indices = split[this.subset];
    if (this.indices.length === 0) {
      throw new UserError(
        `dataset ${set.name}: the ${this.subset} split is empty (${set.count} images, heldOutFraction ${options.heldOutFraction}); change dataset.heldOutFraction.`,
      );
    }
  }

  /** Images served by this source. */
  get size(): number {
    return this.indices.length;
  }

  /** The other side of the split, as a fresh source with the same options. */
  heldOut(): ImageDataset {
    return new ImageDataset(this.set, { ...this.options, subset: this.subset === 'train' ? 'heldout' : 'train' });
  }

  private epochOrder(): number[] {
    if (!this.order) {
      const perm = new Rng(this.options.seed, `data-${this.subset}-epoch-${this.epoch}`).permutation(this.size);
      this.order = perm.map((k) => this.indices[k]);
    }
    return this.order;
  }

  /** The ImageSet indices of the next n images, advancing the state (epochs wrap and reshuffle). */
  nextIndices(n: number): number[] {
    if (!Number.isInteger(n) || n < 1) throw new Error(`ImageDataset.nextIndices: n must be a positive integer, got ${n}`);
    const out: number[] = [];
    while (out.length < n) {
      const order = this.epochOrder();
      out.push(order[this.position++]);
      if (this.position === order.length) {
        this.epoch++;
        this.position = 0;
        this.order = null;
      }
    }
    return out;
  }

  /** Top-level images [n,R,R,3] in [-1, 1] for the given ImageSet indices. */
  topImages(indices: readonly number[]): tf.Tensor4D {
    const { resolution: r, channels: c, pixels } = this.set;
    const per = r * r;
    const data = new Float32Array(indices.length * per * 3);
    for (let i = 0; i < indices.length; i++) {
      const src = indices[i] * per * c;
      const dst = i * per * 3;
      for (let p = 0; p < per; p++)
        for (let ch = 0; ch < 3; ch++) data[dst + p * 3 + ch] = pixels[src + p * c + (c === 1 ? 0 : ch)] / 127.5 - 1;
    }
    return tf.tensor4d(data, [indices.length, r, r, 3]);
  }

  /**
   * The next batch with its class labels: pyramid [x_1..x_L] (each [n,r_l,r_l,3], in [-1,1]), labels [n] and
   * the images' indices into the ImageSet (for their names).
   */
  batchWithLabels(n: number): { levels: tf.Tensor4D[]; labels: Int32Array; indices: number[] } {
    const idx = this.nextIndices(n);
    const levels = tf.tidy(() => poolPyramid(this.topImages(idx), this.resolutions.length));
    return { levels, labels: Int32Array.from(idx, (i) => this.set.labels[i]), indices: idx };
  }

  batch(n: number): tf.Tensor4D[] {
    return this.batchWithLabels(n).levels;
  }

  getState(): ImageDatasetState {
    return { dataset: this.set.name, subset: this.subset, seed: this.options.seed, size: this.size, epoch: this.epoch, position: this.position };
  }

  setState(state: unknown): void {
    const s = state as Partial<ImageDatasetState> | null;
    const mine = this.getState();
    if (!s || typeof s !== 'object' || s.dataset !== mine.dataset || s.subset !== mine.subset || s.seed !== mine.seed || s.size !== mine.size) {
      throw new UserError(
        `dataset state ${JSON.stringify(s && { dataset: s.dataset, subset: s.subset, seed: s.seed, size: s.size })} does not belong to this dataset ` +
          `(${mine.dataset}, ${mine.subset}, seed ${mine.seed}, ${mine.size} images); resume with the same dataset and dataset config.`,
      );
    }
    if (!Number.isInteger(s.epoch) || !Number.isInteger(s.position) || s.epoch! < 0 || s.position! < 0 || s.position! >= this.size) {
      throw new UserError(`dataset state has an invalid epoch/position (${s.epoch}/${s.position}).`);
    }
    this.epoch = s.epoch!;
    this.position = s.position!;
    this.order = null;
  }

  describe(): Record<string, unknown> {
    return {
      name: this.set.name,
      kind: 'image-dataset',
      subset: this.subset,
      size: this.size,
      total: this.set.count,
      resolutions: this.resolutions,
      channels: this.channels,
      storedChannels: this.set.channels,
      classes: this.set.classNames.length,
      license: this.set.license,
      attribution: this.set.attribution,
      seed: this.options.seed,
      heldOutFraction: this.options.heldOutFraction,
      ...this.set.provenance,
    };
  }
}
