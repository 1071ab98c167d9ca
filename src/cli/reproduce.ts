/**
 * fsrgan reproduce: trains the runs the paper figures need (each once), measures them, and writes every
 * figure as SVG and PNG plus index.html and summary.json (src/experiments/reproduce.ts, docs/figures.md).
 */
import { describeChoice, initBackend } from '../backend/index.js';
import { UserError } from '../util/errors.js';
import { loadCatalogue, loadFigureSpecs, planFigures, runSteps, SCALES, type Scale } from '../experiments/plan.js';
import { reproduce } from '../experiments/reproduce.js';
import { intFlag, parseFlags } from './args.js';
import { totalmem } from 'node:os';
import { maxWorkers } from '../train/replicas.js';

/**
 * One process per core where a process computes on one thread (wasm, cpu); one on native TensorFlow. At most
 * one per GiB of memory: each process holds its own tfjs heap and data (0.25-0.3 GiB measured on the small
 * teacher's runs; image runs hold more).
 */
function defaultJobs(): number {
  return Math.max(1, Math.min(maxWorkers(), Math.floor(totalmem() / 2 ** 30)));
}

const USAGE =
  'fsrgan reproduce --out <dir> [--scale test|quick|full] [--seeds N] [--only F-name[,F-name]] [--backend auto|node-gpu|node|wasm|cpu] [--jobs N] [--workers N] [--figures experiments/figures] [--no-train] [--dry-run]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'reproduce',
    argv,
    {
      out: { type: 'string' },
      scale: { type: 'string' },
      only: { type: 'string' },
      seeds: { type: 'string' },
      backend: { type: 'string' },
      figures: { type: 'string' },
      'no-train': { type: 'boolean' },
      workers: { type: 'string' },
      jobs: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'.\nUsage: ${USAGE}`);
  const scale = (values.scale ?? 'quick') as Scale;
  if (!(SCALES as readonly string[]).includes(scale)) throw new UserError(`--scale must be one of ${SCALES.join(', ')}, got '${scale}'.`);
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : [];
  const figuresDir = values.figures ?? 'experiments/figures';
  const seeds = values.seeds === undefined ? undefined : Number(values.seeds);
  if (seeds !== undefined && !(Number.isInteger(seeds) && seeds >= 1 && seeds <= 1000)) throw new UserError(`--seeds must be a whole number from 1 to 1000 (seeds 1..N per run), got '${values.seeds}'.`);
  if (values['dry-run']) {
    const plan = await planFigures(await loadFigureSpecs(figuresDir, only), await loadCatalogue(figuresDir), scale, seeds);
    for (const r of plan.runs) console.log(`${r.id}  ${r.config.train.mode}  ${r.config.data}  levels ${r.levels}  ${runSteps(r.config)} steps  for ${r.figures.join(', ')}`);
    console.log(`${plan.runs.length} runs, ${plan.runs.reduce((a, r) => a + runSteps(r.config), 0)} G steps`);
    // A 'modes' figure trains the 2-D lab instead of catalogue runs (src/experiments/modes.ts).
    for (const f of plan.figures) {
      const t = f.spec.scales[scale]!.toy;
      if (t) console.log(`${f.spec.name}: the 2-D lab, ${t.targets.join(' and ')} x ${t.recipes.join(', ')} x ${t.seeds} seeds, ${t.steps} G steps of batch ${t.batch} each`);
    }
    return 0;
  }
  if (!values.out) throw new UserError(`--out <dir> is required.\nUsage: ${USAGE}`);
  const choice = await initBackend(values.backend);
  console.log(`backend: ${describeChoice(choice)}`);
  // Replicas per training run (fsrgan train --workers; default one per core, src/train/replicas.ts defaultWorkers).
  const workers = values.workers === undefined ? undefined : intFlag('workers', values.workers, 1, 1, 1024);
  // Processes training runs side by side (default one per core on wasm and cpu, one replica each; native
  // TensorFlow uses every core in one process): src/experiments/train-pool.ts.
  const jobs = values.jobs === undefined ? defaultJobs() : intFlag('jobs', values.jobs, 1, 1, 256);
  const res = await reproduce({ out: values.out, scale, only, figuresDir, train: !values['no-train'], seeds, workers, jobs });
  for (const c of res.summary.claims) {
    console.log(`claim ${c.id} (${c.figure}): ${c.verdict.toUpperCase()} - ${c.detail}`);
    console.log(`  seeds ${c.budget.seeds.join(', ')}; steps per stage ${Object.entries(c.budget.steps).map(([k, v]) => `${k} ${v}`).join(', ')}; ${c.interval}`);
  }
  const count = (v: string) => res.summary.claims.filter((c) => c.verdict === v).length;
  console.log(`claims at scale ${scale}: ${count('holds')} hold, ${count('does not hold')} do not hold, ${count('inconclusive')} inconclusive; see ${values.out}/index.html.`);
  return 0;
}
