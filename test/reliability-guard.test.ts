/**
 * The divergence guard (issue 8.3): a NaN batch (a planted source that serves NaN images on chosen
 * calls), an infinite learning rate or a NaN weight must never reach the variables; then `skip` drops
 * the update and goes on, `stop` ends the run with a report, `rollback` restores the newest checkpoint
 * exactly with lower learning rates (and a resume after a rollback stays bit-identical), and
 * `maxRollbacks` bounds the retries. The checks themselves must not change a healthy run by one bit.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { train, resumeTraining, type TrainHook } from '../src/train/trainer.js';
import { buildSession, disposeSession, openStageOptimizers } from '../src/train/session.js';
import { trainStep } from '../src/train/step.js';
import { DivergenceError, StepGuard } from '../src/train/guard.js';
import { hashVars } from '../src/train/stages.js';
import type { Learner } from '../src/models/learner.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { metricsWithoutTimings, metricSteps, NanSource, newestState } from './reliability-fixtures.js';

const dirs: string[] = [];
const sources: PlantedSource[] = [];
beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(async () => {
  sources.forEach((s) => s.dispose());
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-guard-'));
  dirs.push(d);
  return d;
}
function nan(calls: number[], from = Infinity): NanSource {
  const s = new NanSource(calls, from);
  sources.push(s);
  return s;
}
function planted(): PlantedSource {
  const s = new PlantedSource();
  sources.push(s);
  return s;
}
const events = async (dir: string) => (await metricsWithoutTimings(dir)).filter((l) => l.event);

describe('divergence guard: a rejected update changes nothing', () => {
  const allHashes = (s: ReturnType<typeof buildSession>) => {
    const d = s.discs.get(4)!;
    return { g: hashVars(s.learner.vars, [...s.learner.vars.keys()]), d: hashVars(d.vars, [...d.vars.keys()]) };
  };

  it('a NaN batch: the D update is not applied, the step is abandoned (G untouched too), Adam does not count it', () => {
    const cfg = tinyConfig();
    const src = nan([2]);
    const s = buildSession(cfg, 3, src);
    openStageOptimizers(s);
    const step = (guard: StepGuard) =>
      trainStep({ config: cfg, stage: s.stages[0], learner: s.learner, ema: s.ema, disc: s.discs.get(4)!, source: src, rngs: s.rngs, optG: s.opt!.g, optD: s.opt!.d, guard }, true);
    const ok = new StepGuard(true);
    expect(step(ok)).not.toBeNull();
    expect(ok.failures).toEqual([]);
    const before = allHashes(s);
    const t = [s.opt!.g.t, s.opt!.d.t];
    const bad = new StepGuard(true);
    expect(step(bad)).toBeNull();
    expect(bad.failures).toEqual([{ update: 'D1', tensor: 'loss' }]);
    expect(allHashes(s)).toEqual(before);
    expect([s.opt!.g.t, s.opt!.d.t]).toEqual(t);
    disposeSession(s);
  });

  it('an infinite G learning rate: D is updated, the G update (non-finite weights) is not', () => {
    const cfg = tinyConfig();
    const src = planted();
    const s = buildSession(cfg, 3, src);
    openStageOptimizers(s);
    s.opt!.g.lr = Infinity;
    const before = allHashes(s);
    const guard = new StepGuard(true);
    trainStep({ config: cfg, stage: s.stages[0], learner: s.learner, ema: s.ema, disc: s.discs.get(4)!, source: src, rngs: s.rngs, optG: s.opt!.g, optD: s.opt!.d, guard }, false);
    expect(guard.failures).toHaveLength(1);
    expect(guard.failures[0].update).toBe('G');
    expect(guard.failures[0].tensor).toMatch(/^g\.r4\.(deconv|bias|out)$/);
    const after = allHashes(s);
    expect(after.g).toEqual(before.g);
    expect(after.d).not.toEqual(before.d);
    expect(s.opt!.g.t).toBe(0);
    disposeSession(s);
  });

  it('a healthy run is bit-identical with the guard on and off', async () => {
    const [a, b] = [await tmp(), await tmp()];
    await train(tinyConfig({ guard: { onNonFinite: 'off' } }), a, { source: planted() });
    await train(tinyConfig({ guard: { onNonFinite: 'rollback' } }), b, { source: planted() });
    expect((await newestState(b)).weightsSha256).toBe((await newestState(a)).weightsSha256);
  });
});

describe('divergence guard: actions', () => {
  it("'skip': the NaN step leaves D as it was, G still steps, the event is logged, the run completes", async () => {
    const dir = await tmp();
    const dHash: Record<number, string> = {};
    const gHash: Record<number, string> = {};
    const probe: TrainHook = {
      every: 1,
      fn: (ctx) => {
        dHash[ctx.step] = JSON.stringify(hashVars(ctx.disc.vars, [...ctx.disc.vars.keys()]));
        gHash[ctx.step] = JSON.stringify(hashVars(ctx.learner.vars, ctx.stage.trained));
        return {};
      },
    };
    const res = await train(tinyConfig({ guard: { onNonFinite: 'skip' } }), dir, { source: nan([2]), hooks: [probe] });
    expect(res.completed).toBe(true);
    expect(dHash[2]).toBe(dHash[1]);
    expect(dHash[3]).not.toBe(dHash[2]);
    expect(gHash[2]).not.toBe(gHash[1]);
    expect(await events(dir)).toEqual([{ event: 'non-finite', step: 2, stage: 1, resolution: 4, updates: 'D1: loss', action: 'skip' }]);
    console.log('guard skip: NaN batch at step 2 -> D unchanged, G stepped, 1 event logged');
  });

  it("'stop': a DivergenceError with the report, the event in metrics.jsonl, the last checkpoint intact", async () => {
    const dir = await tmp();
    const cfg = tinyConfig({ guard: { onNonFinite: 'stop' }, log: { checkpointEvery: 2 } });
    const err = await train(cfg, dir, { source: nan([3]) }).catch((e) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err.message).toMatch(/training diverged at step 3 \(stage 1, r4\): D1 update: the loss is NaN or Inf\. That update was not applied\. guard\.onNonFinite is "stop"\. The newest checkpoint is step-00000002/);
    expect(err.message).toMatch(/fsrgan train --resume /);
    expect(await events(dir)).toEqual([expect.objectContaining({ event: 'non-finite', step: 3, action: 'stop' })]);
    expect((await newestState(dir)).step).toBe(2);
    expect(metricSteps(await metricsWithoutTimings(dir))).toEqual([1, 2]);
  });

  it("'rollback': restores the newest checkpoint exactly, halves the learning rates, completes; a resume after it stays exact", async () => {
    const cfg = tinyConfig({ train: { steps: 5 }, log: { checkpointEvery: 3 } });
    const dir = await tmp();
    let learner: Learner | null = null;
    const atStep3: { h?: Record<string, string> } = {};
    const probe: TrainHook = {
      every: 1,
      fn: (ctx) => {
        learner = ctx.learner;
        if (ctx.step === 3 && !atStep3.h) atStep3.h = hashVars(ctx.learner.vars, [...ctx.learner.vars.keys()]);
        return {};
      },
    };
    const restored: Record<string, string>[] = [];
    const res = await train(cfg, dir, {
      source: nan([5]),
      hooks: [probe],
      onProgress: (e) => e.kind === 'rollback' && restored.push(hashVars(learner!.vars, [...learner!.vars.keys()])),
      onMessage: () => undefined,
    });
    expect(res).toMatchObject({ completed: true, step: 15 });
    expect(restored).toEqual([atStep3.h]);
    const lines = await metricsWithoutTimings(dir);
    expect(lines.filter((l) => l.event)).toEqual([
      { event: 'non-finite', step: 5, stage: 1, resolution: 4, updates: 'D1: loss', action: 'rollback', toStep: 3, lrScale: 0.5, rollbacks: 1 },
    ]);
    expect(metricSteps(lines)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    const lrG = (step: number) => lines.find((l) => l.step === step && !l.event)!.lrG;
    expect(lrG(3)).toBe(cfg.train.lrG);
    expect(lrG(4)).toBe(cfg.train.lrG * 0.5);
    expect(lrG(15)).toBe(cfg.train.lrG * 0.5);
    const fin = await newestState(dir);
    expect(fin.guard).toEqual({ lrScale: 0.5, rollbacks: 1, skipsInRow: 0 });

    // The same run interrupted after the rollback and resumed ends bit-identical.
    const b = await tmp();
    const ctl = new AbortController();
    const stop: TrainHook = { every: 7, fn: () => (ctl.abort(), {}) };
    const first = await train(cfg, b, { source: nan([5]), hooks: [stop], signal: ctl.signal, onMessage: () => undefined });
    expect(first).toMatchObject({ interrupted: true, step: 7 });
    await resumeTraining(b, { source: nan([]) });
    expect((await newestState(b)).weightsSha256).toBe(fin.weightsSha256);
    expect(await metricsWithoutTimings(b)).toEqual(lines);
    console.log('guard rollback: NaN at step 5 -> restored step 3 exactly, lr x0.5, 15/15 steps logged once; resume after the rollback exact');
  });

  for (const at of [4, 5]) {
    it(`a NaN weight (planted by a hook at step ${at}${at === 4 ? ', a checkpoint step' : ''}) never reaches a checkpoint and is rolled back`, async () => {
      const dir = await tmp();
      let poisoned = false;
      const poison: TrainHook = {
        every: at,
        fn: (ctx) => {
          if (!poisoned) {
            poisoned = true;
            const v = ctx.learner.vars.get('g.r4.out')!;
            v.assign(tf.fill(v.shape, NaN));
          }
          return {};
        },
      };
      const res = await train(tinyConfig({ log: { checkpointEvery: 2 } }), dir, { source: planted(), hooks: [poison], onMessage: () => undefined });
      expect(res.completed).toBe(true);
      const ev = await events(dir);
      // At a checkpoint step the state is checked before it is written; otherwise the next update fails.
      // (Stage 2 starts at step 3, its checkpoint; g.r4.out is frozen there and feeds D's x_1.)
      const want = at === 4 ? { step: 4, toStep: 3, updates: 'checkpoint: g.r4.out' } : { step: 6, toStep: 4, updates: 'D1: loss' };
      expect(ev).toEqual([expect.objectContaining({ ...want, action: 'rollback' })]);
      expect(metricSteps(await metricsWithoutTimings(dir))).toEqual(Array.from({ length: 9 }, (_, i) => i + 1));
      expect((await newestState(dir)).step).toBe(9);
    });
  }

  it('maxRollbacks: a divergence that keeps coming back stops after 3 rollbacks', async () => {
    const dir = await tmp();
    const err = await train(tinyConfig({ log: { checkpointEvery: 2 } }), dir, { source: nan([], 4), onMessage: () => undefined }).catch((e) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err.message).toMatch(/already rolled back 3 time\(s\) \(guard\.maxRollbacks = 3\)/);
    const ev = await events(dir);
    expect(ev.map((e) => e.action)).toEqual(['rollback', 'rollback', 'rollback', 'stop']);
    expect(ev.map((e) => e.lrScale)).toEqual([0.5, 0.25, 0.125, undefined]);
    const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    console.log('guard maxRollbacks: persistent NaN -> 3 rollbacks (lr x0.5, x0.25, x0.125), then a stop report');
  });
});
