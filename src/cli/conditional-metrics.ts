/**
 * `fsrgan metrics conditional <runDir>`: whether a conditional run draws what it is asked for
 * (src/experiments/conditional.ts, docs/conditional.md): class agreement of its dataset's classifier with
 * the requested class, or for a text run, how held-out names are rendered. Writes <runDir>/conditional.json
 * (or --out) and prints a summary.
 */
import { join } from 'node:path';
import { initBackend } from '../backend/index.js';
import { measureConditional } from '../experiments/conditional.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { intFlag, parseFlags } from './args.js';

const USAGE = 'fsrgan metrics conditional <runDir> [--seed 0] [--per-class 100] [--names 200] [--extractor model.json] [--out FILE] [--backend B]';

export async function runConditionalMetrics(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'metrics conditional',
    argv,
    { seed: { type: 'string' }, 'per-class': { type: 'string' }, names: { type: 'string' }, extractor: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' } },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length !== 1) throw new UserError(`give exactly one run directory.\nUsage: ${USAGE}`);
  await initBackend(values.backend);
  const rep = await measureConditional(positionals[0], {
    seed: intFlag('seed', values.seed, 0, 0, 0xffffffff),
    perClass: intFlag('per-class', values['per-class'], 100, 1, 10000),
    maxNames: intFlag('names', values.names, 200, 2, 100000),
    extractor: values.extractor,
  });
  const out = values.out ?? join(positionals[0], 'conditional.json');
  await writeFileAtomic(out, JSON.stringify(rep, null, 1) + '\n');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  if (rep.classes) {
    const c = rep.classes;
    console.log(`${rep.family} at step ${rep.step}, seed ${rep.seed}: the classifier agrees with the requested class on ${pct(c.agreement)} of ${c.n} images (chance ${pct(c.chance)}; classifier's held-out accuracy on real images ${rep.extractor.heldOutAccuracy === null ? '?' : pct(rep.extractor.heldOutAccuracy)})`);
    for (const [name, v] of Object.entries(c.perClass)) console.log(`  ${name.padEnd(20)} ${pct(v)}`);
  }
  if (rep.text) {
    for (const [label, s] of [['held-out names', rep.text.heldOut], ['training names', rep.text.train]] as const) {
      console.log(`${label}: ${s.names}; category agreement ${pct(s.categoryAgreement)} (majority category ${pct(s.majorityRate)}); retrieval ${pct(s.retrieval)} (chance 50%)`);
    }
  }
  console.log(`wrote ${out} (${rep.seconds.toFixed(1)} s)`);
  return 0;
}
