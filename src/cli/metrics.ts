/**
 * `fsrgan metrics`: the sample-quality metrics of a run (FID, KID, IS, precision/recall, support; the registry
 * entries of src/analysis/entries/, shared with `fsrgan analyze` and its cache), and `fsrgan metrics
 * train-extractor`, which trains the small per-dataset classifier whose features they use. Offline: the
 * extractor is trained from the data on disk (once, then cached) or given as a model.json (docs/metrics.md).
 */
import { join } from 'node:path';
import { initBackend } from '../backend/index.js';
import { formatAnalysis, parseWhat, resolveAnalysisConfig, toJson, writeAnalysisFiles } from '../analysis/index.js';
import { fmt, table } from '../analysis/table.js';
import { DEFAULT_TRAINING } from '../metrics/train-extractor.js';
import { buildExtractor as buildDefault } from '../metrics/build-extractor.js';
import { METRICS, metricsOverSeeds, runMetrics, type RunMetrics, type SeedSummary } from '../experiments/quality.js';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { intFlag, parseFlags } from './args.js';
import { runConditionalMetrics } from './conditional-metrics.js';

/** The measurements this command runs (all registry entries; `fsrgan analyze --what` reaches them too). */
export { METRICS };

const USAGE =
  `fsrgan metrics <runDir> [<runDir> ...] [--what ${METRICS.join(',')}] [--extractor model.json] [--ema] [--samples N] [--seed N] [--out DIR] [--json]\n` +
  '                        [--config analysis.json] [--set key=value ...] [--backend B]\n' +
  `       fsrgan metrics train-extractor --dataset emoji|fashion-mnist|<folder> [--out DIR] [--steps N] [--batch N] [--seed N] [--backend B]\n` +
  '       fsrgan metrics conditional <runDir> [--seed N] [--per-class N] [--names N] [--extractor model.json] [--out FILE]';

const log = (line: string) => console.error(line);

/** Trains a dataset's extractor and writes it (src/metrics/build-extractor.ts); returns the model.json path. */
const buildExtractor = (spec: string, out: string | null, opts: { steps: number; batch: number; seed: number }) => buildDefault(spec, out, opts, log);

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
  if (argv[0] === 'conditional') return runConditionalMetrics(argv.slice(1));
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
  if (positionals.length < 1) throw new UserError(`give a run directory (the --out folder of fsrgan train), or several runs of one config (seeds) for the mean and its 95% interval.\nUsage: ${USAGE}`);
  const what = parseWhat(values.what, METRICS);
  const bad = what.find((w) => !(METRICS as readonly string[]).includes(w));
  if (bad) throw new UserError(`--what: '${bad}' is not a sample-quality metric; use a comma-separated list of ${METRICS.join(', ')} (fsrgan analyze runs the others).`);
  const user = values.config ? await readJsonFile(values.config, 'analysis config') : {};
  const sets = [...(values.set ?? [])];
  if (values.samples !== undefined) sets.push(`samples=${intFlag('samples', values.samples, 0, 4)}`);
  if (values.seed !== undefined) sets.push(`seed=${intFlag('seed', values.seed, 0)}`);
  if (values.extractor !== undefined) sets.push(`metrics.extractor=${JSON.stringify(values.extractor)}`);
  const config = resolveAnalysisConfig(user, sets);
  await initBackend(values.backend);
  const several = positionals.length > 1;
  const measured: RunMetrics[] = [];
  for (const dir of positionals) {
    if (several) log(`metrics: ${dir}`);
    const m = await runMetrics(dir, { what, config, ema: values.ema, build: true, log });
    measured.push(m);
    // One run: --out holds its files; several: each run's files go to RUN/analysis and --out gets the summary.
    const paths = await writeAnalysisFiles(several || values.out === undefined ? join(dir, 'analysis') : values.out, m.files);
    if (!values.json) {
      for (const f of m.files) console.log([...formatAnalysis(f), ''].join('\n'));
      for (const p of paths) console.log(`wrote ${p}`);
    }
  }
  if (!several) {
    const files = measured[0].files;
    if (values.json) console.log(toJson(files.length === 1 ? files[0] : files));
    return 0;
  }
  const summary = metricsOverSeeds(measured);
  if (values.out !== undefined) {
    await mkdirs(values.out);
    await writeFileAtomic(join(values.out, 'metrics-summary.json'), JSON.stringify({ runs: measured.map((m) => ({ dir: m.dir, seed: m.seed, name: m.name })), ...summary }, null, 1) + '\n');
  }
  if (values.json) console.log(toJson({ runs: measured.map((m) => ({ dir: m.dir, seed: m.seed, name: m.name, files: m.files })), ...summary }));
  else {
    console.log(summaryText(measured, summary));
    if (values.out !== undefined) console.log(`wrote ${join(values.out, 'metrics-summary.json')}`);
  }
  return 0;
}

/** The summary over runs as text: one line per metric and statistic with the interval, then the shared provenance. */
function summaryText(runs: RunMetrics[], s: SeedSummary): string {
  const names = [...new Set(runs.map((r) => r.name))];
  const head = [
    `over ${runs.length} runs (seeds ${runs.map((r) => r.seed).join(', ')}${names.length > 1 ? `; configs ${names.join(', ')}` : ''}); interval: ${s.interval}`,
    ...(s.repeatedSeeds.length ? [`warning: seed(s) ${s.repeatedSeeds.join(', ')} occur more than once: those runs are not independent draws.`] : []),
  ];
  const body = table(
    ['metric', 'statistic', 'n', 'mean', 'sd', '95% interval', 'values'],
    s.rows.map((r) => [r.what, r.statistic, r.n, fmt(r.mean), fmt(r.sd), r.lo === null ? '-' : `[${fmt(r.lo)}, ${fmt(r.hi!)}]`, r.values.map(fmt).join(' ')]),
  );
  const prov = Object.entries(s.provenance).map(([w, p]) => `${w}: ${Object.entries(p).map(([k, v]) => `${k} ${String(v)}`).join(', ')}`);
  return [...head, '', ...body, '', ...prov, ''].join('\n');
}
