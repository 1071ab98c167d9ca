/**
 * Figure F-modes in `reproduce` (docs/recipes.md): the 2-D lab's experiment of the figure's scale, run once
 * and kept as `<out>/toy/<F-name>-<scale>-<hash>.json` (the hash of its settings), so that a second
 * reproduce, or a notebook reading the folder, draws it again without training.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modesFigure } from '../report/modes.js';
import { parseToyNames, runToyExperiment, type ToyCell } from '../toy/experiment.js';
import { UserError } from '../util/errors.js';
import { shortHash, type FigureSpec, type Scale } from './plan.js';
import type { FigureOutput } from './summary.js';
import { mkdirs } from '../util/atomic.js';

export async function modesFigureOutput(spec: FigureSpec, scale: Scale, out: string, train: boolean, log: (line: string) => void): Promise<FigureOutput> {
  const toy = spec.scales[scale]!.toy;
  if (!toy) throw new UserError(`${spec.name}: scales.${scale}.toy is required for a 'modes' figure.`);
  const { recipes, targets } = parseToyNames(toy.recipes.join(','), toy.targets.join(','));
  const file = join(out, 'toy', `${spec.name}-${scale}-${shortHash(toy)}.json`);
  let cells: ToyCell[];
  try {
    cells = JSON.parse(await readFile(file, 'utf8')).cells;
    log(`${spec.name}: the 2-D lab's results read from ${file}`);
  } catch {
    if (!train) throw new UserError(`${spec.name}: no 2-D lab results at ${file}, and training is off.`);
    const runs = targets.length * recipes.length * toy.seeds;
    log(`${spec.name}: the 2-D lab, ${targets.join(' and ')} x ${recipes.length} recipes x ${toy.seeds} seeds (${runs} runs of ${toy.steps} G steps, batch ${toy.batch})`);
    const options = { steps: toy.steps, batch: toy.batch, ...(toy.gHidden.length ? { gHidden: toy.gHidden } : {}), ...(toy.dHidden.length ? { dHidden: toy.dHidden } : {}) };
    cells = runToyExperiment({ targets, recipes, seeds: toy.seeds, options, log });
    // Only the density recipes keep their snapshots (seed 1): the rest would only bloat the file.
    for (const c of cells) if (!toy.density.includes(c.recipe)) for (const r of c.runs) r.snapshots = [];
    await mkdirs(join(out, 'toy'));
    await writeFile(file, JSON.stringify({ spec: spec.name, scale, toy, cells }) + '\n');
  }
  return { ...modesFigure(spec, cells, { seeds: toy.seeds, steps: toy.steps, batch: toy.batch, density: toy.density }), claims: [] };
}
