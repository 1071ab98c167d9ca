/**
 * fsrgan's command line: a table of commands, each a thin module (parse flags, call a library function
 * that notebooks also import, print). User mistakes print one clear message, never a stack trace.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export interface Command {
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  info: { summary: 'backend, tfjs version, threads and matMul speed', load: () => import('./info.js') },
  teacher: { summary: 'synthetic teacher G*: sample grids and stats, or build and save it', load: () => import('./teacher.js') },
  // Each command adds one line here: name: { summary, load: () => import('./<name>.js') }.
  analyze: { summary: 'measurements of docs/theory.md 3: sparsity, moments, alignment, recovery, locality, swd', load: () => import('./analyze.js') },
  metrics: { summary: 'sample quality offline: FID, KID, IS, precision/recall, support (and train-extractor)', load: () => import('./metrics.js') },
  bench: { summary: 'speed benchmarks (ops: convolutions vs matMul)', load: () => import('./bench.js') },
  train: { summary: 'train a generator layer by layer (or resume a run)', load: () => import('./train.js') },
  sample: { summary: 'PNG grid of samples from a trained run at a seed', load: () => import('./sample.js') },
  data: { summary: 'dataset preview: PNG grid per resolution, statistics, license', load: () => import('./data.js') },
  reproduce: { summary: 'the paper figures end to end: train, measure, SVG/PNG, index.html', load: () => import('./reproduce.js') },
  sweep: { summary: 'seeds x configs x budgets: run locally or queue on Redis, then one report with intervals', load: () => import('./sweep.js') },
  worker: { summary: 'take sweep jobs from a Redis queue (fsrgan sweep --queue) and run them', load: () => import('./worker.js') },
  toy: { summary: '2-D mode-collapse lab: a GAN recipe on a ring or grid of Gaussians over seeds (modes, high quality)', load: () => import('./toy.js') },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return ['Usage: fsrgan <command> [options]   (fsrgan <command> --help for its options)', '', ...lines].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 1;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`fsrgan: unknown command '${name}'.\n\n${help()}`);
    return 2;
  }
  try {
    const cmd = await entry.load();
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`fsrgan ${name}: ${e.message}`);
      return 2;
    }
    return reportCrash(name, rest, e);
  }
}

/**
 * An error fsrgan did not expect: a short message and the path of a full report, exit code 1. Left to
 * Node, an uncaught error prints the offending source line first, which on the wasm backend is a line of
 * minified tfjs code tens of kilobytes long, burying the message.
 */
export function reportCrash(name: string, argv: string[], e: unknown): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const first = (err.message.split('\n')[0] || err.name).slice(0, 400);
  const file = join(tmpdir(), `fsrgan-error-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.txt`);
  const report = [
    `fsrgan ${[name, ...argv].join(' ')}`,
    `node ${process.version}, ${process.platform}-${process.arch}, cwd ${process.cwd()}`,
    '',
    err.stack ?? String(err),
    ...(err.cause ? ['', 'cause:', String((err.cause as Error).stack ?? err.cause)] : []),
  ].join('\n');
  let where: string;
  try {
    writeFileSync(file, report + '\n');
    where = `full report: ${file}`;
  } catch {
    where = `(the full report could not be written to ${tmpdir()})\n${err.stack ?? ''}`.slice(0, 4000);
  }
  console.error(`fsrgan ${name}: unexpected error: ${first}\n  ${where}\n  This is a bug in fsrgan or an input it does not check yet; please report it with that file.`);
  return 1;
}
