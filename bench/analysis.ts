/**
 * Speed of the analysis modules at the size the acceptance names: 10,000 samples at 32x32 (pyramid
 * 8, 16, 32; the teacher of experiments/teacher-small.json as "real", a random-init learner as "fake").
 * Prints seconds per measurement against the limit (60 s) and against an anchor measured in the same run
 * (generating the 10,000 pyramids once). Run: npx tsx bench/analysis.ts [--samples N] [--backend B]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { buildTeacher, disposeTeacher, resolveTeacherConfig } from '../src/teacher/index.js';
import { createLearner, disposeLearner } from '../src/models/learner.js';
import { Rng } from '../src/util/rng.js';
import {
  DEFAULT_ANALYSIS,
  featureAlignment,
  generatorImages,
  generatorLocality,
  generatorSparsity,
  momentMatching,
  patchSwd,
  randomBank,
  teacherRecovery,
} from '../src/analysis/index.js';

const LIMIT_S = 60;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { samples: { type: 'string' }, backend: { type: 'string' } } });
  const n = Number(values.samples ?? 10_000);
  const choice = await initBackend(values.backend ?? 'wasm');
  const teacher = buildTeacher(resolveTeacherConfig({ resolutions: [8, 16, 32], channels: [16, 16, 16], zDim: 16, kernel: 4, patch: 4, targetActive: [2, 2, 2], seed: 1 }));
  const learner = createLearner(teacher.params.shape, new Rng(2, 'bench/init'));
  const L = teacher.params.shape.resolutions.length;
  console.log(`analysis bench: ${n} samples, resolutions ${teacher.params.shape.resolutions.join(', ')}, backend ${choice.backend}`);

  let t0 = performance.now();
  const real = generatorImages(teacher.params, n, 1, L);
  const anchor = (performance.now() - t0) / 1000;
  const fake = generatorImages(learner.params, n, 2, L);
  console.log(`anchor: generating ${n} pyramids ${anchor.toFixed(2)} s`);

  const z = tf.tensor4d(new Rng(3, 'bench/z').normals(n * 16), [n, 1, 1, 16]);
  const rows: [string, string, number][] = [];
  const measure = (name: string, detail: string, fn: () => unknown) => {
    t0 = performance.now();
    fn();
    const s = (performance.now() - t0) / 1000;
    rows.push([name, detail, s]);
    console.log(`${name.padEnd(10)} ${s.toFixed(2).padStart(7)} s  (limit ${LIMIT_S} s, ${(s / LIMIT_S).toFixed(3)} of it; ${(s / anchor).toFixed(1)}x anchor)  ${detail}`);
  };
  measure('sparsity', `${n} samples, every hidden position of 3 layers`, () => generatorSparsity(teacher.params, z));
  measure('moments', `all ${n * 64} 4x4 patches at r32, orders 1-4 (64 directions), cross, noise floor`, () =>
    momentMatching(real, fake, { patch: 4, maxPatches: Infinity, noiseFloor: true, cross: true }),
  );
  measure('alignment', '64 x 64 filters of dim 48, 5 random draws', () => {
    const rng = new Rng(4);
    featureAlignment(randomBank(64, 48, rng), randomBank(64, 48, rng), { randomDraws: 5 });
  });
  measure('recovery', `3 layers of 16 atoms + sparsity of both generators (${n} samples)`, () => {
    const a = generatorSparsity(learner.params, z);
    const b = generatorSparsity(teacher.params, z);
    teacherRecovery(learner.params, teacher.params, {}, a, b);
  });
  measure('locality', `${n} samples, layers 2-3, ${DEFAULT_ANALYSIS.locality.positions} positions`, () =>
    generatorLocality(teacher.params, z, { positions: DEFAULT_ANALYSIS.locality.positions }),
  );
  measure('swd', `7x7 crops, 32 per image (${n * 32} per set and level), 128 directions, 3 levels`, () => patchSwd(real, fake, {}));
  z.dispose();
  disposeLearner(learner);
  disposeTeacher(teacher);
  const worst = rows.reduce((a, b) => (b[2] > a[2] ? b : a));
  console.log(`slowest: ${worst[0]} ${worst[2].toFixed(2)} s; ${rows.every((r) => r[2] < LIMIT_S) ? 'all under' : 'NOT all under'} ${LIMIT_S} s`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
