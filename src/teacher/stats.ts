/**
 * What a teacher realises on fresh samples: active channels per hidden position (docs/theory.md section 1,
 * "hierarchical sparse coding"), the coherence of each A_l, and how far the pyramid is from consistent
 * (x_{l-1} versus the 2x2 average pool of x_l; docs/teacher.md explains why it is not zero).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { coherence } from './dictionary.js';
import { blockAtoms, sampleTeacher, type Teacher } from './build.js';

export interface TeacherLayerStats {
  resolution: number;
  channels: number;
  targetActive: number;
  /** Mean number of non-zero channels of s_l per hidden position, over all samples and positions. */
  realisedActive: number;
  /** realisedActive / channels. */
  activeFraction: number;
  /** Fraction of hidden positions with no active channel (the patch is painted 0). */
  emptyFraction: number;
  coherence: number;
  coherenceBound: number;
  welchBound: number;
  /** Fraction of pixels of x_l outside [-1, 1]. */
  outOfRange: number;
}

export interface TeacherStats {
  /** Samples drawn and the seed of their z. */
  n: number;
  seed: number;
  layers: TeacherLayerStats[];
  /**
   * For l = 2..L (index l - 2): ||avgPool2(x_l) - x_{l-1}|| / ||x_{l-1}||, Frobenius norms over all samples.
   */
  consistencyGap: number[];
}

/** Measures `teacher` on n fresh samples drawn with Rng(seed, 'teacher/sample'), in chunks of `chunk`. */
export function teacherStats(teacher: Teacher, n: number, seed: number, chunk = 256): TeacherStats {
  const rng = new Rng(seed, 'teacher/sample');
  const L = teacher.params.shape.resolutions.length;
  const active = new Array(L).fill(0);
  const empty = new Array(L).fill(0);
  const outside = new Array(L).fill(0);
  const positions = new Array(L).fill(0);
  const pixels = new Array(L).fill(0);
  const gapNum = new Array(Math.max(0, L - 1)).fill(0);
  const gapDen = new Array(Math.max(0, L - 1)).fill(0);
  for (let done = 0; done < n; done += chunk) {
    const m = Math.min(chunk, n - done);
    const sample = sampleTeacher(teacher, m, rng);
    const sums = tf.tidy(() => {
      const out: tf.Tensor[] = [];
      for (let l = 0; l < L; l++) {
        const nz = tf.sum(tf.notEqual(sample.s[l], 0).asType('float32'), -1);
        out.push(tf.sum(nz), tf.sum(tf.equal(nz, 0).asType('float32')), tf.sum(tf.greater(tf.abs(sample.x[l]), 1).asType('float32')));
        if (l > 0) {
          const pooled = tf.avgPool(sample.x[l], 2, 2, 'valid');
          out.push(tf.sum(tf.square(tf.sub(pooled, sample.x[l - 1]))), tf.sum(tf.square(sample.x[l - 1])));
        }
      }
      return tf.stack(out.map((t) => t.asType('float32')));
    });
    const v = sums.dataSync();
    let k = 0;
    for (let l = 0; l < L; l++) {
      active[l] += v[k++];
      empty[l] += v[k++];
      outside[l] += v[k++];
      const [, g1, g2] = sample.s[l].shape;
      positions[l] += m * g1 * g2;
      pixels[l] += sample.x[l].size;
      if (l > 0) {
        gapNum[l - 1] += v[k++];
        gapDen[l - 1] += v[k++];
      }
    }
    tf.dispose([sums, sample.z, ...sample.s, ...sample.x]);
  }
  const layers = teacher.layers.map((info, l) => ({
    resolution: info.resolution,
    channels: info.channels,
    targetActive: info.targetActive,
    realisedActive: active[l] / positions[l],
    activeFraction: active[l] / positions[l] / info.channels,
    emptyFraction: empty[l] / positions[l],
    coherence: coherence(blockAtoms(teacher.params.blocks[info.resolution].out)),
    coherenceBound: info.coherenceBound,
    welchBound: info.welchBound,
    outOfRange: outside[l] / pixels[l],
  }));
  return { n, seed, layers, consistencyGap: gapNum.map((g, i) => Math.sqrt(g / gapDen[i])) };
}
