/**
 * fsrgan toy: the 2-D mode-collapse lab (docs/recipes.md). Trains an MLP GAN on a ring of 8 or a grid of
 * 25 Gaussians with a recipe over several seeds and prints the VEEGAN/PacGAN measures with their spread.
 */
import { writeFile } from 'node:fs/promises';
import { initBackend } from '../backend/index.js';
import { outputError, UserError } from '../util/errors.js';
import { formatToyTable, parseToyNames, runToyExperiment, TOY_DEFAULTS, TOY_RECIPES } from '../toy/index.js';
import { intFlag, parseFlags } from './args.js';

const USAGE = 'fsrgan toy [--target ring|grid|both] [--recipe NAME[,NAME...]|all] [--seeds 10] [--steps 1000] [--batch 100] [--set key=value ...] [--json out.json] [--backend ...] [--list]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'toy',
    argv,
    {
      target: { type: 'string' },
      recipe: { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      set: { type: 'string', multiple: true },
      json: { type: 'string' },
      backend: { type: 'string' },
      list: { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (values.list) {
    for (const [k, v] of Object.entries(TOY_RECIPES)) console.log(`${k.padEnd(18)} ${v.label}: ${Object.entries(v.sets).map(([a, b]) => `${a}=${JSON.stringify(b)}`).join(' ') || '(none)'}`);
    return 0;
  }
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'.\nUsage: ${USAGE}`);
  const { recipes, targets } = parseToyNames(values.recipe ?? 'gan', values.target ?? 'ring');
  const seeds = intFlag('seeds', values.seeds, 10, 1, 1000);
  const steps = intFlag('steps', values.steps, TOY_DEFAULTS.steps, 1, 10_000_000);
  const batch = intFlag('batch', values.batch, TOY_DEFAULTS.batch, 1, 100_000);
  const backend = await initBackend(values.backend);
  console.log(`fsrgan toy: ${targets.join(', ')} x ${recipes.join(', ')}, seeds 1..${seeds}, ${steps} G steps of batch ${batch} (backend ${backend.backend})`);
  const cells = runToyExperiment({ targets, recipes, seeds, options: { steps, batch, snapshots: values.json ? TOY_DEFAULTS.snapshots : 0 }, sets: values.set ?? [], log: (l) => console.log(l) });
  console.log('');
  console.log(formatToyTable(cells));
  if (values.json) {
    await writeFile(values.json, JSON.stringify({ steps, batch, seeds, cells }) + '\n').catch((e) => {
      throw outputError(e, values.json!, 'the results');
    });
    console.log(`wrote ${values.json}`);
  }
  return 0;
}
