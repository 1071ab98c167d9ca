/** Flag parsing for the thin CLI commands: node's util.parseArgs with user-facing errors. */
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../util/errors.js';

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv` against `options`; unknown or malformed flags become a UserError that names the command.
 * Every command also accepts `--help`.
 */
export function parseFlags<O extends FlagSpec>(command: string, argv: string[], options: O, usage: string) {
  try {
    const parsed = nodeParseArgs({
      args: options.set?.multiple ? expandSets(argv) : argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { ...parsed, usage };
  } catch (e) {
    // Node's message may run over several lines ("... is ambiguous.\nDid you forget ...?"): one line, then the usage.
    const msg = (e as Error).message.replace(/\. To specify a positional.*$/s, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    throw new UserError(`${msg}.\nUsage: ${usage}`);
  }
}

/** Parses a flag value as an integer in [min, max], or throws a UserError naming the flag. */
export function intFlag(name: string, value: string | undefined, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UserError(`--${name} must be an integer between ${min} and ${max}, got '${value}'.`);
  }
  return n;
}

/**
 * `--set a=1 b=2` means `--set a=1 --set b=2`, as the usage lines write it (`[--set key=value ...]`):
 * words after a --set that look like key=value (not flags) are more overrides, not stray positionals.
 */
export function expandSets(argv: string[]): string[] {
  const out: string[] = [];
  let inSet = false;
  for (const a of argv) {
    if (a === '--') {
      inSet = false;
      out.push(a);
    } else if (a === '--set') {
      inSet = true;
      out.push(a);
    } else if (a.startsWith('-')) {
      inSet = a.startsWith('--set=');
      out.push(a);
    } else if (inSet && out[out.length - 1] !== '--set' && /^[A-Za-z_][\w.[\]]*=/.test(a)) {
      out.push('--set', a);
    } else {
      out.push(a);
    }
  }
  return out;
}
