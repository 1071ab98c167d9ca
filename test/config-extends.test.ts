/**
 * Training config files that extend a base (`"extends"`, docs/training.md): every shipped experiment
 * resolves with no `extends` left, merge semantics on planted files, and the errors for a cycle, a missing
 * base, a base that is not an object, a malformed `extends` and a mistake inside a base (each naming the
 * file chain). Also: the choice fields are typed as the unions of their allowed values.
 */
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfigFile, readConfigFile, resolveConfig, type TrainMode } from '../src/train/config.js';
import type { ObjectiveName } from '../src/train/objectives.js';
import type { GuardAction } from '../src/train/guard.js';
import type { Augment } from '../src/train/augment.js';
import { deepMerge } from '../src/util/config.js';
import { UserError } from '../src/util/errors.js';

/** Every training config shipped: experiments/*.json but the teacher configs (teacher-*.json), and the figures' train-*.json. */
async function experimentConfigs(): Promise<string[]> {
  const top = (await readdir('experiments')).filter((f) => f.endsWith('.json') && !f.startsWith('teacher-')).map((f) => `experiments/${f}`);
  const figures = (await readdir('experiments/figures')).filter((f) => /^train-.*\.json$/.test(f)).map((f) => `experiments/figures/${f}`);
  return [...top, ...figures].sort();
}

describe('shipped experiment configs', () => {
  it('all resolve, with no extends left, named after their own file', async () => {
    const files = await experimentConfigs();
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const f of files) {
      const raw = await readConfigFile(f);
      expect(raw, f).not.toHaveProperty('extends');
      const c = await loadConfigFile(f);
      expect(c, f).not.toHaveProperty('extends');
      expect(c.name, f).toBe(f.split('/').pop()!.replace(/\.json$/, ''));
    }
  });

  it('the triplets differ only in mode (and the end-to-end budget)', async () => {
    for (const data of ['teacher', 'emoji']) {
      const [lw, rl, ee] = await Promise.all(['layerwise', 'random-lower', 'end-to-end'].map((m) => loadConfigFile(`experiments/${m}-${data}.json`)));
      expect(lw.train.mode).toBe('layerwise');
      expect({ ...rl, name: lw.name, train: { ...rl.train, mode: 'layerwise' } }).toEqual(lw);
      expect({ ...ee, name: lw.name, train: { ...ee.train, mode: 'layerwise', stepsByLevel: lw.train.stepsByLevel } }).toEqual(lw);
    }
  });
});

describe('extends', () => {
  let root: string;
  const put = async (rel: string, value: unknown) => {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), typeof value === 'string' ? value : JSON.stringify(value));
    return join(root, rel);
  };
  const failure = async (p: Promise<unknown>): Promise<string> => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fsrgan-extends-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('merges objects key by key; arrays and scalars replace; chains and lists of bases apply in order', async () => {
    await put('bases/arch.json', { data: 'emoji', generator: { resolutions: [8, 16, 32], channels: [16, 16, 16], zDim: 16, patch: 4 }, train: { steps: 100, stepsByLevel: [1, 2, 3] } });
    // A base in another folder names its own base relative to itself.
    await put('bases/budget.json', { extends: 'arch.json', train: { batch: 8, steps: 50 } });
    await put('bases/optim.json', { train: { lrG: 0.001, steps: 70 }, discriminator: { augment: ['color', 'cutout'] } });
    const child = await put('runs/child.json', { extends: ['../bases/budget.json', '../bases/optim.json'], train: { mode: 'end-to-end', stepsByLevel: [4, 5, 6] }, discriminator: { augment: ['translation'] } });
    const raw = await readConfigFile(child);
    expect(raw).toEqual({
      data: 'emoji',
      generator: { resolutions: [8, 16, 32], channels: [16, 16, 16], zDim: 16, patch: 4 },
      // batch from budget.json, steps from optim.json (the later base wins), the rest from the child.
      train: { steps: 70, stepsByLevel: [4, 5, 6], batch: 8, lrG: 0.001, mode: 'end-to-end' },
      discriminator: { augment: ['translation'] },
    });
    const c = await loadConfigFile(child, { seed: 3 });
    expect(c).toEqual(resolveConfig(raw, { seed: 3, file: child }));
    expect(c.name).toBe('child');
    expect(c.train.lrD).toBe(DEFAULT_CONFIG.train.lrD);
  });

  it('the same base reached twice (a diamond) is not a cycle', async () => {
    await put('diamond/root.json', { data: 'emoji', train: { batch: 4 } });
    await put('diamond/a.json', { extends: 'root.json', train: { lrG: 0.01 } });
    await put('diamond/b.json', { extends: 'root.json', train: { lrD: 0.02 } });
    const c = await loadConfigFile(await put('diamond/top.json', { extends: ['a.json', 'b.json'] }));
    expect([c.train.batch, c.train.lrG, c.train.lrD]).toEqual([4, 0.01, 0.02]);
  });

  it('a cycle is a UserError naming the chain', async () => {
    await put('cycle/a.json', { extends: 'b.json', data: 'emoji' });
    await put('cycle/b.json', { extends: 'c.json' });
    await put('cycle/c.json', { extends: 'a.json' });
    const msg = await failure(readConfigFile(join(root, 'cycle/a.json')));
    expect(msg).toMatch(/extend each other in a cycle: .*cycle\/a\.json -> .*cycle\/b\.json -> .*cycle\/c\.json -> .*cycle\/a\.json; remove one/);
    await put('cycle/self.json', { extends: './self.json' });
    expect(await failure(readConfigFile(join(root, 'cycle/self.json')))).toMatch(/cycle/);
  });

  it('a missing base names the base, the file that extends it and the fix', async () => {
    const child = await put('missing/child.json', { extends: 'nope/base.json', data: 'emoji' });
    const msg = await failure(readConfigFile(child));
    expect(msg).toContain(`cannot read base training config file '${join(root, 'missing/nope/base.json')}': no such file`);
    expect(msg).toContain(`fix "extends" in '${child}'`);
    expect(msg).toMatch(/relative to that file's folder/);
  });

  it('a base that is not an object, a malformed extends, a broken base, a mistake in a base: UserErrors naming the file', async () => {
    await put('bad/list.json', [1, 2]);
    expect(await failure(readConfigFile(await put('bad/a.json', { extends: 'list.json' })))).toMatch(/base training config file '.*bad\/list\.json' \(.*a\.json -> .*list\.json\) must be a JSON object of config fields, got array/);
    for (const ext of [3, null, [''], ['x.json', 4], { path: 'x.json' }]) {
      expect(await failure(readConfigFile(await put('bad/b.json', { extends: ext })))).toMatch(/bad\/b\.json': "extends" must be a base file's path or a list of them, relative to this file/);
    }
    await put('bad/syntax.json', '{"train": ');
    expect(await failure(readConfigFile(await put('bad/c.json', { extends: 'syntax.json' })))).toMatch(/syntax\.json' is not valid JSON/);
    // Unknown keys and wrong types inside a base are caught by the strict merge, blamed on the base.
    await put('bad/typo.json', { train: { stpes: 5 } });
    const typo = await failure(readConfigFile(await put('bad/d.json', { extends: 'typo.json', data: 'emoji' })));
    expect(typo).toMatch(/in base config '.*bad\/typo\.json' \(.*d\.json -> .*typo\.json\): unknown key config\.train\.stpes \(did you mean config\.train\.steps\?\)/);
    await put('bad/mode.json', { train: { mode: 'sideways' } });
    expect(await failure(readConfigFile(await put('bad/e.json', { extends: 'mode.json' })))).toMatch(/mode\.json.*config\.train\.mode must be one of layerwise, random-lower, end-to-end, oracle-lower/);
    await put('bad/proto.json', '{"__proto__": {"x": 1}}');
    expect(await failure(readConfigFile(await put('bad/f.json', { extends: 'proto.json' })))).toMatch(/unknown key config\.__proto__/);
    // The child's own unknown keys are still the resolver's (as without extends).
    await put('bad/plain.json', { data: 'emoji' });
    expect(await failure(loadConfigFile(await put('bad/g.json', { extends: 'plain.json', trian: {} })))).toMatch(/unknown key config\.trian \(did you mean config\.train\?\)/);
  });

  it('extends cannot come from --set or a plain object', () => {
    expect(() => resolveConfig({ data: 'emoji' }, { sets: ['extends=base.json'] })).toThrow(/config\.extends names base files.*put "extends" in the file/);
    expect(() => resolveConfig({ data: 'emoji', extends: 'base.json' })).toThrow(UserError);
  });

  it('deepMerge keeps "__proto__" an ordinary key and does not modify its inputs', () => {
    const base = { a: { b: 1, c: [1, 2] } };
    const over = JSON.parse('{"a": {"c": [3]}, "__proto__": {"polluted": true}}') as Record<string, unknown>;
    const m = deepMerge(base, over);
    expect(m.a).toEqual({ b: 1, c: [3] });
    expect(Object.keys(m)).toEqual(['a', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(m, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(base).toEqual({ a: { b: 1, c: [1, 2] } });
  });
});

describe('choice fields', () => {
  it('are typed as the unions of their allowed values (checked by tsc)', () => {
    expectTypeOf(DEFAULT_CONFIG.train.mode).toEqualTypeOf<TrainMode>();
    expectTypeOf(DEFAULT_CONFIG.objective.name).toEqualTypeOf<ObjectiveName>();
    expectTypeOf(DEFAULT_CONFIG.guard.onNonFinite).toEqualTypeOf<GuardAction>();
    expectTypeOf(DEFAULT_CONFIG.generator.head).toEqualTypeOf<'linear' | 'tanh'>();
    expectTypeOf(DEFAULT_CONFIG.discriminator.augment).toEqualTypeOf<Augment[]>();
    expectTypeOf(DEFAULT_CONFIG.backend).toEqualTypeOf<'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu'>();
    // At run time the same lists are enforced when a config is resolved.
    expect(() => resolveConfig({ data: 'emoji', generator: { head: 'relu' } })).toThrow(/config\.generator\.head must be one of linear, tanh/);
    expect(() => resolveConfig({ data: 'emoji', discriminator: { augment: ['blur'] } })).toThrow(/augment\[0\] = "blur" is not a policy/);
  });
});
