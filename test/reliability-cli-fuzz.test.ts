/**
 * Issue 22's fuzz suite: bad input of every family (config, checkpoint, stage records, run files, output
 * paths, datasets) through the real CLI, `node bin/fsrgan.mjs` in a child process. An error case passes
 * when the process exits with code 2 and ends with one line on stderr ("fsrgan <command>: ...") that names
 * the field or file (a pattern per case; progress such as a teacher's statistics may come before it), no
 * stack trace, and under 2 KB of output in all; a warning case
 * (a damaged newest checkpoint, a damaged stage record: fsrgan goes on) when it exits with 0 and says
 * what it skipped or rebuilt in one line naming the file.
 *
 * The cases, enumerated and seeded-random, work on one tiny trained run (2 resolutions, 4 channels, 16
 * steps, made once by the CLI; each case mutates a copy). Plain `npm test` runs a seeded draw of 3 cases
 * per family (18 child processes, two at a time, about 40 s); FSRGAN_SLOW=1 runs all 117 (about 4 minutes
 * on 2 busy cores). FSRGAN_FUZZ_SEED changes the draw and the generated cases.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { runFsrgan, startFsrgan, writeTinyCliConfig, type CliResult } from './reliability-fixtures.js';

type Family = 'config' | 'checkpoint' | 'stage records' | 'run files' | 'output paths' | 'datasets';

interface Ctx {
  /** A fresh folder for this case. */
  dir: string;
  /** A copy of the trained run (made on demand). */
  run(): Promise<string>;
  /** A copy of the trained run as if interrupted inside its last stage (its newest checkpoint removed). */
  interrupted(): Promise<string>;
  /** A copy of the tiny config (JSON object) and teacher, written into `dir`; returns the config path. */
  config(edit?: (c: Record<string, any>) => void): Promise<string>;
}

interface Case {
  family: Family;
  name: string;
  /** Prepares the input; returns the fsrgan arguments. */
  args(c: Ctx): Promise<string[]>;
  /** What the one line must contain: the field or file, and the problem. */
  want: RegExp;
  /** 'warning': fsrgan goes on (exit 0) after one line naming the file. */
  kind?: 'error' | 'warning';
  env?: Record<string, string>;
}

let work = '';
let base = '';
let fixture = '';
let fixtureConfig = '';
let n = 0;
const fresh = async () => {
  const d = join(work, `case-${n++}`);
  await mkdir(d);
  return d;
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fsrgan-cli-fuzz-'));
  base = join(work, 'base');
  await mkdir(base);
  fixtureConfig = await writeTinyCliConfig(base, { steps: 8, checkpointEvery: 4 });
  fixture = join(base, 'run');
  const r = await runFsrgan(['train', '--config', fixtureConfig, '--out', fixture]);
  if (r.code !== 0) throw new Error(`the fixture run failed: ${r.stderr}`);
}, 120_000);
afterAll(() => rm(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------------------
// Mutations

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const checkpoints = async (run: string) => (await readdir(join(run, 'checkpoints'))).filter((x) => x.startsWith('step-')).sort().map((x) => join(run, 'checkpoints', x));
/** Applies `f` to every checkpoint of the run (so that none verifies). */
const everyCheckpoint = (f: (ck: string) => Promise<void>) => async (run: string) => {
  for (const ck of await checkpoints(run)) await f(ck);
};
const editJson = async (file: string, f: (j: any) => unknown) => {
  const j = JSON.parse(await readFile(file, 'utf8'));
  const out = f(j);
  await writeFile(file, JSON.stringify(out === undefined ? j : out));
};
/** Edits state.json and re-hashes it into the manifest, as a careful hand-editor would. */
const editState = (f: (st: any) => void) => async (ck: string) => {
  const st = JSON.parse(await readFile(join(ck, 'state.json'), 'utf8'));
  f(st);
  const text = Buffer.from(JSON.stringify(st));
  await writeFile(join(ck, 'state.json'), text);
  await editJson(join(ck, 'manifest.json'), (m) => {
    const e = m.files.find((x: { name: string }) => x.name === 'state.json');
    e.bytes = text.byteLength;
    e.sha256 = sha(text);
  });
};
const flip = (file: string, at: number) => async (ck: string) => {
  const b = await readFile(join(ck, file));
  b[at % b.length] ^= 0x10;
  await writeFile(join(ck, file), b);
};

// ---------------------------------------------------------------------------------------------------------
// The cases

const trainCfg = (edit: (c: Record<string, any>) => void, want: RegExp, name: string): Case => ({
  family: 'config',
  name,
  args: async (c) => ['train', '--config', await c.config(edit), '--out', join(c.dir, 'out')],
  want,
});
const withSet = (sets: string[], want: RegExp, name: string, family: Family = 'config'): Case => ({
  family,
  name,
  args: async (c) => ['train', '--config', await c.config(), '--out', join(c.dir, 'out'), '--set', ...sets],
  want,
});

const CONFIG: Case[] = [
  { family: 'config', name: 'config file not JSON', args: async (c) => (await writeFile(join(c.dir, 'c.json'), '{"train": {'), ['train', '--config', join(c.dir, 'c.json')]), want: /c\.json/ },
  { family: 'config', name: 'config file an array', args: async (c) => (await writeFile(join(c.dir, 'c.json'), '[1, 2]'), ['train', '--config', join(c.dir, 'c.json')]), want: /c\.json/ },
  trainCfg((c) => Object.assign(c.train, { batch: 0, steps: 0, beta1: 2 }), /3 problems: \(1\) config\.train\.batch.*; \(2\) config\.train\.steps.*; \(3\) config\.train\.beta1/, 'three problems at once'),
  { family: 'config', name: 'config file missing', args: async (c) => ['train', '--config', join(c.dir, 'nope.json')], want: /nope\.json/ },
  { family: 'config', name: 'config file is a folder', args: async (c) => ['train', '--config', c.dir], want: /fsrgan-cli-fuzz-.*case-\d+/ },
  trainCfg((c) => (c.trian = {}), /trian/, 'unknown top-level key'),
  trainCfg((c) => (c.generator.chanels = [4, 4]), /generator\.chanels/, 'unknown nested key'),
  trainCfg((c) => (c.train.batch = '4'), /train\.batch/, 'number as a string'),
  trainCfg((c) => (c.train.steps = -3), /train\.steps/, 'negative steps'),
  trainCfg((c) => (c.train.mode = 'sideways'), /train\.mode/, 'unknown mode'),
  trainCfg((c) => (c.seed = 4294967296), /seed/, 'seed above 2^32-1'),
  trainCfg((c) => (c.generator.channels = [4]), /generator\.(channels|resolutions)/, 'channels shorter than resolutions'),
  trainCfg((c) => (c.train.batch = 1e9), /train\.batch|memory/, 'batch of a billion'),
  trainCfg((c) => (c.generator.channels = [100000, 100000]), /generator\.channels|memory/, 'channels 1e5'),
  trainCfg((c) => (c.log.samples = 1e9), /log\.samples/, 'log.samples 1e9'),
  {
    family: 'config',
    name: 'nested 5,000 deep',
    args: async (c) => {
      // Written as text: JSON.stringify of it would overflow this process's stack.
      const text = (await readFile(await c.config(), 'utf8')).replace('"train":{', `"train":{"deep":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)},`);
      await writeFile(join(c.dir, 'deep.json'), text);
      return ['train', '--config', join(c.dir, 'deep.json'), '--out', join(c.dir, 'out')];
    },
    want: /nested|deep|levels/,
  },
  trainCfg((c) => (c.extends = 'no-such-base.json'), /no-such-base\.json/, 'extends a missing file'),
  trainCfg((c) => (c.guard = { onNonFinite: 'explode' }), /guard\.onNonFinite/, 'guard action unknown'),
  trainCfg((c) => (c.discriminator.widths = 'wide'), /discriminator\.widths/, 'widths not an array'),
  withSet(['train.bogus=1'], /train\.bogus/, '--set unknown key'),
  withSet(['train.batch'], /train\.batch|--set/, '--set without ='),
  withSet(['__proto__.polluted=1'], /__proto__/, '--set __proto__'),
  withSet(['train.lrG=abc'], /train\.lrG/, '--set a word for a number'),
  { family: 'config', name: '--seed above 2^32-1', args: async (c) => ['train', '--config', await c.config(), '--seed', '4294967296'], want: /seed/ },
];

const damagedCheckpoints = (name: string, f: (ck: string) => Promise<void>, want: RegExp, command: 'sample' | 'resume' | 'analyze'): Case => ({
  family: 'checkpoint',
  name: `${name} (${command})`,
  args: async (c) => {
    const run = await c.run();
    await everyCheckpoint(f)(run);
    return command === 'sample' ? ['sample', run, '--out', join(c.dir, 'x.png')] : command === 'resume' ? ['train', '--resume', run] : ['analyze', run, '--what', 'sparsity'];
  },
  want,
});

const CHECKPOINT: Case[] = [
  damagedCheckpoints('weights.bin truncated', (ck) => truncate(join(ck, 'weights.bin'), 100), /weights\.bin is truncated/, 'sample'),
  damagedCheckpoints('weights.bin byte flipped', flip('weights.bin', 333), /weights\.bin was altered or damaged/, 'resume'),
  damagedCheckpoints('weights.bin deleted', (ck) => rm(join(ck, 'weights.bin')), /weights\.bin is missing/, 'analyze'),
  damagedCheckpoints('state.json truncated', (ck) => truncate(join(ck, 'state.json'), 12), /state\.json is truncated/, 'sample'),
  damagedCheckpoints('manifest.json null', (ck) => writeFile(join(ck, 'manifest.json'), 'null'), /manifest\.json is not an fsrgan checkpoint manifest/, 'resume'),
  damagedCheckpoints('manifest.json files [{}]', (ck) => editJson(join(ck, 'manifest.json'), (m) => void (m.files = [{}])), /manifest\.json must list exactly/, 'sample'),
  damagedCheckpoints('manifest.json names ../../config.json', (ck) => editJson(join(ck, 'manifest.json'), (m) => void (m.files[0].name = '../../config.json')), /manifest\.json must list exactly/, 'analyze'),
  damagedCheckpoints('manifest.json deleted', (ck) => rm(join(ck, 'manifest.json')), /manifest\.json is missing/, 'resume'),
  damagedCheckpoints('manifest.json emptied list, weights flipped', async (ck) => (await editJson(join(ck, 'manifest.json'), (m) => void (m.files = [])), await flip('weights.bin', 77)(ck)), /manifest\.json must list exactly/, 'sample'),
  damagedCheckpoints('state.json stageIndex "x", re-hashed', editState((st) => (st.stageIndex = 'x')), /state\.json's stageIndex/, 'resume'),
  damagedCheckpoints('state.json step -1, re-hashed', editState((st) => (st.step = -1)), /state\.json's step/, 'sample'),
  damagedCheckpoints('state.json weightsSha256 edited, re-hashed', editState((st) => (st.weightsSha256 = '0'.repeat(64))), /weights\.bin does not match the sha256 recorded in state\.json/, 'analyze'),
  damagedCheckpoints('state.json an array, re-hashed', async (ck) => {
    const text = Buffer.from('[]');
    await writeFile(join(ck, 'state.json'), text);
    await editJson(join(ck, 'manifest.json'), (m) => void Object.assign(m.files.find((x: { name: string }) => x.name === 'state.json'), { bytes: 2, sha256: sha(text) }));
  }, /state\.json/, 'resume'),
  {
    family: 'checkpoint',
    name: 'checkpoints folder deleted (sample)',
    args: async (c) => {
      const run = await c.run();
      await rm(join(run, 'checkpoints'), { recursive: true });
      return ['sample', run, '--out', join(c.dir, 'x.png')];
    },
    want: /checkpoint/,
  },
  {
    family: 'checkpoint',
    name: 'checkpoints is a file (resume)',
    args: async (c) => {
      const run = await c.run();
      await rm(join(run, 'checkpoints'), { recursive: true });
      await writeFile(join(run, 'checkpoints'), 'x');
      return ['train', '--resume', run];
    },
    want: /checkpoints/,
  },
  {
    family: 'checkpoint',
    name: 'newest checkpoint damaged: falls back with a warning (resume)',
    kind: 'warning',
    args: async (c) => {
      const run = await c.run();
      await truncate(join((await checkpoints(run)).pop()!, 'weights.bin'), 10);
      return ['train', '--resume', run];
    },
    want: /warning: .*step-\d+: weights\.bin is truncated.*resuming from step-\d+/,
  },
];

const stageFile = (run: string, level: number) => join(run, 'stages', String(level), 'stage.json');
const stageCase = (name: string, f: (file: string) => Promise<void>, want: RegExp, kind: 'error' | 'warning' = 'warning'): Case => ({
  family: 'stage records',
  name,
  kind,
  args: async (c) => {
    const run = await c.interrupted();
    await f(stageFile(run, 2));
    return ['train', '--resume', run];
  },
  want,
});

const STAGES: Case[] = [
  stageCase('stage.json deleted', (f) => rm(f), /stage\.json: it is missing; rebuilt from the checkpoint/),
  stageCase('stage.json not JSON', (f) => writeFile(f, '{"level": 1,'), /stage\.json: it is damaged .*rebuilt from the checkpoint/),
  stageCase('stage.json emptied', (f) => writeFile(f, ''), /stage\.json: it is damaged .*rebuilt/),
  stageCase('stage.json null', (f) => writeFile(f, 'null'), /stage\.json: it does not hold this stage's hashes; rebuilt/),
  stageCase('stage.json of another level', (f) => editJson(f, (r) => void (r.level = 0)), /stage\.json: it does not hold this stage's hashes; rebuilt/),
  stageCase('stage.json hashes a string', (f) => editJson(f, (r) => void (r.frozenHashesStart = 'abc')), /stage\.json: it does not hold this stage's hashes; rebuilt/),
  stageCase('stage.json a folder', async (f) => (await rm(f), await mkdir(f)), /cannot write the stage record '.*stages\/2\/stage\.json': it is a folder/, 'error'),
  stageCase('stages/2 a file', async (f) => (await rm(join(f, '..'), { recursive: true }), await writeFile(join(f, '..'), 'x')), /cannot write the stage record '.*stages\/2\/stage\.json'/, 'error'),
  stageCase('stages a file', async (f) => (await rm(join(f, '..', '..'), { recursive: true }), await writeFile(join(f, '..', '..'), 'x')), /cannot write the stage record '.*stages\/2\/stage\.json'/, 'error'),
];

const runFileCase = (name: string, f: (run: string) => Promise<void>, cmd: 'sample' | 'resume' | 'analyze', want: RegExp, interrupted = false): Case => ({
  family: 'run files',
  name: `${name} (${cmd})`,
  args: async (c) => {
    const run = interrupted ? await c.interrupted() : await c.run();
    await f(run);
    return cmd === 'sample' ? ['sample', run, '--out', join(c.dir, 'x.png')] : cmd === 'resume' ? ['train', '--resume', run] : ['analyze', run, '--what', 'sparsity'];
  },
  want,
});

const RUN_FILES: Case[] = [
  runFileCase('config.json "{"', (r) => writeFile(join(r, 'config.json'), '{'), 'sample', /config\.json is damaged/),
  runFileCase('config.json emptied', (r) => writeFile(join(r, 'config.json'), ''), 'analyze', /config\.json is damaged/),
  runFileCase('config.json null', (r) => writeFile(join(r, 'config.json'), 'null'), 'resume', /config\.json/),
  runFileCase('config.json an array', (r) => writeFile(join(r, 'config.json'), '[1]'), 'sample', /config\.json/),
  runFileCase('config.json unknown key', (r) => editJson(join(r, 'config.json'), (c) => void (c.trian = 1)), 'analyze', /trian/),
  runFileCase('config.json emaBeta 0.9 -> 0', (r) => editJson(join(r, 'config.json'), (c) => void (c.train.emaBeta = 0)), 'sample', /train\.emaBeta/),
  runFileCase('config.json channels changed', (r) => editJson(join(r, 'config.json'), (c) => void (c.generator.channels = [4, 8])), 'resume', /generator\..*channels/),
  runFileCase('config.json widths changed', (r) => editJson(join(r, 'config.json'), (c) => void (c.discriminator.widths = [16, 16])), 'resume', /discriminator/),
  runFileCase('config.json deleted', (r) => rm(join(r, 'config.json')), 'resume', /interrupted before its first checkpoint/),
  runFileCase('config.json a folder', async (r) => (await rm(join(r, 'config.json')), await mkdir(join(r, 'config.json'))), 'sample', /config\.json/),
  { ...runFileCase('teacher/ deleted', (r) => rm(join(r, 'teacher'), { recursive: true }), 'resume', /warning: .*teacher is missing: the teacher is rebuilt from /, true), kind: 'warning' },
  runFileCase('teacher/ files damaged', async (r) => {
    for (const f of await readdir(join(r, 'teacher'))) await writeFile(join(r, 'teacher', f), '{');
  }, 'analyze', /teacher/),
  runFileCase('metrics.jsonl a folder', async (r) => (await rm(join(r, 'metrics.jsonl')), await mkdir(join(r, 'metrics.jsonl'))), 'resume', /cannot write the metrics log '.*metrics\.jsonl': it is a folder/, true),
  runFileCase('.lock a folder', (r) => mkdir(join(r, '.lock')), 'resume', /\.lock/, true),
  runFileCase('.lock held by a live process', (r) => writeFile(join(r, '.lock'), JSON.stringify({ pid: process.pid, hostname: hostnameOf(), started: new Date().toISOString(), procStart: null, command: 'fsrgan train (test)', token: 'x' })), 'resume', /in use by another fsrgan train/, true),
  { ...runFileCase('.lock garbage', (r) => writeFile(join(r, '.lock'), '\u0000\u0001garbage'), 'resume', /removed an unreadable lock file .*\.lock/, true), kind: 'warning' },
  { family: 'run files', name: 'run directory missing (sample)', args: async (c) => ['sample', join(c.dir, 'none'), '--out', join(c.dir, 'x.png')], want: /not a run directory/ },
  { family: 'run files', name: 'run directory is a file (resume)', args: async (c) => (await writeFile(join(c.dir, 'f'), 'x'), ['train', '--resume', join(c.dir, 'f')]), want: /'.*f'/ },
  { family: 'run files', name: 'an empty folder (analyze)', args: async (c) => ['analyze', c.dir], want: /not a run directory/ },
];

const OUTPUTS: Case[] = [
  { family: 'output paths', name: 'sample --out a folder', args: async (c) => ['sample', await c.run(), '--out', c.dir], want: /cannot write the sample grid '.*': it is a folder/ },
  { family: 'output paths', name: 'sample --out /proc/x.png', args: async (c) => ['sample', await c.run(), '--out', '/proc/x.png'], want: /cannot write the sample grid '\/proc\/x\.png'/ },
  { family: 'output paths', name: 'sample --out below a file', args: async (c) => (await writeFile(join(c.dir, 'f'), 'x'), ['sample', await c.run(), '--out', join(c.dir, 'f', 'x.png')]), want: /cannot write the sample grid '.*f\/x\.png': /},
  { family: 'output paths', name: 'analysis folder is a file', args: async (c) => { const r = await c.run(); await writeFile(join(r, 'analysis'), 'x'); return ['analyze', r, '--what', 'sparsity']; }, want: /cannot write the analysis folder '.*analysis'/ },
  { family: 'output paths', name: 'train --out a file', args: async (c) => (await writeFile(join(c.dir, 'f'), 'x'), ['train', '--config', await c.config(), '--out', join(c.dir, 'f')]), want: /'.*\/f'/ },
  { family: 'output paths', name: 'train --out below a file', args: async (c) => (await writeFile(join(c.dir, 'f'), 'x'), ['train', '--config', await c.config(), '--out', join(c.dir, 'f', 'run')]), want: /'.*\/f\/run'/ },
  { family: 'output paths', name: 'train --out /proc/run', args: async (c) => ['train', '--config', await c.config(), '--out', '/proc/run'], want: /'\/proc\/run'/ },
  { family: 'output paths', name: 'train --out an existing run', args: async (c) => ['train', '--config', await c.config(), '--out', await c.run()], want: /already holds a run: resume it with --resume/ },
  {
    family: 'output paths',
    name: 'disk full before the first checkpoint: start again, not --resume (case 8)',
    args: async (c) => ['train', '--config', await c.config(), '--out', join(c.dir, 'run')],
    env: { FSRGAN_TEST_ENOSPC_AFTER_BYTES: '0' },
    want: /no space left on device \(ENOSPC\)\. Free some space, then start the run again with fsrgan train --config <file> --out .*nothing to resume/,
  },
  {
    family: 'output paths',
    name: 'disk full inside a checkpoint after the first: resume',
    args: async (c) => ['train', '--config', await c.config(), '--out', join(c.dir, 'run')],
    env: { FSRGAN_TEST_ENOSPC_AFTER_BYTES: '60000' },
    want: /no space left on device \(ENOSPC\)\. .*Free some space, then resume with: fsrgan train --resume /,
  },
  { family: 'output paths', name: 'data preview --out a file', args: async (c) => (await writeFile(join(c.dir, 'f'), 'x'), ['data', 'preview', '--dataset', join(base, 'teacher.json'), '--out', join(c.dir, 'f'), '--n', '4']), want: /'.*\/f'/ },
  { family: 'output paths', name: 'teacher sample --out a file', args: async (c) => (await writeFile(join(c.dir, 'f'), 'x'), ['teacher', 'sample', '--config', join(base, 'teacher.json'), '--n', '4', '--out', join(c.dir, 'f')]), want: /'.*\/f'/ },
];

const dataCase = (name: string, prepare: (dir: string) => Promise<string[]>, want: RegExp): Case => ({
  family: 'datasets',
  name,
  args: async (c) => ['train', '--config', await c.config(), '--out', join(c.dir, 'out'), '--set', ...(await prepare(c.dir))],
  want,
});

const DATASETS: Case[] = [
  dataCase('data path missing', async (d) => [`data=${join(d, 'nothing-here')}`], /nothing-here/),
  dataCase('an empty folder', async (d) => (await mkdir(join(d, 'imgs')), [`data=${join(d, 'imgs')}`]), /imgs/),
  dataCase('a folder of bad files only', async (d) => {
    await mkdir(join(d, 'imgs'));
    for (const [f, b] of [['a.png', Buffer.from('\x89PNG\r\n\x1a\nnoise')], ['b.jpg', Buffer.from([0xff, 0xd8, 0xff, 1, 2])], ['c.png', Buffer.alloc(0)]] as const) await writeFile(join(d, 'imgs', f), b);
    return [`data=${join(d, 'imgs')}`];
  }, /imgs/),
  dataCase('images in a subfolder only', async (d) => {
    await mkdir(join(d, 'imgs', 'sub'), { recursive: true });
    await cp('docs/findings-samples.png', join(d, 'imgs', 'sub', 'a.png'));
    return [`data=${join(d, 'imgs')}`];
  }, /dataset\.folder\.recursive/),
  dataCase('a PNG file as data', async (d) => (await cp('docs/findings-samples.png', join(d, 'x.png')), [`data=${join(d, 'x.png')}`]), /x\.png/),
  dataCase('teacher file not JSON', async (d) => (await writeFile(join(d, 't.json'), '{'), [`data=${join(d, 't.json')}`]), /t\.json/),
  dataCase('teacher file with a bad field', async (d) => {
    const t = JSON.parse(await readFile(join(base, 'teacher.json'), 'utf8'));
    t.channels = 'x';
    await writeFile(join(d, 't.json'), JSON.stringify(t));
    return [`data=${join(d, 't.json')}`];
  }, /channels/),
  dataCase('unknown dataset option', async () => ['dataset.folder.recursve=true'], /dataset\.folder\.recursve/),
  dataCase('heldOutFraction 2', async () => ['dataset.heldOutFraction=2'], /dataset\.heldOutFraction/),
  dataCase('unknown dataset name', async () => ['data=imagenet-on-the-moon'], /imagenet-on-the-moon/),
  dataCase('fashion-mnist dir missing', async (d) => ['data=fashion-mnist', `dataset.fashionMnist.dir=${join(d, 'fm')}`, 'generator.resolutions=[4,8]'], /fm|fashion/i),
  { family: 'datasets', name: 'data preview of a missing folder', args: async (c) => ['data', 'preview', '--dataset', join(c.dir, 'missing'), '--out', join(c.dir, 'p')], want: /missing/ },
  { family: 'datasets', name: 'data preview of an unknown name', args: async (c) => ['data', 'preview', '--dataset', 'mnist-from-mars', '--out', join(c.dir, 'p')], want: /mnist-from-mars/ },
];

/** Seeded random cases: wrong values at schema paths, bytes flipped or files cut at random offsets, random files. */
function generated(seed: number, perFamily: number): Case[] {
  const rng = new Rng(seed, 'cli-fuzz/generate');
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  // Draws now, cuts later: the cases run in an order that depends on timing.
  const cutter = () => {
    const frac = rng.uniform();
    return async (file: string) => truncate(file, Math.floor(frac * Math.max(1, (await readFile(file)).length - 3)));
  };
  const out: Case[] = [];
  const INT_FIELDS = ['train.batch', 'train.steps', 'train.dSteps', 'generator.zDim', 'generator.patch', 'generator.kernel', 'discriminator.kernel', 'objective.r1Every', 'seed'];
  const BAD = [-1, 0.5, 'x', null, [], {}, true, -7.25, '12'];
  const COMMANDS = ['sample', 'resume', 'analyze'] as const;
  for (let i = 0; i < perFamily; i++) {
    const field = pick(INT_FIELDS);
    const value = pick(BAD);
    out.push(trainCfg((c) => {
      const path = field.split('.');
      let o = c;
      for (const k of path.slice(0, -1)) o = o[k];
      o[path[path.length - 1]] = value;
    }, new RegExp(`config\\.${field.replace('.', '\\.')}|${field.replace('.', '\\.')}`), `generated: ${field} = ${JSON.stringify(value)}`));

    const file = pick(['weights.bin', 'state.json', 'manifest.json']);
    const how = pick(['flip', 'cut'] as const);
    const at = rng.int(1 << 20);
    const cut = cutter();
    out.push(damagedCheckpoints(`generated: ${file} ${how === 'flip' ? `byte ${at} flipped` : 'cut short'}`, (ck) => (how === 'flip' ? flip(file, at)(ck) : cut(join(ck, file))), new RegExp(`checkpoint step-\\d+: .*(${file.replace('.', '\\.')}|manifest\\.json)`), pick(COMMANDS)));

    out.push(stageCase(`generated: stage.json cut short`, cutter(), /stage\.json: it is damaged .*rebuilt from the checkpoint/));

    const cutConfig = cutter();
    out.push(runFileCase('generated: config.json cut short', (r) => cutConfig(join(r, 'config.json')), pick(COMMANDS), /config\.json is damaged/));

    const files = 1 + rng.int(4);
    const bytes = Array.from({ length: files }, () => Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256))));
    const names = Array.from({ length: files }, (_, j) => `${j}.${pick(['png', 'jpg', 'jpeg', 'PNG'])}`);
    out.push(dataCase(`generated: a folder of ${files} random files`, async (d) => {
      await mkdir(join(d, 'imgs'));
      for (const [j, b] of bytes.entries()) await writeFile(join(d, 'imgs', names[j]), b);
      return [`data=${join(d, 'imgs')}`];
    }, /imgs/));

    const blocker = pick(['a file', 'a folder'] as const);
    const depth = 1 + rng.int(3);
    out.push({
      family: 'output paths',
      name: `generated: sample --out where ${blocker} is in the way`,
      args: async (c) => {
        const inTheWay = join(c.dir, 'b');
        if (blocker === 'a file') await writeFile(inTheWay, 'x');
        else await mkdir(inTheWay);
        const target = blocker === 'a file' ? join(inTheWay, ...Array.from({ length: depth }, (_, j) => `d${j}`), 'x.png') : inTheWay;
        return ['sample', await c.run(), '--out', target];
      },
      want: /cannot write the sample grid '.*b[^']*': /,
    });
  }
  return out;
}

const ALL: Case[] = [...CONFIG, ...CHECKPOINT, ...STAGES, ...RUN_FILES, ...OUTPUTS, ...DATASETS, ...generated(Number(process.env.FSRGAN_FUZZ_SEED ?? 22), 4)];

function hostnameOf(): string {
  return execFileSync('hostname', { encoding: 'utf8' }).trim();
}

// ---------------------------------------------------------------------------------------------------------
// Running them

const SLOW = !!process.env.FSRGAN_SLOW;
const PER_FAMILY = 3;
const CASE_LIMIT_MS = 60_000;

/** Every case with FSRGAN_SLOW=1; else a seeded draw of PER_FAMILY per family. */
function draw(): Case[] {
  if (SLOW) return ALL;
  const rng = new Rng(Number(process.env.FSRGAN_FUZZ_SEED ?? 22), 'cli-fuzz');
  const out: Case[] = [];
  for (const f of new Set(ALL.map((c) => c.family))) {
    const pool = ALL.filter((c) => c.family === f);
    for (let i = 0; i < PER_FAMILY && pool.length; i++) out.push(pool.splice(Math.floor(rng.uniform() * pool.length), 1)[0]);
  }
  return out;
}

function problems(k: Case, r: CliResult): string[] {
  const out: string[] = [];
  const total = r.stdout.length + r.stderr.length;
  const lines = r.stderr.trim().split('\n').filter((l) => l);
  if (/\n\s+at /.test(r.stdout + r.stderr)) out.push('a stack trace');
  if (/undefined|\[object Object\]/.test(r.stderr)) out.push('undefined or [object Object] in the message');
  if (total >= 2048) out.push(`${total} bytes of output`);
  if ((k.kind ?? 'error') === 'error') {
    if (r.code !== 2) out.push(`exit code ${r.code ?? r.signal}`);
    // Progress printed before the error (a teacher's statistics, "analyze: sparsity ...") may precede it.
    const said = lines.filter((l) => /^fsrgan /.test(l));
    if (said.length !== 1 || said[0] !== lines[lines.length - 1]) out.push(`${said.length} lines start with "fsrgan ", the message is not one line at the end`);
    else if (!/^fsrgan [\w -]+: /.test(said[0])) out.push('the line does not start with "fsrgan <command>: "');
    if (!k.want.test(r.stderr)) out.push(`the message does not match ${k.want}`);
  } else {
    if (r.code !== 0) out.push(`exit code ${r.code ?? r.signal}`);
    const said = (r.stdout + r.stderr).split('\n').filter((l) => k.want.test(l));
    if (said.length !== 1) out.push(`${said.length} lines match ${k.want}`);
  }
  return out;
}

describe('bad input of every family through the CLI (issue 22)', () => {
  it(`${SLOW ? ALL.length : `${PER_FAMILY} per family of ${ALL.length}`} cases: one line naming the field or file, exit 2 (a warning and exit 0 where fsrgan goes on), under 2 KB`, async () => {
    const cases = draw();
    const ctx = async (): Promise<Ctx> => {
      const dir = await fresh();
      return {
        dir,
        run: async () => {
          const r = join(dir, 'run');
          await cp(fixture, r, { recursive: true });
          return r;
        },
        interrupted: async () => {
          const r = join(dir, 'run');
          await cp(fixture, r, { recursive: true });
          await rm((await checkpoints(r)).pop()!, { recursive: true });
          return r;
        },
        config: async (edit) => {
          const c = JSON.parse(await readFile(fixtureConfig, 'utf8'));
          edit?.(c);
          const file = join(dir, 'config.json');
          await writeFile(file, JSON.stringify(c));
          return file;
        },
      };
    };
    const failures: string[] = [];
    const seen: string[] = [];
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const k = cases[next++];
        const args = await k.args(await ctx());
        const t = Date.now();
        const proc = startFsrgan(args, k.env);
        // A case that hangs is killed and fails (Node's recursive mkdir spun forever on --out /proc/run).
        const watchdog = setTimeout(() => proc.child.kill('SIGKILL'), CASE_LIMIT_MS);
        const r = await proc.done.finally(() => clearTimeout(watchdog));
        if (Date.now() - t >= CASE_LIMIT_MS) r.stderr += `\n(killed after ${CASE_LIMIT_MS} ms: a hang)`;
        const bad = problems(k, r);
        seen.push(k.family);
        if (bad.length) failures.push(`[${k.family}] ${k.name}: ${bad.join('; ')}\n    fsrgan ${args.join(' ')}\n    stderr: ${r.stderr.trim().slice(0, 600)}\n    stdout: ${r.stdout.trim().slice(-300)}`);
      }
    };
    await Promise.all([worker(), worker()]);
    const families = new Set(seen);
    console.log(`cli fuzz: ${cases.length} cases (${[...families].map((f) => `${seen.filter((x) => x === f).length} ${f}`).join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${failures.length} failed`);
    expect(families.size).toBe(6);
    expect(failures).toEqual([]);
  }, 600_000);
});
