/**
 * Many seeds of the 2-D lab per target and recipe, summarised as mean and spread: what `fsrgan toy`
 * prints, figure F-modes draws (src/report/toy-figure.ts) and notebooks/F-modes.ipynb calls.
 */
import { resolveRecipeConfig } from '../train/config.js';
import { UserError } from '../util/errors.js';
import { closest } from '../util/config.js';
import { recipeSets, TOY_RECIPES } from './recipes.js';
import { TARGETS, type TargetName } from './targets.js';
import { TOY_CONFIG_BASE, trainToy, type ToyOptions, type ToyResult } from './train.js';

export interface ToyExperimentOptions {
  targets: TargetName[];
  recipes: string[];
  /** Seeds 1..n. */
  seeds: number;
  /** Lab settings (steps, batch, sizes; TOY_DEFAULTS otherwise). */
  options?: Partial<ToyOptions>;
  /** Extra --set overrides on top of every recipe (objective.name=hinge, train.lrD=...). */
  sets?: string[];
  /** Keep the snapshots of this many seeds per cell (default 1: seed 1's, for the density plots). */
  keepSnapshots?: number;
  log?: (line: string) => void;
}

export interface Spread {
  mean: number;
  std: number;
  /** Standard error std / sqrt(n) (the PacGAN table's "±"). */
  se: number;
  min: number;
  max: number;
}

export interface ToyCell {
  target: TargetName;
  recipe: string;
  label: string;
  totalModes: number;
  modes: Spread;
  /** Fraction (0..1) of high-quality samples. */
  highQuality: Spread;
  reverseKl: Spread;
  seconds: number;
  runs: ToyResult[];
}

export function spread(xs: number[]): Spread {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, se: std / Math.sqrt(n), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Checks recipe and target names (did-you-mean hints); 'all' expands. */
export function parseToyNames(recipes: string, targets: string): { recipes: string[]; targets: TargetName[] } {
  const known = Object.keys(TOY_RECIPES);
  const rs = recipes === 'all' ? known : recipes.split(',').map((s) => s.trim()).filter(Boolean);
  for (const r of rs) {
    if (!known.includes(r)) {
      const hint = closest(r, known);
      throw new UserError(`unknown recipe '${r}'${hint ? ` (did you mean '${hint}'?)` : ''}; the recipes are ${known.join(', ')} (or all).`);
    }
  }
  const ts = targets === 'both' || targets === 'all' ? [...TARGETS] : targets.split(',').map((s) => s.trim());
  for (const t of ts) {
    if (!(TARGETS as readonly string[]).includes(t)) {
      const hint = closest(t, [...TARGETS]);
      throw new UserError(`unknown target '${t}'${hint ? ` (did you mean '${hint}'?)` : ''}; the targets are ${TARGETS.join(', ')} (or both).`);
    }
  }
  if (!rs.length) throw new UserError('name at least one recipe.');
  return { recipes: rs, targets: ts as TargetName[] };
}

export function runToyExperiment(e: ToyExperimentOptions): ToyCell[] {
  const cells: ToyCell[] = [];
  const keep = e.keepSnapshots ?? 1;
  for (const target of e.targets) {
    for (const recipe of e.recipes) {
      // Resolved (and checked) once per cell, before any training.
      const cfg = resolveRecipeConfig(TOY_CONFIG_BASE, [...recipeSets(recipe), ...(e.sets ?? [])]);
      const runs: ToyResult[] = [];
      for (let seed = 1; seed <= e.seeds; seed++) {
        const r = trainToy(cfg, { ...e.options, target }, seed);
        if (seed > keep) r.snapshots = [];
        runs.push(r);
        e.log?.(`  ${target} ${recipe} seed ${seed}: ${r.final.modes}/${r.final.totalModes} modes, ${(100 * r.final.highQuality).toFixed(1)}% high quality, reverse KL ${r.final.reverseKl.toFixed(3)} (${r.seconds.toFixed(1)} s)`);
      }
      cells.push({
        target,
        recipe,
        label: TOY_RECIPES[recipe].label,
        totalModes: runs[0].final.totalModes,
        modes: spread(runs.map((r) => r.final.modes)),
        highQuality: spread(runs.map((r) => r.final.highQuality)),
        reverseKl: spread(runs.map((r) => r.final.reverseKl)),
        seconds: runs.reduce((a, r) => a + r.seconds, 0),
        runs,
      });
    }
  }
  return cells;
}

/** One line per cell: modes and high-quality share as mean ± std over seeds, [min, max], reverse KL. */
export function formatToyTable(cells: ToyCell[]): string {
  const head = ['target', 'recipe', 'seeds', 'modes (mean ± std) [min, max]', 'high quality % (mean ± std)', 'reverse KL', 'seconds'];
  const rows = cells.map((c) => [
    c.target,
    c.recipe,
    String(c.runs.length),
    `${c.modes.mean.toFixed(1)} ± ${c.modes.std.toFixed(1)} of ${c.totalModes} [${c.modes.min}, ${c.modes.max}]`,
    `${(100 * c.highQuality.mean).toFixed(1)} ± ${(100 * c.highQuality.std).toFixed(1)}`,
    `${c.reverseKl.mean.toFixed(3)} ± ${c.reverseKl.std.toFixed(3)}`,
    c.seconds.toFixed(0),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((s, i) => s.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}
