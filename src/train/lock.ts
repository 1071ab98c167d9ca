/**
 * One writer per run directory: `DIR/.lock` holds the owner's pid, hostname, start time and (on Linux)
 * the kernel's start tick of that pid. It is created atomically with its content (a fully written
 * temporary file hard-linked to `.lock`: link(2) fails with EEXIST like open(O_CREAT | O_EXCL), without a
 * moment where `.lock` exists empty). A second process finds it and refuses with a clear message. A lock
 * whose pid no longer runs on this host (or runs a different process: pid reuse, detected by the start
 * tick) is stale: it is moved aside, checked to be the one judged stale, and replaced. Locks are removed
 * on release, and synchronously on process exit (normal exit, error, process.exit after a second Ctrl-C);
 * after SIGKILL the lock stays and the next run recovers it as stale.
 */
import { link, lstat, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { diskError } from '../util/atomic.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  started: string;
  /** /proc/<pid>/stat start time (clock ticks after boot), null off Linux. */
  procStart: string | null;
  /** The owner's command line, for the message a second process prints. */
  command: string;
  /** Random, tells this lock from a later one of the same pid. */
  token: string;
}

export interface RunLock {
  path: string;
  info: LockInfo;
  /** Removes the lock if it is still ours (idempotent, synchronous). */
  release(): void;
}

export const LOCK_FILE = '.lock';

/** Start tick of a process from /proc (field 22 of /proc/<pid>/stat), or null when unavailable. */
function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the lock's owner still runs: the pid exists (kill(pid, 0)) and, where known, is the same process. */
export function ownerAlive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the pid exists but belongs to another user.
  }
  const now = procStart(info.pid);
  return !(info.procStart && now && now !== info.procStart);
}

function parseLock(text: string): LockInfo | null {
  try {
    const j = JSON.parse(text) as LockInfo;
    return Number.isInteger(j.pid) && typeof j.hostname === 'string' ? j : null;
  } catch {
    return null;
  }
}

const held = new Set<RunLock>();
let exitHook = false;

/**
 * Takes the lock of run directory `dir` (which must exist). Throws a UserError naming the owner when
 * another live process holds it; replaces a stale lock, reporting it through `onMessage`.
 */
export async function acquireRunLock(dir: string, onMessage: (line: string) => void = console.warn): Promise<RunLock> {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid,
    hostname: hostname(),
    started: new Date().toISOString(),
    procStart: procStart(process.pid),
    command: process.argv.slice(1).join(' '),
    token: randomBytes(8).toString('hex'),
  };
  const text = JSON.stringify(info) + '\n';
  const tmp = join(dir, `${LOCK_FILE}.${process.pid}.${info.token}`);
  await writeFile(tmp, text).catch((e) => {
    throw diskError(e, `cannot write the lock file in '${dir}'`, 'fsrgan train needs to write into the run directory.', 'run the command again');
  });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // Something that is not a lock file (a folder, a device) sits where the lock goes: no process
        // replaces it, and it is not fsrgan's to delete.
        if (!(await lstat(path).then((st) => st.isFile(), () => true))) {
          throw new UserError(`${path} is not fsrgan's lock file (it is a folder or a special file): remove it, then run again.`);
        }
        await clearStale(dir, path, onMessage);
        continue;
      }
      const lock: RunLock = { path, info, release: () => releaseLock(lock) };
      held.add(lock);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => held.forEach((l) => l.release()));
      }
      return lock;
    }
    throw new UserError(`could not take the lock ${path}: other processes keep replacing it; is something else starting runs in '${dir}'?`);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Throws when the existing lock is live; otherwise removes it (only if it is still the one judged stale). */
async function clearStale(dir: string, path: string, onMessage: (line: string) => void): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return; // released meanwhile: try again
  const owner = parseLock(text);
  if (owner) {
    if (owner.hostname !== hostname()) {
      throw new UserError(
        `'${dir}' is locked by pid ${owner.pid} on host ${owner.hostname} (since ${owner.started}); this host cannot check whether that process still runs. ` +
          `If no fsrgan train uses this run any more, delete ${path}.`,
      );
    }
    if (ownerAlive(owner)) {
      throw new UserError(
        `'${dir}' is in use by another fsrgan train (pid ${owner.pid}, since ${owner.started}: ${owner.command}). ` +
          `Two processes writing one run would corrupt it: wait for that one to finish, or stop it (Ctrl-C checkpoints) and resume.`,
      );
    }
  }
  // Stale: move it aside first, then check that what moved is the lock judged stale (another process
  // may have replaced it in between, and that fresh lock must survive).
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved !== text) await link(aside, path).catch(() => undefined);
  else onMessage(owner ? `removed a stale lock of pid ${owner.pid} (started ${owner.started}; that process is gone)` : `removed an unreadable lock file ${path}`);
  await rm(aside, { force: true });
}

function releaseLock(lock: RunLock): void {
  if (!held.delete(lock)) return;
  try {
    if (parseLock(readFileSync(lock.path, 'utf8'))?.token === lock.info.token) unlinkSync(lock.path);
  } catch {
    // Already gone, or the folder was removed: nothing to release.
  }
}

/** Runs `fn` holding the lock of `dir`; the lock is released however `fn` ends. */
export async function withRunLock<T>(dir: string, fn: () => Promise<T>, onMessage?: (line: string) => void): Promise<T> {
  const lock = await acquireRunLock(dir, onMessage);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
