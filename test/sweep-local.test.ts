/**
 * The local executor through the CLI, no server (issue 23): `fsrgan sweep SPEC` runs a sweep in run
 * processes, Ctrl-C checkpoints and stops it, running it again resumes the interrupted runs and skips the
 * complete ones, and the report equals that of an uninterrupted sweep byte for byte; `fsrgan sweep report`
 * rebuilds it from the run directories; bad sweep files and missing runs are one-line errors, exit 2.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFsrgan } from './reliability-fixtures.js';
import { reportFiles, startCli, writeTinySweep, type TinySweep } from './sweep-fixtures.js';

const ENV = { FSRGAN_TEST_SLOW_CHECKPOINT_MS: '40' };

describe('fsrgan sweep, local executor', () => {
  let work = '';
  let tiny: TinySweep;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fsrgan-sweepl-'));
    tiny = await writeTinySweep(work, { name: 'tiny-local', seeds: [1, 2], budgets: [10] });
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('Ctrl-C stops it at checkpoints; again, it resumes and skips; the report equals an uninterrupted sweep', async () => {
    const out = join(work, 'a');
    const first = startCli(['sweep', tiny.sweep, '--out', out, '--jobs', '2'], ENV);
    // Interrupt once a run has trained past a checkpoint.
    expect(await first.waitFor(/^sweep tiny-local: 4 runs \(2 points x 2 seeds\), 2 at a time/m)).not.toBeNull();
    for (let t = 0; t < 400; t++) {
      const runs = await readdir(join(out, 'runs')).catch(() => [] as string[]);
      const cks = await Promise.all(runs.map((r) => readdir(join(out, 'runs', r, 'checkpoints')).catch(() => [] as string[])));
      if (cks.some((c) => c.some((n) => /^step-0*[1-9]/.test(n)))) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill('SIGINT');
    const a = await first.done;
    expect(a.code, a.stdout + a.stderr).toBe(130);
    expect(a.stdout).toMatch(/interrupted: \d of 4 runs done; run the same command to continue/);

    const again = await runFsrgan(['sweep', tiny.sweep, '--out', out, '--jobs', '2'], ENV);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/sweep tiny-local: 4\/4 done/);
    expect(again.stdout).toMatch(/: resumed in \d+ s by local\/\d/);
    const prov = JSON.parse(await readFile(join(out, 'tiny-local', 'provenance.json'), 'utf8'));
    const events = prov.runs.flatMap((r: { events: { event: string }[] }) => r.events.map((e) => e.event));
    expect(events.filter((e: string) => e === 'completed')).toHaveLength(4);
    expect(events).toContain('resume');

    const third = await runFsrgan(['sweep', tiny.sweep, '--out', out]);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toMatch(/4\/4 done \(4 complete already\)/);

    const clean = join(work, 'b');
    const c = await runFsrgan(['sweep', tiny.sweep, '--out', clean, '--jobs', '1']);
    expect(c.code, c.stderr).toBe(0);
    const resumed = await reportFiles(join(out, 'tiny-local'));
    const uninterrupted = await reportFiles(join(clean, 'tiny-local'));
    for (const f of Object.keys(resumed)) expect(resumed[f] === uninterrupted[f], `${f}: an interrupted and resumed sweep differs from an uninterrupted one`).toBe(true);

    const rep = await runFsrgan(['sweep', 'report', tiny.sweep, '--out', clean]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(/^statistic +point +n +mean +sd +95% interval$/m);
    expect(await reportFiles(join(clean, 'tiny-local'))).toEqual(uninterrupted);
  }, 300_000);

  it('bad input: one line naming the field, exit 2; a report with runs missing says which', async () => {
    const bad = join(work, 'bad.json');
    await writeFile(bad, JSON.stringify({ config: tiny.config, axes: { seeds: [1], budgets: ['ten'] } }));
    const r = await runFsrgan(['sweep', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`fsrgan sweep: ${bad}: axes.budgets[0] must be a whole number from 1 to 1000000000, got "ten".`);
    await writeFile(bad, '{ "config": ');
    const j = await runFsrgan(['sweep', bad]);
    expect(j.code).toBe(2);
    expect(j.stderr).toMatch(/sweep file '.*bad\.json' is not valid JSON/);
    const empty = await runFsrgan(['sweep', 'report', tiny.sweep, '--out', join(work, 'empty')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/4 of 4 runs have no summary in '.*runs' yet \(first: tiny-s1-[0-9a-f]{8}\)/);
    const dry = await runFsrgan(['sweep', tiny.sweep, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout.trim().split('\n')).toHaveLength(5);
  }, 120_000);
});
