/**
 * Strict config merging: the defaults object is the schema. Unknown keys, wrong types and malformed
 * `--set key=value` overrides become a UserError that names the field and what it should be.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
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

/** Sets a key by defining it, so that a "__proto__" key from a JSON file stays an ordinary (unknown) key. */
const put = (o: Record<string, unknown>, key: string, value: unknown) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });

/** The known name nearest to `key` (edit distance), for did-you-mean hints; undefined when none is close. */
export function closest(key: string, known: string[]): string | undefined {
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
 * A typed default for a choice field: `choiceIn(table)(path, value)` has the union of `table[path]`, the
 * list mergeStrict accepts at that path, as its type, so that the field's type and its allowed values
 * come from one table and cannot disagree.
 */
export const choiceIn =
  <T extends Record<string, readonly string[]>>(_table: T) =>
  <K extends keyof T>(_path: K, value: T[K][number]): T[K][number] =>
    value;

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

/** Reads a JSON file, turning a missing file or a syntax error into a UserError naming the file. */
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

const isObject = (v: unknown): v is Record<string, unknown> => kind(v) === 'object';

/** `over` merged onto `base`: objects key by key, recursively; arrays, scalars and null replace. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(base)) put(out, k, base[k]);
  for (const k of Object.keys(over)) {
    const b = out[k];
    const o = over[k];
    put(out, k, own(out, k) && isObject(b) && isObject(o) ? deepMerge(b, o) : o);
  }
  return out;
}

/** Checks one base file's own keys (its `extends` removed) before they are merged; `trail` is the chain from the top file to it. */
export type BaseCheck = (own: Record<string, unknown>, file: string, trail: string[]) => void;

/**
 * Reads a JSON config file whose top-level `"extends"` names base files: a path or a list of paths
 * (applied in order), each relative to the folder of the file that names it. Bases are read the same way
 * (chains allowed), then the file's own keys are merged over them with deepMerge; the result holds no
 * `extends`. `checkBase` sees every base's own keys, so a mistake in a base is blamed on that file.
 */
export async function readJsonWithBases(file: string, what: string, checkBase?: BaseCheck): Promise<Record<string, unknown>> {
  return readChain(file, what, [], checkBase);
}

async function readChain(file: string, what: string, parents: string[], checkBase?: BaseCheck): Promise<Record<string, unknown>> {
  const trail = [...parents, file];
  const chain = trail.join(' -> ');
  const parent = parents[parents.length - 1];
  let value: unknown;
  try {
    value = await readJsonFile(file, parent ? `base ${what}` : what);
  } catch (e) {
    if (!parent || !(e instanceof UserError)) throw e;
    throw new UserError(`${e.message.replace(/\.$/, '')} (${chain}): fix "extends" in '${parent}'; its paths are relative to that file's folder.`);
  }
  if (!isObject(value)) {
    throw new UserError(parent
      ? `base ${what} file '${file}' (${chain}) must be a JSON object of config fields, got ${kind(value)}: fix "extends" in '${parent}' or that file.`
      : `${what} file '${file}' must be a JSON object of config fields, got ${kind(value)}.`);
  }
  const ext = value.extends;
  const bases = ext === undefined ? [] : typeof ext === 'string' ? [ext] : ext;
  if (!Array.isArray(bases) || bases.some((b) => typeof b !== 'string' || b === '')) {
    throw new UserError(`'${file}': "extends" must be a base file's path or a list of them, relative to this file (e.g. "extends": "base.json"), got ${brief(ext)}.`);
  }
  const ownKeys: Record<string, unknown> = {};
  for (const k of Object.keys(value)) if (k !== 'extends') put(ownKeys, k, value[k]);
  if (parent) checkBase?.(ownKeys, file, trail);
  let merged: Record<string, unknown> = {};
  for (const b of bases as string[]) {
    const path = isAbsolute(b) ? b : join(dirname(file), b);
    if (trail.some((f) => resolve(f) === resolve(path))) {
      throw new UserError(`${what} files extend each other in a cycle: ${[...trail, path].join(' -> ')}; remove one of these "extends".`);
    }
    merged = deepMerge(merged, await readChain(path, what, trail, checkBase));
  }
  return deepMerge(merged, ownKeys);
}
