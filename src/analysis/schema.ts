/**
 * A small schema language for analysis reports, so that each measurement of the registry (registry.ts)
 * declares the shape of its report next to the code that makes it, and `<what>.json` can be checked
 * against it (validate.ts). Objects may carry more fields than their schema names.
 */

export type Schema =
  | 'number'
  | 'string'
  | 'boolean'
  | { literal: string }
  | { array: Schema }
  | { tuple: Schema[] }
  | { object: Record<string, Schema> }
  | { record: Schema }
  | { nullable: Schema }
  | { anyOf: Schema[] };

/** Problems of `v` against `s` (empty when it conforms); paths like `layers[0].exact.meanActive`. */
export function schemaProblems(v: unknown, s: Schema, path: string): string[] {
  if (s === 'number') return typeof v === 'number' ? [] : [`${path} must be a number`];
  if (s === 'string') return typeof v === 'string' ? [] : [`${path} must be a string`];
  if (s === 'boolean') return typeof v === 'boolean' ? [] : [`${path} must be a boolean`];
  if ('literal' in s) return v === s.literal ? [] : [`${path} must be '${s.literal}'`];
  if ('nullable' in s) return v === null ? [] : schemaProblems(v, s.nullable, path);
  if ('anyOf' in s) return s.anyOf.some((x) => schemaProblems(v, x, path).length === 0) ? [] : [`${path} has none of the allowed types`];
  if ('array' in s) {
    if (!Array.isArray(v)) return [`${path} must be an array`];
    return v.flatMap((x, i) => schemaProblems(x, s.array, `${path}[${i}]`));
  }
  if ('tuple' in s) {
    if (!Array.isArray(v) || v.length !== s.tuple.length) return [`${path} must be an array of ${s.tuple.length}`];
    return s.tuple.flatMap((x, i) => schemaProblems(v[i], x, `${path}[${i}]`));
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${path} must be an object`];
  const o = v as Record<string, unknown>;
  if ('record' in s) return Object.entries(o).flatMap(([k, x]) => schemaProblems(x, s.record, `${path}.${k}`));
  return Object.entries(s.object).flatMap(([k, x]) => (k in o ? schemaProblems(o[k], x, `${path}.${k}`) : [`${path}.${k} is missing`]));
}

export const num = 'number' as const;
export const str = 'string' as const;
export const arr = (a: Schema): Schema => ({ array: a });
export const obj = (o: Record<string, Schema>): Schema => ({ object: o });
export const nullable = (s: Schema): Schema => ({ nullable: s });
export const tuple = (...t: Schema[]): Schema => ({ tuple: t });

/** The `method` block every report carries: how it was computed and with which parameters. */
export const method = obj({ computation: str, params: { record: { anyOf: [num, str, 'boolean'] } } });

/** A report of kind `kind`: `{kind, method, ...fields}`. */
export function report(kind: string, fields: Record<string, Schema>): Schema {
  return obj({ kind: { literal: kind }, method, ...fields });
}
