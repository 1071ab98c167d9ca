import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { GanTrainer, type GanInit, type GanShard } from '../src/bench/gan.js';
import { FlatAdam } from '../src/parallel/adam.js';
import { readFlat } from '../src/parallel/flat.js';
import { ReplicaPool } from '../src/parallel/pool.js';
import { Rng } from '../src/util/rng.js';
import { describeEachBackend } from './helpers/backends.js';
import { TINY } from './helpers/tiny-gan.js';
import { createGanProbeReplica, createSumReplica, probeStep, sumContribution, type GanProbe, type SumInit } from './parallel-program.js';

const PROGRAM = resolve('test/parallel-program.ts');

const maxAbs = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
};
const maxOf = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

const LAYOUTS = [
  { rank0: 'caller', split: false, what: 'the main thread and 2 worker threads' },
  { rank0: 'worker', split: true, what: '3 worker threads, split start/finish' },
] as const;

describe.each(LAYOUTS)('ReplicaPool all-reduce (3 replicas: $what)', ({ rank0, split }) => {
  const length = 1000;
  let pool: ReplicaPool<{ step: number }, Float32Array>;
  beforeAll(async () => {
    await initBackend('wasm');
    pool = await ReplicaPool.start(createSumReplica, { module: PROGRAM, exportName: 'createSumReplica', init: { length, split } as SumInit, world: 3, rank0 });
  });
  afterAll(async () => pool?.close());

  it('every replica gets the float64 mean of all contributions, bit-identical across replicas, step after step', async () => {
    for (let step = 0; step < 5; step++) {
      const out = await pool.step(() => ({ step }));
      expect(out).toHaveLength(3);
      const parts = [0, 1, 2].map((r) => sumContribution(r, step, length));
      let worst = 0;
      for (let i = 0; i < length; i++) worst = Math.max(worst, Math.abs(out[0][i] - (parts[0][i] + parts[1][i] + parts[2][i]) / 3));
      expect(worst).toBeLessThan(1e-6);
      expect(Buffer.from(out[1].buffer).equals(Buffer.from(out[0].buffer))).toBe(true);
      expect(Buffer.from(out[2].buffer).equals(Buffer.from(out[0].buffer))).toBe(true);
    }
  });
});

describe('ReplicaPool failures', () => {
  it('a replica that throws fails the step with its message instead of hanging the others', async () => {
    await initBackend('wasm');
    const pool = await ReplicaPool.start(createSumReplica, {
      module: PROGRAM, exportName: 'createSumReplica', init: { length: 10, failRank: 1, failStep: 1 } as SumInit, world: 2, timeoutMs: 20_000,
    });
    try {
      await expect(pool.step(() => ({ step: 0 }))).resolves.toHaveLength(2);
      await expect(pool.step(() => ({ step: 1 }))).rejects.toThrow(/boom at step 1 on rank 1/);
    } finally {
      await pool.close();
    }
  });

  it('a module without the named factory is reported by name', async () => {
    await expect(
      ReplicaPool.start(createSumReplica, { module: PROGRAM, exportName: 'noSuchFactory', init: { length: 1 } as SumInit, world: 2 }),
    ).rejects.toThrow(/does not export a function 'noSuchFactory'/);
  });
});

describe('FlatAdam', () => {
  it('matches Adam written out in float64 (torch.optim.Adam semantics) over several steps', () => {
    const n = 50;
    const rng = new Rng(3, 'adam');
    const p = rng.normals(n);
    const p0 = p.slice();
    const ref = Float64Array.from(p);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const opt = new FlatAdam(n, 0.01, 0.5, 0.999, 1e-8);
    for (let t = 1; t <= 4; t++) {
      const g = rng.normals(n);
      opt.step(p, g);
      for (let i = 0; i < n; i++) {
        m[i] = 0.5 * m[i] + 0.5 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        ref[i] -= (0.01 * (m[i] / (1 - 0.5 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
      }
    }
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p[i] - ref[i]));
    expect(worst).toBeLessThan(1e-6);
    // Adam moves every parameter by about lr per step: a skipped step would show as a 0.01 difference.
    expect(maxAbs(p, p0)).toBeGreaterThan(0.02);
  });
});



describeEachBackend('data-parallel GAN step (2 replicas on half batches vs 1 replica on the full batch)', (backend) => {
  let pool: ReplicaPool<GanShard, GanProbe>;
  const init: GanInit = { arch: TINY, seed: 5 };
  beforeAll(async () => {
    pool = await ReplicaPool.start(createGanProbeReplica, { module: PROGRAM, exportName: 'createGanProbeReplica', init, world: 2, backend });
  });
  afterAll(async () => pool?.close());

  it('averaged shard gradients equal the full-batch gradient, and replicas stay bit-identical', async () => {
    const single = new GanTrainer(TINY, init.seed);
    const rng = new Rng(9, 'latents');
    const n = TINY.batch * TINY.zDim;
    const half = n / 2;
    const initial = readFlat(single.G.net.all);
    const live: number[] = [];
    try {
      for (let step = 0; step < 3; step++) {
        const zD = rng.normals(n);
        const zG = rng.normals(n);
        const full = probeStep(single, { zD, zG });
        const [r0, r1] = await pool.step((k) => ({ zD: zD.slice(k * half, (k + 1) * half), zG: zG.slice(k * half, (k + 1) * half) }));
        // Identical replicas: same parameters to the bit after every step.
        expect(Buffer.from(r1.paramsG.buffer).equals(Buffer.from(r0.paramsG.buffer))).toBe(true);
        expect(Buffer.from(r1.paramsD.buffer).equals(Buffer.from(r0.paramsD.buffer))).toBe(true);
        // Batch-mean losses: the mean over shards is the full-batch loss (D's, since D saw the same data).
        expect(Math.abs((r0.lossD + r1.lossD) / 2 - full.lossD)).toBeLessThan(1e-5);
        for (const k of ['gradD', 'gradG'] as const) {
          expect(maxOf(full[k])).toBeGreaterThan(1e-4);
          expect(maxAbs(r0[k], full[k])).toBeLessThan(1e-5 + 1e-4 * maxOf(full[k]));
        }
        expect(maxAbs(r0.paramsG, full.paramsG)).toBeLessThan(1e-5);
        expect(maxAbs(r0.paramsD, full.paramsD)).toBeLessThan(1e-5);
        live.push(tf.memory().numTensors);
      }
      // Steps leave no tensors behind (rank 0 and the single trainer live on this thread).
      expect(live[2]).toBe(live[0]);
      // The parameters did move (the comparison above is not between untouched initial values).
      expect(maxAbs(readFlat(single.G.net.all), initial)).toBeGreaterThan(3e-4);
    } finally {
      single.dispose();
    }
  });
});
