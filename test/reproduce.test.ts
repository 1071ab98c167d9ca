/**
 * `fsrgan reproduce` end to end at the `test` scale (a few dozen steps per run): every figure as SVG and
 * PNG, index.html showing them, summary.json with the claims' numbers; a second call reuses the runs and
 * gives the same numbers; --only trains only what its figures need; a run folder without its completion
 * marker is resumed, not retrained.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { run as cli } from '../src/cli/reproduce.js';
import { loadFigureSpecs } from '../src/experiments/plan.js';
import { notebookFigure, reproduce } from '../src/experiments/reproduce.js';
import type { ReproduceSummary } from '../src/experiments/summary.js';
import { esc } from '../src/report/html.js';

const PNG_MAGIC = '89504e470d0a1a0a';
let root = '';
const quiet = () => {};

beforeAll(async () => {
  await initBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'fsrgan-reproduce-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function summaryOf(out: string): Promise<ReproduceSummary> {
  return JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as ReproduceSummary;
}

describe('fsrgan reproduce --scale test', () => {
  let first: ReproduceSummary;
  const out = () => join(root, 'all');

  it('writes every figure as SVG and PNG, an index.html that shows them, and summary.json with the claims', async () => {
    const log = console.log;
    console.log = quiet;
    try {
      expect(await cli(['--scale', 'test', '--out', out(), '--backend', 'wasm'])).toBe(0);
    } finally {
      console.log = log;
    }
    first = await summaryOf(out());
    const names = (await loadFigureSpecs('experiments/figures')).map((s) => s.name);
    expect(first.figures.map((f) => f.name)).toEqual(names);
    const html = await readFile(join(out(), 'index.html'), 'utf8');
    for (const f of first.figures) {
      // The main chart has the figure's name; every chart and image file exists and is what it says.
      expect(f.charts[0].svg).toBe(`figures/${f.name}.svg`);
      for (const c of f.charts) {
        expect((await readFile(join(out(), c.svg), 'utf8')).startsWith('<svg')).toBe(true);
        expect((await readFile(join(out(), c.png))).subarray(0, 8).toString('hex')).toBe(PNG_MAGIC);
        expect(html).toContain(`src="${c.svg}"`);
        expect(html).toContain(`href="${c.png}"`);
      }
      for (const im of f.images) {
        expect((await readFile(join(out(), im.path))).subarray(0, 8).toString('hex')).toBe(PNG_MAGIC);
        expect(html).toContain(`src="${im.path}"`);
      }
      expect(html).toContain(`<section id="${f.name}">`);
      expect(f.tables.length).toBeGreaterThan(0);
      for (const t of f.tables) expect(t.rows.length, `${f.name}: ${t.title}`).toBeGreaterThan(0);
    }
    // Every src in the page resolves.
    for (const m of html.matchAll(/src="([^"]+)"/g)) expect(existsSync(join(out(), m[1])), m[1]).toBe(true);
    expect(first.figures.find((f) => f.name === 'F-alignment')!.images).toHaveLength(2); // D_1 next to G_1, one per seed
    expect(first.figures.find((f) => f.name === 'F-layerwise')!.images.length).toBe(4);
    // The four claims, each with a three-way verdict, finite numbers, its seeds, budget and interval method.
    expect(first.claims.map((c) => c.id).sort()).toEqual(['alignment', 'layerwise', 'moments', 'sparsity']);
    expect(first.seeds).toEqual([1, 2]);
    for (const c of first.claims) {
      expect(['holds', 'does not hold', 'inconclusive'], c.id).toContain(c.verdict);
      expect(c.budget.seeds, c.id).toEqual([1, 2]);
      expect(Object.values(c.budget.steps).length, c.id).toBeGreaterThan(0);
      expect(c.interval).toMatch(/t-interval/);
      for (const t of c.tests) expect(t.seeds, `${c.id} ${t.key}`).toEqual([1, 2]);
      // Per data set: one entry per data set its tests name, each the combination of that data set's tests.
      expect(c.byData.map((d) => d.data), c.id).toEqual([...new Set(c.tests.map((t) => t.key.split('/')[0]))]);
      for (const d of c.byData) expect(['holds', 'does not hold', 'inconclusive'], `${c.id} ${d.data}`).toContain(d.verdict);
      // Test scale logs 3 analysis points per stage: too few for a slope, so never "does not hold".
      expect(c.verdict, c.id).not.toBe('does not hold');
      expect(Object.keys(c.numbers).length, c.id).toBeGreaterThan(0);
      for (const v of Object.values(c.numbers)) expect(Number.isFinite(v)).toBe(true);
      expect(html).toContain(esc(c.statement));
    }
    // Each distinct run trained once and shared: the layerwise run of each seed serves all six claim and
    // measurement figures and F-family; F-budget trains its own at 4 and 12 steps per stage (they log more
    // often); F-family adds one run (seed 1) of each of the five model families; F-cgan two emoji runs
    // (cgan and the conditional FSR learner), F-acgan one, F-text2img two (text2img and the FSR learner on the
    // text); F-attention and F-style one
    // sagan and one stylegan run; F-sparsity and F-budget the layerwise runs without homeostasis (2 plain, 4 at the budgets).
    expect(first.runs).toHaveLength(38);
    expect(first.runs.every((r) => r.status === 'trained')).toBe(true);
    expect(first.runs.filter((r) => r.name === 'teacher/layerwise' && r.figures.length === 7).map((r) => r.seed)).toEqual([1, 2]);
    expect(first.runs.filter((r) => r.figures.includes('F-family')).map((r) => r.name).sort()).toEqual(
      ['teacher/dcgan', 'teacher/end-to-end', 'teacher/lapgan', 'teacher/layerwise', 'teacher/layerwise', 'teacher/progan', 'teacher/random-lower@3', 'teacher/random-lower@3', 'teacher/srgan', 'teacher/stacked'],
    );
    expect(first.figures.find((f) => f.name === 'F-budget')!.tables[0].rows.length).toBeGreaterThan(0);
    expect(html).toContain('<section id="F-budget">');
    expect((await readdir(join(out(), 'runs'))).sort()).toEqual(first.runs.map((r) => r.id).sort());
  }, 600_000);

  it('a second call reuses every complete run and the cached analyses, with the same numbers', async () => {
    const res = await reproduce({ out: out(), scale: 'test', train: false, log: quiet });
    expect(res.summary.runs.map((r) => r.status)).toEqual(first.runs.map(() => 'reused'));
    expect(res.summary.claims).toEqual(first.claims);
  }, 120_000);

  it('a run folder without its completion marker is resumed from its checkpoint, not retrained', async () => {
    const lw = first.runs.find((r) => r.name === 'teacher/layerwise' && r.seed === 1 && r.figures.includes('F-moments'))!;
    await rm(join(lw.dir, 'reproduce.json'));
    const res = await reproduce({ out: out(), scale: 'test', only: ['F-moments'], log: quiet, pages: false });
    expect(res.summary.runs.map((r) => r.status)).toEqual(['resumed', 'reused']);
    expect(res.summary.claims).toEqual(first.claims.filter((c) => c.id === 'moments'));
    // pages: false leaves the full index in place.
    expect((await summaryOf(out())).figures).toHaveLength(first.figures.length);
    // A notebook reading the folder gets the figure without recomputing anything.
    const nb = await notebookFigure('F-sparsity', { runDir: out() });
    expect(nb.figure.claims).toEqual(first.claims.filter((c) => c.id === 'sparsity'));
    expect(nb.specs.length).toBe(nb.figure.charts.length);
  }, 120_000);

  it('--only draws only the figures named and trains only their runs', async () => {
    const dir = join(root, 'only');
    const res = await reproduce({ out: dir, scale: 'test', only: ['F-recovery', 'F-sparsity'], log: quiet });
    expect(res.summary.runs.map((r) => `${r.name} s${r.seed}`)).toEqual(['teacher/layerwise s1', 'teacher/layerwise s2', 'teacher/layerwise-free s1', 'teacher/layerwise-free s2']);
    expect(res.summary.figures.map((f) => f.name)).toEqual(['F-recovery', 'F-sparsity']);
    const files = await readdir(join(dir, 'figures'));
    expect(files.filter((f) => f.endsWith('.svg')).sort()).toEqual(['F-recovery.svg', 'F-sparsity-histogram.svg', 'F-sparsity.svg']);
    await expect(reproduce({ out: dir, scale: 'test', only: ['F-moments', 'F-layerwise'], train: false, log: quiet })).rejects.toThrow(/is not complete/);
    // A figure its file leaves out of a scale is refused by name at that scale.
    await expect(reproduce({ out: dir, scale: 'quick', only: ['F-cgan'], train: false, log: quiet })).rejects.toThrow(/F-cgan is not drawn at scale quick .*use --scale test or --scale full/);
  }, 120_000);

  it('--jobs 2 trains the runs in two processes, bit for bit as one process with one replica per run', async () => {
    const lines: string[] = [];
    const one = await reproduce({ out: join(root, 'jobs1'), scale: 'test', only: ['F-sparsity'], log: quiet, jobs: 1, workers: 1 });
    const two = await reproduce({ out: join(root, 'jobs2'), scale: 'test', only: ['F-sparsity'], log: (l) => lines.push(l), jobs: 2, workers: 1 });
    expect(lines.some((l) => /training in 2 processes, 1 replica\(s\) each/.test(l))).toBe(true);
    expect(two.summary.runs.map((r) => [r.id, r.status])).toEqual(one.summary.runs.map((r) => [r.id, 'trained']));
    expect(two.summary.claims).toEqual(one.summary.claims);
    for (const [a, b] of one.summary.runs.map((r, i) => [r, two.summary.runs[i]] as const)) {
      const files = (await readdir(join(a.dir, 'figures'))).filter((f) => f.startsWith('samples-'));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect((await readFile(join(b.dir, 'figures', f))).equals(await readFile(join(a.dir, 'figures', f))), `${a.id} ${f}`).toBe(true);
    }
    // A run that fails in a training process fails the pool with its message (here: not complete, training off).
    await expect(reproduce({ out: join(root, 'jobs-none'), scale: 'test', only: ['F-recovery'], log: quiet, jobs: 2, train: false })).rejects.toThrow(/is not complete/);
  }, 300_000);
});
