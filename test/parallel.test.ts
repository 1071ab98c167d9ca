import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { ReplicaPool } from '../src/parallel/pool.js';
import { createSumReplica, sumContribution, type SumInit } from './parallel-program.js';

const PROGRAM = resolve('test/parallel-program.ts');

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

// The trainer's data-parallel step on these replicas (gradients, resume, rollback): test/train-workers.test.ts.
