/**
 * Verified checkpoints and full disks (issue 8.2). Damaged checkpoints (truncated, altered, missing
 * files) are detected with a message naming the file and what is wrong, and a resume falls back to the
 * previous one and still ends bit-identical. A full disk, injected as ENOSPC after N bytes at seeded
 * random budgets (and once for real on a small tmpfs when this process may mount one), stops the run
 * with a UserError that says so, leaves the newest checkpoint verifiable, and a resume after space is
 * freed ends bit-identical to an uninterrupted run.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { train, resumeTraining, type TrainHook } from '../src/train/trainer.js';
import { findCheckpoint, listCheckpoints } from '../src/train/checkpoint.js';
import { diskError, setWriteFault, writeFaultLeft } from '../src/util/atomic.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { PlantedSource, tinyConfig } from './train-fixtures.js';
import { metricsWithoutTimings, newestState, runFsrgan, writeTinyCliConfig } from './reliability-fixtures.js';

const exists = (p: string) => stat(p).then(() => true, () => false);
const sources: PlantedSource[] = [];
let work = '';
const planted = () => {
  const s = new PlantedSource();
  sources.push(s);
  return s;
};
const quiet = { onMessage: () => undefined };
const cfg = tinyConfig({ log: { checkpointEvery: 2 } });

let ref = { hash: '', metrics: [] as Record<string, unknown>[] };
beforeAll(async () => {
  await initBackend('wasm');
  work = await mkdtemp(join(tmpdir(), 'fsrgan-disk-'));
  const dir = join(work, 'ref');
  await train(cfg, dir, { source: planted() });
  ref = { hash: (await newestState(dir)).weightsSha256, metrics: await metricsWithoutTimings(dir) };
});
afterEach(() => setWriteFault(null));
afterAll(async () => {
  sources.forEach((s) => s.dispose());
  await rm(work, { recursive: true, force: true });
});

/** Finishes a run after a failure: resume it, or start it again when it never became a run. */
async function finish(dir: string): Promise<void> {
  if (await exists(join(dir, 'config.json'))) await resumeTraining(dir, { source: planted(), ...quiet });
  else await train(cfg, dir, { source: planted(), ...quiet });
}

describe('verified checkpoints', () => {
  const damages: [string, (ck: string) => Promise<void>, RegExp][] = [
    ['weights.bin truncated', (ck) => truncate(join(ck, 'weights.bin'), 100), /weights\.bin is truncated \(100 of \d+ bytes\)/],
    ['weights.bin emptied', (ck) => truncate(join(ck, 'weights.bin'), 0), /weights\.bin is truncated \(0 of \d+ bytes\)/],
    ['weights.bin byte flipped', flipByte('weights.bin', 777), /weights\.bin was altered or damaged: its sha256 \w+\.\.\. differs from the manifest's/],
    ['weights.bin grown', async (ck) => writeFile(join(ck, 'weights.bin'), Buffer.concat([await readFile(join(ck, 'weights.bin')), Buffer.from('xx')])), /weights\.bin has \d+ bytes, the manifest says \d+ \(altered\)/],
    ['weights.bin deleted', (ck) => rm(join(ck, 'weights.bin')), /weights\.bin is missing/],
    ['state.json altered', flipByte('state.json', 30), /state\.json was altered or damaged/],
    ['state.json truncated', (ck) => truncate(join(ck, 'state.json'), 10), /state\.json is truncated \(10 of \d+ bytes\)/],
    ['manifest.json deleted', (ck) => rm(join(ck, 'manifest.json')), /manifest\.json is missing \(not a complete checkpoint\)/],
    ['manifest.json truncated', (ck) => truncate(join(ck, 'manifest.json'), 20), /manifest\.json is damaged \(not valid JSON\)/],
    // Hostile or hand-edited files (issue 22 case 5): no raw JS message, nothing read outside the folder.
    ['manifest.json null', (ck) => writeFile(join(ck, 'manifest.json'), 'null'), /manifest\.json is not an fsrgan checkpoint manifest/],
    ['manifest files [{}]', editManifest((m) => (m.files = [{}])), /manifest\.json must list exactly state\.json and weights\.bin/],
    ['manifest names ../../config.json', editManifest((m) => (m.files[0].name = '../../config.json')), /manifest\.json must list exactly state\.json and weights\.bin/],
    [
      'manifest emptied, weights.bin byte flipped',
      async (ck) => {
        await editManifest((m) => (m.files = []))(ck);
        await flipByte('weights.bin', 777)(ck);
      },
      /manifest\.json must list exactly/,
    ],
    ['state.json stageIndex "x", manifest re-hashed', editState((st) => (st.stageIndex = 'x')), /state\.json's stageIndex must be a non-negative integer, got "x"/],
    ['state.json weights hash edited, manifest re-hashed', editState((st) => (st.weightsSha256 = '0'.repeat(64))), /weights\.bin does not match the sha256 recorded in state\.json/],
  ];

  type ManifestJson = { files: Array<Record<string, unknown>> };
  function editManifest(f: (m: ManifestJson) => void) {
    return async (ck: string) => {
      const m = JSON.parse(await readFile(join(ck, 'manifest.json'), 'utf8')) as ManifestJson;
      f(m);
      await writeFile(join(ck, 'manifest.json'), JSON.stringify(m));
    };
  }
  /** Edits state.json and rewrites the manifest's entry for it, as a careful hand-editor would. */
  function editState(f: (st: Record<string, unknown>) => void) {
    return async (ck: string) => {
      const st = JSON.parse(await readFile(join(ck, 'state.json'), 'utf8')) as Record<string, unknown>;
      f(st);
      const text = Buffer.from(JSON.stringify(st));
      await writeFile(join(ck, 'state.json'), text);
      await editManifest((m) => {
        const e = m.files.find((x) => x.name === 'state.json')!;
        e.bytes = text.byteLength;
        e.sha256 = createHash('sha256').update(text).digest('hex');
      })(ck);
    };
  }

  function flipByte(file: string, at: number) {
    return async (ck: string) => {
      const b = await readFile(join(ck, file));
      b[at % b.length] ^= 0x10;
      await writeFile(join(ck, file), b);
    };
  }

  it('a metrics.jsonl cut inside a line, with the newest checkpoint damaged: the resume drops the partial line (issue 22 case 6)', async () => {
    const dir = join(work, 'cut-metrics');
    const ctl = new AbortController();
    await train(cfg, dir, { source: planted(), hooks: [{ every: 5, fn: () => (ctl.abort(), {}) }], signal: ctl.signal, ...quiet });
    const [newest, previous] = await listCheckpoints(dir);
    const recorded = (JSON.parse(await readFile(join(previous, 'state.json'), 'utf8')) as { metricsBytes: number }).metricsBytes;
    await truncate(join(newest, 'weights.bin'), 10);
    // Cut the log 7 bytes into a line, before what the surviving checkpoint recorded.
    const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
    const cut = text.lastIndexOf('\n', recorded - 2) + 8;
    expect(cut).toBeLessThan(recorded);
    await truncate(join(dir, 'metrics.jsonl'), cut);
    const said: string[] = [];
    await resumeTraining(dir, { source: planted(), onMessage: (m) => said.push(m) });
    expect(said.join('\n')).toMatch(/fewer than the \d+ recorded in the checkpoint: some metrics lines were lost/);
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(lines.map((l) => JSON.parse(l).step).at(-1)).toBe(9); // the run finished: 3 stages of 3 steps
  });

  it('damage is detected with a message naming the file; resume falls back to the previous checkpoint and ends exact', async () => {
    // An interrupted run: checkpoints at steps 4 and 5 (the abort), resumed from 5 normally.
    const base = join(work, 'interrupted');
    const ctl = new AbortController();
    const stop: TrainHook = { every: 5, fn: () => (ctl.abort(), {}) };
    await train(cfg, base, { source: planted(), hooks: [stop], signal: ctl.signal });
    expect((await listCheckpoints(base)).map((p) => p.slice(-13))).toEqual(['step-00000005', 'step-00000004']);
    let exact = 0;
    for (const [name, damage, message] of damages) {
      const dir = join(work, `damaged-${name.replace(/\W+/g, '-')}`);
      await cp(base, dir, { recursive: true });
      const [newest] = await listCheckpoints(dir);
      await damage(newest);
      const found = await findCheckpoint(dir);
      expect(found.skipped.map((s) => s.reason), name).toEqual([expect.stringMatching(message)]);
      expect(found.skipped[0].reason).toMatch(/^checkpoint step-00000005: /);
      expect(found.checkpoint!.path).toMatch(/step-00000004$/);
      for (const t of Object.values(found.checkpoint!.tensors)) t.dispose();
      const said: string[] = [];
      await resumeTraining(dir, { source: planted(), onMessage: (m) => said.push(m) });
      expect(said.join('\n')).toMatch(new RegExp(`warning: checkpoint step-00000005: .*; resuming from step-00000004`));
      expect(await exists(join(dir, 'checkpoints', 'damaged-step-00000005'))).toBe(true);
      expect((await newestState(dir)).weightsSha256, name).toBe(ref.hash);
      expect(await metricsWithoutTimings(dir), name).toEqual(ref.metrics);
      exact++;
    }
    console.log(`checkpoint damage: ${damages.length} kinds (${damages.map((d) => d[0]).join(', ')}) detected with a message; ${exact} resumes fell back to the previous checkpoint and ended exact`);
  });

  it('a run whose every checkpoint is damaged is a UserError listing the problems', async () => {
    const dir = join(work, 'all-damaged');
    await cp(join(work, 'ref'), dir, { recursive: true });
    for (const ck of await listCheckpoints(dir)) await truncate(join(ck, 'weights.bin'), 1);
    const err = await resumeTraining(dir, { source: planted(), ...quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/no usable checkpoint in .*: checkpoint step-00000009: weights\.bin is truncated \(1 of \d+ bytes\); checkpoint step-00000008: weights\.bin is truncated/);
  });
});

describe('full disk', () => {
  it('injected ENOSPC at seeded random byte budgets: a clear error, the newest checkpoint intact, an exact resume', async () => {
    // Bytes a whole run writes through the atomic writer (checkpoints, metrics, stage records, config).
    setWriteFault({ enospcAfterBytes: 1e12 });
    await train(cfg, join(work, 'measure'), { source: planted() });
    const total = 1e12 - writeFaultLeft()!;
    setWriteFault(null);
    const rng = new Rng(8, 'enospc-budgets');
    const budgets = [0, 150, ...Array.from({ length: 8 }, () => Math.floor(rng.uniform() * total))];
    const where: string[] = [];
    for (const [i, budget] of budgets.entries()) {
      const dir = join(work, `full-${i}`);
      setWriteFault({ enospcAfterBytes: budget });
      const err = await train(cfg, dir, { source: planted(), ...quiet }).catch((e) => e);
      setWriteFault(null);
      expect(err, `budget ${budget}`).toBeInstanceOf(UserError);
      expect(err.message).toMatch(/: no space left on device \(ENOSPC\)\. /);
      // Advice that works (issue 22 case 8): a resume once the run exists, else the same command again.
      if (await exists(join(dir, 'config.json'))) expect(err.message).toMatch(/Free some space, then resume with: fsrgan train --resume /);
      else expect(err.message).toMatch(/Free some space, then start the run again with fsrgan train --config <file> --out .*nothing to resume\)\.$/);
      where.push(/cannot save checkpoint/.test(err.message) ? 'checkpoint' : /metrics/.test(err.message) ? 'metrics' : 'other');
      // The newest checkpoint (if any was written) verifies, and the failed write left no temporary folder.
      const found = await findCheckpoint(dir);
      expect(found.skipped).toEqual([]);
      if (found.checkpoint) Object.values(found.checkpoint.tensors).forEach((t) => t.dispose());
      expect((await readdir(join(dir, 'checkpoints')).catch(() => [] as string[])).filter((n) => n.startsWith('.tmp'))).toEqual([]);
      expect(await exists(join(dir, '.lock'))).toBe(false);
      await finish(dir);
      expect((await newestState(dir)).weightsSha256, `budget ${budget}`).toBe(ref.hash);
      expect(await metricsWithoutTimings(dir)).toEqual(ref.metrics);
    }
    const count = (k: string) => where.filter((w) => w === k).length;
    console.log(
      `full disk (injected ENOSPC after N of ${total} bytes): ${budgets.length} budgets, ${budgets.length} clear errors ` +
        `(${count('checkpoint')} in a checkpoint, ${count('metrics')} in metrics.jsonl, ${count('other')} elsewhere), newest checkpoint intact in all, ${budgets.length} exact resumes`,
    );
  });

  it('ENOSPC in the middle of a metrics line: the partial line is dropped on resume', async () => {
    const dir = join(work, 'partial-line');
    // The hook runs just before step 3's line is appended: 40 bytes of it fit.
    const fill: TrainHook = { every: 3, fn: (ctx) => (ctx.step === 3 && setWriteFault({ enospcAfterBytes: 40 }), {}) };
    const err = await train(cfg, dir, { source: planted(), hooks: [fill], ...quiet }).catch((e) => e);
    setWriteFault(null);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/cannot append to .*metrics\.jsonl: no space left on device \(ENOSPC\)/);
    const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(false);
    expect(text.split('\n').pop()).toHaveLength(40);
    await finish(dir);
    expect(await metricsWithoutTimings(dir)).toEqual(ref.metrics);
    expect((await newestState(dir)).weightsSha256).toBe(ref.hash);
  });

  it('the CLI reports a full disk in one line (no stack trace), releases the lock, and the run resumes', async () => {
    const dir = join(work, 'cli');
    await mkdir(dir);
    const config = await writeTinyCliConfig(dir);
    const run = join(dir, 'run');
    const r = await runFsrgan(['train', '--config', config, '--out', run], { FSRGAN_TEST_ENOSPC_AFTER_BYTES: '60000' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^fsrgan train: .*no space left on device \(ENOSPC\)\. .*fsrgan train --resume /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await exists(join(run, '.lock'))).toBe(false);
    const again = await runFsrgan(['train', '--resume', run]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/done: 40 steps/);
  }, 60_000);

  it('permissions, a read-only disk: said as such, with the path, never "free some space" (issue 22 case 8)', () => {
    const err = (code: string, path?: string) => Object.assign(new Error(`${code}: x`), { code, path });
    const say = (e: Error) => (diskError(e, "cannot save checkpoint step-00000004 in 'D/checkpoints'", 'The run stopped.', 'resume with: fsrgan train --resume D') as Error).message;
    expect(say(err('EACCES', join(work, 'ref', 'metrics.jsonl')))).toBe(
      `cannot save checkpoint step-00000004 in 'D/checkpoints': permission denied (EACCES on '${join(work, 'ref', 'metrics.jsonl')}'). The run stopped. ` +
        `This is a permission problem, not a full disk: make '${join(work, 'ref', 'metrics.jsonl')}' writable for this user (permissions, owner, or an immutable attribute), then resume with: fsrgan train --resume D.`,
    );
    // A path that does not exist yet (a temporary folder being made): its folder is what must be writable.
    expect(say(err('EPERM', join(work, 'ref', 'checkpoints', '.tmp-step-00000004-1')))).toMatch(new RegExp(`operation not permitted \\(EPERM on '.*\\.tmp-step-00000004-1'\\)\\. .*make '${join(work, 'ref', 'checkpoints')}' writable`));
    expect(say(err('EROFS', '/mnt/x'))).toMatch(/the file system is read-only \(EROFS on '\/mnt\/x'\)\. The run stopped\. This is not a full disk: remount the file system of '\/mnt\/x' writable/);
    expect(say(err('ENOSPC'))).toMatch(/no space left on device \(ENOSPC\)\. The run stopped\. Free some space, then resume with/);
    for (const code of ['EACCES', 'EPERM', 'EROFS', 'EIO']) expect(say(err(code, '/x'))).not.toMatch(/free some space/i);
  });

  it('a real permission error (chattr +i on checkpoints/; skipped where chattr is not allowed): one line naming the folder, and a resume once it is lifted', async (ctx) => {
    const dir = join(work, 'immutable');
    // Stopped after step 3 (a checkpoint at step 2): the next checkpoint needs a new folder in checkpoints/.
    const ctl = new AbortController();
    await train(cfg, dir, { source: planted(), hooks: [{ every: 3, fn: () => (ctl.abort(), {}) }], signal: ctl.signal, ...quiet });
    const ckDir = join(dir, 'checkpoints');
    try {
      execFileSync('chattr', ['+i', ckDir], { stdio: 'ignore' });
    } catch {
      console.log('permission error: skipped, chattr +i is not allowed here');
      ctx.skip();
      return;
    }
    let err: Error;
    try {
      err = await resumeTraining(dir, { source: planted(), ...quiet }).catch((e) => e);
    } finally {
      execFileSync('chattr', ['-i', ckDir]);
    }
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(new RegExp(`operation not permitted \\(EPERM on '.*'\\)\\. .*This is a permission problem, not a full disk: make '${ckDir}' writable for this user.*, then resume with: fsrgan train --resume `));
    expect(err.message).not.toMatch(/free some space/i);
    expect(err.message).not.toContain('\n');
    console.log(`permission error (chattr +i): "${err.message.slice(0, 160)}..."`);
    await finish(dir);
    expect((await newestState(dir)).weightsSha256).toBe(ref.hash);
  });

  it('a real full disk: a 1 MiB tmpfs (skipped when mounting is not allowed)', async (ctx) => {
    const mnt = join(work, 'tmpfs');
    await mkdir(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      console.log('full disk (tmpfs): skipped, this process cannot mount a tmpfs');
      ctx.skip();
      return;
    }
    try {
      // Leave about 40 KiB: enough for the start of the run, not for all of it.
      const free = () => Number(execFileSync('df', ['-B1', '--output=avail', mnt], { encoding: 'utf8' }).trim().split('\n').pop());
      await writeFile(join(mnt, 'filler'), Buffer.alloc(free() - 40 * 1024));
      const dir = join(mnt, 'run');
      const err = await train(cfg, dir, { source: planted(), ...quiet }).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toMatch(/no space left on device \(ENOSPC\)/);
      const found = await findCheckpoint(dir);
      expect(found.skipped).toEqual([]);
      if (found.checkpoint) Object.values(found.checkpoint.tensors).forEach((t) => t.dispose());
      await rm(join(mnt, 'filler'));
      await finish(dir);
      expect((await newestState(dir)).weightsSha256).toBe(ref.hash);
      console.log(`full disk (tmpfs, 40 KiB free): "${err.message.slice(0, 90)}..."; freed space, resumed, exact`);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
