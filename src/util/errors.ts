/**
 * An error caused by the user's input (config, dataset, checkpoint, flags). The CLI prints its message
 * alone, without a stack trace; library callers can catch it by type.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Throws a UserError when `cond` is false. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new UserError(message);
}

const PATH_PROBLEMS: Record<string, string> = {
  ENOENT: 'its folder does not exist (or cannot hold new files)',
  EISDIR: 'it is a folder, not a file',
  EEXIST: 'a file is in the way where a folder must be',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
};

/**
 * A file-system error on a path the user chose (an --out, a run directory's subfolder) as a UserError that
 * names the path and the problem; any other error is returned unchanged.
 */
export function outputError(e: unknown, path: string, what: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !PATH_PROBLEMS[code]) return e;
  const at = (e as NodeJS.ErrnoException).path;
  return new UserError(`cannot write ${what} '${path}': ${PATH_PROBLEMS[code]}${at && at !== path ? ` ('${at}')` : ''}; choose another path.`);
}

const IN_THE_WAY = ['EISDIR', 'EEXIST', 'ENOTDIR'];

/**
 * A folder where a file of a run directory must be, or a file where a folder must be (moved or made by
 * hand), as a UserError naming the path: move what is in the way aside, then `then`. Any other error
 * (a full disk, permissions) is returned unchanged for diskError.
 */
export function inTheWayError(e: unknown, path: string, what: string, then: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !IN_THE_WAY.includes(code)) return e;
  const at = (e as NodeJS.ErrnoException).path;
  return new UserError(`cannot write ${what} '${path}': ${PATH_PROBLEMS[code]}${at && at !== path ? ` ('${at}')` : ''}; move what is in the way aside, then ${then}.`);
}
