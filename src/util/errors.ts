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
