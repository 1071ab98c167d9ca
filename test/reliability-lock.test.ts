/**
 * One writer per run directory (issue 8.6): the lock refuses a second owner with a clear message,
 * recovers a stale lock (dead pid, reused pid, unreadable file), and is released on every exit path of
 * the CLI (normal end, Ctrl-C); SIGKILL leaves it behind and the next run recovers it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireRunLock, LOCK_FILE, type LockInfo } from '../src/train/lock.js';
import { UserError } from '../src/util/errors.js';
import { runFsrgan, startFsrgan, writeTinyCliConfig } from './reliability-fixtures.js';

const exists = (p: string) => stat(p).then(() => true, () => false);
let work = '';
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fsrgan-lock-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A pid that certainly does not run any more (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

async function writeLock(dir: string, info: Partial<LockInfo>): Promise<void> {
  const full: LockInfo = { pid: process.pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z', procStart: null, command: 'fsrgan train', token: 'x', ...info };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(full));
}

describe('run directory lock', () => {
  it('records pid, host and start time; a second owner is refused; release removes it', async () => {
    const dir = await mkdtemp(join(work, 'a-'));
    const lock = await acquireRunLock(dir);
    const info = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockInfo;
    expect(info).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(Date.parse(info.started)).toBeGreaterThan(Date.now() - 60_000);
    const err = await acquireRunLock(dir).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(new RegExp(`is in use by another fsrgan train \\(pid ${process.pid}, since `));
    lock.release();
    expect(await exists(join(dir, LOCK_FILE))).toBe(false);
    lock.release(); // idempotent
    (await acquireRunLock(dir)).release();
  });

  it('recovers stale locks: a dead pid, a reused pid, an unreadable file', async () => {
    const cases: [string, () => Promise<void>, RegExp][] = [
      ['dead pid', async () => writeLock(dirOf('dead'), { pid: deadPid() }), /removed a stale lock of pid \d+ .*that process is gone/],
      // Our own pid with another start tick: the pid was reused by a new process (Linux /proc).
      ['reused pid', async () => writeLock(dirOf('reused'), { pid: process.pid, procStart: '1' }), /removed a stale lock of pid/],
      ['garbage', async () => writeFile(join(dirOf('garbage'), LOCK_FILE), '\u0000\u0001not json'), /removed an unreadable lock file/],
    ];
    const hasProc = await exists(`/proc/${process.pid}/stat`);
    let recovered = 0;
    for (const [name, make, message] of cases) {
      if (name === 'reused pid' && !hasProc) continue;
      await make();
      const said: string[] = [];
      const lock = await acquireRunLock(dirOf(name.split(' ')[0]), (m) => said.push(m));
      expect(said.join('\n')).toMatch(message);
      expect(JSON.parse(await readFile(lock.path, 'utf8')).token).toBe(lock.info.token);
      lock.release();
      recovered++;
    }
    console.log(`lock: ${recovered} stale locks recovered (${cases.map((c) => c[0]).join(', ')})`);
  });

  it("refuses a lock held on another host, naming it and the file to delete", async () => {
    const dir = dirOf('host');
    await writeLock(dir, { hostname: 'elsewhere.example', pid: 4242 });
    await expect(acquireRunLock(dir)).rejects.toThrow(/locked by pid 4242 on host elsewhere\.example .*delete .*\.lock/);
  });

  it('a folder where the lock goes is named as such, not blamed on other processes (issue 22 case 8)', async () => {
    const dir = dirOf('folder');
    spawnSync('mkdir', ['-p', join(dir, LOCK_FILE)]);
    await expect(acquireRunLock(dir)).rejects.toThrow(/\.lock is not fsrgan's lock file \(it is a folder or a special file\): remove it/);
    expect((await stat(join(dir, LOCK_FILE))).isDirectory()).toBe(true); // not deleted
  });
});

const made = new Map<string, string>();
function dirOf(name: string): string {
  if (!made.has(name)) {
    const d = join(work, `d-${name}`);
    spawnSync('mkdir', ['-p', d]);
    made.set(name, d);
  }
  return made.get(name)!;
}

describe('fsrgan train: two processes on one run directory', () => {
  it('the second refuses while the first runs; after SIGKILL the stale lock is recovered; Ctrl-C and a normal end release it', async () => {
    const config = await writeTinyCliConfig(work);
    const dir = join(work, 'run');
    // A slow first process (each checkpoint write sleeps), so that it is surely still running.
    const a = startFsrgan(['train', '--config', config, '--out', dir], { FSRGAN_TEST_SLOW_CHECKPOINT_MS: '600' });
    expect(await a.waitFor(/stage 1\/2 \(r4\): /)).toBe(true);
    const pid = a.child.pid!;
    const b = await runFsrgan(['train', '--resume', dir]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`fsrgan train: '${dir}' is in use by another fsrgan train (pid ${pid}, since `);
    expect(b.stderr).toMatch(/Two processes writing one run would corrupt it: wait for that one to finish/);
    expect(b.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const c = await runFsrgan(['train', '--config', config, '--out', dir]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(new RegExp(`is in use by another fsrgan train \\(pid ${pid}`));
    a.child.kill('SIGKILL');
    await a.done;
    expect(await exists(join(dir, LOCK_FILE))).toBe(true);

    // Resume after the kill: the dead owner's lock is recovered; Ctrl-C at the first progress line.
    const d = startFsrgan(['train', '--resume', dir]);
    expect(await d.waitFor(/removed a stale lock of pid \d+/)).toBe(true);
    expect(await d.waitFor(/stage \d\/2 \(r\d\)/)).toBe(true);
    d.child.kill('SIGINT');
    const dr = await d.done;
    expect(dr.code, dr.stderr).toBe(130);
    expect(dr.stdout).toMatch(/interrupted at step \d+; checkpoint saved/);
    expect(await exists(join(dir, LOCK_FILE))).toBe(false);

    const e = await runFsrgan(['train', '--resume', dir]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).not.toMatch(/stale lock/);
    expect(e.stdout).toMatch(/done: 40 steps/);
    expect(await exists(join(dir, LOCK_FILE))).toBe(false);
    console.log('lock (CLI): 2 refusals while running, 1 stale lock recovered after SIGKILL, released after Ctrl-C and after a normal end');
  }, 120_000);
});
