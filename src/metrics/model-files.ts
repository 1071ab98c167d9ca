/**
 * What every feature extractor shares (extractor.ts: fsrgan's CNN; graph-model.ts: a user's tfjs graph
 * model): the Extractor interface, the input resize, the content hash and reading weight shards from disk.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.js';

/** A loaded extractor: a pure function of images plus what it is. */
export interface Extractor {
  /** Short name: 'fsrgan-cnn-fashion-mnist', or 'graph:<file>' for a graph model. */
  name: string;
  /** sha256 (hex) of the architecture and the weights. */
  sha256: string;
  kind: 'fsrgan-cnn' | 'graph-model';
  inputSize: number;
  featureDim: number;
  /** Class names of the logits; empty when the model gives none (a feature-only graph model). */
  classNames: string[];
  /** The model.json path it was loaded from (null: built in memory). */
  path: string | null;
  /** What model.json records about it (dataset, held-out accuracy, training settings). */
  info: Record<string, unknown>;
  /**
   * Features [n,featureDim] and logits [n,C] (null without classes) of images [n,h,w,3] in [-1,1]; images of
   * another size are resized bilinearly (half-pixel centres) to inputSize first. The caller disposes.
   */
  apply(x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D | null };
  dispose(): void;
}

/** Images resized to side s when they are not already (bilinear, half-pixel centres). */
export function resizeTo(x: tf.Tensor4D, s: number): tf.Tensor4D {
  return x.shape[1] === s && x.shape[2] === s ? x : tf.image.resizeBilinear(x, [s, s], false, true);
}

/** sha256 (hex) of an extractor's architecture (canonical JSON) followed by its weight bytes. */
export function contentHash(topology: unknown, weights: Uint8Array): string {
  return createHash('sha256').update(JSON.stringify(topology)).update(weights).digest('hex');
}

/** Reads the weight files of a manifest (paths relative to model.json) as one buffer. */
export function readWeights(modelPath: string, manifest: { paths: string[] }[]): Uint8Array {
  const parts = manifest.flatMap((g) =>
    g.paths.map((p) => {
      const file = join(dirname(modelPath), p);
      if (!existsSync(file)) throw new UserError(`the extractor '${modelPath}' lists the weight file '${p}', which is missing; copy it next to model.json.`);
      return readFileSync(file);
    }),
  );
  return new Uint8Array(Buffer.concat(parts));
}
