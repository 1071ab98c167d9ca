/**
 * Three-way verdicts over seeds (issue 15, docs/figures.md "How a claim is judged"). A claim is made of
 * tests; a test is one statistic (an active fraction, a ratio of SWDs, ...) measured once per seed, with a
 * threshold and the side on which the claim holds, and, where training logged it, the statistic's trace
 * over the last stage's steps. From those:
 *
 * - the 95% interval of the mean over seeds is Student's t-interval, mean +- t_{0.975, n-1} * sd / sqrt(n)
 *   (n seeds; with one seed there is no interval);
 * - "moving" is the change of the statistic over the last 20% of its logged steps, read off a least-squares
 *   line through those points (a line, not two end points, so that logging noise does not look like
 *   movement); the tolerance is the seed spread (the sd of the final values over seeds) or 1% of the
 *   mean's magnitude, whichever is larger;
 * - the run counts as converged when the statistic has moved and then slowed: its net change from the
 *   first logged point to the last (mean absolute over seeds) exceeds the tolerance, the tail's change is
 *   within the tolerance, and the tail moved at most half as fast as the average pace (its change at most
 *   SETTLING x TAIL_FRACTION of the net change: a statistic moving at a constant pace has exactly
 *   TAIL_FRACTION of it in its tail, a settling one far less). Until 2026-12-07 a tail within the
 *   tolerance was enough, and the full scale's F-budget called D-G alignment after 100 steps per stage
 *   converged at 1.07x the random reference, "does not hold", while it was rising faster at the end than on
 *   average (tail 0.052 of a net 0.144, under a seed spread of 0.062); it holds from 400 steps on. A trace
 *   that never left its first value is not converged either: nothing tells "training has not reached it
 *   yet" from "training cannot move it";
 * - the verdict: "holds" when the whole interval lies on the holding side, the statistic is not still
 *   moving toward the threshold (its tail's change within the tolerance, or pointing away) and, for a
 *   comparison with a trained reference (layerwise against random lower layers), the reference is not still
 *   improving by the same measure (the small teacher in the full scale's F-budget, 2026-12-07: layerwise /
 *   random lower at r16 was 0.25 after 400 steps per stage and 0.75 after 6,400, the random-lower run
 *   catching up); "does not hold" when the whole interval lies on the other side AND the
 *   runs converged (an unconverged run can never yield it); "inconclusive" otherwise, with the reason.
 *   A holding statistic still moving toward its threshold is inconclusive however far from it: until
 *   2026-12-07 it held when it would still hold after moving as much again, and the full run's F-budget
 *   showed that projection far too short (small teacher, sparsity at r16: 0.098 at 400 steps per stage,
 *   moving 0.005 toward 0.196, then 0.246 at 1,600).
 *
 * A statistic that sits still and then moves late cannot be told from a converged one by any window of its
 * past; F-budget (the same rule at several budgets) is what shows such a claim.
 */

export type VerdictWord = 'holds' | 'does not hold' | 'inconclusive';

/** One logged point of a statistic's trace. */
export interface TracePoint {
  step: number;
  value: number;
}

/** One seed's measurement of a test's statistic. */
export interface SeedValue {
  seed: number;
  value: number;
  /** The statistic over the steps of the stage it belongs to (null: not logged). */
  trace: TracePoint[] | null;
}

/** What a claim rule measures for one test. */
export interface TestInput {
  /** What is tested where: 'teacher-small/r16'. */
  key: string;
  /** The statistic in words: 'active fraction of channels'. */
  statistic: string;
  threshold: number;
  /** The claim holds when the statistic is below (or above) the threshold. */
  holdsWhen: 'below' | 'above';
  values: SeedValue[];
  /**
   * The reference a comparison is made against, where it is itself trained (layerwise's random-lower run):
   * a statistic that holds against a reference still improving may stop holding once it has caught up, so
   * "holds" also needs the reference settled (its traces, one per seed, in the same order as `values`).
   */
  reference?: { what: string; improvesWhen: 'below' | 'above'; traces: (TracePoint[] | null)[] };
}

/** A test judged: the inputs, the interval, convergence and the verdict with its reason. */
export interface TestResult extends Omit<TestInput, 'values' | 'reference'> {
  seeds: number[];
  values: number[];
  n: number;
  mean: number;
  /** Standard deviation over seeds (0 with one seed). */
  sd: number;
  /** 95% t-interval of the mean (null with one seed). */
  lo: number | null;
  hi: number | null;
  /** Mean absolute change over the last 20% of logged steps (null: not logged, or too few points). */
  moving: number | null;
  /** The tolerance `moving` is compared with: max(sd, 1% of |mean|). */
  tolerance: number;
  /** Mean absolute change from the first logged point to the last (null: not logged on every seed). */
  net: number | null;
  /** null when convergence could not be judged (no trace). */
  converged: boolean | null;
  /** Whether the mean trend over the last 20% points toward the holding side (null: no trace or flat). */
  towardHolding: boolean | null;
  /** The trained reference's tail movement, when the test has one and every seed logged it. */
  reference: { what: string; moving: number; tolerance: number; improving: boolean } | null;
  verdict: VerdictWord;
  reason: string;
}

/** How intervals are computed, stated in every claim. */
export const INTERVAL_METHOD = "95% Student t-interval of the mean over seeds (mean +- t(0.975, n-1) sd / sqrt(n))";
/** The share of logged steps over which movement is read. */
export const TAIL_FRACTION = 0.2;
/** Settling: the tail moves at most this share of the statistic's average pace (a straight line moves at 1). */
export const SETTLING = 0.5;
/** Fewest logged points in the tail for a slope. */
export const MIN_TAIL_POINTS = 3;

// t_{0.975, df} for df = 1..30; beyond, the normal quantile is within 2% of it.
const T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) throw new Error(`tQuantile975: df must be >= 1, got ${df}`);
  return df <= 30 ? T975[Math.floor(df) - 1] : 1.96;
}

const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sdOf = (v: number[]) => {
  if (v.length < 2) return 0;
  const m = meanOf(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
};

/** Mean, sd and the 95% t-interval of values over seeds (no interval with fewer than two). */
export function tInterval(values: number[]): { mean: number; sd: number; lo: number | null; hi: number | null } {
  const mean = meanOf(values);
  const sd = sdOf(values);
  if (values.length < 2) return { mean, sd, lo: null, hi: null };
  const half = (tQuantile975(values.length - 1) * sd) / Math.sqrt(values.length);
  return { mean, sd, lo: mean - half, hi: mean + half };
}

/**
 * The signed change of a trace over its last TAIL_FRACTION of logged steps: the least-squares slope through
 * the points in that window times the window's length. null when fewer than MIN_TAIL_POINTS points fall in the tail.
 */
export function tailChange(trace: TracePoint[]): number | null {
  if (trace.length < MIN_TAIL_POINTS) return null;
  const first = trace[0].step;
  const last = trace[trace.length - 1].step;
  const from = last - TAIL_FRACTION * (last - first);
  const tail = trace.filter((p) => p.step >= from);
  if (tail.length < MIN_TAIL_POINTS) return null;
  const xs = tail.map((p) => p.step);
  const ys = tail.map((p) => p.value);
  const mx = meanOf(xs);
  const my = meanOf(ys);
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return null;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx;
  // Over the whole tail window, not just the span of the points inside it, so that a straight line's tail
  // change is exactly TAIL_FRACTION of its net change however the logging steps fall.
  return slope * (last - from);
}

const g3 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)) : x);

/** What movement is compared with: the seed spread, or 1% of the mean's magnitude, whichever is larger. */
const toleranceOf = (mean: number, sd: number) => Math.max(sd, 0.01 * Math.abs(mean));

/**
 * How traces (one per seed) move at their end: `moving`, the mean absolute tailChange (null unless every
 * trace has one), and `drift`, the mean signed tailChange of those that have one (0 when none).
 */
function tailMotion(traces: (TracePoint[] | null)[]): { moving: number | null; drift: number } {
  const changes = traces.map((tr) => (tr ? tailChange(tr) : null));
  const known = changes.filter((c): c is number => c !== null);
  return { moving: known.length && known.length === changes.length ? meanOf(known.map(Math.abs)) : null, drift: known.length ? meanOf(known) : 0 };
}

/** Judges one test (see the header for the rule). */
export function judgeTest(t: TestInput): TestResult {
  const values = t.values.map((v) => v.value);
  const seeds = t.values.map((v) => v.seed);
  const { mean, sd, lo, hi } = tInterval(values);
  const tolerance = toleranceOf(mean, sd);
  // Convergence needs every seed's trace: one seed still moving is enough to withhold "does not hold".
  const { moving, drift } = tailMotion(t.values.map((v) => v.trace));
  const nets = t.values.map((v) => (v.trace && v.trace.length >= 2 ? v.trace[v.trace.length - 1].value - v.trace[0].value : null));
  const net = nets.every((n): n is number => n !== null) && nets.length ? meanOf(nets.map(Math.abs)) : null;
  // Moved, then slowed (see the header): a statistic that never left its first value is not converged.
  const started = net !== null && net > tolerance;
  const converged = moving === null ? null : moving <= tolerance && started && moving <= SETTLING * TAIL_FRACTION * net!;
  const towardHolding = moving === null || drift === 0 ? null : t.holdsWhen === 'below' ? drift < 0 : drift > 0;
  const reference = referenceMotion(t);
  const base = { key: t.key, statistic: t.statistic, threshold: t.threshold, holdsWhen: t.holdsWhen, seeds, values, n: values.length, mean, sd, lo, hi, moving, tolerance, net, converged, towardHolding, reference };
  const side = t.holdsWhen === 'below' ? 'below' : 'above';
  const tail = `${TAIL_FRACTION * 100}% of logged steps`;
  const motion =
    moving === null
      ? 'convergence unknown (the statistic was not logged during training)'
      : !started
        ? `it has not left its first logged value (net change ${g3(net ?? 0)}, tolerance ${g3(tolerance)}): training may not have reached it yet`
        : moving > tolerance
          ? `still moving by ${g3(moving)} over the last ${tail} (tolerance ${g3(tolerance)})`
          : `not yet settling: the last ${tail} moved ${g3(moving)} of a net change of ${g3(net!)}, more than ${SETTLING * TAIL_FRACTION * 100}% of it`;
  if (values.length === 0) return { ...base, verdict: 'inconclusive', reason: 'no run measured it.' };
  if (lo === null || hi === null) return { ...base, verdict: 'inconclusive', reason: `one seed (${g3(mean)}): no interval; run more seeds (--seeds).` };
  const onHolding = t.holdsWhen === 'below' ? hi < t.threshold : lo > t.threshold;
  const onFailing = t.holdsWhen === 'below' ? lo >= t.threshold : hi <= t.threshold;
  const interval = `${g3(mean)} [${g3(lo)}, ${g3(hi)}] over ${values.length} seeds`;
  if (onHolding) {
    // Still moving toward the threshold: where it stops is not known (see the header).
    // (Here only the tail's movement counts: a statistic that holds from its first logged point and stays
    // there is not moving toward anything, while "does not hold" needs the stronger `converged`.)
    const stillMoving = moving !== null && moving > tolerance;
    if (stillMoving && towardHolding === false) return { ...base, verdict: 'inconclusive', reason: `${interval} is ${side} ${g3(t.threshold)} but ${motion}, toward the threshold.` };
    if (reference?.improving) return { ...base, verdict: 'inconclusive', reason: `${interval} is ${side} ${g3(t.threshold)}, but the reference is still improving: ${reference.what} moved ${g3(reference.moving)} over the last ${tail} (tolerance ${g3(reference.tolerance)}).` };
    const still = stillMoving ? ` (${motion}, away from the threshold)` : '';
    return { ...base, verdict: 'holds', reason: `${interval} is ${side} ${g3(t.threshold)}${still}.` };
  }
  if (onFailing) {
    if (converged !== true) return { ...base, verdict: 'inconclusive', reason: `${interval} is not ${side} ${g3(t.threshold)}, but training has not converged: ${motion}.` };
    return { ...base, verdict: 'does not hold', reason: `${interval} is not ${side} ${g3(t.threshold)}, and the runs converged (moved ${g3(net!)}, then ${g3(moving!)} over the last ${tail}, tolerance ${g3(tolerance)}).` };
  }
  return { ...base, verdict: 'inconclusive', reason: `${interval} straddles the threshold ${g3(t.threshold)}.` };
}

/**
 * How a test's trained reference moves at the end of training: the mean absolute tail change over seeds
 * against max(sd of its last logged values, 1% of their mean), and whether it is still improving (moving
 * by more than that, on average in its improving direction). null without a reference logged on every seed.
 */
function referenceMotion(t: TestInput): TestResult['reference'] {
  const ref = t.reference;
  if (!ref) return null;
  const { moving, drift } = tailMotion(ref.traces);
  if (moving === null) return null;
  const { mean, sd } = tInterval(ref.traces.map((tr) => tr![tr!.length - 1].value));
  const tolerance = toleranceOf(mean, sd);
  return { what: ref.what, moving, tolerance, improving: moving > tolerance && (ref.improvesWhen === 'below' ? drift < 0 : drift > 0) };
}

/** A claim's verdict from its tests: holds when all hold, does not hold when any does not, else inconclusive. */
export function combineVerdicts(tests: TestResult[]): { verdict: VerdictWord; reason: string } {
  if (!tests.length) return { verdict: 'inconclusive', reason: 'nothing to judge: the runs it needs are missing.' };
  const failed = tests.filter((t) => t.verdict === 'does not hold');
  const why = (ts: TestResult[]) => ts.map((t) => `${t.key}: ${t.reason.replace(/\.$/, '')}`).join('; ') + '.';
  if (failed.length) return { verdict: 'does not hold', reason: why(failed) };
  const open = tests.filter((t) => t.verdict === 'inconclusive');
  if (open.length) return { verdict: 'inconclusive', reason: why(open) };
  return { verdict: 'holds', reason: tests.map((t) => `${t.key} ${t.statistic} ${g3(t.mean)} [${g3(t.lo!)}, ${g3(t.hi!)}]`).join('; ') };
}
