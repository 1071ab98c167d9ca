/**
 * The pieces of the learning recipe (docs/findings.md): data-free layer calibration, the bounded head and
 * the skip from the level below (against float64 references), the EMA warm-up, and `--set a=1 b=2`.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it, describe } from 'vitest';
import { generatorForward, type GeneratorParams, type GeneratorShape } from '../src/models/generator.js';
import { calibrateLayer, retargetBias } from '../src/models/calibrate.js';
import { createLearner, disposeLearner, sampleLatents } from '../src/models/learner.js';
import { emaDecay } from '../src/train/step.js';
import { expandSets } from '../src/cli/args.js';
import { Rng } from '../src/util/rng.js';
import { arr4, refDeconv2d } from './ops.reference.js';
import { describeEachBackend } from './helpers/backends.js';

const SHAPE: GeneratorShape = { resolutions: [8, 16], channels: [6, 5], zDim: 4, kernel: 4, patch: 4, imageChannels: 3 };

/** Pre-activations of layer l (0-based) before the bias, per channel, in float64 from the tensors. */
function preActivations(params: GeneratorParams, l: number, z: tf.Tensor4D): Float64Array[] {
  const input = l === 0 ? z : generatorForward(params, z, l).s[l - 1];
  const w = params.blocks[params.shape.resolutions[l]].deconv;
  const x = arr4(input.shape as [number, number, number, number], input.dataSync());
  const ref = refDeconv2d(x, arr4(w.shape as [number, number, number, number], w.dataSync()), l === 0 ? 2 : 2, l === 0 ? 'valid' : 'same');
  if (l > 0) input.dispose();
  const C = w.shape[2];
  const cols = Array.from({ length: C }, () => new Float64Array(ref.data.length / C));
  for (let i = 0; i < ref.data.length; i++) cols[i % C][Math.floor(i / C)] = ref.data[i];
  return cols;
}

describeEachBackend('calibrateLayer', () => {
  it('gives every channel unit pre-activation variance and sets the bias at the (1 - active) quantile', () => {
    const learner = createLearner(SHAPE, new Rng(5, 'init'));
    const z = sampleLatents(new Rng(6, 'z'), 200, SHAPE.zDim);
    try {
      for (const l of [0, 1]) {
        const rep = calibrateLayer(learner.params, l, z, 0.25);
        expect(rep.deadChannels).toBe(0);
        const cols = preActivations(learner.params, l, z);
        const bias = learner.params.blocks[SHAPE.resolutions[l]].bias.dataSync();
        cols.forEach((col, c) => {
          const mean = col.reduce((a, b) => a + b, 0) / col.length;
          const std = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length);
          expect(std).toBeCloseTo(1, 3);
          const above = col.filter((v) => v > bias[c]).length / col.length;
          // The quantile sits on a sample, so the share above it is 0.25 up to one sample.
          expect(Math.abs(above - 0.25)).toBeLessThanOrEqual(1.5 / col.length + 1e-9);
        });
        expect(Math.abs(rep.activeFraction - 0.25)).toBeLessThan(0.02);
      }
      // On fresh latents the sparsity holds up to sampling error.
      const fresh = sampleLatents(new Rng(9, 'z'), 400, SHAPE.zDim);
      const s = generatorForward(learner.params, fresh).s;
      for (const t of s) expect(Math.abs(tf.tidy(() => t.greater(0).cast('float32').mean().dataSync()[0]) - 0.25)).toBeLessThan(0.06);
      tf.dispose([fresh, ...s]);
    } finally {
      z.dispose();
      disposeLearner(learner);
    }
  });
});

describeEachBackend('retargetBias (bias homeostasis)', () => {
  it('sets each bias at the (1 - active) quantile of the float64 pre-activations, weights untouched', () => {
    const learner = createLearner(SHAPE, new Rng(5, 'init'));
    const z = sampleLatents(new Rng(7, 'z'), 150, SHAPE.zDim);
    try {
      for (const l of [0, 1]) {
        const block = learner.params.blocks[SHAPE.resolutions[l]];
        const before = Array.from(block.deconv.dataSync());
        const oldBias = Array.from(block.bias.dataSync());
        const moved = retargetBias(learner.params, l, z, 0.15);
        expect(Array.from(block.deconv.dataSync())).toEqual(before);
        const bias = block.bias.dataSync();
        const cols = preActivations(learner.params, l, z);
        let change = 0;
        cols.forEach((col, c) => {
          const above = col.filter((v) => v > bias[c]).length / col.length;
          expect(Math.abs(above - 0.15)).toBeLessThanOrEqual(1.5 / col.length + 1e-9);
          change += Math.abs(bias[c] - oldBias[c]) / cols.length;
        });
        expect(moved).toBeCloseTo(change, 5);
      }
      expect(() => retargetBias(learner.params, 0, z, 1)).toThrow(/active/);
    } finally {
      z.dispose();
      disposeLearner(learner);
    }
  });
});

describeEachBackend('generator head and skip', () => {
  it('x_2 = tanh(upsample2x(u_1) + A_2 s_2) with u_1 = A_1 s_1 (float64 reference)', () => {
    const learner = createLearner(SHAPE, new Rng(2, 'init'));
    const p: GeneratorParams = { shape: { ...SHAPE, head: 'tanh', skip: true }, blocks: learner.params.blocks };
    const z = sampleLatents(new Rng(3, 'z'), 2, SHAPE.zDim);
    const out = generatorForward(p, z);
    const head = (s: tf.Tensor4D, r: number) => {
      const w = p.blocks[r].out;
      return refDeconv2d(arr4(s.shape as [number, number, number, number], s.dataSync()), arr4(w.shape as [number, number, number, number], w.dataSync()), 4, 'valid');
    };
    const u1 = head(out.s[0], 8);
    const a2 = head(out.s[1], 16);
    const x1 = out.x[0].dataSync();
    const x2 = out.x[1].dataSync();
    u1.data.forEach((v, i) => expect(x1[i]).toBeCloseTo(Math.tanh(v), 5));
    // NHWC [2,16,16,3]: pixel (y, x) of u_2 adds u_1's pixel (y >> 1, x >> 1).
    for (let n = 0; n < 2; n++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++)
          for (let c = 0; c < 3; c++) {
            const i = ((n * 16 + y) * 16 + x) * 3 + c;
            const below = u1.data[((n * 8 + (y >> 1)) * 8 + (x >> 1)) * 3 + c];
            expect(x2[i]).toBeCloseTo(Math.tanh(below + a2.data[i]), 5);
          }
    tf.dispose([z, ...out.s, ...out.x]);
    disposeLearner(learner);
  });

  it('skip leaks no tensors and without it the heads are the linear x_l = A_l y_p of docs/theory.md', () => {
    const learner = createLearner(SHAPE, new Rng(4, 'init'));
    const z = sampleLatents(new Rng(5, 'z'), 3, SHAPE.zDim);
    for (const shape of [{ ...SHAPE, skip: true }, { ...SHAPE, head: 'tanh' as const }, SHAPE]) {
      const before = tf.memory().numTensors;
      const out = generatorForward({ shape, blocks: learner.params.blocks }, z);
      expect(tf.memory().numTensors - before).toBe(4);
      if (shape === SHAPE) {
        const w = learner.params.blocks[16].out;
        const ref = refDeconv2d(arr4(out.s[1].shape as [number, number, number, number], out.s[1].dataSync()), arr4(w.shape as [number, number, number, number], w.dataSync()), 4, 'valid');
        const got = out.x[1].dataSync();
        ref.data.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
      }
      tf.dispose([...out.s, ...out.x]);
    }
    z.dispose();
    disposeLearner(learner);
  });
});

describe('EMA warm-up', () => {
  it('is (1 + t) / (10 + t) until it reaches beta', () => {
    expect(emaDecay(0.999, 1)).toBeCloseTo(2 / 11, 12);
    expect(emaDecay(0.999, 100)).toBeCloseTo(101 / 110, 12);
    expect(emaDecay(0.99, 10_000)).toBe(0.99);
    // The weight left on the start weights after t steps is the product of the decays: tiny after 300.
    let left = 1;
    for (let t = 1; t <= 300; t++) left *= emaDecay(0.999, t);
    expect(left).toBeLessThan(1e-3);
  });
});

describe('--set a=1 b=2', () => {
  it('reads every key=value after a --set as an override, and nothing else', () => {
    expect(expandSets(['--config', 'c.json', '--set', 'a=1', 'b.c=[1,2]', '--seed', '3'])).toEqual(['--config', 'c.json', '--set', 'a=1', '--set', 'b.c=[1,2]', '--seed', '3']);
    expect(expandSets(['run', '--set=x=1', 'y=2', 'dir'])).toEqual(['run', '--set=x=1', '--set', 'y=2', 'dir']);
    expect(expandSets(['dir', 'a=1'])).toEqual(['dir', 'a=1']);
  });
});
