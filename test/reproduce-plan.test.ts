/**
 * The figure experiments as data (src/experiments/plan.ts) and the figures' claims
 * (src/experiments/claims.ts, judged with each drawing by buildFigure) on planted results: shared runs, config cutting, user errors naming the field,
 * and each claim's verdict on numbers where the answer is known.
 */
import { describe, expect, it } from 'vitest';
import { cutConfig, loadCatalogue, loadFigureSpecs, parseCatalogue, parseFigureSpec, planFigures, runSteps, SCALES, type FigureSpec, type PlannedRun } from '../src/experiments/plan.js';
import { SPARSE_FRACTION } from '../src/experiments/claims.js';
import { buildFigure } from '../src/experiments/summary.js';
import type { RunResult } from '../src/report/figure-data.js';
import { resolveConfig } from '../src/train/config.js';
import { readJsonFile } from '../src/util/config.js';
import type { AnalysisFile } from '../src/analysis/validate.js';

const DIR = 'experiments/figures';

describe('figure experiments and their plan', () => {
  it('every scale plans each distinct run once, shared by every figure that names it', async () => {
    const specs = await loadFigureSpecs(DIR);
    expect(specs.map((s) => s.name)).toEqual(['F-alignment', 'F-layerwise', 'F-locality', 'F-moments', 'F-recovery', 'F-sparsity']);
    const cat = await loadCatalogue(DIR);
    for (const scale of SCALES) {
      const plan = await planFigures(specs, cat, scale);
      const pairs = new Set(specs.flatMap((s) => s.scales[scale].runs.flatMap((r) => (s.scales[scale].seeds.length ? s.scales[scale].seeds : [1]).map((seed) => `${r}|${seed}`))));
      expect(plan.runs.length, scale).toBe(pairs.size);
      const lw = plan.runs.find((r) => r.name === 'teacher/layerwise' && r.seed === 1)!;
      expect(lw.figures.sort()).toEqual(specs.map((s) => s.name).sort());
      expect(lw.config.analysis.every).toBeGreaterThan(0);
      // Each figure's run ids point into the plan.
      for (const f of plan.figures) for (const id of f.runs) expect(plan.runs.some((r) => r.id === id)).toBe(true);
    }
    const quick = await planFigures(specs, cat, 'quick');
    expect(quick.runs.map((r) => r.name).sort()).toEqual(['teacher/end-to-end', 'teacher/layerwise', 'teacher/layerwise-crop', 'teacher/random-lower@2', 'teacher/random-lower@3']);
    const rl2 = quick.runs.find((r) => r.name === 'teacher/random-lower@2')!;
    expect(rl2.config.generator.resolutions).toEqual([8, 16]);
    expect(rl2.fullConfig.generator.resolutions).toEqual([8, 16, 32]);
    // End-to-end gets the total layerwise budget at the top level.
    const e2e = quick.runs.find((r) => r.method === 'end-to-end')!;
    expect(runSteps(e2e.config)).toBe(runSteps(quick.runs.find((r) => r.method === 'layerwise')!.config));
  });

  it('cutConfig keeps the lowest levels of resolutions, channels and per-level steps', () => {
    const c = resolveConfig({ data: 'x.json', generator: { resolutions: [4, 8, 16], channels: [8, 9, 10] }, train: { stepsByLevel: [5, 6, 7], mode: 'random-lower' } });
    const k = cutConfig(c, 2);
    expect(k.generator.resolutions).toEqual([4, 8]);
    expect(k.generator.channels).toEqual([8, 9]);
    expect(k.train.stepsByLevel).toEqual([5, 6]);
    expect(runSteps(k)).toBe(6);
    expect(cutConfig(c, 0)).toBe(c);
    expect(() => cutConfig(c, 4)).toThrow(/levels = 4 but the config has 3 resolutions/);
  });

  it('mistakes in figure files and the catalogue are user errors naming the field', async () => {
    const good = (await readJsonFile(`${DIR}/F-moments.json`)) as Record<string, unknown>;
    expect(() => parseFigureSpec({ ...good, name: 'moments' }, 'f.json')).toThrow(/f\.json: name must look like F-<name>/);
    expect(() => parseFigureSpec({ ...good, builder: 'nope' }, 'f.json')).toThrow(/builder must be one of/);
    expect(() => parseFigureSpec({ ...good, analyses: ['momentz'] }, 'f.json')).toThrow(/analyses: unknown 'momentz'/);
    expect(() => parseFigureSpec({ ...good, colour: 1 }, 'f.json')).toThrow(/unknown key f\.json\.colour/);
    const { full: _f, ...noFull } = good.scales as Record<string, unknown>;
    expect(() => parseFigureSpec({ ...good, scales: noFull }, 'f.json')).toThrow(/no entry for scale 'full'/);
    const cat = (await readJsonFile(`${DIR}/runs.json`)) as { runs: Record<string, Record<string, unknown>> };
    const bad = structuredClone(cat);
    (bad.runs.quick['teacher/layerwise'] as Record<string, unknown>).levls = 2;
    expect(() => parseCatalogue(bad)).toThrow(/unknown key run\.levls \(did you mean run\.levels\?\)/);
    const spec = parseFigureSpec({ ...good, scales: { test: { runs: ['teacher/nope'] }, quick: { runs: ['teacher/layerwise'] }, full: { runs: ['teacher/layerwise'] } } }, 'f.json');
    await expect(planFigures([spec], parseCatalogue(cat), 'test')).rejects.toThrow(/names 'teacher\/nope', which the catalogue has no entry for/);
    await expect(loadFigureSpecs(DIR, ['F-nope'])).rejects.toThrow(/--only: unknown figure 'F-nope'/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Claims on planted numbers.

const CONFIG = resolveConfig({ data: 't.json', generator: { resolutions: [8, 16, 32], channels: [16, 16, 16], patch: 4 }, analysis: { every: 10 } });

function planted(method: string, over: Partial<RunResult> = {}, resolutions = [8, 16, 32]): RunResult {
  const config = { ...CONFIG, generator: { ...CONFIG.generator, resolutions } };
  const run = { id: `${method}-${resolutions.length}`, name: method, method, data: 'teacher', seed: 1, levels: resolutions.length, config, fullConfig: CONFIG, figures: [], analyses: [] } as PlannedRun;
  return { run, dir: '/nowhere', analyses: {}, metrics: [], samples: {}, tiles: null, recoveryRandom: null, ...over };
}

const file = (what: string, results: Record<string, unknown>) => ({ what, source: '', backend: 'cpu', seconds: 0, results }) as unknown as AnalysisFile;
const method = { computation: '', params: { samples: 10 } };

function spec(builder: FigureSpec['builder']): FigureSpec {
  const s = { runs: ['x'], seeds: [] };
  return { name: `F-${builder}`, title: 'T', about: 'About.', builder, analyses: [], chart: '', scales: { test: s, quick: s, full: s } };
}

function sparsityReport(fractions: number[]) {
  return {
    kind: 'sparsity',
    method,
    layers: fractions.map((f, i) => ({ layer: i + 1, resolution: 8 << i, channels: 16, positions: 100, exact: { meanActive: 16 * f, stdActive: 1, activeFraction: f, histogram: [0.5, 0.5] }, relative: { meanActive: 16 * f, stdActive: 1, activeFraction: f, histogram: [1] }, hoyer: 0.5, emptyFraction: 0, maxActivation: 1 })),
  };
}

describe('figure claims on planted results', () => {
  it(`sparsity holds when every layer has at most ${SPARSE_FRACTION} of its channels active and fewer than random init`, () => {
    const run = (learner: number[]) => planted('layerwise', { analyses: { sparsity: file('sparsity', { learner: sparsityReport(learner), 'random-init': sparsityReport([0.5, 0.5, 0.5]), teacher: sparsityReport([0.12, 0.12, 0.12]) }) as AnalysisFile<'sparsity'> } });
    const ok = buildFigure(spec('sparsity'), [run([0.2, 0.1, 0.25])]);
    expect(ok.claims[0]).toMatchObject({ id: 'sparsity', holds: true });
    expect(ok.claims[0].numbers['teacher/r16/learner']).toBe(0.1);
    expect(ok.charts.map((c) => c.file)).toEqual(['F-sparsity', 'F-sparsity-histogram']);
    const bad = buildFigure(spec('sparsity'), [run([0.2, 0.3, 0.1])]).claims[0];
    expect(bad.holds).toBe(false);
    expect(bad.detail).toMatch(/teacher\/r16: 0\.3 of 16 channels active/);
    expect(bad.detail).not.toMatch(/r8|r32/);
  });

  it('moments holds when orders 1 and 2 fall within every stage, and names the stage where one does not', () => {
    const line = (stage: number, step: number, o1: number, o2: number) => ({ stage, step, resolution: 8 << (stage - 1), [`moments/r${8 << (stage - 1)}/o1`]: o1, [`moments/r${8 << (stage - 1)}/o2`]: o2 });
    const metrics = [line(1, 10, 2, 3), line(1, 20, 1, 1.5), line(2, 30, 5, 5), line(2, 40, 4, 6)];
    const c = buildFigure(spec('moments'), [planted('layerwise', { metrics })]).claims[0];
    expect(c.holds).toBe(false);
    expect(c.detail).toMatch(/stage2\/r16\/o2: 5 at step 30 -> 6 at step 40/);
    expect(c.numbers['teacher/stage1/r8/o1/first']).toBe(2);
    metrics[3] = line(2, 40, 4, 4);
    expect(buildFigure(spec('moments'), [planted('layerwise', { metrics })]).claims[0].holds).toBe(true);
    expect(buildFigure(spec('moments'), [planted('layerwise')]).claims[0].holds).toBeNull();
  });

  it('alignment needs 3 reference standard deviations and 1.25x the reference mean', () => {
    const rep = (observed: number) => ({ kind: 'alignment', method, reference: 32, target: 16, dim: 48, observed: { meanMatched: observed, meanBest: observed, meanAll: 0.1 }, random: { meanMatched: 0.3, stdMatched: 0.02, meanBest: 0.3, meanAll: 0.1, draws: 5 }, pairs: [] });
    const at = (observed: number) => buildFigure(spec('alignment'), [planted('layerwise', { analyses: { alignment: file('alignment', { 'D_r8 vs G_r8': rep(observed) }) as AnalysisFile<'alignment'> } })]).claims[0];
    expect(at(0.5).holds).toBe(true);
    // 0.37 is 3.5 sd above but only 1.23x the reference: not "well above".
    expect(at(0.37).holds).toBe(false);
    expect(at(0.37).detail).toMatch(/matched 0\.37 vs random 0\.3 \+- 0\.02 \(1\.23x, 3\.5 sd\)/);
  });

  it('layerwise compares SWD with the random-lower run of the same resolution, at every level above the first', () => {
    const swd = (levels: [number, number][]) => file('swd', { learner: { kind: 'swd', method, levels: levels.map(([resolution, v]) => ({ resolution, patch: 7, descriptors: 10, swd: v })) } }) as AnalysisFile<'swd'>;
    const lw = planted('layerwise', { analyses: { swd: swd([[8, 0.5], [16, 0.2], [32, 0.25]]) } });
    const rl2 = planted('random-lower', { analyses: { swd: swd([[8, 9], [16, 0.3]]) } }, [8, 16]);
    const rl3 = planted('random-lower', { analyses: { swd: swd([[8, 9], [16, 9], [32, 0.2]]) } });
    const out = buildFigure(spec('layerwise'), [lw, rl2, rl3]);
    const c = out.claims[0];
    expect(c.holds).toBe(false);
    expect(c.numbers).toEqual({ 'teacher/r16/layerwise': 0.2, 'teacher/r16/randomLower': 0.3, 'teacher/r32/layerwise': 0.25, 'teacher/r32/randomLower': 0.2 });
    expect(c.detail).toMatch(/r16: SWD 0\.2 \(layerwise\) vs 0\.3 \(random lower\), 1\.5x better; teacher r32: .*layerwise worse by 1\.25x/);
    // Random-lower runs contribute only their top resolution to the table (their lower heads are untrained).
    expect(out.tables[0].rows.filter((r) => r[2] === 'random lower layers').map((r) => r[1])).toEqual([16, 32]);
    expect(buildFigure(spec('layerwise'), [lw]).claims[0].holds).toBeNull();
  });
});
