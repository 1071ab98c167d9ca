/**
 * Shared pieces of the reliability tests: a tiny CLI run (a 2-resolution teacher with 4 channels, a few
 * dozen steps, checkpoints every 4 steps), a child-process runner for `node bin/fsrgan.mjs`, a planted
 * source that serves NaN batches on chosen calls, and readers for a run's final hash and metrics.
 */
import * as tf from '@tensorflow/tfjs';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { PlantedSource } from './train-fixtures.js';

/** The generator shape of the tiny CLI runs (reliability and sweep tests): two levels, 4 and 8 pixels. */
export const TINY_CLI_GENERATOR = { resolutions: [4, 8], channels: [4, 4], zDim: 4, kernel: 2, patch: 2 };

/** Writes the tiny teacher of those runs (TINY_CLI_GENERATOR's shape) as `dir`/teacher.json; returns its path. */
export async function writeTinyTeacher(dir: string): Promise<string> {
  const file = join(dir, 'teacher.json');
  await writeFile(file, JSON.stringify({ ...TINY_CLI_GENERATOR, targetActive: [1, 1], calibrationSamples: 256, seed: 2 }));
  return file;
}

/** Writes teacher.json and config.json for a tiny CLI run into `dir`; returns the config path. */
export async function writeTinyCliConfig(dir: string, overrides: { steps?: number; checkpointEvery?: number } = {}): Promise<string> {
  const config = {
    name: 'reliability',
    data: await writeTinyTeacher(dir),
    seed: 5,
    generator: TINY_CLI_GENERATOR,
    discriminator: { widths: [8, 8] },
    train: { batch: 4, steps: overrides.steps ?? 20, emaBeta: 0.9 },
    log: { every: 1, checkpointEvery: overrides.checkpointEvery ?? 4, sampleEvery: 10, samples: 4, progressEvery: 10 },
  };
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves at the first stdout line matching `re` (or when the process ends first: false). */
  waitFor(re: RegExp): Promise<boolean>;
  done: Promise<CliResult>;
}

/** Starts `node bin/fsrgan.mjs ...args` on the wasm backend with extra environment variables. */
export function startFsrgan(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['bin/fsrgan.mjs', ...args], { env: { ...process.env, FSRGAN_BACKEND: 'wasm', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (ok: boolean) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      if (w.re.test(stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(true);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      waiters.splice(0).forEach((w) => w.resolve(false));
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const waitFor = (re: RegExp) => (re.test(stdout) ? Promise.resolve(true) : new Promise<boolean>((resolve) => waiters.push({ re, resolve })));
  return { child, waitFor, done };
}

/** Runs fsrgan to the end. */
export function runFsrgan(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startFsrgan(args, env).done;
}

/** The newest checkpoint's state.json of a run (weightsSha256, step, guard, ...). */
export async function newestState(dir: string): Promise<Record<string, unknown> & { weightsSha256: string; step: number }> {
  const [newest] = await listCheckpoints(dir);
  if (!newest) throw new Error(`no checkpoint in ${dir}`);
  return JSON.parse(await readFile(join(newest, 'state.json'), 'utf8'));
}

/** metrics.jsonl as objects without the timing fields (which differ between runs). */
export async function metricsWithoutTimings(dir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l)
    .map((l) => {
      const { wallTime: _w, imagesPerSec: _i, ...rest } = JSON.parse(l);
      return rest;
    });
}

/** Step numbers of metrics lines that are not events. */
export function metricSteps(lines: Record<string, unknown>[]): number[] {
  return lines.filter((l) => l.event === undefined).map((l) => l.step as number);
}

/** A PlantedSource whose batch() calls listed in `nanCalls` (1-based) return NaN images (every call >= `nanFrom`). */
export class NanSource extends PlantedSource {
  calls = 0;

  constructor(
    readonly nanCalls: number[] = [],
    readonly nanFrom = Infinity,
  ) {
    super();
  }

  override batch(n: number): tf.Tensor4D[] {
    this.calls++;
    const xs = super.batch(n);
    if (!this.nanCalls.includes(this.calls) && this.calls < this.nanFrom) return xs;
    const bad = xs.map((x) => tf.fill(x.shape, NaN) as tf.Tensor4D);
    tf.dispose(xs);
    return bad;
  }
}
