import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { featureAlignment, alignmentMetrics, matchBanks, randomBank } from '../src/analysis/alignment.js';
import { dictionaryRecovery, teacherRecovery } from '../src/analysis/recovery.js';
import { generatorSparsity } from '../src/analysis/sparsity.js';
import { isAlignmentReport, isRecoveryReport } from '../src/analysis/validate.js';
import { buildTeacher, disposeTeacher, type Teacher } from '../src/teacher/build.js';
import { resolveTeacherConfig } from '../src/teacher/config.js';
import { createLearner, disposeLearner } from '../src/models/learner.js';
import { Rng } from '../src/util/rng.js';

/** A [P,P,3,F] bank tensor from columns. */
function bankTensor(cols: Float64Array[], p: number): tf.Tensor4D {
  const f = cols.length;
  const d = cols[0].length;
  const w = new Float32Array(d * f);
  cols.forEach((c, j) => c.forEach((x, r) => (w[r * f + j] = x)));
  return tf.tensor4d(w, [p, p, d / (p * p), f]);
}

/** Exact E|cos| of a random unit vector with a fixed one in R^d: Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)). */
function meanAbsCos(d: number): number {
  let r = 1;
  // Gamma(d/2) / Gamma((d+1)/2) by the recurrence from d = 1 or 2.
  if (d % 2 === 0) {
    r = 1 / (Math.sqrt(Math.PI) / 2); // Gamma(1) / Gamma(3/2)
    for (let k = 2; k < d; k += 2) r *= k / 2 / (k / 2 + 0.5);
  } else {
    r = Math.sqrt(Math.PI); // Gamma(1/2) / Gamma(1)
    for (let k = 1; k < d; k += 2) r *= (k / 2) / (k / 2 + 0.5);
  }
  return r / Math.sqrt(Math.PI);
}

/** Exact E[max of n iid |cos|] in R^d: integral of 1 - F(t)^n, density of |cos| proportional to (1-t^2)^((d-3)/2). */
function meanBestAbsCos(d: number, n: number): number {
  const steps = 20000;
  const dens = Array.from({ length: steps }, (_, i) => (1 - ((i + 0.5) / steps) ** 2) ** ((d - 3) / 2));
  const z = dens.reduce((a, b) => a + b, 0);
  let cdf = 0;
  let e = 0;
  for (let i = 0; i < steps; i++) {
    cdf += dens[i] / z;
    e += (1 - cdf ** n) / steps;
  }
  return e;
}

describeEachBackend('feature alignment', () => {
  it('a permuted, sign-flipped, rescaled copy of a bank matches with |cos| 1 and the planted permutation', () => {
    const rng = new Rng(1, 'test/alignment');
    const a = randomBank(64, 48, rng);
    const perm = rng.permutation(64);
    // bb[j] = a[perm[j]] times a random sign and a scale per column.
    const signs = perm.map(() => (rng.uniform() < 0.5 ? -1 : 1));
    const bb = perm.map((i, j) => a[i].map((x) => x * signs[j] * (1 + j)));
    const [ta, tb] = [bankTensor(a, 4), bankTensor(bb, 4)];
    const rep = featureAlignment(ta, tb, { randomDraws: 3, seed: 2 });
    tf.dispose([ta, tb]);
    expect(rep.observed.meanMatched).toBeCloseTo(1, 5);
    for (const [i, j, c] of rep.pairs) {
      expect(perm[j]).toBe(i);
      expect(c).toBeCloseTo(signs[j], 5);
    }
    expect(rep.random.meanMatched).toBeLessThan(0.45);
    expect(rep.random.draws).toBe(3);
    expect(isAlignmentReport(rep)).toBe(true);
  });

  it('random 48-dimensional banks: E|cos| and best-of-64 match their closed forms', () => {
    const rng = new Rng(3, 'test/alignment-random');
    const all: number[] = [];
    const best: number[] = [];
    for (let t = 0; t < 8; t++) {
      const m = matchBanks(randomBank(64, 48, rng), randomBank(64, 48, rng));
      all.push(m.meanAll);
      best.push(m.meanBest);
      expect(m.meanMatched).toBeLessThan(m.meanBest);
    }
    const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
    expect(meanAbsCos(48)).toBeCloseTo(Math.sqrt(2 / (Math.PI * 48)), 2);
    expect(Math.abs(mean(all) - meanAbsCos(48))).toBeLessThan(0.003);
    expect(Math.abs(mean(best) - meanBestAbsCos(48, 64))).toBeLessThan(0.01);
  });

  it('rectangular banks (32 D filters, 64 atoms) match 32 pairs; mismatched dimensions are rejected', () => {
    const rng = new Rng(4, 'test/alignment-rect');
    const atoms = randomBank(64, 48, rng);
    const d = [...atoms.slice(10, 42)];
    const rep = featureAlignment(d, atoms, { randomDraws: 2 });
    expect(rep.pairs.length).toBe(32);
    expect(rep.observed.meanMatched).toBeCloseTo(1, 10);
    const m = alignmentMetrics(d, atoms);
    expect(m['alignment/matched']).toBeCloseTo(1, 10);
    expect(m['alignment/random']).toBeLessThan(0.5);
    expect(() => featureAlignment(randomBank(4, 27, rng), atoms)).toThrow(/dimension/);
  });
});

describeEachBackend('teacher recovery', () => {
  let teacher: Teacher;
  beforeAll(() => {
    teacher = buildTeacher(resolveTeacherConfig({ resolutions: [4, 8], channels: [12, 12], targetActive: [2, 2], calibrationSamples: 256 }));
  });
  afterAll(() => disposeTeacher(teacher));

  it('a teacher against itself recovers 1.0 at every layer, with zero statistics error', () => {
    const z = tf.tensor4d(new Rng(5).normals(64 * teacher.params.shape.zDim), [64, 1, 1, teacher.params.shape.zDim]);
    const st = generatorSparsity(teacher.params, z);
    z.dispose();
    const rep = teacherRecovery(teacher.params, teacher.params, {}, st, st);
    for (const l of rep.layers) {
      expect(l.meanMatched).toBeCloseTo(1, 5);
      expect(l.recovered).toBe(1);
      expect(l.meanSigned).toBeCloseTo(1, 5);
      expect(l.matchedTo).toEqual(l.matchedTo.map((_, i) => i));
      expect(l.stats).toEqual({ meanActive: 0, activeFraction: 0, hoyer: 0 });
    }
    expect(isRecoveryReport(rep)).toBe(true);
  });

  it('a wider learner holding the teacher atoms (permuted, scaled) among random ones recovers 1.0; a random learner does not', () => {
    const rng = new Rng(6, 'test/recovery');
    const t = teacher.params.blocks[8].out;
    const cols = (() => {
      const [p, , c, f] = t.shape;
      const v = t.dataSync();
      const d = p * p * c;
      return Array.from({ length: f }, (_, j) => Float64Array.from({ length: d }, (_, r) => v[r * f + j]));
    })();
    const wide = rng.shuffle([...cols.map((c) => c.map((x) => 3 * x)), ...randomBank(8, cols[0].length, rng)]);
    const rec = dictionaryRecovery(wide, t);
    expect(rec.meanMatched).toBeCloseTo(1, 5);
    expect(rec.recovered).toBe(1);
    const learner = createLearner(teacher.params.shape, new Rng(7));
    const rnd = teacherRecovery(learner.params, teacher.params);
    disposeLearner(learner);
    for (const l of rnd.layers) {
      expect(l.recovered).toBeLessThan(0.2);
      expect(l.meanMatched).toBeLessThan(0.6);
      expect(l.stats).toBeNull();
    }
  });
});
