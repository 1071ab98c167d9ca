/**
 * Three-way verdicts over seeds (src/experiments/verdict.ts, issue 15): the t-interval against values
 * computed independently (scipy's t quantiles), the movement read off a least-squares line through a planted
 * trace, and the rule on planted statistics: one that crosses its threshold late is "inconclusive" at a short
 * budget and "holds" at a long one; an interval straddling the threshold is "inconclusive"; "does not hold"
 * only from converged runs.
 */
import { describe, expect, it } from 'vitest';
import { combineVerdicts, judgeTest, tailChange, tInterval, tQuantile975, type SeedValue, type TestInput } from '../src/experiments/verdict.js';

describe('interval and movement', () => {
  it('t quantiles and the t-interval match an independent computation', () => {
    // P(0 < T < q) for Student's t with df degrees of freedom, by Simpson's rule on its density.
    const lgamma = (x: number): number => {
      // Lanczos approximation (g = 7), accurate to ~1e-13 for x > 0.5.
      const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
      x -= 1;
      let a = c[0];
      const t = x + 7.5;
      for (let i = 1; i < 9; i++) a += c[i] / (x + i);
      return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
    };
    const mass = (q: number, df: number) => {
      const k = Math.exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / Math.sqrt(df * Math.PI);
      const f = (x: number) => k * Math.pow(1 + (x * x) / df, -(df + 1) / 2);
      const n = 20000;
      const h = q / n;
      let s = f(0) + f(q);
      for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i * h);
      return (s * h) / 3;
    };
    for (let df = 1; df <= 30; df++) expect(mass(tQuantile975(df), df), `df ${df}`).toBeCloseTo(0.475, 4);
    // values 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5); half width t(0.975, 4) sqrt(2.5) / sqrt(5) = 2.7764 / sqrt(2).
    const t = tInterval([1, 2, 3, 4, 5]);
    expect(t.mean).toBe(3);
    expect(t.sd).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(t.lo!).toBeCloseTo(3 - 2.7764 / Math.SQRT2, 4);
    expect(t.hi!).toBeCloseTo(3 + 2.7764 / Math.SQRT2, 4);
    expect(tInterval([0.7])).toMatchObject({ mean: 0.7, sd: 0, lo: null, hi: null });
  });

  it('the change over the last 20% of steps is the fitted slope times that window, robust to alternating noise', () => {
    // y = 2 - 0.001 step on steps 0..1000 by 10, plus +-0.05 alternating: the tail is steps 800..1000.
    const trace = Array.from({ length: 101 }, (_, i) => ({ step: 10 * i, value: 2 - 0.001 * 10 * i + (i % 2 ? 0.05 : -0.05) }));
    // A least-squares line through 21 alternating points is off by a little; two end points would be off by 0.1.
    expect(tailChange(trace)!).toBeCloseTo(-0.2, 1);
    expect(Math.abs(tailChange(trace)! + 0.2)).toBeLessThan(0.02);
    const flat = trace.map((p) => ({ ...p, value: 1 }));
    expect(tailChange(flat)).toBe(0);
    expect(tailChange(trace.slice(0, 2))).toBeNull();
  });
});

/** A statistic that follows a logistic curve from `start` to `end` centred at step `mid`, per seed with an offset. */
function planted(budget: number, o: { start: number; end: number; mid: number; width: number; threshold: number; holdsWhen: 'below' | 'above'; every?: number }): TestInput {
  const every = o.every ?? Math.max(1, Math.round(budget / 20));
  const values: SeedValue[] = [-0.01, 0, 0.01].map((off, i) => {
    const f = (step: number) => o.start + (o.end - o.start) / (1 + Math.exp(-(step - o.mid) / o.width)) + off;
    const trace = [];
    for (let s = every; s <= budget; s += every) trace.push({ step: s, value: f(s) });
    return { seed: i + 1, value: f(budget), trace };
  });
  return { key: 'planted', statistic: 'x', threshold: o.threshold, holdsWhen: o.holdsWhen, values };
}

describe('three-way verdicts on planted statistics', () => {
  const late = { start: 0.6, end: 0.1, mid: 3000, width: 300, threshold: 0.25, holdsWhen: 'below' as const };

  it('a statistic that crosses its threshold late: inconclusive at a short budget, holds at a long one', () => {
    const short = judgeTest(planted(2000, late));
    // At 2,000 steps it is still near 0.6 but already moving down: not converged, so never "does not hold".
    expect(short.mean).toBeGreaterThan(0.5);
    expect(short.converged).toBe(false);
    expect(short.verdict).toBe('inconclusive');
    expect(short.reason).toMatch(/has not converged/);
    const mid = judgeTest(planted(3000, late));
    expect(mid.verdict).toBe('inconclusive');
    const long = judgeTest(planted(8000, late));
    expect(long.converged).toBe(true);
    expect(long.hi!).toBeLessThan(0.25);
    expect(long.verdict).toBe('holds');
  });

  it('"does not hold" needs a converged statistic on the wrong side; a straddling interval is inconclusive', () => {
    // Fell from 0.9 and settled at 0.6 early (mid 1,000 of 8,000 steps): converged on the wrong side.
    const stuck = judgeTest(planted(8000, { ...late, start: 0.9, end: 0.6, mid: 1000 }));
    expect(stuck.converged).toBe(true);
    expect(stuck.net!).toBeGreaterThan(0.25);
    expect(stuck.verdict).toBe('does not hold');
    expect(stuck.reason).toMatch(/runs converged \(moved 0\.\d+/);
    // Seeds at 0.2, 0.3, 0.25 +- small: the interval contains 0.25.
    const straddle = judgeTest({ key: 's', statistic: 'x', threshold: 0.25, holdsWhen: 'below', values: [0.2, 0.3, 0.26].map((value, i) => ({ seed: i + 1, value, trace: null })) });
    expect(straddle.lo!).toBeLessThan(0.25);
    expect(straddle.hi!).toBeGreaterThan(0.25);
    expect(straddle.verdict).toBe('inconclusive');
    expect(straddle.reason).toMatch(/straddles the threshold 0\.25/);
    // Clearly on the wrong side but never logged: convergence unknown, so inconclusive.
    const unlogged = judgeTest({ key: 'u', statistic: 'x', threshold: 0.25, holdsWhen: 'below', values: [0.6, 0.61, 0.62].map((value, i) => ({ seed: i + 1, value, trace: null })) });
    expect(unlogged.verdict).toBe('inconclusive');
    expect(unlogged.reason).toMatch(/convergence unknown/);
    // One seed: no interval, never a verdict.
    const one = judgeTest({ key: 'o', statistic: 'x', threshold: 0.25, holdsWhen: 'below', values: [{ seed: 1, value: 0.01, trace: null }] });
    expect(one.verdict).toBe('inconclusive');
    expect(one.reason).toMatch(/one seed/);
  });

  it('a statistic that never left its first logged value is not converged, so it cannot fail (flat before learning starts)', () => {
    // Flat at 1.07 (its random-reference ratio before D learns) over 100 steps, the rise due at step 1,500:
    // the tail is still, but nothing has moved, so "does not hold" would be a verdict on a run not yet started.
    const rising = { start: 1.07, end: 1.7, mid: 1500, width: 150, threshold: 1.25, holdsWhen: 'above' as const };
    const early = judgeTest(planted(100, rising));
    expect(early.hi!).toBeLessThan(1.25);
    expect(early.moving!).toBeLessThanOrEqual(early.tolerance);
    expect(early.net!).toBeLessThanOrEqual(early.tolerance);
    expect(early.converged).toBe(false);
    expect(early.verdict).toBe('inconclusive');
    expect(early.reason).toMatch(/has not left its first logged value/);
    expect(judgeTest(planted(8000, rising)).verdict).toBe('holds');
    // A straight line moving within the tolerance per tail, but never slowing: not converged either.
    const line = (step: number) => 0.9 - 0.05 * (step / 1000);
    const steady: TestInput = {
      key: 'l', statistic: 'x', threshold: 0.25, holdsWhen: 'below',
      values: [-0.05, 0, 0.05].map((off, i) => ({ seed: i + 1, value: line(2000) + off, trace: Array.from({ length: 20 }, (_, k) => ({ step: 100 * (k + 1), value: line(100 * (k + 1)) + off })) })),
    };
    const s = judgeTest(steady);
    expect(s.moving!).toBeLessThan(s.tolerance);
    expect(s.net!).toBeGreaterThan(s.tolerance);
    expect(s.converged).toBe(false);
    expect(s.verdict).toBe('inconclusive');
    expect(s.reason).toMatch(/not yet settling/);
    // On the holding side, a statistic that holds from its first logged point and stays put holds.
    const still: TestInput = { ...steady, values: steady.values.map((v) => ({ ...v, value: 0.05, trace: v.trace!.map((p) => ({ ...p, value: 0.05 + (p.step % 200 ? 0.001 : -0.001) })) })) };
    expect(judgeTest(still).converged).toBe(false);
    expect(judgeTest(still).verdict).toBe('holds');
  });

  it('"above" claims mirror "below" ones, and a holding statistic moving toward its threshold is inconclusive', () => {
    const rising = { start: 1, end: 2, mid: 3000, width: 300, threshold: 1.25, holdsWhen: 'above' as const };
    expect(judgeTest(planted(2000, rising)).verdict).toBe('inconclusive');
    expect(judgeTest(planted(8000, rising)).verdict).toBe('holds');
    // Above its threshold but falling fast toward it: inconclusive.
    const falling = judgeTest(planted(3000, { start: 2, end: 1, mid: 3000, width: 300, threshold: 1.25, holdsWhen: 'above' }));
    expect(falling.lo!).toBeGreaterThan(1.25);
    expect(falling.towardHolding).toBe(false);
    expect(falling.verdict).toBe('inconclusive');
    expect(falling.reason).toMatch(/toward the threshold/);
    // The same fall far above the threshold: still inconclusive (how far a moving statistic goes is unknown).
    const roomy = judgeTest(planted(3000, { start: 4, end: 3, mid: 3000, width: 300, threshold: 1.25, holdsWhen: 'above' }));
    expect(roomy.converged).toBe(false);
    expect(roomy.verdict).toBe('inconclusive');
    // Rising away from the threshold while still moving: holds, and says so.
    const away = judgeTest(planted(3000, { start: 3, end: 4, mid: 3000, width: 300, threshold: 1.25, holdsWhen: 'above' }));
    expect(away.converged).toBe(false);
    expect(away.verdict).toBe('holds');
    expect(away.reason).toMatch(/away from the threshold/);
    // Once the fall has stopped, far above the threshold: holds.
    expect(judgeTest(planted(8000, { start: 4, end: 3, mid: 3000, width: 300, threshold: 1.25, holdsWhen: 'above' })).verdict).toBe('holds');
  });

  it('a comparison with a trained reference holds only once the reference has stopped improving', () => {
    // Layerwise / random lower at 0.3, settled; the random-lower run's error still falling (or settled).
    const ratio = planted(2000, { start: 0.6, end: 0.3, mid: 300, width: 50, threshold: 1, holdsWhen: 'below' });
    const refTrace = (fall: boolean) => Array.from({ length: 20 }, (_, k) => ({ step: 100 * (k + 1), value: fall ? 2 - 0.0005 * 100 * (k + 1) : 1 + 1 / (k + 1) ** 3 }));
    const judged = (fall: boolean) => judgeTest({ ...ratio, reference: { what: 'the reference error', improvesWhen: 'below', traces: [1, 2, 3].map(() => refTrace(fall)) } });
    const falling = judged(true);
    expect(falling.hi!).toBeLessThan(1);
    expect(falling.reference!.improving).toBe(true);
    expect(falling.verdict).toBe('inconclusive');
    expect(falling.reason).toMatch(/reference is still improving: the reference error moved 0\.19 /);
    const settled = judged(false);
    expect(settled.reference!.improving).toBe(false);
    expect(settled.verdict).toBe('holds');
    // Without a reference the same statistic holds: only the reference's motion made the difference.
    expect(judgeTest(ratio).verdict).toBe('holds');
    // A reference getting worse is not catching up: holds.
    const worse = judgeTest({ ...ratio, reference: { what: 'r', improvesWhen: 'above', traces: [1, 2, 3].map(() => refTrace(true)) } });
    expect(worse.verdict).toBe('holds');
  });

  it('a claim holds when all its tests hold, does not when one does not, else is inconclusive', () => {
    const holds = judgeTest(planted(8000, { start: 0.6, end: 0.1, mid: 3000, width: 300, threshold: 0.25, holdsWhen: 'below' }));
    const fails = judgeTest(planted(8000, { start: 0.9, end: 0.6, mid: 1000, width: 300, threshold: 0.25, holdsWhen: 'below' }));
    const open = judgeTest(planted(2000, { start: 0.6, end: 0.1, mid: 3000, width: 300, threshold: 0.25, holdsWhen: 'below' }));
    expect(combineVerdicts([holds, holds]).verdict).toBe('holds');
    expect(combineVerdicts([holds, open]).verdict).toBe('inconclusive');
    expect(combineVerdicts([holds, open, fails]).verdict).toBe('does not hold');
    expect(combineVerdicts([]).verdict).toBe('inconclusive');
  });
});
