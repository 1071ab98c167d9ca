/**
 * Shared pieces of the sweep tests: a tiny sweep (a 2-level teacher with 4 channels, a few steps per run,
 * checkpoints every 2 steps) of 12 runs (3 seeds x 2 learning rates x 2 budgets), a real `redis-server` on a
 * free loopback port in a temporary folder, and readers of a report folder and of run directories.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_CLI_GENERATOR, writeTinyTeacher } from './reliability-fixtures.js';

export const REDIS_INSTALLED = spawnSync('redis-server', ['--version']).status === 0;
export const NO_REDIS_MESSAGE = 'redis-server is not installed (Debian package redis-server; .ci/run installs it): the queue tests are skipped';

export interface TinySweep {
  dir: string;
  sweep: string;
  config: string;
}

/** Writes teacher.json, tiny.json and sweep.json into `dir`: 3 seeds x 2 lrG x `budgets` (12 runs by default). */
export async function writeTinySweep(dir: string, o: { name?: string; seeds?: number[]; budgets?: number[]; lrs?: number[] } = {}): Promise<TinySweep> {
  const config = {
    name: 'tiny',
    data: await writeTinyTeacher(dir),
    seed: 1,
    generator: TINY_CLI_GENERATOR,
    discriminator: { widths: [8, 8] },
    train: { batch: 4, steps: 10, emaBeta: 0.9 },
    log: { every: 2, checkpointEvery: 2, sampleEvery: 1000, samples: 4, progressEvery: 1000 },
  };
  await writeFile(join(dir, 'tiny.json'), JSON.stringify(config));
  const sweep = {
    name: o.name ?? 'tiny-sweep',
    about: 'A 12-run sweep of a tiny teacher for the tests.',
    config: join(dir, 'tiny.json'),
    axes: { seeds: o.seeds ?? [1, 2, 3], set: { 'train.lrG': o.lrs ?? [0.001, 0.003] }, budgets: o.budgets ?? [8, 12] },
    analyses: ['sparsity', 'swd', 'recovery'],
    analysis: { samples: 32, swd: { descriptorsPerImage: 4, directions: 16 } },
  };
  await writeFile(join(dir, 'sweep.json'), JSON.stringify(sweep, null, 2));
  return { dir, sweep: join(dir, 'sweep.json'), config: join(dir, 'tiny.json') };
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts redis-server on a free loopback port, with its files in a temporary folder (and `password` as requirepass). */
export async function startRedis(password?: string): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'fsrgan-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...(password ? ['--requirepass', password] : [])];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) clearTimeout(timer), resolve(true);
      });
      child.on('exit', () => (clearTimeout(timer), resolve(false)));
    });
    if (ready) {
      const stop = async () => {
        if (child.exitCode === null) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await gone;
        }
        await rm(dir, { recursive: true, force: true });
      };
      return { port, url: `redis://${password ? `:${password}@` : ''}127.0.0.1:${port}`, child, stop };
    }
    child.kill('SIGKILL');
    if (attempt >= 3) throw new Error(`redis-server did not start: ${out.slice(-500)}`);
  }
}

/** The files of a report folder that must not depend on the executor. */
export const COMPARED = ['report.json', 'report.txt', 'figure.vl.json', 'figure.svg'];

export async function reportFiles(dir: string): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(COMPARED.map(async (f) => [f, await readFile(join(dir, f), 'utf8')] as const)));
}

/** The events of a run directory (sweep-events.jsonl). */
export async function runEvents(runDir: string): Promise<{ event: string; worker: string; machine: string; step: number | null }[]> {
  const text = await readFile(join(runDir, 'sweep-events.jsonl'), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

export interface Cli {
  child: ChildProcess;
  /** stdout so far. */
  output(): string;
  /** Resolves with the first match of `re` in stdout (null when the process ends first). */
  waitFor(re: RegExp): Promise<RegExpExecArray | null>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts `node bin/fsrgan.mjs ...args` on the wasm backend. */
export function startCli(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, ['bin/fsrgan.mjs', ...args], { env: { ...process.env, FSRGAN_BACKEND: 'wasm', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray | null) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(stdout);
      if (m) waiters.splice(waiters.indexOf(w), 1), w.resolve(m);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      waiters.splice(0).forEach((w) => w.resolve(null));
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const waitFor = (re: RegExp) => {
    const m = re.exec(stdout);
    return m ? Promise.resolve(m) : new Promise<RegExpExecArray | null>((resolve) => waiters.push({ re, resolve }));
  };
  return { child, output: () => stdout, waitFor, done };
}
