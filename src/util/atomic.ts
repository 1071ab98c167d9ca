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
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
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

/** True when `e` is a file-system error that the user has to fix (full disk, quota, permissions). */
export function isDiskError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).code! in DISK_PROBLEMS;
}

/**
 * A UserError "<doing>: <what the disk said> (<code>). <then>" for a disk error; any other error is
 * returned unchanged (a bug keeps its stack trace).
 */
export function diskError(e: unknown, doing: string, then: string): unknown {
  if (!isDiskError(e) || e instanceof UserError) return e;
  return new UserError(`${doing}: ${DISK_PROBLEMS[e.code!]} (${e.code}). ${then}`);
}
