/**
 * Acceptance of issue 23 on a real redis-server (started here on a free loopback port): a 12-run sweep
 * queued with `fsrgan sweep --queue`, three `fsrgan worker` processes, one SIGKILLed in the middle of a
 * run; every run completes exactly once, the killed one is resumed (or restarted) by another worker, and
 * the report built from the queue is byte for byte the local executor's for the same sweep. Then the bad
 * inputs: a wrong port, a wrong (or missing) password, jobs whose payload is not a valid config: one-line
 * errors, exit code 2, and the queue and the other jobs left as they were. Skipped, saying so, only where
 * redis-server is not installed.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../src/sweep/connection.js';
import { jobOf } from '../src/sweep/job.js';
import { loadSweep } from '../src/sweep/spec.js';
import { runFsrgan } from './reliability-fixtures.js';
import { freePort, NO_REDIS_MESSAGE, REDIS_INSTALLED, reportFiles, runEvents, startCli, startRedis, writeTinySweep, type Cli, type RedisServer, type TinySweep } from './sweep-fixtures.js';

// Checkpoint writes stretched so that a kill lands inside a run (the numbers do not change).
const ENV = { FSRGAN_TEST_SLOW_CHECKPOINT_MS: '40' };
const exists = (p: string) => stat(p).then(() => true, () => false);

if (!REDIS_INSTALLED) {
  describe('sweeps on a Redis queue', () => {
    it.skip(`SKIPPED: ${NO_REDIS_MESSAGE}`, () => {});
  });
  console.warn(`[sweep-queue.test] ${NO_REDIS_MESSAGE}`);
} else {
  describe('sweeps on a Redis queue (real redis-server)', () => {
    let work = '';
    let tiny: TinySweep;
    let redis: RedisServer;
    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'fsrgan-sweepq-'));
      tiny = await writeTinySweep(work);
      redis = await startRedis();
    }, 60_000);
    afterAll(async () => {
      await redis?.stop();
      await rm(work, { recursive: true, force: true });
    });

    it('12 runs on 3 workers, one SIGKILLed mid-run: all complete exactly once, the killed run resumes, the report equals the local one', async () => {
      const local = join(work, 'local');
      const l = await runFsrgan(['sweep', tiny.sweep, '--out', local, '--jobs', '3'], ENV);
      expect(l.code, l.stdout + l.stderr).toBe(0);
      expect(l.stdout).toMatch(/sweep tiny-sweep: 12\/12 done/);

      const q = await runFsrgan(['sweep', tiny.sweep, '--queue', redis.url, '--detach'], ENV);
      expect(q.code, q.stderr).toBe(0);
      expect(q.stdout).toMatch(/12 run\(s\) queued/);
      const shared = join(work, 'shared');
      const worker = (i: number): Cli => startCli(['worker', '--queue', redis.url, '--out', shared, '--id', `w${i}`, '--until-empty', '--stall-seconds', '3'], ENV);
      const victim = worker(1);
      // Its first run: wait until the run has a checkpoint past step 0, then kill the worker (not its run process).
      const taken = await victim.waitFor(/(\S+) \(tiny-sweep: [^)]*\): taken/);
      expect(taken, victim.output()).not.toBeNull();
      const killedId = taken![1];
      const others = [worker(2), worker(3)];
      const runDir = join(shared, 'runs', killedId);
      for (let t = 0; t < 600; t++) {
        const ck = await readdir(join(runDir, 'checkpoints')).catch(() => [] as string[]);
        if (ck.some((n) => /^step-0*[1-9]/.test(n))) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(await exists(join(runDir, 'sweep-run.json')), 'the victim finished before it could be killed').toBe(false);
      victim.child.kill('SIGKILL');
      const v = await victim.done;
      expect(v.signal).toBe('SIGKILL');
      const rs = await Promise.all(others.map((o) => o.done));
      for (const r of rs) expect(r.code, r.stdout + r.stderr).toBe(0);
      const logs = [v.stdout, ...rs.map((r) => r.stdout)].join('\n');

      // Every run completed exactly once: in the queue's logs and in the run directories' completion events.
      const sweep = await loadSweep(tiny.sweep);
      for (const run of sweep.runs) {
        const done = logs.split('\n').filter((line) => new RegExp(`^\\S+ ${run.id}: (trained|resumed|reused) in`).test(line));
        expect(done, `${run.id} completions`).toHaveLength(1);
        const ev = await runEvents(join(shared, 'runs', run.id));
        expect(ev.filter((e) => e.event === 'completed'), `${run.id} completion events`).toHaveLength(1);
      }
      // The killed run: started by w1, then resumed (or started again) by another worker, which completed it.
      const ev = await runEvents(runDir);
      expect(ev[0]).toMatchObject({ event: 'start', worker: 'w1' });
      const after = ev.slice(1).filter((e) => e.event === 'resume' || e.event === 'start');
      expect(after.length).toBeGreaterThanOrEqual(1);
      expect(['w2', 'w3']).toContain(after[0].worker);
      expect(ev.find((e) => e.event === 'completed')!.worker).not.toBe('w1');
      console.log(`sweep-queue: killed w1 in ${killedId} at a checkpoint; events ${ev.map((e) => `${e.event}@${e.worker}${e.step === null ? '' : `:${e.step}`}`).join(' ')}`);

      const fromQueue = join(work, 'from-queue');
      const r = await runFsrgan(['sweep', 'report', tiny.sweep, '--queue', redis.url, '--out', fromQueue]);
      expect(r.code, r.stderr).toBe(0);
      const a = await reportFiles(join(local, 'tiny-sweep'));
      const b = await reportFiles(join(fromQueue, 'tiny-sweep'));
      for (const f of Object.keys(a)) expect(b[f] === a[f], `${f} differs between the local and the queue executor`).toBe(true);
      const report = JSON.parse(a['report.json']);
      expect(report.runs).toHaveLength(12);
      expect(report.rows.length).toBeGreaterThan(0);
      // Who and when stay out of the compared files.
      for (const text of Object.values(a)) expect(text).not.toMatch(/"w[123]"|local\/\d|"machine"|"seconds"|"time"/);
      const prov = JSON.parse(await readFile(join(fromQueue, 'tiny-sweep', 'provenance.json'), 'utf8'));
      expect(prov.runs.find((x: { id: string }) => x.id === killedId).events.map((e: { worker: string }) => e.worker)).toContain('w1');
    }, 600_000);

    it('a wrong port: one line naming the problem, exit 2, for sweep, report and worker', async () => {
      const port = await freePort();
      for (const args of [['sweep', tiny.sweep, '--queue', `redis://127.0.0.1:${port}`], ['sweep', 'report', tiny.sweep, '--queue', `redis://127.0.0.1:${port}`], ['worker', '--queue', `redis://127.0.0.1:${port}`]]) {
        const r = await runFsrgan(args);
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/cannot use the queue redis:\/\/127\.0\.0\.1:\d+: connection refused/);
      }
      const bad = await runFsrgan(['sweep', tiny.sweep, '--queue', 'http://127.0.0.1:6379']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--queue .*scheme must be redis:\/\/ or rediss:\/\//);
    }, 120_000);

    it('a wrong or missing password: a clear error without the password, and the queue left as it was', async () => {
      const secret = 'correct-horse-battery';
      const locked = await startRedis(secret);
      const oneDir = join(work, 'one');
      await mkdir(oneDir);
      const one = await writeTinySweep(oneDir, { name: 'one', seeds: [1], lrs: [0.001], budgets: [4] });
      try {
        const ok = await runFsrgan(['sweep', one.sweep, '--queue', locked.url, '--detach']);
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).not.toContain(secret);
        expect(ok.stdout).toContain(`redis://:***@127.0.0.1:${locked.port}`);
        const counts = () => withQueue(locked.port, secret, (q) => q.getJobCounts());
        const before = await counts();
        expect(before.waiting).toBe(1);
        for (const [url, why] of [
          [`redis://:wrong-password@127.0.0.1:${locked.port}`, /refused the password/],
          [`redis://127.0.0.1:${locked.port}`, /needs a password/],
        ] as const) {
          for (const args of [['sweep', one.sweep, '--queue', url], ['worker', '--queue', url]]) {
            const r = await runFsrgan(args);
            expect(r.code, r.stdout + r.stderr).toBe(2);
            expect(r.stderr.trim().split('\n')).toHaveLength(1);
            expect(r.stderr).toMatch(why);
            expect(r.stdout + r.stderr).not.toMatch(/wrong-password|correct-horse/);
          }
        }
        // The password from the environment instead of the URL works too.
        const env = await runFsrgan(['sweep', one.sweep, '--queue', `redis://127.0.0.1:${locked.port}`, '--detach'], { FSRGAN_QUEUE_PASSWORD: secret });
        expect(env.code, env.stderr).toBe(0);
        expect(env.stdout).toMatch(/0 run\(s\) queued .*1 there already/);
        expect(await counts()).toEqual(before);
        // A worker with the password in its URL runs the job; the password is in no file it wrote, nor in its output.
        const out = join(work, 'locked-runs');
        const w = await runFsrgan(['worker', '--queue', locked.url, '--out', out, '--until-empty', '--stall-seconds', '3']);
        expect(w.code, w.stdout + w.stderr).toBe(0);
        expect(w.stdout).toMatch(/: trained in \d+ s/);
        expect(w.stdout + w.stderr).not.toContain(secret);
        const files = await readdir(out, { recursive: true, withFileTypes: true });
        const texts = await Promise.all(files.filter((f) => f.isFile()).map((f) => readFile(join(f.parentPath, f.name))));
        expect(texts.length).toBeGreaterThan(10);
        expect(texts.filter((t) => t.includes(secret))).toHaveLength(0);
      } finally {
        await locked.stop();
      }
    }, 120_000);

    it('jobs whose payload is not a valid config fail at once with the field named; the other jobs run', async () => {
      const own = await startRedis();
      try {
        const sweep = await loadSweep(tiny.sweep);
        const good = jobOf(sweep, sweep.runs[0]);
        const badSteps = { ...good, config: { ...good.config, train: { ...good.config.train, steps: -3 } } };
        await withQueue(own.port, undefined, async (q) => {
          await q.add('x', good, { jobId: good.id, attempts: 3 });
          await q.add('x', badSteps, { jobId: 'tiny-s1-bad00001', attempts: 3 });
          await q.add('x', { cmd: 'rm -rf /', id: 'evil' }, { jobId: 'evil-job', attempts: 3 });
          await q.add('x', { ...good, id: 'tiny-s1-00000000' }, { jobId: 'tiny-s1-00000000', attempts: 3 });
        });
        const out = join(work, 'invalid');
        const w = await runFsrgan(['worker', '--queue', own.url, '--out', out, '--until-empty', '--stall-seconds', '3']);
        expect(w.code, w.stdout + w.stderr).toBe(0);
        await withQueue(own.port, undefined, async (q) => {
          const state = async (id: string) => {
            const j = (await q.getJob(id))!;
            return { state: await j.getState(), reason: j.failedReason ?? '', attempts: j.attemptsMade };
          };
          expect(await state(good.id)).toMatchObject({ state: 'completed' });
          const steps = await state('tiny-s1-bad00001');
          expect(steps).toMatchObject({ state: 'failed', attempts: 1 });
          expect(steps.reason).toMatch(/not a valid fsrgan config: config\.train\.steps must be an integer >= 1, got -3/);
          const evil = await state('evil-job');
          expect(evil).toMatchObject({ state: 'failed', attempts: 1 });
          expect(evil.reason).toMatch(/unknown field 'cmd'/);
          const renamed = await state('tiny-s1-00000000');
          expect(renamed.reason).toMatch(/is not the id of its config/);
        });
        expect(w.stdout).toMatch(/tiny-s1-bad00001 failed: job tiny-s1-bad00001: the payload is not a valid fsrgan config/);
        // Nothing was written for the rejected jobs: only the valid run's directory exists.
        expect(await readdir(join(out, 'runs'))).toEqual([good.id]);
      } finally {
        await own.stop();
      }
    }, 180_000);
  });
}

/** Runs `fn` with a BullMQ handle on the test's queue. */
async function withQueue<T>(port: number, password: string | undefined, fn: (q: Queue) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: null });
  const q = new Queue(QUEUE_NAME, { connection: client });
  try {
    return await fn(q);
  } finally {
    await q.close();
    client.disconnect();
  }
}
