/**
 * The claims of the paper that the figures test (docs/theory.md section 4, docs/figures.md): ONE table,
 * `CLAIM_RULES`, with each claim's statement, the figure that tests it, its thresholds and its verdict
 * function. A verdict comes with the numbers it rests on and the margin in words, so a reader can apply
 * another rule. Pure functions of the runs' results (src/report/figure-data.ts).
 */
import type { AlignmentReport } from '../analysis/alignment.js';
import {
  byMethod,
  cellKey,
  dataLabels,
  f3,
  mean,
  qualityCells,
  result,
  stageMoments,
  type FigureHead,
  type FigureKind,
  type RunResult,
} from '../report/figure-data.js';

/** A statement of the paper checked on this scale's runs. */
export interface Claim {
  id: 'sparsity' | 'moments' | 'alignment' | 'layerwise';
  figure: string;
  statement: string;
  /** null when the runs needed are missing. */
  holds: boolean | null;
  /** The numbers the verdict rests on. */
  numbers: Record<string, number>;
  /** The verdict in words, with the margin (how far from holding when it does not). */
  detail: string;
}

export type Verdict = Pick<Claim, 'holds' | 'numbers' | 'detail'>;

export interface ClaimRule {
  id: Claim['id'];
  /** The figure drawing whose runs it is judged on (FigureSpec.builder). */
  figure: FigureKind;
  /** The numbers the rule compares against (named as exported below). */
  thresholds: Record<string, number>;
  statement: string;
  verdict: (runs: RunResult[]) => Verdict;
}

// ---------------------------------------------------------------------------------------------------------
// Thresholds

/** Sparsity: "far below the channel count" read as at most a quarter of the channels active. */
export const SPARSE_FRACTION = 0.25;
/** Alignment: "well above the random reference": at least 3 reference standard deviations and 25% above its mean. */
export const ALIGN_SIGMAS = 3;
export const ALIGN_RATIO = 1.25;

// ---------------------------------------------------------------------------------------------------------
// Verdicts

/** Every layer of every layerwise run: active fraction <= SPARSE_FRACTION and below random init. */
function sparsityVerdict(runs: RunResult[]): Verdict {
  const numbers: Record<string, number> = {};
  const failures: string[] = [];
  let checked = 0;
  for (const r of byMethod(runs, 'layerwise')) {
    const learner = result(r, 'sparsity', 'learner');
    const random = result(r, 'sparsity', 'random-init');
    if (!learner || !random) continue;
    learner.layers.forEach((l, i) => {
      checked++;
      const key = `${r.run.data}/r${l.resolution}`;
      numbers[`${key}/learner`] = l.exact.activeFraction;
      numbers[`${key}/randomInit`] = random.layers[i].exact.activeFraction;
      const t = result(r, 'sparsity', 'teacher');
      if (t) numbers[`${key}/teacher`] = t.layers[i].exact.activeFraction;
      if (!(l.exact.activeFraction <= SPARSE_FRACTION && l.exact.activeFraction < random.layers[i].exact.activeFraction)) {
        failures.push(`${key}: ${f3(l.exact.activeFraction)} of ${l.channels} channels active (random init ${f3(random.layers[i].exact.activeFraction)})`);
      }
    });
  }
  return {
    holds: checked ? failures.length === 0 : null,
    numbers,
    detail: checked === 0 ? 'no layerwise run with a sparsity analysis.' : failures.length ? `does not hold at ${failures.join('; ')}.` : `holds at all ${checked} layers (active fractions ${Object.entries(numbers).filter(([k]) => k.endsWith('/learner')).map(([k, v]) => `${k.replace('/learner', '')} ${f3(v)}`).join(', ')}).`,
  };
}

/** Every stage of every layerwise run: the order-1 and order-2 errors at its last logged step below those at its first. */
function momentsVerdict(runs: RunResult[]): Verdict {
  const numbers: Record<string, number> = {};
  const failures: string[] = [];
  const ratios: string[] = [];
  let checked = 0;
  for (const r of byMethod(runs, 'layerwise')) {
    for (const { stage, res, key, label, k, pts, floor } of stageMoments(r)) {
      if (pts.length < 2 || (key !== 'o1' && key !== 'o2')) continue;
      const [a, b] = [pts[0], pts[pts.length - 1]];
      checked++;
      const id = `${r.run.data}/stage${stage}/r${res}/${key}`;
      numbers[`${id}/first`] = a[k];
      numbers[`${id}/last`] = b[k];
      if (floor !== null) numbers[`${id}/floor`] = floor;
      if (!(b[k] < a[k])) failures.push(`${id}: ${f3(a[k])} at step ${a.step} -> ${f3(b[k])} at step ${b.step}`);
      ratios.push(`${dataLabels(runs).length > 1 ? `${r.run.data} ` : ''}stage ${stage} ${label} ${f3(a[k] / b[k])}`);
    }
  }
  return {
    holds: checked ? failures.length === 0 : null,
    numbers,
    detail: checked === 0 ? 'no layerwise run logged moments (config.analysis.every = 0).' : failures.length ? `does not hold for ${failures.join('; ')}.` : `holds for all ${checked} (stage, order) pairs; first/last ratios ${ratios.join(', ')}.`,
  };
}

/** D_1 of every layerwise run (docs/theory.md 3.3: the first resolution): matched |cos| >= random mean + ALIGN_SIGMAS sd and >= ALIGN_RATIO x mean. */
function alignmentVerdict(runs: RunResult[]): Verdict {
  const numbers: Record<string, number> = {};
  const verdicts: string[] = [];
  let holds: boolean | null = null;
  for (const r of byMethod(runs, 'layerwise')) {
    const file = r.analyses.alignment;
    if (!file) continue;
    const entries = Object.entries(file.results) as [string, AlignmentReport][];
    const [pair1, rep1] = entries[0];
    const ok = rep1.observed.meanMatched >= rep1.random.meanMatched + ALIGN_SIGMAS * rep1.random.stdMatched && rep1.observed.meanMatched >= ALIGN_RATIO * rep1.random.meanMatched;
    holds = (holds ?? true) && ok;
    const id = `${r.run.data}/${pair1.split(' ')[0]}`;
    numbers[`${id}/matched`] = rep1.observed.meanMatched;
    numbers[`${id}/random`] = rep1.random.meanMatched;
    numbers[`${id}/randomStd`] = rep1.random.stdMatched;
    const z = (rep1.observed.meanMatched - rep1.random.meanMatched) / Math.max(rep1.random.stdMatched, 1e-12);
    // Context for the verdict: the best value D_1 reached while it trained (logged by config.analysis).
    const r1 = r.run.config.generator.resolutions[0];
    const logged = r.metrics.filter((m) => m[`alignment/r${r1}/matched`] !== undefined);
    const peak = logged.reduce<Record<string, number> | null>((b, m) => (!b || m[`alignment/r${r1}/matched`] > b[`alignment/r${r1}/matched`] ? m : b), null);
    if (peak) numbers[`${id}/peakDuringTraining`] = peak[`alignment/r${r1}/matched`];
    const during = peak ? `; during training it peaked at ${f3(peak[`alignment/r${r1}/matched`])} at step ${peak.step}` : '';
    verdicts.push(`${r.run.data} ${pair1}: matched ${f3(rep1.observed.meanMatched)} vs random ${f3(rep1.random.meanMatched)} +- ${f3(rep1.random.stdMatched)} (${f3(rep1.observed.meanMatched / rep1.random.meanMatched)}x, ${f3(z)} sd)${during}`);
  }
  return { holds, numbers, detail: holds === null ? 'no layerwise run with an alignment analysis.' : `${holds ? 'holds' : 'does not hold'}: ${verdicts.join('; ')}.` };
}

/** Every resolution above the first, per data set: layerwise SWD (mean over seeds) below random-lower's. */
function layerwiseVerdict(runs: RunResult[]): Verdict {
  const { cells, list } = qualityCells(runs);
  const numbers: Record<string, number> = {};
  const verdicts: string[] = [];
  let holds: boolean | null = null;
  for (const data of dataLabels(runs)) {
    const lw = list.filter((c) => c.data === data && c.method === 'layerwise');
    for (const c of lw.slice(1)) {
      const rl = cells.get(cellKey(data, 'random-lower', c.res));
      if (!rl || !rl.swd.length || !c.swd.length) {
        verdicts.push(`${data} r${c.res}: no random-lower run`);
        continue;
      }
      const [a, b] = [mean(c.swd), mean(rl.swd)];
      numbers[`${data}/r${c.res}/layerwise`] = a;
      numbers[`${data}/r${c.res}/randomLower`] = b;
      const ok = a < b;
      holds = (holds ?? true) && ok;
      verdicts.push(`${data} r${c.res}: SWD ${f3(a)} (layerwise) vs ${f3(b)} (random lower), ${ok ? `${f3(b / a)}x better` : `layerwise worse by ${f3(a / b)}x`}`);
    }
  }
  return {
    holds,
    numbers,
    detail: holds === null ? `not checked: ${verdicts.join('; ') || 'no layerwise and random-lower runs'}.` : `${holds ? 'holds' : 'does not hold'}: ${verdicts.join('; ')}.`,
  };
}

// ---------------------------------------------------------------------------------------------------------

/** The claim rules: every claim the figures test, in one place. F-locality and F-recovery test none. */
export const CLAIM_RULES: readonly ClaimRule[] = [
  {
    id: 'sparsity',
    figure: 'sparsity',
    thresholds: { SPARSE_FRACTION },
    statement: `The hidden layers of the trained generator are sparse: the mean number of active channels per position is far below the channel count (here: at most ${SPARSE_FRACTION * 100}% of the channels, and fewer than at random init).`,
    verdict: sparsityVerdict,
  },
  {
    id: 'moments',
    figure: 'moments',
    thresholds: {},
    statement: 'Moment errors fall during training: at every stage, the first- and second-order patch-moment errors at the stage resolution are lower at its last logged step than at its first.',
    verdict: momentsVerdict,
  },
  {
    id: 'alignment',
    figure: 'alignment',
    thresholds: { ALIGN_SIGMAS, ALIGN_RATIO },
    statement: `D_1's first-layer filters align with G's output atoms: the mean matched |cosine| is well above the random reference (at least ${ALIGN_SIGMAS} reference standard deviations and ${ALIGN_RATIO}x its mean).`,
    verdict: alignmentVerdict,
  },
  {
    id: 'layerwise',
    figure: 'layerwise',
    thresholds: {},
    statement: 'Layerwise training with learned frozen lower layers beats the same stage trained on random frozen lower layers at every resolution above the first (lower patch SWD against held-out data).',
    verdict: layerwiseVerdict,
  },
];

/** The claims a figure tests, judged on its runs' results. */
export function judgeFigure(spec: FigureHead, runs: RunResult[]): Claim[] {
  return CLAIM_RULES.filter((rule) => rule.figure === spec.builder).map((rule) => ({ id: rule.id, figure: spec.name, statement: rule.statement, ...rule.verdict(runs) }));
}
