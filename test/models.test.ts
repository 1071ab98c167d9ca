/** The learner G and the discriminators: names, shapes, seeded init, the pair input, forward agreement. */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { createLearner, disposeLearner, gName, learnerForward, sampleLatents } from '../src/models/learner.js';
import { generatorForward, type GeneratorShape } from '../src/models/generator.js';
import { createDiscriminator, discForward, discInput, discPlan, disposeDiscriminator, upsample2x, type DiscriminatorConfig } from '../src/models/discriminator.js';
import { Rng } from '../src/util/rng.js';

const SHAPE: GeneratorShape = { resolutions: [4, 8, 16], channels: [6, 5, 4], zDim: 3, kernel: 4, patch: 2, imageChannels: 3 };
const DCFG: DiscriminatorConfig = { widths: [7, 9, 11], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1 };

describeEachBackend('models', () => {
  it('learner: variables named by resolution with the generator shapes, same seed -> same weights', () => {
    const a = createLearner(SHAPE, new Rng(1, 'init-g'));
    const b = createLearner(SHAPE, new Rng(1, 'init-g'));
    const c = createLearner(SHAPE, new Rng(2, 'init-g'));
    expect([...a.vars.keys()]).toEqual(['g.r4.deconv', 'g.r4.bias', 'g.r4.out', 'g.r8.deconv', 'g.r8.bias', 'g.r8.out', 'g.r16.deconv', 'g.r16.bias', 'g.r16.out']);
    expect(a.vars.get('g.r4.deconv')!.shape).toEqual([2, 2, 6, 3]); // g_1 = r_1 / P = 2, [g,g,C_1,zDim]
    expect(a.vars.get('g.r8.deconv')!.shape).toEqual([4, 4, 5, 6]);
    expect(a.vars.get('g.r16.out')!.shape).toEqual([2, 2, 3, 4]);
    expect(a.params.blocks[8].deconv).toBe(a.vars.get(gName(8, 'deconv')));
    for (const n of a.vars.keys()) expect(Array.from(a.vars.get(n)!.dataSync())).toEqual(Array.from(b.vars.get(n)!.dataSync()));
    expect(Array.from(a.vars.get('g.r8.deconv')!.dataSync())).not.toEqual(Array.from(c.vars.get('g.r8.deconv')!.dataSync()));
    // Init scale: deconv_2 ~ N(0, 2 / fan_in), fan_in = C_1 k^2 / 4 = 24.
    const w = Array.from(a.vars.get('g.r8.deconv')!.dataSync());
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(sd).toBeGreaterThan(0.7 * Math.sqrt(2 / 24));
    expect(sd).toBeLessThan(1.3 * Math.sqrt(2 / 24));
    [a, b, c].forEach(disposeLearner);
  });

  it('learner forward is the shared generatorForward: pyramid shapes [N,r_l,r_l,3]', () => {
    const g = createLearner(SHAPE, new Rng(1, 'init-g'));
    const z = sampleLatents(new Rng(3), 2, 3);
    const out = learnerForward(g, z);
    const ref = generatorForward(g.params, z);
    expect(out.x.map((x) => x.shape)).toEqual([[2, 4, 4, 3], [2, 8, 8, 3], [2, 16, 16, 3]]);
    expect(out.s.map((s) => s.shape)).toEqual([[2, 2, 2, 6], [2, 4, 4, 5], [2, 8, 8, 4]]);
    expect(Array.from(out.x[2].dataSync())).toEqual(Array.from(ref.x[2].dataSync()));
    tf.dispose([z, ...out.x, ...out.s, ...ref.x, ...ref.s]);
    disposeLearner(g);
  });

  it('upsample2x repeats each pixel in a 2x2 block', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const u = upsample2x(x);
    expect(u.shape).toEqual([1, 4, 4, 2]);
    const a = u.arraySync()[0];
    const src = x.arraySync()[0];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(a[i][j]).toEqual(src[i >> 1][j >> 1]);
    tf.dispose([x, u]);
  });

  it('D_1 first layer has the patch geometry of G head; D_l on pairs sees upsample(x_{l-1}) ++ x_l', () => {
    const d1 = createDiscriminator(4, 'single', 3, 2, DCFG, new Rng(1));
    const d2 = createDiscriminator(8, 'pair', 3, 2, DCFG, new Rng(2));
    expect(d1.convs[0].w.shape).toEqual([2, 2, 3, 7]); // [P,P,3,w_1], like G's head [P,P,3,C_l]
    expect(d1.convs[0].stride).toBe(2);
    expect(d2.convs[0].w.shape).toEqual([2, 2, 6, 7]);
    expect(discPlan(8, 2, [7, 9, 11])).toEqual({ strides: [2, 2, 2], finalGrid: 1 });
    expect(discPlan(4, 2, [7, 9, 11])).toEqual({ strides: [2, 2, 1], finalGrid: 1 });
    expect(d2.vars.get('d.r8.head.w')!.shape).toEqual([11, 1]);
    const x1 = tf.tensor4d(new Rng(4).normals(2 * 4 * 4 * 3), [2, 4, 4, 3]);
    const x2 = tf.tensor4d(new Rng(5).normals(2 * 8 * 8 * 3), [2, 8, 8, 3]);
    const inp = discInput(d2, [x1, x2], 1);
    expect(inp.shape).toEqual([2, 8, 8, 6]);
    const a = inp.arraySync();
    const lo = x1.arraySync();
    const hi = x2.arraySync();
    expect(a[1][5][3].slice(0, 3)).toEqual(lo[1][2][1]);
    expect(a[1][5][3].slice(3)).toEqual(hi[1][5][3]);
    const y1 = discForward(d1, x1);
    const y2 = discForward(d2, inp);
    expect(y1.shape).toEqual([2]);
    expect(y2.shape).toEqual([2]);
    expect(() => discForward(d2, x2)).toThrow(/discForward: D_r8 expects \[N,8,8,6\]/);
    tf.dispose([x1, x2, inp, y1, y2]);
    disposeDiscriminator(d1);
    disposeDiscriminator(d2);
  });

  it('D logits of one sample do not depend on the others in the batch (per-sample R1 relies on it)', () => {
    const d = createDiscriminator(8, 'single', 3, 2, DCFG, new Rng(1));
    const x = tf.tensor4d(new Rng(4).normals(3 * 8 * 8 * 3), [3, 8, 8, 3]);
    const all = discForward(d, x).dataSync();
    const one = discForward(d, x.slice([1, 0, 0, 0], [1, -1, -1, -1])).dataSync();
    expect(Math.abs(all[1] - one[0])).toBeLessThan(1e-5);
    x.dispose();
    disposeDiscriminator(d);
  });
});
