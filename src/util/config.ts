/**
 * Strict config merging: the defaults object is the schema. Unknown keys, wrong types and malformed
 * `--set key=value` overrides become a UserError that names the field and what it should be.
 */
import { UserError } from './errors.js';

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** A value for an error message: JSON, cut to 80 characters (a 20,000-character string would bury the sentence). */
function brief(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

function closest(key: string, known: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
  };
  const best = known.map((k) => [k, dist(key.toLowerCase(), k.toLowerCase())] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= Math.max(2, key.length / 3) ? best[0] : undefined;
}

/**
 * Returns `defaults` overridden by `user`, checked recursively. A default of `null` accepts any JSON
 * value (an optional field); arrays are checked element-wise against the type of the default's first
 * element. `allowed` lists, per dotted path, the only accepted string values.
 */
export function mergeStrict<T>(defaults: T, user: unknown, path = 'config', allowed: Record<string, readonly string[]> = {}): T {
  if (user === undefined) return structuredClone(defaults);
  const dk = kind(defaults);
  const uk = kind(user);
  if (defaults === null) return user as T;
  if (dk === 'object') {
    if (uk !== 'object') throw new UserError(`${path} must be an object, got ${uk}.`);
    const d = defaults as Record<string, unknown>;
    const u = user as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(u)) {
      // Own keys only: 'constructor' or '__proto__' from a JSON file are unknown keys, not Object.prototype's.
      if (!own(d, key)) {
        const hint = closest(key, Object.keys(d));
        throw new UserError(
          `unknown key ${path}.${key}${hint ? ` (did you mean ${path}.${hint}?)` : ''}; known keys: ${Object.keys(d).join(', ')}.`,
        );
      }
    }
    for (const key of Object.keys(d)) out[key] = mergeStrict(d[key], u[key], `${path}.${key}`, allowed);
    return out as T;
  }
  if (dk === 'array') {
    if (uk !== 'array') throw new UserError(`${path} must be an array, got ${uk} (${brief(user)}).`);
    const proto = (defaults as unknown[])[0];
    if (proto === undefined) return structuredClone(user) as T;
    return (user as unknown[]).map((v, i) => mergeStrict(proto, v, `${path}[${i}]`, allowed)) as T;
  }
  if (dk !== uk) throw new UserError(`${path} must be a ${dk}, got ${uk} (${brief(user)}).`);
  if (dk === 'number' && !Number.isFinite(user as number)) throw new UserError(`${path} must be a finite number.`);
  const choices = allowed[path.replace(/\[\d+\]/g, '[]')];
  if (choices && !choices.includes(user as string)) {
    const got = String(user);
    throw new UserError(`${path} must be one of ${choices.join(', ')}, got '${got.length > 80 ? `${got.slice(0, 77)}...` : got}'.`);
  }
  return user as T;
}

/**
 * Applies `key.path=value` overrides (from `--set`) to a plain JSON object, parsing the value as JSON
 * when it parses (numbers, booleans, arrays) and as a string otherwise. Type checks happen in mergeStrict.
 */
export function applySets(obj: Record<string, unknown>, sets: string[]): Record<string, unknown> {
  const out = structuredClone(obj);
  for (const s of sets) {
    const eq = s.indexOf('=');
    const shown = s.length > 100 ? `${s.slice(0, 97)}...` : s;
    if (eq <= 0) throw new UserError(`--set expects key=value (for example --set train.lrG=0.0002), got '${shown}'.`);
    const keys = s.slice(0, eq).split('.');
    const raw = s.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    checkJsonDepth(value, `--set ${shown}`);
    const bad = keys.find((k) => k === '__proto__' || k === 'constructor' || k === 'prototype');
    if (bad) throw new UserError(`--set ${shown}: '${bad}' is not a config key.`);
    let cur: Record<string, unknown> = out;
    for (const k of keys.slice(0, -1)) {
      if (!own(cur, k)) cur[k] = {};
      if (kind(cur[k]) !== 'object') throw new UserError(`--set ${shown}: ${k} is not an object.`);
      cur = cur[k] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1]] = value;
  }
  return out;
}

/** Reads a JSON file, turning a missing file or a syntax error into a UserError naming the file. */
/** Deeper JSON than any config needs; deeper input would overflow the stack of the recursive mergers. */
export const MAX_JSON_DEPTH = 64;

/** A UserError when a parsed JSON value nests deeper than MAX_JSON_DEPTH (checked without recursion). */
export function checkJsonDepth(value: unknown, what: string): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > MAX_JSON_DEPTH) throw new UserError(`${what} nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; no fsrgan config does.`);
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push([c, d + 1]);
  }
}

export async function readJsonFile(file: string, what = 'config'): Promise<unknown> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} file '${file}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${what} file '${file}' is not valid JSON: ${(e as Error).message}.`);
  }
  checkJsonDepth(value, `${what} file '${file}'`);
  return value;
}
