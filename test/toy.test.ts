/**
 * The 2-D lab (src/toy/, docs/recipes.md): the VEEGAN/PacGAN measures on planted samples (closed form),
 * every recipe training a few tiny steps on cpu and wasm with a flat tensor count, determinism per seed,
 * the config errors, and `fsrgan toy` end to end.
 */
import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { makeTarget, modeReport, sampleTarget } from '../src/toy/targets.js';
import { TOY_RECIPES, recipeSets } from '../src/toy/recipes.js';
import { TOY_CONFIG_BASE, trainToy } from '../src/toy/train.js';
import { formatToyTable, parseToyNames, runToyExperiment, spread } from '../src/toy/experiment.js';
import { resolveRecipeConfig } from '../src/train/config.js';
import { configKey } from '../src/experiments/plan.js';
import { resolveConfig } from '../src/train/config.js';
import { Rng } from '../src/util/rng.js';
import { modesFigure } from '../src/report/modes.js';
import { compileSpec } from '../src/report/render.js';
import { parseFigureSpec } from '../src/experiments/plan.js';
import { readFileSync } from 'node:fs';

const TINY = { steps: 3, batch: 8, gHidden: [8], dHidden: [8, 8], evalSamples: 64, snapshots: 1, snapshotSamples: 16, landscape: 4 };

describe('toy targets and measures', () => {
  it('ring and grid follow the protocol: 8 modes on the unit circle (sigma 0.01), 25 on {-4..4}^2 step 2 (sigma 0.05)', () => {
    const ring = makeTarget('ring');
    expect(ring.modes.length).toBe(8);
    for (const [x, y] of ring.modes) expect(Math.hypot(x, y)).toBeCloseTo(1, 12);
    expect(ring.sigma).toBe(0.01);
    const grid = makeTarget('grid');
    expect(grid.modes.length).toBe(25);
    expect(new Set(grid.modes.map(([x]) => x))).toEqual(new Set([-4, -2, 0, 2, 4]));
    expect(grid.sigma).toBe(0.05);
  });

  it('modeReport on planted samples: high quality within 3 sigma, modes covered, reverse KL of the histograms', () => {
    const t = makeTarget('ring');
    // Two samples on mode 0 (one at 2 sigma, one at 4 sigma), one on mode 2 exactly, one far off nearest mode 2.
    const xy = [1 + 0.02, 0, 1 + 0.04, 0, 0, 1, 0, 1.5];
    const r = modeReport(t, xy);
    expect(r.highQuality).toBe(2 / 4);
    expect(r.modes).toBe(2);
    expect(r.counts[0]).toBe(1);
    expect(r.counts[2]).toBe(1);
    // Nearest-mode histogram (2/4 on mode 0, 2/4 on mode 2) against uniform 1/8: 2 * 0.5 log(0.5 * 8) = log 4.
    expect(r.reverseKl).toBeCloseTo(Math.log(4), 12);
    // Real samples: every mode covered, ~99.7% within 3 sigma (the 2-D Gaussian: 1 - exp(-9/2) = 98.9%).
    const real = modeReport(t, sampleTarget(t, new Rng(1), 4000));
    expect(real.modes).toBe(8);
    expect(Math.abs(real.highQuality - (1 - Math.exp(-4.5)))).toBeLessThan(0.01);
    expect(real.reverseKl).toBeLessThan(0.01);
  });

  it('spread: mean, sample std, standard error', () => {
    const s = spread([6, 8, 7, 7]);
    expect(s.mean).toBe(7);
    expect(s.std).toBeCloseTo(Math.sqrt(2 / 3), 12);
    expect(s.se).toBeCloseTo(Math.sqrt(2 / 3) / 2, 12);
    expect([s.min, s.max]).toEqual([6, 8]);
  });

  it('config: recipes resolve by their keys, bad values and names get did-you-mean errors, and old run ids do not move', () => {
    for (const r of Object.keys(TOY_RECIPES)) expect(() => resolveRecipeConfig(TOY_CONFIG_BASE, recipeSets(r))).not.toThrow();
    expect(() => resolveRecipeConfig({}, ['objective.dragn=10'])).toThrow(/did you mean config\.objective\.dragan/);
    expect(() => resolveRecipeConfig({}, ['objective.name=hinge', 'objective.labelSmoothing=0.1'])).toThrow(/ns, minimax or lsgan/);
    expect(() => resolveRecipeConfig({}, ['discriminator.pack=3'])).toThrow(/must divide config\.train\.batch/);
    expect(() => parseToyNames('unroled', 'ring')).toThrow(/did you mean 'unrolled'/);
    expect(() => parseToyNames('gan', 'rng')).toThrow(/did you mean 'ring'/);
    // Every new field defaults off: a config that sets none has the same key (hence run id) as before.
    const c = resolveConfig({ data: 'emoji' });
    expect(configKey(c)).toEqual({ data: 'emoji' });
    // The image stages refuse the recipes they do not apply, naming them.
    expect(() => resolveConfig({ data: 'emoji', generator: { spectralNorm: true } })).not.toThrow();
    expect(() => resolveConfig({ data: 'emoji', generator: { family: 'dcgan', spectralNorm: true } })).toThrow(/generator\.spectralNorm normalises the FSR learner's weights .*2-D lab's G/);
    expect(() => resolveConfig({ data: 'emoji', generator: { family: 'dcgan', virtualBatchNorm: true } })).toThrow(/generator\.virtualBatchNorm \(with generator\.family 'dcgan'\)/);
    expect(() => resolveConfig({ data: 'emoji', train: { unroll: 5, unrollSecondOrder: true, historicalAveraging: 0.1 }, generator: { virtualBatchNorm: true, equalizedLr: true }, discriminator: { equalizedLr: true } })).not.toThrow();
  });
});

describeEachBackend('toy lab', () => {
  for (const recipe of Object.keys(TOY_RECIPES)) {
    it(`${recipe}: trains a few steps, finite measures, no tensor left behind`, () => {
      const cfg = resolveRecipeConfig(TOY_CONFIG_BASE, [...recipeSets(recipe), 'train.dSteps=2']);
      trainToy(cfg, TINY, 1); // warm-up: kernels and backend caches allocate once
      const before = tf.memory().numTensors;
      const r = trainToy(cfg, TINY, 1);
      expect(tf.memory().numTensors).toBe(before);
      expect(r.final.totalModes).toBe(8);
      expect(Number.isFinite(r.final.reverseKl)).toBe(true);
      expect(r.snapshots.map((s) => s.step)).toEqual([0, 3]);
      expect(r.snapshots[1].landscape.every(Number.isFinite)).toBe(true);
      expect(r.snapshots[1].samples.length).toBe(32);
    });
  }

  it('objectives compose with a recipe (wgan-gp, hinge, r1 with PacGAN on the grid); same seed, same result', () => {
    for (const sets of [['objective.name=wgan-gp', 'discriminator.pack=2'], ['objective.name=hinge', 'objective.dragan=10'], ['objective.r1=1', 'train.unroll=2']]) {
      const cfg = resolveRecipeConfig(TOY_CONFIG_BASE, sets);
      const a = trainToy(cfg, { ...TINY, target: 'grid' }, 2);
      const b = trainToy(cfg, { ...TINY, target: 'grid' }, 2);
      expect(a.final).toEqual(b.final);
      expect(a.snapshots[1].samples).toEqual(b.snapshots[1].samples);
      expect(a.final.totalModes).toBe(25);
    }
  });
});

describe('toy experiment and CLI', () => {
  it('runToyExperiment summarises seeds per cell; the table prints modes and high quality with spread', () => {
    const cells = runToyExperiment({ targets: ['ring'], recipes: ['gan', 'pacgan2'], seeds: 2, options: TINY });
    expect(cells.map((c) => [c.recipe, c.runs.length])).toEqual([['gan', 2], ['pacgan2', 2]]);
    expect(cells[0].runs[1].snapshots).toEqual([]);
    const table = formatToyTable(cells);
    expect(table).toMatch(/modes \(mean ± std\)/);
    expect(table).toMatch(/pacgan2\s+2\s+\d\.\d ± \d\.\d of 8/);
  });

  it('F-modes: the spec parses at every scale; the drawing compiles, with the published numbers and density panels', () => {
    const spec = parseFigureSpec(JSON.parse(readFileSync('experiments/figures/F-modes.json', 'utf8')), 'F-modes.json');
    expect(spec.scales.full!.toy).toMatchObject({ seeds: 10, recipes: ['all'], targets: ['ring', 'grid'] });
    expect(() => parseFigureSpec({ ...JSON.parse(readFileSync('experiments/figures/F-modes.json', 'utf8')), scales: { test: { runs: [], toy: { seeds: 0 } }, quick: { runs: [] }, full: { runs: [] } } }, 'x.json')).toThrow();
    const cells = runToyExperiment({ targets: ['ring', 'grid'], recipes: ['gan', 'pacgan2'], seeds: 2, options: TINY });
    const fig = modesFigure({ name: 'F-modes', title: 't', about: 'a', builder: 'modes' }, cells, { seeds: 2, steps: 3, batch: 8, density: ['gan'] });
    expect(fig.charts.map((c) => c.file)).toEqual(['F-modes', 'F-modes-quality', 'F-modes-ring-density', 'F-modes-ring-landscape', 'F-modes-grid-density', 'F-modes-grid-landscape']);
    for (const c of fig.charts) expect(() => compileSpec(c.spec)).not.toThrow();
    const values = (fig.charts[0].spec as { data: { values: { kind: string; value?: number }[] } }).data.values;
    // Published ticks for gan (VEEGAN 1 and PacGAN 6.3 on the ring) and PacGAN2 (7.9).
    expect(values.filter((v) => v.kind === 'published').map((v) => v.value)).toEqual(expect.arrayContaining([1, 6.3, 7.9, 3.3, 17.3, 23.8]));
    expect(fig.tables[0].rows).toHaveLength(4);
    expect(fig.tables[1].rows.length).toBeGreaterThan(5);
  });

  it('fsrgan toy prints the table; a wrong recipe is one line with a hint', async () => {
    const run = promisify(execFile);
    const { stdout } = await run('node', ['bin/fsrgan.mjs', 'toy', '--recipe', 'unrolled', '--seeds', '2', '--steps', '3', '--batch', '8', '--backend', 'cpu'], { timeout: 60_000 });
    expect(stdout).toMatch(/ring\s+unrolled\s+2\s+.* of 8/);
    expect(stdout).toMatch(/high quality %/);
    const bad = await run('node', ['bin/fsrgan.mjs', 'toy', '--recipe', 'pacgan'], { timeout: 60_000 }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown recipe 'pacgan' \(did you mean 'pacgan2'\?\)/);
  }, 60_000);
});
