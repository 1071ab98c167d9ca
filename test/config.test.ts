import { describe, expect, it } from 'vitest';
import { applySets, mergeStrict } from '../src/util/config.js';

const D = { a: 1, b: { c: 'x', d: [1, 2] }, opt: null as unknown, mode: 'layerwise' };

describe('mergeStrict', () => {
  it('fills defaults and keeps overrides', () => {
    expect(mergeStrict(D, { a: 3, b: { d: [5] } })).toEqual({ a: 3, b: { c: 'x', d: [5] }, opt: null, mode: 'layerwise' });
  });
  it('rejects an unknown key with a suggestion', () => {
    expect(() => mergeStrict(D, { b: { cc: 'y' } })).toThrow(/unknown key config\.b\.cc \(did you mean config\.b\.c\?\)/);
  });
  it('rejects a wrong type naming the field', () => {
    expect(() => mergeStrict(D, { a: '3' })).toThrow(/config\.a must be a number, got string/);
    expect(() => mergeStrict(D, { b: { d: [1, 'x'] } })).toThrow(/config\.b\.d\[1\] must be a number/);
  });
  it('checks allowed string values', () => {
    expect(() => mergeStrict(D, { mode: 'sideways' }, 'config', { 'config.mode': ['layerwise', 'end-to-end'] })).toThrow(
      /config\.mode must be one of layerwise, end-to-end/,
    );
  });
  it('applySets parses JSON values and nests keys', () => {
    expect(applySets({ b: { c: 'x' } }, ['b.c=hello', 'a=2', 'b.d=[3,4]'])).toEqual({ a: 2, b: { c: 'hello', d: [3, 4] } });
    expect(() => applySets({}, ['novalue'])).toThrow(/key=value/);
  });
});
