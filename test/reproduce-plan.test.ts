/**
 * The figure experiments as data (src/experiments/plan.ts) and the figures' claims
 * (src/experiments/claims.ts, judged with each drawing by buildFigure) on planted results: shared runs, config cutting, user errors naming the field,
 * and each claim's verdict on numbers where the answer is known.
 */
import { describe, expect, it } from 'vitest';
import { configKey, cutConfig, loadCatalogue, loadFigureSpecs, parseCatalogue, parseFigureSpec, planFigures, runSteps, SCALES, shortHash, type FigureSpec, type PlannedRun } from '../src/experiments/plan.js';
import { SPARSE_FRACTION } from '../src/experiments/claims.js';
import { buildFigure } from '../src/experiments/summary.js';
import type { RunResult } from '../src/report/figure-data.js';
import { resolveConfig } from '../src/train/config.js';
import { readJsonFile } from '../src/util/config.js';
import type { AnalysisFile } from '../src/analysis/validate.js';

const DIR = 'experiments/figures';

describe('figure experiments and their plan', () => {
  it('every scale plans each distinct run once per seed (and budget), shared by every figure that names it', async () => {
    const specs = await loadFigureSpecs(DIR);
    expect(specs.map((s) => s.name)).toEqual(['F-acgan', 'F-alignment', 'F-attention', 'F-budget', 'F-cgan', 'F-family', 'F-layerwise', 'F-locality', 'F-modes', 'F-moments', 'F-recovery', 'F-sparsity', 'F-style', 'F-text2img']);
    const cat = await loadCatalogue(DIR);
    expect(cat.seeds).toEqual({ test: 2, quick: 3, full: 5 });
    for (const scale of SCALES) {
      const plan = await planFigures(specs, cat, scale);
      const seeds = plan.seeds;
      // Expected distinct (run, budget, seed) triples, from the specs and the catalogue alone.
      const triples = new Set(
        specs.flatMap((s) =>
          (s.scales[scale]?.runs ?? []).flatMap((name) => {
            const e = cat.runs[scale][name];
            const own = e.maxSeeds ? seeds.slice(0, e.maxSeeds) : seeds;
            // A budget equal to the scale's own (quick: 400) trains the very same config as the plain run.
            const own400 = scale === 'quick' ? 400 : scale === 'test' ? 12 : -1;
            return (s.scales[scale]!.budgets.length ? s.scales[scale]!.budgets : [own400]).flatMap((b) => own.map((seed) => `${name}|${b === own400 ? 'own' : b}|${seed}`));
          }),
        ),
      );
      // At test scale the budget runs log more often (every budget/20 steps) than the plain runs: not shared.
      if (scale !== 'test') expect(plan.runs.length, scale).toBe(triples.size);
      expect(new Set(plan.runs.map((r) => r.id)).size).toBe(plan.runs.length);
      const lw = plan.runs.find((r) => r.name === 'teacher/layerwise' && r.seed === 1 && r.figures.includes('F-sparsity'))!;
      // F-modes trains no runs of the catalogue (the 2-D lab, src/experiments/modes.ts); F-attention, F-style and
      // the conditional figures only their own families' runs (style-figures.ts, conditional-figure.ts).
      const own = specs.filter((s) => s.name === 'F-budget' || ['modes', 'conditional', 'attention', 'style'].includes(s.builder)).map((s) => s.name);
      // At full, F-family compares the families on the small teacher with the small teacher's own FSR runs
      // (small/*), while the claims judge the paper-scale teacher (teacher/*).
      if (scale === 'full') own.push('F-family');
      expect(lw.figures.filter((f) => f !== 'F-budget').sort()).toEqual(specs.filter((s) => s.scales[scale]).map((s) => s.name).filter((n) => !own.includes(n)).sort());
      const family = plan.runs.filter((r) => r.figures.includes('F-family'));
      if (family.length) expect(new Set(family.filter((r) => r.name.startsWith('teacher/') || r.name.startsWith('small/')).map((r) => r.data)), scale).toEqual(new Set(['teacher-small']));
      expect(lw.config.analysis.every).toBeGreaterThan(0);
      // Runs no claim is judged on keep one seed; the others get every seed of the scale.
      const e2e = plan.runs.filter((r) => r.method === 'end-to-end');
      expect(e2e.length, scale).toBeGreaterThan(0);
      expect(e2e.every((r) => r.seed === 1)).toBe(true);
      expect(plan.runs.filter((r) => r.name === 'teacher/layerwise' && r.figures.includes('F-sparsity')).map((r) => r.seed)).toEqual(seeds);
      for (const f of plan.figures) for (const id of f.runs) expect(plan.runs.some((r) => r.id === id)).toBe(true);
    }
    const quick = await planFigures(specs, cat, 'quick');
    expect([...new Set(quick.runs.map((r) => r.name))].sort()).toEqual(['teacher/dcgan', 'teacher/end-to-end', 'teacher/lapgan', 'teacher/layerwise', 'teacher/layerwise-crop', 'teacher/layerwise-free', 'teacher/progan', 'teacher/random-lower@2', 'teacher/random-lower@3', 'teacher/srgan', 'teacher/stacked']);
    // The conditional figures (real-data runs) and the SAGAN and StyleGAN figures (heavy per step) are not drawn
    // at quick (their files say "quick": null), which keeps quick within minutes.
    expect(quick.figures.map((f) => f.spec.name)).not.toContain('F-cgan');
    expect(specs.filter((s) => s.scales.quick === null).map((s) => s.name)).toEqual(['F-acgan', 'F-attention', 'F-cgan', 'F-style', 'F-text2img']);
    // F-budget at quick: budgets 100 and 400, the last shared with the plain quick runs.
    const budget = quick.figures.find((f) => f.spec.name === 'F-budget')!;
    const steps = budget.runs.map((id) => quick.runs.find((r) => r.id === id)!.config.train.steps);
    expect([...new Set(steps)].sort((a, b) => a - b)).toEqual([100, 400]);
    // Its 400-step runs of the shipped recipe and of the recipe without homeostasis are F-sparsity's, 3 seeds each.
    expect(budget.runs.filter((id) => quick.figures.find((f) => f.spec.name === 'F-sparsity')!.runs.includes(id))).toHaveLength(6);
    expect(quick.runs.filter((r) => r.method === 'layerwise-free').every((r) => r.config.generator.homeostasis.active === 0)).toBe(true);
    const rl2 = quick.runs.find((r) => r.name === 'teacher/random-lower@2')!;
    expect(rl2.config.generator.resolutions).toEqual([8, 16]);
    expect(rl2.fullConfig.generator.resolutions).toEqual([8, 16, 32]);
    // End-to-end gets the total layerwise budget at the top level.
    const e2e = quick.runs.find((r) => r.method === 'end-to-end')!;
    expect(runSteps(e2e.config)).toBe(runSteps(quick.runs.find((r) => r.method === 'layerwise' && r.config.train.steps === 400)!.config));
    // --seeds overrides the catalogue's count.
    const two = await planFigures(specs, cat, 'quick', 2);
    expect(two.seeds).toEqual([1, 2]);
    await expect(planFigures(specs, cat, 'quick', 0)).rejects.toThrow(/--seeds must be a whole number/);
  });

  it('F-family measures FID and KID on its image-data runs only (the teacher has no extractor)', async () => {
    const specs = await loadFigureSpecs(DIR, ['F-family']);
    const full = await planFigures(specs, await loadCatalogue(DIR), 'full');
    const emoji = full.runs.filter((r) => r.data === 'emoji');
    const teacher = full.runs.filter((r) => r.data !== 'emoji');
    expect(emoji.length).toBeGreaterThan(0);
    expect(teacher.length).toBeGreaterThan(0);
    for (const r of emoji) expect(r.analyses, r.id).toEqual(['swd', 'moments', 'fid', 'kid']);
    for (const r of teacher) expect(r.analyses, r.id).toEqual(['swd', 'moments']);
  });

  it('run ids hash the config\'s differences from the defaults: a field at its default is invisible, a change is not', () => {
    const base = resolveConfig({ data: 'x.json', generator: { resolutions: [8, 16], channels: [8, 8] } });
    const key = configKey(base);
    expect(key).toEqual({ data: 'x.json', generator: { channels: [8, 8], resolutions: [8, 16] } });
    // Stating a default explicitly (as a config written before the field existed would not) changes nothing.
    expect(configKey(resolveConfig({ data: 'x.json', generator: { resolutions: [8, 16], channels: [8, 8], head: 'linear' }, train: { batch: base.train.batch } }))).toEqual(key);
    expect(shortHash(configKey(resolveConfig({ data: 'x.json', generator: { resolutions: [8, 16], channels: [8, 8] }, train: { batch: base.train.batch + 1 } })))).not.toBe(shortHash(key));
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

function planted(method: string, over: Partial<RunResult> = {}, resolutions = [8, 16, 32], seed = 1): RunResult {
  const config = { ...CONFIG, generator: { ...CONFIG.generator, resolutions } };
  const run = { id: `${method}-${resolutions.length}-s${seed}`, name: method, method, data: 'teacher', seed, levels: resolutions.length, config, fullConfig: CONFIG, figures: [], analyses: [] } as PlannedRun;
  return { run, dir: '/nowhere', analyses: {}, metrics: [], samples: {}, tiles: null, recoveryRandom: null, ...over };
}

const file = (what: string, results: Record<string, unknown>) => ({ what, source: '', backend: 'cpu', seconds: 0, results }) as unknown as AnalysisFile;
const method = { computation: '', params: { samples: 10 } };

function spec(builder: FigureSpec['builder']): FigureSpec {
  const s = { runs: ['x'], budgets: [] };
  return { name: `F-${builder}`, title: 'T', about: 'About.', builder, analyses: [], chart: '', scales: { test: s, quick: s, full: s } };
}

function sparsityReport(fractions: number[]) {
  return {
    kind: 'sparsity',
    method,
    layers: fractions.map((f, i) => ({ layer: i + 1, resolution: 8 << i, channels: 16, positions: 100, exact: { meanActive: 16 * f, stdActive: 1, activeFraction: f, histogram: [0.5, 0.5] }, relative: { meanActive: 16 * f, stdActive: 1, activeFraction: f, histogram: [1] }, hoyer: 0.5, emptyFraction: 0, maxActivation: 1 })),
  };
}

/**
 * A settled trace over stage steps 10..200 at `res`, as the analysis hooks log them: from `start` straight
 * to `value` over the first 5 points, then flat (moved, then stopped: converged, src/experiments/verdict.ts).
 */
function settled(res: number, key: string, value: number, stage = 1, start = value + 0.2): Record<string, number>[] {
  return Array.from({ length: 20 }, (_, i) => ({ stage, resolution: res, step: 10 * (i + 1), stageStep: 10 * (i + 1), [key]: i < 5 ? start + ((value - start) * i) / 5 : value }));
}

describe('figure claims on planted results', () => {
  it(`sparsity holds when every layer has at most ${SPARSE_FRACTION} of its channels active (and fewer than random init) over seeds`, () => {
    const run = (learner: number[], seed: number, metrics: Record<string, number>[] = []) =>
      planted('layerwise', { metrics, analyses: { sparsity: file('sparsity', { learner: sparsityReport(learner), 'random-init': sparsityReport([0.5, 0.5, 0.5]), teacher: sparsityReport([0.12, 0.12, 0.12]) }) as AnalysisFile<'sparsity'> } }, [8, 16, 32], seed);
    const logged = (f: number[]) => [8, 16, 32].flatMap((r, i) => settled(r, `sparsity/r${r}/active`, f[i], i + 1));
    const seeds = (fs: number[][]) => fs.map((f, i) => run(f, i + 1, logged(f)));
    const ok = buildFigure(spec('sparsity'), seeds([[0.2, 0.1, 0.2], [0.21, 0.11, 0.19], [0.19, 0.1, 0.21]]));
    expect(ok.claims[0]).toMatchObject({ id: 'sparsity', verdict: 'holds' });
    expect(ok.claims[0].tests.map((t) => t.key)).toEqual(['teacher/r8', 'teacher/r16', 'teacher/r32']);
    expect(ok.claims[0].numbers['teacher/r16/mean']).toBeCloseTo(0.31 / 3, 12);
    expect(ok.claims[0].budget.seeds).toEqual([1, 2, 3]);
    expect(ok.claims[0].budget.samples).toEqual({ sparsity: 10 });
    expect(ok.charts.map((c) => c.file)).toEqual(['F-sparsity', 'F-sparsity-histogram']);
    // r16 at 0.3 on every seed, converged: does not hold, and the detail names r16 only.
    const bad = buildFigure(spec('sparsity'), seeds([[0.2, 0.3, 0.1], [0.2, 0.31, 0.1], [0.2, 0.29, 0.1]])).claims[0];
    expect(bad.verdict).toBe('does not hold');
    expect(bad.detail).toMatch(/teacher\/r16: 0\.3 \[/);
    expect(bad.detail).not.toMatch(/r8|r32/);
    // The same numbers without logged traces: convergence unknown, so never "does not hold".
    const unlogged = buildFigure(spec('sparsity'), [[0.2, 0.3, 0.1], [0.2, 0.31, 0.1], [0.2, 0.29, 0.1]].map((f, i) => run(f, i + 1))).claims[0];
    expect(unlogged.verdict).toBe('inconclusive');
    // One seed: inconclusive, however good the number.
    expect(buildFigure(spec('sparsity'), [run([0.1, 0.1, 0.1], 1)]).claims[0].verdict).toBe('inconclusive');
  });

  it('sparsity is judged on runs without bias homeostasis (layerwise-free), not on runs whose sparsity it sets', () => {
    const run = (m: string, learner: number[], seed: number, homeostasis = 0) => {
      const r = planted(m, { metrics: [8, 16, 32].flatMap((res, i) => settled(res, `sparsity/r${res}/active`, learner[i], i + 1)), analyses: { sparsity: file('sparsity', { learner: sparsityReport(learner), 'random-init': sparsityReport([0.5, 0.5, 0.5]), teacher: sparsityReport([0.12, 0.12, 0.12]) }) as AnalysisFile<'sparsity'> } }, [8, 16, 32], seed);
      const generator = { ...r.run.config.generator, homeostasis: { ...r.run.config.generator.homeostasis, active: homeostasis } };
      return { ...r, run: { ...r.run, config: { ...r.run.config, generator } } };
    };
    // Homeostasis runs at its target 0.125 (set), free runs at 0.3 (learned, not sparse enough).
    const set = [1, 2, 3].map((sd) => run('layerwise', [0.125, 0.125, 0.125 + sd / 1000], sd, 0.125));
    const free = [1, 2, 3].map((sd) => run('layerwise-free', [0.3, 0.3, 0.3 + sd / 1000], sd));
    const both = buildFigure(spec('sparsity'), [...set, ...free]);
    expect(both.claims[0].verdict).toBe('does not hold');
    expect(both.claims[0].numbers['teacher/r8/mean']).toBeCloseTo(0.3, 12);
    // Both learners are drawn, the free one labelled as such; teacher and random init once per seed.
    const subjects = both.tables[0].rows.filter((r) => r[1] === 8).map((r) => r[3]);
    expect(subjects.filter((x) => x === 'teacher')).toHaveLength(3);
    expect(subjects).toContain('learner (layerwise, no homeostasis)');
    expect(subjects).toContain('learner (layerwise, homeostasis a = 0.125)');
    // Homeostasis runs alone: nothing the claim can read, so no verdict from them.
    const only = buildFigure(spec('sparsity'), set).claims[0];
    expect(only.tests).toEqual([]);
    expect(only.verdict).toBe('inconclusive');
    // Layerwise runs without homeostasis are read where there are no layerwise-free runs (the full scale).
    expect(buildFigure(spec('sparsity'), [1, 2, 3].map((sd) => run('layerwise', [0.1, 0.1, 0.1 + sd / 1000], sd))).claims[0].verdict).toBe('holds');
  });

  it('moments: last / first error below 1 at every stage and order 1, 2, over seeds', () => {
    const line = (stage: number, step: number, o1: number, o2: number) => ({ stage, step, stageStep: step, resolution: 8 << (stage - 1), [`moments/r${8 << (stage - 1)}/o1`]: o1, [`moments/r${8 << (stage - 1)}/o2`]: o2 });
    // Errors fall from 2 to 1 within 50 steps, then stay: converged well below the first value.
    const stage = (st: number, end1: number, end2: number) => Array.from({ length: 20 }, (_, i) => line(st, 10 * (i + 1), i < 5 ? 2 - i * 0.2 : end1, i < 5 ? 2 - i * 0.2 : end2));
    const runs = (end2: number) => [1, 2, 3].map((seed) => planted('layerwise', { metrics: [...stage(1, 1, 1 + seed * 0.01), ...stage(2, 1, end2 + seed * 0.01)] }, [8, 16, 32], seed));
    const c = buildFigure(spec('moments'), runs(1)).claims[0];
    expect(c.verdict).toBe('holds');
    expect(c.tests.map((t) => t.key)).toEqual(['teacher/stage1/r8/o1', 'teacher/stage1/r8/o2', 'teacher/stage2/r16/o1', 'teacher/stage2/r16/o2']);
    expect(c.numbers['teacher/stage1/r8/o1/mean']).toBeCloseTo(0.5, 12);
    // Stage 2's second-order error ends above where it started (2.4 > 2): does not hold, named.
    const bad = buildFigure(spec('moments'), runs(2.4)).claims[0];
    expect(bad.verdict).toBe('does not hold');
    expect(bad.detail).toMatch(/stage2\/r16\/o2/);
    expect(buildFigure(spec('moments'), [planted('layerwise')]).claims[0].verdict).toBe('inconclusive');
  });

  it('alignment needs 3 reference standard deviations and 1.25x the reference mean', () => {
    const method = { computation: '', params: { randomDraws: 7, seed: 0 } };
    const rep = (observed: number) => ({ kind: 'alignment', method, reference: 32, target: 16, dim: 48, observed: { meanMatched: observed, meanBest: observed, meanAll: 0.1 }, random: { meanMatched: 0.3, stdMatched: 0.02, meanBest: 0.3, meanAll: 0.1, draws: 5 }, pairs: [] });
    // Matched |cos| rises from the random reference's 0.3 and settles; the first line also logs the reference.
    const metrics = (observed: number) => settled(8, 'alignment/r8/matched', observed, 1, 0.3).map((m, i) => (i ? m : { ...m, 'alignment/r8/random': 0.3, 'alignment/r8/random_std': 0.02 }));
    const at = (observed: number) =>
      buildFigure(
        spec('alignment'),
        [0, 0.001, 0.002].map((d, i) => planted('layerwise', { metrics: metrics(observed + d), analyses: { alignment: file('alignment', { 'D_r8 vs G_r8': rep(observed + d) }) as AnalysisFile<'alignment'> } }, [8, 16, 32], i + 1)),
      ).claims[0];
    expect(at(0.5).verdict).toBe('holds');
    // Its budget names the reference's draws (the alignment reads weights, so there is no sample count).
    expect(at(0.5).budget).toMatchObject({ seeds: [1, 2, 3], samples: { 'alignment random draws': 7 } });
    // 0.37 is 3.5 sd above but only 1.23x the reference: not "well above".
    const c = at(0.37);
    expect(c.verdict).toBe('does not hold');
    expect(c.tests.find((t) => t.key.endsWith('/sigmas'))!.verdict).toBe('holds');
    expect(c.tests.find((t) => t.key.endsWith('/ratio'))!.mean).toBeCloseTo(0.371 / 0.3, 10);
    expect(c.detail).toMatch(/D_r8\/ratio: 1\.24 \[/);
  });

  it('alignment pools the random reference sd over seeds, so one seed with a near-zero sd does not blur the verdict', () => {
    const rep = (observed: number, sd: number) => ({ kind: 'alignment', method, reference: 32, target: 16, dim: 48, observed: { meanMatched: observed, meanBest: observed, meanAll: 0.1 }, random: { meanMatched: 0.3, stdMatched: sd, meanBest: 0.3, meanAll: 0.1, draws: 5 }, pairs: [] });
    // Matched |cos| rises from the random reference's 0.3 and settles; the first line also logs the reference.
    const metrics = (observed: number) => settled(8, 'alignment/r8/matched', observed, 1, 0.3).map((m, i) => (i ? m : { ...m, 'alignment/r8/random': 0.3, 'alignment/r8/random_std': 0.02 }));
    const sds = [0.02, 1e-6, 0.02];
    const c = buildFigure(
      spec('alignment'),
      sds.map((sd, i) => planted('layerwise', { metrics: metrics(0.5 + i / 1000), analyses: { alignment: file('alignment', { 'D_r8 vs G_r8': rep(0.5 + i / 1000, sd) }) as AnalysisFile<'alignment'> } }, [8, 16, 32], i + 1)),
    ).claims[0];
    const sigmas = c.tests.find((t) => t.key.endsWith('/sigmas'))!;
    // Per-seed sds would give 10, 200,001 and 10.1 sds: an interval over seeds reaching below 3.
    const pooled = Math.sqrt((0.02 ** 2 + 1e-12 + 0.02 ** 2) / 3);
    expect(sigmas.mean).toBeCloseTo((0.201 / pooled + 0.2 / pooled + 0.202 / pooled) / 3, 8);
    expect(sigmas.verdict).toBe('holds');
    expect(c.verdict).toBe('holds');
  });

  it('layerwise compares SWD with the random-lower run of the same resolution and seed, at every level above the first', () => {
    const swd = (levels: [number, number][]) => file('swd', { learner: { kind: 'swd', method, levels: levels.map(([resolution, v]) => ({ resolution, patch: 7, descriptors: 10, swd: v })) } }) as AnalysisFile<'swd'>;
    const o2 = (res: number, v: number, start?: number) => settled(res, `moments/r${res}/o2`, v, res === 32 ? 3 : 2, start);
    const runs = [1, 2, 3].flatMap((seed) => {
      const d = seed * 0.001;
      return [
        // Layerwise's errors fall from 3, the random-lower runs' from 2.2 and 1.2: ratios that move, then settle.
        planted('layerwise', { metrics: [...o2(16, 1, 3), ...o2(32, 1, 3)], analyses: { swd: swd([[8, 0.5], [16, 0.2 + d], [32, 0.25 + d]]) } }, [8, 16, 32], seed),
        planted('random-lower', { metrics: o2(16, 2), analyses: { swd: swd([[8, 9], [16, 0.3]]) } }, [8, 16], seed),
        planted('random-lower', { metrics: o2(32, 1), analyses: { swd: swd([[8, 9], [16, 9], [32, 0.2]]) } }, [8, 16, 32], seed),
      ];
    });
    const out = buildFigure(spec('layerwise'), runs);
    const c = out.claims[0];
    expect(c.tests.map((t) => [t.key, t.verdict])).toEqual([
      ['teacher/r16', 'holds'],
      ['teacher/r32', 'does not hold'],
    ]);
    expect(c.verdict).toBe('does not hold');
    expect(c.numbers['teacher/r16/mean']).toBeCloseTo((0.201 / 0.3 + 0.202 / 0.3 + 0.203 / 0.3) / 3, 12);
    expect(c.budget.steps).toEqual({ 'teacher layerwise': String(CONFIG.train.steps), 'teacher random-lower r16': String(CONFIG.train.steps), 'teacher random-lower r32': String(CONFIG.train.steps) });
    // Random-lower runs contribute only their top resolution to the table (their lower heads are untrained).
    expect([...new Set(out.tables[0].rows.filter((r) => r[2] === 'random lower layers').map((r) => r[1]))]).toEqual([16, 32]);
    expect(buildFigure(spec('layerwise'), [runs[0]]).claims[0].verdict).toBe('inconclusive');
    // The same SWDs while both runs are still learning at r16 (errors falling at a steady pace to the end,
    // layerwise's at half the random-lower run's, so their ratio is still): r16 no longer holds, because the
    // reference may yet catch up; the reason names it.
    const falling = (scale: number) => Array.from({ length: 20 }, (_, i) => ({ stage: 2, resolution: 16, step: 10 * (i + 1), stageStep: 10 * (i + 1), 'moments/r16/o2': scale * (4 - 0.1 * i) }));
    const learning = runs.map((r) =>
      r.run.method === 'random-lower' && r.run.config.generator.resolutions.length === 2
        ? { ...r, metrics: falling(1) }
        : r.run.method === 'layerwise'
          ? { ...r, metrics: [...falling(0.5), ...r.metrics.filter((m) => m.resolution === 32)] }
          : r,
    );
    const r16 = buildFigure(spec('layerwise'), learning).claims[0].tests.find((t) => t.key === 'teacher/r16')!;
    expect(r16.hi!).toBeLessThan(1);
    expect(r16.verdict).toBe('inconclusive');
    expect(r16.reason).toMatch(/reference is still improving: the random-lower run's order-2 moment error at r16 moved/);
  });

  it('F-budget judges every claim per budget and draws them', () => {
    const run = (steps: number, seed: number, f: number) => {
      const r = planted('layerwise', { metrics: [8, 16, 32].flatMap((res, i) => settled(res, `sparsity/r${res}/active`, f, i + 1)), analyses: { sparsity: file('sparsity', { learner: sparsityReport([f, f, f]), 'random-init': sparsityReport([0.5, 0.5, 0.5]) }) as AnalysisFile<'sparsity'> } }, [8, 16, 32], seed);
      return { ...r, run: { ...r.run, config: { ...r.run.config, train: { ...r.run.config.train, steps } } } };
    };
    const runs = [1, 2, 3].flatMap((seed) => [run(100, seed, 0.4 + seed / 100), run(400, seed, 0.1 + seed / 100)]);
    const fig = buildFigure(spec('budget'), runs);
    expect(fig.claims).toEqual([]);
    const sparsity = fig.tables[0].rows.filter((r) => r[0] === 'sparsity' && r[1] === 'teacher/r8');
    expect(sparsity.map((r) => [r[3], r[9]])).toEqual([
      [100, 'does not hold'],
      [400, 'holds'],
    ]);
    expect(fig.charts).toHaveLength(1);
  });
});

describe('F-family on image data', () => {
  const swd = (v: number) => file('swd', { learner: { kind: 'swd', method, levels: [8, 16, 32].map((resolution) => ({ resolution, patch: 7, descriptors: 10, swd: v })) } });
  const fid = (v: number, floor: number) => file('fid', { learner: { kind: 'fid', method, fid: v, meanTerm: v / 2, covTerm: v / 2, floor } });
  const kid = (v: number) => file('kid', { learner: { kind: 'kid', method, kid: v, std: 0, subsets: 1, subsetSize: 10, floor: 0, floorStd: 0 } });

  it('draws FID at the top resolution with its real floor, and FID, floor and KID in the table (means over seeds)', () => {
    const runs = [1, 2].flatMap((seed) => [
      planted('layerwise', { analyses: { swd: swd(0.1), fid: fid(100 + seed, 80), kid: kid(0.05 * seed) } as RunResult['analyses'] }, [8, 16, 32], seed),
      planted('dcgan', { analyses: { swd: swd(0.2), fid: fid(150, 80), kid: kid(0.2) } as RunResult['analyses'] }, [32], seed),
    ]);
    const out = buildFigure(spec('family'), runs);
    const chart = out.charts.find((c) => c.file === 'F-family-fid');
    expect(chart).toBeDefined();
    const values = (chart!.spec as unknown as { data: { values: { method: string; value: number }[] } }).data.values;
    expect(values.find((v) => v.method === 'real (floor)')!.value).toBe(80);
    expect(values.find((v) => v.method !== 'real (floor)' && v.value > 100 && v.value < 102)!.value).toBeCloseTo(101.5, 10);
    const t = out.tables[0];
    expect(t.columns.slice(-3)).toEqual(['FID', 'FID floor', 'KID']);
    const top = t.rows.filter((r) => r[1] === 32);
    expect(top.map((r) => r.slice(-3))).toEqual([[101.5, 80, 0.075], [150, 80, 0.2]].map((x) => x.map((v) => expect.closeTo(v, 3))));
    // Lower levels have no FID (the metrics measure the top level only).
    expect(t.rows.filter((r) => r[1] === 8).every((r) => r[r.length - 3] === null)).toBe(true);
    // Without FID reports (the teacher) there is no FID chart and no FID columns.
    const plain = buildFigure(spec('family'), [planted('layerwise', { analyses: { swd: swd(0.1) } as RunResult['analyses'] })]);
    expect(plain.charts.map((c) => c.file)).not.toContain('F-family-fid');
    expect(plain.tables[0].columns).not.toContain('FID');
  });
});
