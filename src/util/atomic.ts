/**
 * Crash-safe file writes (docs/reliability.md). `writeFileAtomic` fills a temporary file next to the
 * target, fsyncs it, renames it over the target and fsyncs the folder, so a reader (or a run resumed
 * after SIGKILL or a power cut) sees the old file or the new one, never a mix. `diskError` turns a full
 * disk, a quota or a read-only mount into a UserError that says what failed and what is still intact.
 *
 * Tests simulate a full disk without mounting anything: `FSRGAN_TEST_ENOSPC_AFTER_BYTES=N` (or
 * `setWriteFault`) makes every write through this module fail with ENOSPC once N bytes have been
 * written by the process, after writing the bytes that still fit, as a real full disk does.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from './errors.js';

let fault: { left: number } | null | undefined;

/** Injects a full disk after `enospcAfterBytes` more bytes (null removes it). Tests only. */
export function setWriteFault(f: { enospcAfterBytes: number } | null): void {
  fault = f ? { left: f.enospcAfterBytes } : null;
}

/** Bytes the injected fault still lets through (null when none is set). Tests only. */
export function writeFaultLeft(): number | null {
  return currentFault()?.left ?? null;
}

function currentFault(): { left: number } | null {
  if (fault === undefined) {
    const env = process.env.FSRGAN_TEST_ENOSPC_AFTER_BYTES;
    fault = env !== undefined && env !== '' && Number.isFinite(Number(env)) ? { left: Number(env) } : null;
  }
  return fault;
}

function injectedEnospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write (injected by FSRGAN_TEST_ENOSPC_AFTER_BYTES)'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  });
}

/** Writes all of `data` through an open handle (at its position, or at the end in append mode). */
export async function writeAll(fh: FileHandle, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const f = currentFault();
  if (f && bytes.byteLength > f.left) {
    const fits = bytes.subarray(0, Math.max(0, f.left));
    f.left = 0;
    if (fits.byteLength) await fh.writeFile(fits);
    throw injectedEnospc();
  }
  if (f) f.left -= bytes.byteLength;
  await fh.writeFile(bytes);
}

/** Creates or replaces `file` with `data` and fsyncs it (not atomic: use for files inside a temporary folder). */
export async function writeFileSynced(file: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await writeAll(fh, data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a folder, so that a rename or a new entry in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces `file` with `data` atomically: the old content or the new one, never a partial file. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  try {
    await writeFileSynced(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(file));
}

const DISK_PROBLEMS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EIO: 'input/output error (failing disk?)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EFBIG: 'file too large for the file system',
};

/**
 * What the user does about each of them. A full disk or quota is the common case; permissions, a
 * read-only mount and a failing disk are not fixed by freeing space, so they say so and name the path.
 */
const DISK_FIXES: Record<string, (path: string | undefined) => string> = {
  ENOSPC: () => 'Free some space',
  EDQUOT: () => 'Free some space (or raise the quota)',
  EFBIG: () => 'Raise the file-size limit (ulimit -f) or use another file system',
  EROFS: (p) => `This is not a full disk: remount the file system${p ? ` of '${p}'` : ''} writable (or use another folder)`,
  EIO: () => 'This is not a full disk: check the disk (dmesg; a failing disk or a lost network mount)',
  EACCES: (p) => permissionFix(p),
  EPERM: (p) => permissionFix(p),
};

/** Names what to make writable: the path when it exists, else its folder (a file being created, a temp name). */
function permissionFix(path: string | undefined): string {
  const what = path === undefined ? 'the run directory' : `'${existsSync(path) ? path : dirname(path)}'`;
  return `This is a permission problem, not a full disk: make ${what} writable for this user (permissions, owner, or an immutable attribute)`;
}

/** True when `e` is a file-system error that the user has to fix (full disk, quota, permissions). */
export function isDiskError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).code! in DISK_PROBLEMS;
}

/**
 * A UserError "<doing>: <what the disk said> (<code> on '<path>'). <intact> <the fix for that code>, then
 * <next>." for a disk error (`next`: what to run once it is fixed, e.g. a resume); any other error is
 * returned unchanged (a bug keeps its stack trace).
 */
export function diskError(e: unknown, doing: string, intact: string, next: string): unknown {
  if (!isDiskError(e) || e instanceof UserError) return e;
  const code = e.code!;
  return new UserError(`${doing}: ${DISK_PROBLEMS[code]} (${code}${e.path ? ` on '${e.path}'` : ''}). ${intact ? `${intact} ` : ''}${DISK_FIXES[code](e.path)}, then ${next}.`);
}

const isDir = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);

/**
 * `mkdir -p` for folders the user names (--out): creates `dir` and its missing parents; a folder that
 * exists is fine, a file in the way is EEXIST. Node's `mkdir(dir, { recursive: true })` never returns
 * where mkdir fails with ENOENT under a folder that exists: `--out /proc/run` spun at full CPU forever
 * (libuv creates the parent, gets EEXIST, tries the child again, gets ENOENT, ...). This one climbs to
 * the nearest existing folder once and creates the rest top-down, so such a path ends in the ENOENT
 * error, which `outputError` turns into one line naming the path.
 */
export async function mkdirs(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await isDir(dir))) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
  }
  await mkdirs(dirname(dir));
  try {
    await mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await isDir(dir))) return;
    throw e;
  }
}
