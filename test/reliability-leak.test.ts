/**
 * Leaks (issue 8.5): a long run with everything on (guard checks, checkpoints, sample grids, EMA, R1,
 * spectral norm, metrics) keeps tf.memory().numTensors exactly flat and memory flat after warm-up; so
 * does a run that rolls back again and again (checkpoint reads, session restores). Readings follow a
 * full collection. Wasm memory grows and never shrinks, so it is compared after warm-up and must not
 * grow at all; the V8 heap may move by HEAP_BOUND_MB; RSS, which also holds native allocator arenas
 * (zlib, file buffers) that rise and fall by tens of MB with no leak (measured over 3,000 steps: RSS
 * between 193 and 275 MB while heap and wasm memory stayed flat), is read every 10 steps and only its
 * floor may rise, by RSS_BOUND_MB: the lowest reading of the last third against the lowest of the first
 * third after warm-up (a leak lifts every reading; the arenas' swings do not; docs/reliability.md). Two
 * single readings 32 MB apart failed 2 of ~6 clean-clone CI runs with everything else exactly flat.
 * Plain `npm test`: 150 steps; FSRGAN_SLOW=1: 1,000.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { derivedSources } from '../src/ops/derived.js';
import { train, type TrainHook } from '../src/train/trainer.js';
import { tinyConfig } from './train-fixtures.js';
import { NanSource } from './reliability-fixtures.js';

/** Allowed growth between the end of warm-up and the end of the run. */
const RSS_BOUND_MB = 32;
const HEAP_BOUND_MB = 4;
const STEPS = process.env.FSRGAN_SLOW ? 1000 : 150;
const WARMUP = 50;

// A full collection before each reading, so that RSS shows what is live rather than where V8's heap is
// in its growth cycle (the node flag can be set at run time; a new context then sees gc()).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dirs: string[] = [];
beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

interface Memory {
  rss: number;
  heap: number;
  wasm: number;
}

interface Probe {
  hook: TrainHook;
  tensors: Map<number, number>;
  /** Sources with cached derived filters (src/ops/derived.ts): must stay as flat as numTensors. */
  derived: Map<number, number>;
  memory: Map<number, Memory>;
}

const MB = 2 ** 20;

/** numTensors and derived filters every `every` steps; memory (after a full collection) at the steps in `rssAt`. */
function probe(every: number, rssAt: number[]): Probe {
  const tensors = new Map<number, number>();
  const derived = new Map<number, number>();
  const memory = new Map<number, Memory>();
  return {
    tensors,
    derived,
    memory,
    hook: {
      every,
      fn: (ctx) => {
        // After a rollback a step runs again: keep the last reading of each step.
        tensors.set(ctx.step, tf.memory().numTensors);
        derived.set(ctx.step, derivedSources());
        if (rssAt.includes(ctx.step)) {
          gc();
          const m = process.memoryUsage();
          const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
          memory.set(ctx.step, { rss: m.rss / MB, heap: m.heapUsed / MB, wasm: wasm / MB });
        }
        return {};
      },
    },
  };
}

describe(`leaks: a ${STEPS}-step run [wasm]`, () => {
  if (!process.env.FSRGAN_SLOW) console.log('leaks: 150-step runs here; the 1,000-step runs need FSRGAN_SLOW=1 (.ci/run)');
  for (const variant of ['everything on', 'rolling back every 40 steps'] as const) {
    it(`${variant}: numTensors and wasm memory exactly flat, heap and RSS within bounds after warm-up`, async () => {
      const rollbacks = variant !== 'everything on';
      const cfg = tinyConfig({
        objective: { r1: 1 },
        discriminator: { spectralNorm: true },
        train: { stepsByLevel: [STEPS - 2, 1, 1], emaBeta: 0.9 },
        log: { every: 10, checkpointEvery: 20, sampleEvery: 50 },
        guard: { onNonFinite: 'rollback', maxRollbacks: 1000, lrFactor: 0.9 },
      });
      // Batch calls are steps here (dSteps = 1); a NaN batch every 40 calls forces a rollback each time.
      const nanCalls = rollbacks ? Array.from({ length: Math.floor(STEPS / 40) * 2 }, (_, k) => 45 + 40 * k) : [];
      const source = new NanSource(nanCalls);
      const last = STEPS - 2 - ((STEPS - 2) % 10);
      const readings = Array.from({ length: (last - WARMUP) / 10 + 1 }, (_, k) => WARMUP + 10 * k);
      const p = probe(10, readings);
      const dir = await mkdtemp(join(tmpdir(), 'fsrgan-leak-'));
      dirs.push(dir);
      let events = 0;
      try {
        await train(cfg, dir, { source, hooks: [p.hook], onMessage: () => events++ });
      } finally {
        source.dispose();
      }
      const [t0, t1] = [p.tensors.get(WARMUP)!, p.tensors.get(last)!];
      const [d0, d1] = [p.derived.get(WARMUP)!, p.derived.get(last)!];
      const [m0, m1] = [p.memory.get(WARMUP)!, p.memory.get(last)!];
      const third = Math.max(1, Math.floor(readings.length / 3));
      const floor = (steps: number[]) => Math.min(...steps.map((k) => p.memory.get(k)!.rss));
      const [rssEarly, rssLate] = [floor(readings.slice(0, third)), floor(readings.slice(-third))];
      const show = (k: keyof Memory) => `${k} ${m0[k].toFixed(1)} -> ${m1[k].toFixed(1)} MB`;
      console.log(
        `leaks (${variant}): ${STEPS} steps${rollbacks ? `, ${events} rollbacks` : ''}; numTensors ${t0} at step ${WARMUP}, ${t1} at step ${last}; ` +
          `derived-filter sources ${d0} -> ${d1}; ${show('wasm')}, ${show('heap')} (bound +${HEAP_BOUND_MB}), ${show('rss')}, ` +
          `RSS floor ${rssEarly.toFixed(1)} -> ${rssLate.toFixed(1)} MB (bound +${RSS_BOUND_MB})`,
      );
      if (rollbacks) expect(events).toBeGreaterThanOrEqual(2);
      expect(t0).toBeGreaterThan(0);
      expect(t1).toBe(t0);
      expect(d1).toBe(d0);
      expect(m1.wasm).toBe(m0.wasm);
      expect(m1.heap - m0.heap).toBeLessThan(HEAP_BOUND_MB);
      expect(rssLate - rssEarly).toBeLessThan(RSS_BOUND_MB);
    }, 300_000);
  }
});
