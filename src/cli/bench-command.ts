/** `fsrgan bench train` and `fsrgan bench quality`: flags, progress on stderr, the table (or --json) on stdout. Library: src/bench/train.ts, src/bench/quality.ts. */
import { cpus, loadavg } from 'node:os';
import { describeChoice, initBackend } from '../backend/index.js';
import { findRepoRoot } from '../data/cache.js';
import { intFlag, parseFlags } from './args.js';
import { UserError } from '../util/errors.js';
import { maxWorkers } from '../train/replicas.js';
import { benchTrain, BUILTIN_ARCHS, formatTrainTable, loadArchConfig } from '../bench/train.js';
import { sourceRoot } from '../parallel/pool.js';

export const TRAIN_USAGE =
  'fsrgan bench train [--json] [--vs torch] [--arch stage,dcgan|CONFIG.json] [--workers N] [--steps N] [--rounds N] [--warmup N] [--warmup-seconds S] ' +
  '[--backend auto|node-gpu|node|wasm|cpu] [--torch-threads N] [--seed N] [--profile]';

export async function runTrainBench(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    'bench train', argv,
    {
      json: { type: 'boolean' }, vs: { type: 'string' }, arch: { type: 'string' }, workers: { type: 'string' }, steps: { type: 'string' },
      rounds: { type: 'string' }, warmup: { type: 'string' }, 'warmup-seconds': { type: 'string' }, backend: { type: 'string' }, 'torch-threads': { type: 'string' },
      seed: { type: 'string' }, profile: { type: 'boolean' },
    },
    TRAIN_USAGE,
  );
  if (values.help) return console.log(TRAIN_USAGE), 0;
  if (values.vs !== undefined && values.vs !== 'torch') throw new UserError(`--vs must be 'torch', got '${values.vs}'.`);
  // The checkout whose sources the worker threads load (the trainer's replicas and the independent ones).
  const root = sourceRoot();
  const archs = [];
  for (const a of (values.arch ?? Object.keys(BUILTIN_ARCHS).join(',')).split(',').filter(Boolean)) archs.push(await loadArchConfig(a, root));
  const choice = await initBackend(values.backend);
  // One replica per core on wasm and cpu (maxWorkers); native TensorFlow already computes on every core.
  const workers = intFlag('workers', values.workers, maxWorkers(Infinity, choice.backend), 1, 64);
  for (const a of archs) {
    if (a.config.train.batch < workers) throw new UserError(`--workers ${workers} is more than the batch (${a.config.train.batch}) of '${a.name}'.`);
  }
  const log = (line: string) => console.error(line);
  log(`${describeChoice(choice)}; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const rows = await benchTrain(archs, {
    root,
    workers,
    vsTorch: values.vs === 'torch',
    steps: intFlag('steps', values.steps, 5, 1, 10_000),
    rounds: intFlag('rounds', values.rounds, 5, 1, 1000),
    warmup: intFlag('warmup', values.warmup, 2, 0, 1000),
    warmupSeconds: intFlag('warmup-seconds', values['warmup-seconds'], 60, 0, 600),
    seed: intFlag('seed', values.seed, 1),
    torchThreads: intFlag('torch-threads', values['torch-threads'], 2, 1, 64),
    profile: values.profile === true,
    log,
  });
  console.log(values.json ? JSON.stringify(rows, null, 1) : formatTrainTable(rows));
  return 0;
}

export const QUALITY_USAGE =
  'fsrgan bench quality [--datasets emoji,fashion-mnist,teacher] [--contenders fsr,dcgan,torch] [--images N] [--samples N] [--seed N] [--out DIR] [--set key=value ...] [--backend B] [--json]';

/** `fsrgan bench quality`: the generators side by side on real data (src/bench/quality.ts). */
export async function runQualityBench(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    'bench quality', argv,
    {
      datasets: { type: 'string' }, contenders: { type: 'string' }, images: { type: 'string' }, samples: { type: 'string' }, seed: { type: 'string' },
      out: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' }, set: { type: 'string', multiple: true },
    },
    QUALITY_USAGE,
  );
  if (values.help) return console.log(QUALITY_USAGE), 0;
  const { benchQuality, CONTENDERS, QUALITY_DATASETS, formatQualityTable } = await import('../bench/quality.js');
  const list = (flag: string, v: string | undefined, all: readonly string[]) => {
    const items = (v ?? all.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.find((i) => !all.includes(i));
    if (bad) throw new UserError(`--${flag}: unknown '${bad}'; use a comma-separated list of ${all.join(', ')}.`);
    return items;
  };
  const datasets = list('datasets', values.datasets, Object.keys(QUALITY_DATASETS));
  const contenders = list('contenders', values.contenders, CONTENDERS) as (typeof CONTENDERS)[number][];
  const choice = await initBackend(values.backend);
  const log = (line: string) => console.error(line);
  log(`${describeChoice(choice)}; ${cpus().length} cores`);
  const rows = await benchQuality({
    root: findRepoRoot(),
    out: values.out ?? 'out/bench-quality',
    datasets,
    contenders,
    images: values.images === undefined ? undefined : intFlag('images', values.images, 0, 64),
    samples: intFlag('samples', values.samples, 2048, 64, 65536),
    seed: intFlag('seed', values.seed, 1),
    sets: values.set ?? [],
    log,
  });
  console.log(values.json ? JSON.stringify(rows, null, 1) : formatQualityTable(rows));
  return 0;
}
