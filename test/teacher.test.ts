import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { generatorForward, type GeneratorParams } from '../src/models/generator.js';
import { deconv2d } from '../src/ops/index.js';
import { Rng } from '../src/util/rng.js';
import { buildTeacher, disposeTeacher, resolveTeacherConfig, sampleTeacher, teacherStats, type Teacher } from '../src/teacher/index.js';

// Small enough for the cpu reference backend; two layers so that the consistency gap exists.
const TINY = resolveTeacherConfig({ resolutions: [8, 16], channels: [8, 12], zDim: 6, targetActive: [2, 3], calibrationSamples: 256, seed: 11 });

/** Out weight [P,P,3,C] as float64 columns (atom c = column c), read independently of src/teacher. */
function atomsOf(out: tf.Tensor4D): number[][] {
  const [p, , k, c] = out.shape;
  const w = out.arraySync();
  const atoms: number[][] = [];
  for (let j = 0; j < c; j++) {
    const a: number[] = [];
    for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) for (let ch = 0; ch < k; ch++) a.push(w[y][x][ch][j]);
    atoms.push(a);
  }
  return atoms;
}

/** max |x - A y_p| over every patch of every image, in float64, from the code s [N,g,g,C]. */
function maxPaintError(x: number[][][][], s: number[][][][], atoms: number[][], patch: number): number {
  let err = 0;
  for (let n = 0; n < s.length; n++)
    for (let i = 0; i < s[n].length; i++)
      for (let j = 0; j < s[n][i].length; j++)
        for (let y = 0; y < patch; y++)
          for (let xx = 0; xx < patch; xx++)
            for (let ch = 0; ch < 3; ch++) {
              let v = 0;
              s[n][i][j].forEach((yc, c) => (v += atoms[c][(y * patch + xx) * 3 + ch] * yc));
              err = Math.max(err, Math.abs(x[n][i * patch + y][j * patch + xx][ch] - v));
            }
  return err;
}

describeEachBackend('teacher', () => {
  let teacher: Teacher;
  it('builds with the target sparsity on its calibration set and coherence below the bound', () => {
    teacher = buildTeacher(TINY);
    teacher.layers.forEach((l, i) => {
      // A per-channel quantile makes exactly round(t/C * m) values active per channel unless values tie.
      expect(Math.abs(l.calibratedActive - TINY.targetActive[i])).toBeLessThan(0.02);
      expect(l.coherence).toBeLessThan(TINY.coherenceBound);
    });
    // Coherence recomputed here from the stored weight, in float64.
    for (const r of TINY.resolutions) {
      const a = atomsOf(teacher.params.blocks[r].out);
      let mu = 0;
      for (let i = 0; i < a.length; i++)
        for (let j = i + 1; j < a.length; j++) {
          const d = a[i].reduce((s, v, k) => s + v * a[j][k], 0);
          const ni = Math.hypot(...a[i]);
          const nj = Math.hypot(...a[j]);
          mu = Math.max(mu, Math.abs(d) / (ni * nj));
        }
      expect(mu).toBeLessThan(TINY.coherenceBound);
      expect(mu).toBeGreaterThan(0.5 * TINY.coherenceBound); // decorrelation stops near 0.9 x bound, not at 0
    }
  });

  it('paints a planted sparse code y with its dictionary: x = A y per patch (float64 reference)', () => {
    const g = 2;
    const C = TINY.channels[0];
    const rng = new Rng(3);
    // y: 2 active channels per position, positive values; z carries y and Deconv_1 is a copy, b = 0.
    const y = new Float32Array(g * g * C);
    for (let p = 0; p < g * g; p++) {
      const perm = rng.permutation(C);
      for (const c of perm.slice(0, 2)) y[p * C + c] = 0.2 + rng.uniform();
    }
    const zDim = g * g * C;
    const copy = new Float32Array(g * g * C * zDim);
    for (let a = 0; a < g; a++) for (let b = 0; b < g; b++) for (let c = 0; c < C; c++) copy[((a * g + b) * C + c) * zDim + (a * g + b) * C + c] = 1;
    const params: GeneratorParams = {
      shape: { resolutions: [8], channels: [C], zDim, kernel: 4, patch: 4, imageChannels: 3 },
      blocks: { 8: { deconv: tf.tensor4d(copy, [g, g, C, zDim]), bias: tf.zeros([C]) as tf.Tensor1D, out: teacher.params.blocks[8].out } },
    };
    const z = tf.tensor4d(y, [1, 1, 1, zDim]);
    const { s, x } = generatorForward(params, z);
    expect(Array.from(s[0].dataSync())).toEqual(Array.from(y));
    const yNested = [[0, 1].map((i) => [0, 1].map((j) => Array.from(y.slice((i * g + j) * C, (i * g + j + 1) * C))))];
    const err = maxPaintError(x[0].arraySync(), yNested, atomsOf(teacher.params.blocks[8].out), 4);
    expect(err).toBeLessThan(1e-5);
    // The reference is not vacuous: the image is far from zero.
    expect(Math.max(...Array.from(x[0].dataSync()).map(Math.abs))).toBeGreaterThan(0.1);
    tf.dispose([z, params.blocks[8].deconv, params.blocks[8].bias, ...s, ...x]);
  });

  it('every sampled image is A_l times its own hidden code, at every layer', () => {
    const { z, s, x } = sampleTeacher(teacher, 4, new Rng(5));
    TINY.resolutions.forEach((r, l) => {
      expect(maxPaintError(x[l].arraySync(), s[l].arraySync(), atomsOf(teacher.params.blocks[r].out), 4)).toBeLessThan(1e-5);
    });
    tf.dispose([z, ...s, ...x]);
  });

  it('the same seed gives bit-identical teachers and samples; another seed does not', () => {
    const again = buildTeacher(TINY);
    const a = sampleTeacher(teacher, 8, new Rng(9));
    const b = sampleTeacher(again, 8, new Rng(9));
    const c = sampleTeacher(again, 8, new Rng(10));
    for (let l = 0; l < TINY.resolutions.length; l++) {
      expect(Buffer.from(b.x[l].dataSync().buffer).equals(Buffer.from(a.x[l].dataSync().buffer))).toBe(true);
      expect(Buffer.from(c.x[l].dataSync().buffer).equals(Buffer.from(a.x[l].dataSync().buffer))).toBe(false);
    }
    const other = buildTeacher({ ...TINY, seed: 12 });
    expect(Array.from(other.params.blocks[8].out.dataSync())).not.toEqual(Array.from(teacher.params.blocks[8].out.dataSync()));
    for (const t of [a, b, c]) tf.dispose([t.z, ...t.s, ...t.x]);
    disposeTeacher(again);
    disposeTeacher(other);
  });

  it('stats match a float64 recount of active channels and of the pooled consistency gap', () => {
    const n = 20;
    const stats = teacherStats(teacher, n, 4, 8); // chunks of 8: also checks the chunked accumulation
    const rng = new Rng(4, 'teacher/sample');
    const parts = [8, 8, 4].map((m) => sampleTeacher(teacher, m, rng));
    const s = TINY.resolutions.map((_, l) => parts.flatMap((p) => p.s[l].arraySync()));
    const x = TINY.resolutions.map((_, l) => parts.flatMap((p) => p.x[l].arraySync()));
    for (let l = 0; l < 2; l++) {
      let active = 0;
      let pos = 0;
      for (const img of s[l]) for (const row of img) for (const code of row) (active += code.filter((v) => v !== 0).length), pos++;
      expect(stats.layers[l].realisedActive).toBeCloseTo(active / pos, 10);
    }
    let num = 0;
    let den = 0;
    for (let k = 0; k < n; k++)
      for (let i = 0; i < 8; i++)
        for (let j = 0; j < 8; j++)
          for (let ch = 0; ch < 3; ch++) {
            const hi = x[1][k];
            const pooled = (hi[2 * i][2 * j][ch] + hi[2 * i + 1][2 * j][ch] + hi[2 * i][2 * j + 1][ch] + hi[2 * i + 1][2 * j + 1][ch]) / 4;
            num += (pooled - x[0][k][i][j][ch]) ** 2;
            den += x[0][k][i][j][ch] ** 2;
          }
    expect(stats.consistencyGap[0]).toBeCloseTo(Math.sqrt(num / den), 4);
    for (const p of parts) tf.dispose([p.z, ...p.s, ...p.x]);
  });

  it('is local: one active parent position reaches only its 4 x 4 child window, mostly its own 2 x 2 children', () => {
    // 'same' transposed conv with k = 4, stride 2 puts tap a of parent i at child 2i + a - 1.
    const C = TINY.channels[0];
    const one = tf.tidy(() => tf.scatterND([[0, 2, 1, 3]], [1.5], [1, 4, 4, C]) as tf.Tensor4D);
    const child = tf.tidy(() => tf.sum(tf.square(deconv2d(one, teacher.params.blocks[16].deconv, 2, 'same')), -1).arraySync() as number[][][]);
    let inner = 0;
    let total = 0;
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        const e = child[0][y][x];
        total += e;
        if (y < 3 || y > 6 || x < 1 || x > 4) expect(e).toBe(0);
        if ((y === 4 || y === 5) && (x === 2 || x === 3)) inner += e;
      }
    expect(total).toBeGreaterThan(0);
    // The bilinear window alone gives (1.125 / 1.25)^2 = 0.81 of the energy to the own children.
    expect(inner / total).toBeGreaterThan(0.6);
    one.dispose();
  });

  it('leaks no tensors', () => {
    const before = tf.memory().numTensors;
    teacherStats(teacher, 16, 1);
    const t = buildTeacher(TINY);
    disposeTeacher(t);
    expect(tf.memory().numTensors).toBe(before);
    disposeTeacher(teacher);
  });
});
