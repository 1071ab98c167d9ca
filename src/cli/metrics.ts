/**
 * `fsrgan metrics`: the sample-quality metrics of a run (FID, KID, IS, precision/recall, support; the registry
 * entries of src/analysis/entries/, shared with `fsrgan analyze` and its cache), and `fsrgan metrics
 * train-extractor`, which trains the small per-dataset classifier whose features they use. Offline: the
 * extractor is trained from the data on disk (once, then cached) or given as a model.json (docs/metrics.md).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../backend/index.js';
import { findRepoRoot } from '../data/cache.js';
import { datasetConfig } from '../data/config.js';
import { loadImageSet } from '../data/open.js';
import { analyzeRun, formatAnalysis, parseWhat, resolveAnalysisConfig, toJson, writeAnalysisFiles } from '../analysis/index.js';
import { datasetOf, extractorPath, NO_TEACHER } from '../analysis/metrics-context.js';
import { defaultExtractorDir } from '../metrics/extractor.js';
import { DEFAULT_TRAINING, trainExtractor, writeExtractor } from '../metrics/train-extractor.js';
import { loadRun } from '../train/run.js';
import { cachedAnalyses } from '../train/rundir.js';
import { readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { intFlag, parseFlags } from './args.js';
import * as tf from '@tensorflow/tfjs';

/** The measurements this command runs (all registry entries; `fsrgan analyze --what` reaches them too). */
export const METRICS = ['fid', 'kid', 'is', 'pr', 'support'] as const;

const USAGE =
  `fsrgan metrics <runDir> [--what ${METRICS.join(',')}] [--extractor model.json] [--ema] [--samples N] [--seed N] [--out DIR] [--json]\n` +
  '                        [--config analysis.json] [--set key=value ...] [--backend B]\n' +
  `       fsrgan metrics train-extractor --dataset emoji|fashion-mnist|<folder> [--out DIR] [--steps N] [--batch N] [--seed N] [--backend B]`;

const log = (line: string) => console.error(line);

/** Trains a dataset's extractor and writes it; returns the model.json path. */
async function buildExtractor(spec: string, out: string | null, opts: { steps: number; batch: number; seed: number }): Promise<string> {
  const cfg = datasetConfig({});
  const set = await loadImageSet(spec, cfg, { onProgress: log });
  const dir = out ?? defaultExtractorDir(findRepoRoot(), set.name);
  log(`train-extractor: ${set.name}, ${set.count} images, ${set.classNames.length} classes; ${opts.steps} steps of ${opts.batch} on ${tf.getBackend()}`);
  const trained = trainExtractor(set, { ...DEFAULT_TRAINING, ...opts, dataset: set.name, splitSeed: cfg.seed, heldOutFraction: cfg.heldOutFraction, log });
  try {
    const sha = await writeExtractor(dir, trained);
    log(`train-extractor: wrote ${join(dir, 'model.json')} (sha256 ${sha.slice(0, 16)}, held-out accuracy ${(100 * (trained.info.heldOutAccuracy as number)).toFixed(1)}%)`);
  } finally {
    tf.dispose([...trained.params.values()]);
  }
  return join(dir, 'model.json');
}

async function runTrainExtractor(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'metrics train-extractor',
    argv,
    { dataset: { type: 'string' }, out: { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' } },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length) throw new UserError(`train-extractor takes no positional arguments, got '${positionals[0]}'.\nUsage: ${USAGE}`);
  if (!values.dataset) throw new UserError(`train-extractor needs --dataset: emoji, fashion-mnist or a folder of images with one subfolder per class.\nUsage: ${USAGE}`);
  if (/\.json$/i.test(values.dataset)) throw new UserError(`--dataset '${values.dataset}' is a teacher config: fsrgan has no extractor for the synthetic teacher; use emoji, fashion-mnist or an image folder.`);
  await initBackend(values.backend);
  const path = await buildExtractor(values.dataset, values.out ?? null, {
    steps: intFlag('steps', values.steps, DEFAULT_TRAINING.steps, 1, 1_000_000),
    batch: intFlag('batch', values.batch, DEFAULT_TRAINING.batch, 2, 4096),
    seed: intFlag('seed', values.seed, DEFAULT_TRAINING.seed),
  });
  console.log(path);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'train-extractor') return runTrainExtractor(argv.slice(1));
  const { values, positionals } = parseFlags(
    'metrics',
    argv,
    {
      what: { type: 'string' },
      extractor: { type: 'string' },
      ema: { type: 'boolean' },
      samples: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      backend: { type: 'string' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length !== 1) throw new UserError(`give one run directory (the --out folder of fsrgan train).\nUsage: ${USAGE}`);
  const what = parseWhat(values.what, METRICS);
  const bad = what.find((w) => !(METRICS as readonly string[]).includes(w));
  if (bad) throw new UserError(`--what: '${bad}' is not a sample-quality metric; use a comma-separated list of ${METRICS.join(', ')} (fsrgan analyze runs the others).`);
  const dir = positionals[0];
  const user = values.config ? await readJsonFile(values.config, 'analysis config') : {};
  const sets = [...(values.set ?? [])];
  if (values.samples !== undefined) sets.push(`samples=${intFlag('samples', values.samples, 0, 4)}`);
  if (values.seed !== undefined) sets.push(`seed=${intFlag('seed', values.seed, 0)}`);
  if (values.extractor !== undefined) sets.push(`metrics.extractor=${JSON.stringify(values.extractor)}`);
  const config = resolveAnalysisConfig(user, sets);
  await initBackend(values.backend);
  const loaded = await loadRun(dir, { source: true });
  let files;
  try {
    const ds = datasetOf(loaded.source);
    if (!ds) throw new UserError(`${NO_TEACHER} ('${dir}' trains on ${loaded.config.data}.)`);
    const path = extractorPath(config, ds.set.name);
    if (!config.metrics.extractor && !existsSync(path)) {
      log(`metrics: no default feature extractor for ${ds.set.name} yet; training it once (about a minute), cached in ${join(path, '..')}`);
      await buildExtractor(loaded.config.data, null, DEFAULT_TRAINING);
    }
    const generator = values.ema ? loaded.ema : loaded.generator;
    if (!generator) throw new UserError(`the run in '${dir}' kept no EMA generator (train.emaBeta = 0): drop --ema.`);
    const subject = { generator: values.ema ? 'ema' : 'learner', real: 'train' } as const;
    files = await cachedAnalyses(loaded, what, config, subject, (missing) => analyzeRun({ ...loaded, generator }, missing, config, log), log);
  } finally {
    loaded.dispose();
  }
  const paths = await writeAnalysisFiles(values.out ?? join(dir, 'analysis'), files);
  if (values.json) console.log(toJson(files.length === 1 ? files[0] : files));
  else {
    for (const f of files) console.log([...formatAnalysis(f), ''].join('\n'));
    for (const p of paths) console.log(`wrote ${p}`);
  }
  return 0;
}
