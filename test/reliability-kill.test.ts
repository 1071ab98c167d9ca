/**
 * Exact resume under SIGKILL (issue 8.1): the real CLI is killed at seeded random moments (a quarter
 * timed from the spawn, so that kills also land in start-up and run creation; the rest from the moment
 * training starts) and resumed with `fsrgan train --resume` (or started again when the run did not exist
 * yet) until it finishes. Every finished run must end with the weights of an uninterrupted run (sha256 of
 * weights.bin), the same metrics.jsonl (timings aside: each step once, none missing) and the same stage
 * records. FSRGAN_TEST_SLOW_CHECKPOINT_MS stretches each checkpoint write so that many kills land inside
 * one. Plain `npm test`: 3 kills; FSRGAN_SLOW=1 (.ci/run): 20.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { metricSteps, metricsWithoutTimings, newestState, runFsrgan, startFsrgan, writeTinyCliConfig } from './reliability-fixtures.js';

const ENV = { FSRGAN_TEST_SLOW_CHECKPOINT_MS: '20' };
const exists = (p: string) => stat(p).then(() => true, () => false);

interface Reference {
  hash: string;
  metrics: Record<string, unknown>[];
  stages: string[];
  /** ms from spawn to exit, and from the 'training' line to exit. */
  totalMs: number;
  trainMs: number;
}

async function stageRecords(dir: string): Promise<string[]> {
  const levels = (await readdir(join(dir, 'stages'))).sort();
  return Promise.all(levels.map((l) => readFile(join(dir, 'stages', l, 'stage.json'), 'utf8')));
}

describe('kill/resume: SIGKILL at random moments, then fsrgan train --resume', () => {
  let work = '';
  let config = '';
  let ref: Reference;
  let runs = 0;
  const newDir = () => join(work, `run-${++runs}`);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fsrgan-kill-'));
    config = await writeTinyCliConfig(work);
    const dir = newDir();
    const t0 = performance.now();
    const p = startFsrgan(['train', '--config', config, '--out', dir], ENV);
    await p.waitFor(/^training /m);
    const t1 = performance.now();
    const r = await p.done;
    const t2 = performance.now();
    expect(r.code, r.stderr).toBe(0);
    ref = { hash: (await newestState(dir)).weightsSha256, metrics: await metricsWithoutTimings(dir), stages: await stageRecords(dir), totalMs: t2 - t0, trainMs: t2 - t1 };
    expect(metricSteps(ref.metrics)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  }, 60_000);
  afterAll(() => rm(work, { recursive: true, force: true }));

  /** Checks a finished run against the reference; returns a short description of what differs ('' when exact). */
  async function compare(dir: string): Promise<string> {
    const problems: string[] = [];
    if ((await newestState(dir)).weightsSha256 !== ref.hash) problems.push('weights differ');
    const m = await metricsWithoutTimings(dir);
    const steps = metricSteps(m);
    const dups = steps.filter((s, i) => steps.indexOf(s) !== i);
    const missing = metricSteps(ref.metrics).filter((s) => !steps.includes(s));
    if (dups.length) problems.push(`duplicated steps ${dups.join(',')}`);
    if (missing.length) problems.push(`missing steps ${missing.join(',')}`);
    if (JSON.stringify(m) !== JSON.stringify(ref.metrics)) problems.push('metrics differ');
    if (JSON.stringify(await stageRecords(dir)) !== JSON.stringify(ref.stages)) problems.push('stage records differ');
    if (await exists(join(dir, '.lock'))) problems.push('.lock left behind');
    return problems.join('; ');
  }

  async function campaign(kills: number, seed: number): Promise<void> {
    const rng = new Rng(seed, 'kill-times');
    const where: Record<string, number> = { 'before the run existed': 0, 'mid-checkpoint': 0, 'between checkpoints': 0 };
    const results: string[] = [];
    let killed = 0;
    let staleRecovered = 0;
    let dir = newDir();
    const finish = async () => {
      results.push(await compare(dir));
      dir = newDir();
    };
    while (killed < kills) {
      const resume = await exists(join(dir, 'config.json'));
      const p = startFsrgan(resume ? ['train', '--resume', dir] : ['train', '--config', config, '--out', dir], ENV);
      const fromSpawn = rng.uniform() < 0.25;
      if (!fromSpawn) await p.waitFor(/^(training|resuming) /m);
      const timer = setTimeout(() => p.child.kill('SIGKILL'), rng.uniform() * (fromSpawn ? ref.totalMs : ref.trainMs));
      const r = await p.done;
      clearTimeout(timer);
      if (/removed a stale lock/.test(r.stdout + r.stderr)) staleRecovered++;
      if (r.signal === 'SIGKILL') {
        killed++;
        const ck = await readdir(join(dir, 'checkpoints')).catch(() => [] as string[]);
        if (!(await exists(join(dir, 'config.json')))) where['before the run existed']++;
        else if (ck.some((n) => n.startsWith('.tmp-'))) where['mid-checkpoint']++;
        else where['between checkpoints']++;
        continue;
      }
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      await finish();
    }
    // The last run: resume without kills until it completes.
    for (;;) {
      const resume = await exists(join(dir, 'config.json'));
      const r = await runFsrgan(resume ? ['train', '--resume', dir] : ['train', '--config', config, '--out', dir], ENV);
      if (/removed a stale lock/.test(r.stdout + r.stderr)) staleRecovered++;
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      if (/^done: /m.test(r.stdout)) break;
    }
    await finish();
    const exact = results.filter((p) => p === '').length;
    console.log(
      `kill/resume: ${kills} kills at random points (${Object.entries(where).map(([k, v]) => `${v} ${k}`).join(', ')}), ` +
        `${results.length} runs finished, ${exact} exact (weights, metrics, stage records); ${staleRecovered} stale locks recovered`,
    );
    expect(results.filter((p) => p !== '')).toEqual([]);
  }

  it('fast: 3 kills, every finished run bit-identical to the uninterrupted one', () => campaign(3, 1), 120_000);

  it.skipIf(!process.env.FSRGAN_SLOW)('slow (FSRGAN_SLOW=1): 20 kills', () => campaign(20, 2), 300_000);
  if (!process.env.FSRGAN_SLOW) console.log('kill/resume: the 20-kill campaign runs only with FSRGAN_SLOW=1 (.ci/run)');
});
