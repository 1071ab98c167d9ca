/**
 * The trainer's learning check on the small teacher: trains experiments/smoke-plus.json (layerwise) and
 * prints, per level and at every stage end, the first- and second-order patch-moment gap between the
 * teacher and the learner (src/analysis/moments.ts, orders 1 and 2 on the generator's P x P patches:
 * relative errors of the patch mean and of the patch second-moment matrix), the same gap at initialisation, and the noise floor (two independent teacher
 * samples of the same size). Exits 1 unless the top-resolution gap fell at least 5x from init.
 *
 *   npx tsx bench/train-moments.ts [config=experiments/smoke-plus.json] [--n 1024] [--every 100]
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { createLearner, disposeLearner, learnerForward, sampleLatents, type Learner } from '../src/models/learner.js';
import { TeacherSource } from '../src/data/teacher.js';
import { loadConfigFile } from '../src/train/config.js';
import { openTrainData } from '../src/train/data.js';
import { momentMatching } from '../src/analysis/moments.js';
import { configShape } from '../src/train/session.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';

const { values, positionals } = parseArgs({ options: { n: { type: 'string' }, every: { type: 'string' }, backend: { type: 'string' } }, allowPositionals: true });
const file = positionals[0] ?? 'experiments/smoke-plus.json';
const n = Number(values.n ?? 1024);
const every = Number(values.every ?? 100);
await initBackend(values.backend ?? 'wasm');
const config = await loadConfigFile(file);
const { source, teacher } = await openTrainData(config, (m) => console.error(m));
if (!teacher) throw new Error(`${file}: this check needs synthetic (teacher) data`);
const L = config.generator.resolutions.length;
const P = config.generator.patch;
// Evaluation data: teacher draws disjoint from training (other seeds), fixed learner latents.
const real = new TeacherSource(teacher, 1_000_001).batch(n);
const real2 = new TeacherSource(teacher, 1_000_002).batch(n);
const zEval = sampleLatents(new Rng(1_000_003, 'eval'), n, config.generator.zDim);
interface MomentGap {
  mean: number;
  second: number;
}
/** Order-1 and order-2 relative errors per level, on every non-overlapping P x P patch. */
const momentGaps = (a: tf.Tensor4D[], b: tf.Tensor4D[]): MomentGap[] =>
  momentMatching(a, b, { patch: P, maxOrder: 2, noiseFloor: false, cross: false, maxPatches: Infinity }).levels.map((lv) => ({
    mean: lv.orders[0].relError,
    second: lv.orders[1].relError,
  }));
const floor = momentGaps(real, real2);
const gaps = (g: Learner): MomentGap[] => {
  const xs = tf.tidy(() => learnerForward(g, zEval).x);
  const out = momentGaps(real, xs);
  tf.dispose(xs);
  return out;
};
const init = createLearner(configShape(config, 3), new Rng(config.seed, 'init-g'), config.generator.init);
const rows: { step: number; stage: number; gaps: MomentGap[] }[] = [{ step: 0, stage: 0, gaps: gaps(init) }];
disposeLearner(init);
const fmt = (g: MomentGap[]) => g.map((x, l) => `r${config.generator.resolutions[l]} ${x.mean.toFixed(3)}/${x.second.toFixed(3)}`).join('  ');
console.log(`moment gap (mean / second order) of ${n} samples; noise floor: ${fmt(floor)}`);
console.log(`step 0 (init): ${fmt(rows[0].gaps)}`);
const t0 = performance.now();
const dir = await mkdtemp(join(tmpdir(), 'fsrgan-moments-'));
await train(config, dir, {
  source,
  teacher,
  hooks: [
    {
      every,
      fn: (ctx) => {
        const g = gaps(ctx.learner);
        rows.push({ step: ctx.step, stage: ctx.stage.level, gaps: g });
        console.log(`step ${ctx.step} (stage ${ctx.stage.level}): ${fmt(g)}`);
        return Object.fromEntries(g.flatMap((x, l) => [[`gapMean${l + 1}`, x.mean], [`gapSecond${l + 1}`, x.second]]));
      },
    },
  ],
});
const last = rows[rows.length - 1].gaps[L - 1];
const first = rows[0].gaps[L - 1];
const ratio = { mean: first.mean / last.mean, second: first.second / last.second };
console.log(
  `top resolution r${config.generator.resolutions[L - 1]}: mean gap ${first.mean.toFixed(3)} -> ${last.mean.toFixed(3)} (${ratio.mean.toFixed(1)}x), ` +
    `second-moment gap ${first.second.toFixed(3)} -> ${last.second.toFixed(3)} (${ratio.second.toFixed(1)}x); ` +
    `noise floor ${floor[L - 1].mean.toFixed(3)} / ${floor[L - 1].second.toFixed(3)}; ${((performance.now() - t0) / 1000).toFixed(0)} s training; run in ${dir}`,
);
process.exitCode = ratio.mean >= 5 && ratio.second >= 5 ? 0 : 1;
