/**
 * Sweeps without a queue (issue 23): the sweep file (every mistake names the file and field), its
 * expansion into runs with reproduce's ids, the job validation a worker does (a job is data, never a
 * command), queue URLs and their redaction, the statistics and the report (intervals over seeds, nothing
 * that depends on the executor), and one run trained, measured and found again in-process with every
 * tensor disposed.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { configKey, shortHash } from '../src/experiments/plan.js';
import { tInterval } from '../src/experiments/verdict.js';
import { compileSpec } from '../src/report/render.js';
import { sweepChart } from '../src/sweep/chart.js';
import { parseQueueUrl, redactUrl } from '../src/sweep/connection.js';
import { jobOf, validateJob } from '../src/sweep/job.js';
import { buildReport, reportText } from '../src/sweep/report.js';
import { runJob } from '../src/sweep/runner.js';
import { expandSweep, loadSweep, parseSweepSpec, type Sweep } from '../src/sweep/spec.js';
import { flattenAnalyses, type RunSummary } from '../src/sweep/summary.js';
import { writeTinySweep, type TinySweep } from './sweep-fixtures.js';

let work = '';
let tiny: TinySweep;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fsrgan-sweep-'));
  tiny = await writeTinySweep(work);
});
afterAll(() => rm(work, { recursive: true, force: true }));

const base = () => ({ config: tiny.config, axes: { seeds: [1, 2] } });
const parse = (v: unknown) => parseSweepSpec(v, 'x.json');

describe('sweep files', () => {
  it.each([
    [[], /^x\.json must be a JSON object/],
    [{ config: 'c.json', axes: { seeds: [1] }, colour: 1 }, /^x\.json: colour: unknown key/],
    [{ config: 'c.json', axes: {} }, /^x\.json: axes\.seeds is required/],
    [{ config: 'c.json', axes: { seeds: [1, 1.5] } }, /^x\.json: axes\.seeds\[1\] must be a whole number/],
    [{ config: 'c.json', axes: { seeds: [2, 2] } }, /^x\.json: axes\.seeds lists 2 twice/],
    [{ config: 'c.json', axes: { seeds: [1], widths: [1] } }, /^x\.json: axes\.widths: unknown axis/],
    [{ config: 'c.json', axes: { seeds: [1], modes: ['sideways'] } }, /^x\.json: axes\.modes\[0\] must be one of layerwise/],
    [{ config: 'c.json', axes: { seeds: [1], set: { 'train.lrG': 0.1 } } }, /^x\.json: axes\.set\.train\.lrG must be a list/],
    [{ config: 'c.json', axes: { seeds: [1], budgets: [0] } }, /^x\.json: axes\.budgets\[0\] must be a whole number from 1/],
    [{ axes: { seeds: [1] } }, /^x\.json: config is required/],
    [{ config: 'c.json', axes: { seeds: [1] }, analyses: ['fid', 'vibes'] }, /^x\.json: analyses\[1\]: unknown measurement 'vibes'/],
    [{ config: 'c.json', axes: { seeds: [1] }, analysis: { samples: 2 } }, /^x\.json: analysis: analysis\.samples must be an integer >= 4/],
    [{ config: 'c.json', axes: { seeds: [1] }, workers: 0 }, /^x\.json: workers must be a whole number from 1/],
    [{ config: 'c.json', axes: { seeds: [1] }, name: '../up' }, /^x\.json: name must be a plain word/],
    [{ config: 'c.json', axes: { seeds: [1] }, report: { table: [] } }, /^x\.json: report\.table: unknown key/],
  ])('%j is refused naming the field', (v, re) => {
    expect(() => parse(v)).toThrow(re);
  });

  it('expands seeds innermost, with reproduce ids, labels and budget overrides', async () => {
    const sweep = await loadSweep(tiny.sweep);
    expect(sweep.runs).toHaveLength(12);
    expect(sweep.groups).toEqual(['train.lrG=0.001 budget=8', 'train.lrG=0.001 budget=12', 'train.lrG=0.003 budget=8', 'train.lrG=0.003 budget=12']);
    expect(sweep.runs.slice(0, 3).map((r) => r.seed)).toEqual([1, 2, 3]);
    for (const r of sweep.runs) {
      expect(r.id).toBe(`tiny-s${r.seed}-${shortHash(configKey(r.config))}`);
      expect(r.config.train.steps).toBe(r.axes.budget);
      expect(r.config.train.lrG).toBe(r.axes['train.lrG']);
      expect(r.steps).toBe(2 * (r.axes.budget as number));
    }
    expect(new Set(sweep.runs.map((r) => r.id)).size).toBe(12);
    // Stable: the same file gives the same ids.
    expect((await loadSweep(tiny.sweep)).runs.map((r) => r.id)).toEqual(sweep.runs.map((r) => r.id));
  });

  it('names the run whose config is invalid, and refuses two points that are one run', async () => {
    await expect(expandSweep(parse({ ...base(), axes: { seeds: [1], set: { 'train.batch': [4, 0] } } }), 'x.json')).rejects.toThrow(/^x\.json: the run 'train\.batch=0' seed 1: config\.train\.batch must be an integer >= 1/);
    await expect(expandSweep(parse({ ...base(), axes: { seeds: [1], modes: ['layerwise', 'end-to-end'], set: { 'train.mode': ['layerwise'] } } }), 'x.json')).rejects.toThrow(/are the same run/);
    await expect(expandSweep(parse({ config: join(work, 'nope.json'), axes: { seeds: [1] } }), 'x.json')).rejects.toThrow(/^x\.json: config: cannot read training config file/);
  });

  it('the example sweep of experiments/sweeps expands', async () => {
    const s = await loadSweep('experiments/sweeps/teacher-lr.json');
    expect(s.runs.length).toBe(6);
    expect(s.groups).toHaveLength(2);
    expect(s.runs.every((r) => r.id.startsWith('layerwise-teacher-s'))).toBe(true);
  });
});

describe('jobs are data: what a worker accepts', () => {
  let sweep: Sweep;
  beforeAll(async () => {
    sweep = await loadSweep(tiny.sweep);
  });
  const job = () => JSON.parse(JSON.stringify(jobOf(sweep, sweep.runs[0])));

  it('a job written by fsrgan sweep passes, through JSON', () => {
    const j = job();
    expect(validateJob(j, j.id)).toEqual(jobOf(sweep, sweep.runs[0]));
  });

  it.each([
    ['not an object', () => 'rm -rf /', /the payload must be a JSON object/],
    ['an extra field', () => ({ ...job(), cmd: 'sh -c x' }), /unknown field 'cmd'/],
    ['a missing field', () => ({ ...job(), config: undefined }), /the field 'config' is missing/],
    ['an invalid config', () => ({ ...job(), config: { ...job().config, train: { ...job().config.train, lrG: -1 } } }), /not a valid fsrgan config: config\.train\.lrG must be > 0/],
    ['an unknown config key', () => ({ ...job(), config: { ...job().config, shell: 'x' } }), /not a valid fsrgan config: unknown key config\.shell/],
    ['an altered config', () => ({ ...job(), config: { ...job().config, seed: 99 } }), /is not the id of its config/],
    ['another format', () => ({ ...job(), v: 2 }), /v: this fsrgan reads jobs of format 1/],
    ['an unknown analysis', () => ({ ...job(), analyses: ['sparsity', 'exec'] }), /analyses must be a list of measurement names/],
    ['altered analyses', () => ({ ...job(), analyses: ['sparsity'] }), /measureKey does not match/],
    ['a path as sweep name', () => ({ ...job(), sweep: '../../etc' }), /sweep must be a plain word/],
    ['a huge payload', () => ({ ...job(), group: 'x'.repeat(300_000) }), /more than the 262144/],
  ])('refuses %s, naming the job and the field', (_what, make, re) => {
    const j = make();
    const id = (j as { id?: string })?.id ?? 'x';
    expect(() => validateJob(j, id)).toThrow(new RegExp(`^job ${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${re.source}`));
  });

  it('refuses a queue job id that is not the run id', () => {
    expect(() => validateJob(job(), 'other-id')).toThrow(/^job other-id: the queue's job id is not the run id/);
  });
});

describe('queue addresses', () => {
  it('redacts passwords and parses redis://, rediss:// and a database number', () => {
    expect(redactUrl('redis://:s3cret@host:1234/2')).toBe('redis://:***@host:1234/2');
    expect(redactUrl('rediss://user:pw@h:1')).toBe('rediss://user:***@h:1');
    expect(redactUrl('not a url s3cret')).not.toContain('s3cret');
    const t = parseQueueUrl('rediss://alice:p%40ss@queue.example:6380/3', {});
    expect(t.options).toMatchObject({ host: 'queue.example', port: 6380, db: 3, username: 'alice', password: 'p@ss', tls: { servername: 'queue.example' } });
    expect(t.shown).toBe('rediss://alice:***@queue.example:6380/3');
    const plain = parseQueueUrl('redis://127.0.0.1', { FSRGAN_QUEUE_PASSWORD: 'envpw' }).options;
    expect(plain).toMatchObject({ port: 6379, password: 'envpw' });
    expect(plain.tls).toBeUndefined();
  });

  it.each([
    ['http://h:1', /scheme must be redis:\/\/ or rediss:\/\//],
    ['redis://h:0', /the port must be 1 to 65535/],
    ['redis://:pw@h:1/queue', /the path must be a database number/],
    ['redis://:pw@h:1?password=x', /query parameters are not supported/],
    ['h:1', /scheme must be/],
    ['::', /not a URL/],
  ])('refuses %s without echoing a password', (url, re) => {
    let msg = '';
    try {
      parseQueueUrl(url, {});
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(re);
    expect(msg).not.toMatch(/:pw@|password=x/);
  });

  it('a missing CA file is named', () => {
    expect(() => parseQueueUrl('rediss://h:1', { FSRGAN_QUEUE_CA: join(work, 'nope.pem') })).toThrow(/FSRGAN_QUEUE_CA: cannot read the CA file/);
  });
});

describe('statistics and the report', () => {
  it('flattens analyses by resolution, layer and order, keeping NaN as a string', () => {
    const f = { what: 'swd', source: 's', backend: 'b', seconds: 1, results: { learner: { levels: [{ resolution: 4, swd: 0.5 }, { resolution: 8, swd: NaN }], orders: [{ order: 1, e: 2 }], list: [3, 4], name: 'x' } } };
    expect(flattenAnalyses([f])).toEqual({ 'swd.learner.levels.r4.resolution': 4, 'swd.learner.levels.r4.swd': 0.5, 'swd.learner.levels.r8.resolution': 8, 'swd.learner.levels.r8.swd': 'NaN', 'swd.learner.orders.o1.order': 1, 'swd.learner.orders.o1.e': 2, 'swd.learner.list.0': 3, 'swd.learner.list.1': 4 });
  });

  it('means and t-intervals over seeds per point, runs without a summary listed, nothing of who or when', async () => {
    const sweep = await loadSweep(tiny.sweep);
    const summaries = new Map<string, RunSummary>();
    for (const [i, r] of sweep.runs.entries()) {
      if (i === 11) continue;
      const stats = { 'swd.learner.levels.r4.swd': 0.1 * (i + 1), 'swd.learner.levels.r4.patch': 2, 'sparsity.learner.layers.r4.exact.meanActive': i % 3 };
      summaries.set(r.id, { id: r.id, group: r.group, axes: r.axes, seed: r.seed, measureKey: sweep.measureKey, backend: 'wasm', stats, status: 'trained', events: [{ event: 'completed', machine: hostname(), worker: 'w9', pid: 1, time: 'T', step: 1 }], seconds: 12.5 });
    }
    const report = buildReport(sweep, summaries);
    expect(report.missing).toEqual([sweep.runs[11].id]);
    expect(report.statistics).toEqual(['sparsity.learner.layers.r4.exact.meanActive', 'swd.learner.levels.r4.swd']);
    const row = report.rows.find((x) => x.statistic === 'swd.learner.levels.r4.swd' && x.group === sweep.groups[1])!;
    const t = tInterval([0.4, 0.5, 0.6].map((x) => 0.1 * Math.round(x * 10)));
    expect(row).toMatchObject({ n: 3, seeds: [1, 2, 3], values: [0.1 * 4, 0.1 * 5, 0.1 * 6], mean: t.mean, sd: t.sd, lo: t.lo, hi: t.hi });
    expect(report.rows.find((x) => x.group === sweep.groups[3] && x.statistic === 'swd.learner.levels.r4.swd')).toMatchObject({ n: 2, seeds: [1, 2] });
    const text = JSON.stringify(report) + reportText(report);
    expect(text).not.toMatch(/w9|seconds|"time"|"machine"/);
    expect(text).not.toContain(hostname());
    expect(reportText(report)).toMatch(/1 run\(s\) missing/);
    const chart = sweepChart(report)!;
    expect(() => compileSpec(chart)).not.toThrow();
    const flat = buildReport({ ...sweep, groups: sweep.groups.slice(0, 1), runs: sweep.runs.slice(0, 3) }, summaries);
    expect(() => compileSpec(sweepChart(flat)!)).not.toThrow();
  });
});

describe('one run in-process: trained, measured, found complete; every tensor disposed', () => {
  it('runJob trains, records the machine and worker, and answers the same summary when asked again', async () => {
    await initBackend('wasm');
    const sweep = await loadSweep(tiny.sweep);
    const job = jobOf(sweep, sweep.runs[0]);
    const who = { machine: hostname(), worker: 'test/1' };
    const before = tf.memory().numTensors;
    const a = await runJob(job, join(work, 'out'), who);
    expect(tf.memory().numTensors).toBe(before);
    expect(a.status).toBe('trained');
    expect(a.events.map((e) => e.event)).toEqual(['start', 'completed', 'measured']);
    expect(a.events[0]).toMatchObject({ machine: hostname(), worker: 'test/1', pid: process.pid, step: 0 });
    expect(Object.keys(a.stats).length).toBeGreaterThan(20);
    const b = await runJob(job, join(work, 'out'), { ...who, worker: 'test/2' });
    expect(tf.memory().numTensors).toBe(before);
    expect(b.status).toBe('reused');
    expect(b.stats).toEqual(a.stats);
    expect(b.events.filter((e) => e.event === 'completed')).toHaveLength(1);
    // A run directory holding another config is refused, not overwritten.
    const other = jobOf(sweep, sweep.runs[1]);
    await writeFile(join(work, 'out', 'runs', job.id, 'config.json'), JSON.stringify(other.config));
    await rm(join(work, 'out', 'runs', job.id, 'sweep-run.json'));
    await expect(runJob(job, join(work, 'out'), who)).rejects.toThrow(/holds the run .*, not /);
  }, 120_000);
});
