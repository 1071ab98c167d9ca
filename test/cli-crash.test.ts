/**
 * How the CLI speaks when something is wrong (issue 22): unexpected errors (not UserErrors) end in one
 * short message with the path of a full report and exit code 1, never in Node's uncaught-error dump
 * (which on wasm starts with a line of minified tfjs source); a config.json edited so that it no longer
 * describes the checkpoint's network is a UserError naming the tensors and the config fields.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { reportCrash } from '../src/cli/main.js';

const fsrgan = (...args: string[]) => promisify(execFile)(process.execPath, ['bin/fsrgan.mjs', ...args], { env: { ...process.env, FSRGAN_BACKEND: 'wasm' }, maxBuffer: 1 << 24 });

describe('the CLI exits when its command is done (issue 22 case 8)', () => {
  it('a handle left open (here a 60 s timer) does not keep a finished command alive; output and exit code intact', async () => {
    const t0 = Date.now();
    // --import runs before fsrgan: a module that leaves a 60 s timer, as a forgotten worker or socket would.
    const timer = 'data:text/javascript,setTimeout(()=>{},60000)';
    const r = await promisify(execFile)(process.execPath, [`--import=${timer}`, 'bin/fsrgan.mjs', '--help'], { env: { ...process.env, FSRGAN_BACKEND: 'wasm' } });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.stdout).toMatch(/^Usage: fsrgan <command>/);
    const bad = await promisify(execFile)(process.execPath, [`--import=${timer}`, 'bin/fsrgan.mjs', 'no-such-command']).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});

describe('the CLI on an unexpected error', () => {
  it('prints one short message and the path of a report that holds the stack; exit code 1', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((s: string) => void lines.push(s));
    let code: number;
    try {
      const e = new Error(`restoreSession: the checkpoint has no tensor ema.r8.deconv\n${'x'.repeat(40000)}`);
      code = reportCrash('sample', ['D', '--n', '4'], e);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(1);
    const out = lines.join('\n');
    expect(out.length).toBeLessThan(800);
    expect(out).toMatch(/^fsrgan sample: unexpected error: restoreSession: the checkpoint has no tensor ema\.r8\.deconv\n/);
    expect(out).not.toMatch(/\n\s+at /);
    const file = /full report: (\S+)/.exec(out)![1];
    const report = await readFile(file, 'utf8');
    expect(report).toMatch(/^fsrgan sample D --n 4\n/);
    expect(report).toMatch(/\n\s+at .*cli-crash\.test\.ts/); // the stack is in the report
    await rm(file);
  });

  it('a run whose config.json disagrees with its checkpoint: one line naming the field, exit 2 (issue 22 case 1)', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'fsrgan-crash-')), 'run');
    try {
      await fsrgan('train', '--config', 'experiments/smoke.json', '--out', dir, '--set', 'train.stepsByLevel=[2,2,2]', 'train.emaBeta=0');
      const original = await readFile(join(dir, 'config.json'), 'utf8');
      const edit = async (f: (c: { train: Record<string, unknown>; generator: Record<string, unknown> }) => void) => {
        const c = JSON.parse(original);
        f(c);
        await writeFile(join(dir, 'config.json'), JSON.stringify(c));
        return fsrgan('sample', dir, '--out', join(dir, 'x.png')).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => e,
        );
      };
      for (const [f, field] of [
        [(c: { train: Record<string, unknown> }) => (c.train.emaBeta = 0.99), /ema\.r8\.deconv.*train\.emaBeta/],
        [(c: { generator: Record<string, unknown> }) => (c.generator.channels = [16, 32, 16]), /shapes differ \(set by generator\..*channels.*\): g\.r16\.deconv \[4,4,16,16\] in the checkpoint, \[4,4,32,16\] by the config/],
      ] as const) {
        const r = await edit(f as never);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(field);
        expect(r.stderr).toMatch(/Undo the edit to config\.json/);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      // A damaged config.json (issue 22 case 2): sample and analyze say so in one line.
      await writeFile(join(dir, 'config.json'), '{');
      for (const cmd of [['sample', dir, '--out', join(dir, 'x.png')], ['analyze', dir]]) {
        const r = await fsrgan(...cmd).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/config\.json is damaged .*restore it, or start the run again/);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      // Output paths that cannot be written (issue 22 case 7): one line naming the path and the problem.
      const bad: Array<[string[], RegExp]> = [
        [['sample', dir, '--out', tmpdir()], /cannot write the sample grid '.*': it is a folder, not a file/],
        [['sample', dir, '--out', join(dir, 'run.json', 'x.png')], /cannot write the sample grid '.*': a file is in the way where a folder must be/],
      ];
      await writeFile(join(dir, 'config.json'), original);
      await writeFile(join(dir, 'analysis'), 'not a folder');
      bad.push([['analyze', dir, '--what', 'sparsity'], /cannot write the analysis folder '.*analysis': a file is in the way/]);
      for (const [cmd, want] of bad) {
        const r = await fsrgan(...cmd).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(want);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      await rm(join(dir, 'analysis'));
      // Undone, the run samples again.
      await writeFile(join(dir, 'config.json'), original);
      await fsrgan('sample', dir, '--out', join(dir, 'x.png'));
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
  }, 60_000);

  it('train on a folder: dataset options are reachable with --set dataset.*, and every skipped or converted file is said (issue 22 case 3)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fsrgan-folder-'));
    try {
      await mkdir(join(root, 'images', 'sub'), { recursive: true });
      for (const n of ['a', 'b']) await copyFile('docs/findings-samples.png', join(root, 'images', 'sub', `${n}.png`));
      await writeFile(join(root, 'images', 'sub', 'bad.png'), 'not an image');
      const args = ['train', '--config', 'experiments/smoke.json', '--out', join(root, 'run'), '--set', `data=${join(root, 'images')}`, 'generator.resolutions=[8,16,32]', 'train.stepsByLevel=[2,2,2]'];
      const flat = await fsrgan(...args).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
      expect(flat.code).toBe(2);
      expect(flat.stderr).toMatch(/--set dataset\.folder\.recursive=true \(fsrgan train\)/);
      const { stdout } = await fsrgan(...args, 'dataset.folder.recursive=true', 'dataset.heldOutFraction=0');
      expect(stdout).toMatch(/sub\/bad\.png: skipped \(not a PNG or JPEG/);
      expect(stdout).toMatch(/sub\/a\.png: converted \(non-square/);
      expect(stdout).toMatch(/done: 6 steps/);
      const config = JSON.parse(await readFile(join(root, 'run', 'config.json'), 'utf8'));
      expect(config.dataset).toMatchObject({ heldOutFraction: 0, folder: { recursive: true } });
      const bad = await fsrgan('train', '--config', 'experiments/smoke.json', '--dry-run', '--set', 'dataset.folder.recursve=true').then(() => ({ stderr: '' }), (e: { stderr: string }) => e);
      expect(bad.stderr).toMatch(/dataset\.folder\.recursve/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 60_000);
});
