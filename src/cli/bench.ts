/**
 * fsrgan bench <what>: speed measurements that print ratios to an anchor measured in the same run.
 * Subcommands dispatch on the first positional; `npm run bench` runs them in turn.
 */
import { describeChoice, initBackend } from '../backend/index.js';
import { kernelPlan } from '../ops/kernels.js';
import { UserError } from '../util/errors.js';
import { benchOps, formatOpTable, ganCases } from '../../bench/ops.js';
import { intFlag, parseFlags } from './args.js';

interface Subcommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const OPS_USAGE = 'fsrgan bench ops [--json] [--backend auto|node-gpu|node|wasm|cpu] [--batch N] [--reps N]';

async function runOps(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    'bench ops', argv,
    { json: { type: 'boolean' }, backend: { type: 'string' }, batch: { type: 'string' }, reps: { type: 'string' } },
    OPS_USAGE,
  );
  if (values.help) return console.log(OPS_USAGE), 0;
  const batch = intFlag('batch', values.batch, 64, 1, 4096);
  const reps = intFlag('reps', values.reps, 5, 1, 1000);
  const choice = await initBackend(values.backend);
  // Progress goes to stderr so that --json output stays one parseable document.
  console.error(`${describeChoice(choice)}; batch ${batch}, median of ${reps} rounds, each paired with a 512^2 matMul`);
  for (const [op, impl] of Object.entries(kernelPlan(choice.backend))) console.error(`  ${op}: ${impl}`);
  const rows = await benchOps(ganCases(batch), {
    reps,
    onRow: (r) => console.error(`  ${r.op} ${r.shape} ${r.pass}: ${r.gflops} GFLOP/s (${r.ratioToMatmul} x matMul)`),
  });
  console.log(values.json ? JSON.stringify(rows) : formatOpTable(rows));
  return 0;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  ops: { summary: 'GFLOP/s of conv2d and deconv2d (forward, forward+backward) at GAN shapes vs matMul', run: runOps },
  train: { summary: 'images/s of a full GAN step (D + G, Adam) on 1 and N cores, optionally vs PyTorch', run: async (argv) => (await import('./bench-command.js')).runTrainBench(argv) },
  quality: { summary: 'FSR learner, DCGAN and PyTorch DCGAN on the same data: patch SWD and moments per level', run: async (argv) => (await import('./bench-command.js')).runQualityBench(argv) },
  metrics: { summary: 'seconds of FID, KID, IS, precision/recall and support on 10,000 vs 10,000 128-d features', run: async (argv) => (await import('./bench-metrics.js')).runMetricsBench(argv) },
  // Each bench subcommand adds one line here: name: { summary, run }.
};

const USAGE = ['Usage: fsrgan bench <what> [options]', '', ...Object.entries(SUBCOMMANDS).map(([k, v]) => `  ${k.padEnd(6)}  ${v.summary}`)].join('\n');

export async function run(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (!what || what === '--help' || what === '-h') {
    console.log(USAGE);
    return what ? 0 : 1;
  }
  const sub = SUBCOMMANDS[what];
  if (!sub) throw new UserError(`unknown benchmark '${what}'; use one of: ${Object.keys(SUBCOMMANDS).join(', ')}.`);
  return sub.run(rest);
}
