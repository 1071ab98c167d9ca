/**
 * fsrgan's command line: a table of commands, each a thin module (parse flags, call a library function
 * that notebooks also import, print). User mistakes print one clear message, never a stack trace.
 */
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
  bench: { summary: 'speed benchmarks (ops: convolutions vs matMul)', load: () => import('./bench.js') },
  train: { summary: 'train a generator layer by layer (or resume a run)', load: () => import('./train.js') },
  sample: { summary: 'PNG grid of samples from a trained run at a seed', load: () => import('./sample.js') },
  data: { summary: 'dataset preview: PNG grid per resolution, statistics, license', load: () => import('./data.js') },
  reproduce: { summary: 'the paper figures end to end: train, measure, SVG/PNG, index.html', load: () => import('./reproduce.js') },
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
    throw e;
  }
}
