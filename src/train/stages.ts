/**
 * Training stages as plain data (docs/theory.md section 2). A stage names the level it generates, the G
 * variables it trains (everything else is frozen: a lookup by resolution), and the discriminator it
 * trains against. Modes:
 *
 * - `layerwise` (the paper's scheme): stage l = 1..L trains layer l and its output head
 *   (g.r_l.deconv, g.r_l.bias, g.r_l.out) with layers < l frozen at what their stages learned.
 *   D_1 sees x_1; D_l (l >= 2) sees the pair (x_{l-1}, x_l).
 * - `random-lower`: a single stage at the top level L trains layer L and its head exactly as layerwise
 *   stage L does, but every layer < L (and every lower head) stays at its random initialisation, frozen.
 *   The init is the same as layerwise's at the same seed. D sees x_L alone: the lower heads are never
 *   trained, so a pair D would only see an x_{L-1} that G cannot change.
 * - `end-to-end`: a single stage at the top level trains every hidden layer and the top head together
 *   against D on x_L (non-progressive); lower heads are unused and stay at init.
 * - `oracle-lower` (synthetic data only): a single stage at level l (`train.level`, default L) trains
 *   layer l and its head exactly as layerwise stage l does, but every layer < l and its head is the
 *   teacher's own, copied in at the stage start and frozen. It separates "stage l cannot learn its layer"
 *   from "errors of imperfect lower layers propagate" (the paper's realisable case).
 *
 * A stage also lists the hidden layers it calibrates when it starts (src/models/calibrate.ts): the
 * layers it trains or leaves at random init, never one an earlier stage trained or the teacher supplied.
 *
 * Freezing is verified: stage records hold a sha256 of every frozen tensor at start and end.
 */
import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import { attnNames, BLOCK_PARTS, gName } from '../models/learner.js';
import type { TrainMode } from './config.js';
import type { CalibrationReport } from '../models/calibrate.js';

export interface Stage {
  /** 1-based level this stage generates (the folder name under stages/). */
  level: number;
  /** Its resolution r_level. */
  resolution: number;
  /** G steps in this stage. */
  steps: number;
  /** G variables trained, by name. */
  trained: string[];
  /** Every other G variable (frozen); under spectral norm, the u, v of the weights not trained (session.ts configSchedule). */
  frozen: string[];
  /** What D sees: x_level alone, or (x_{level-1}, x_level). */
  discInput: 'single' | 'pair';
  /** Resolutions whose G images are meaningful at the end of this stage (sample grids). */
  outputs: number[];
  /** 0-based hidden layers calibrated at the stage start, ascending (when generator.init.calibrate). */
  calibrate: number[];
  /** 0-based layers (deconv, bias, head) copied from the teacher at the stage start (oracle-lower). */
  oracle: number[];
  /**
   * 0-based layers whose heads no stage ever trains (random-lower, end-to-end): with generator.skip their
   * heads are zeroed at the stage start, so the skip carries nothing and x_L is the top head's alone.
   */
  untrainedHeads: number[];
  /**
   * Multi-resolution families (src/train/families.ts): 'real' = G generates this level from the real
   * level below (LAPGAN trained level by level, SRGAN), taken from the batch D judged; absent = from z.
   */
  condition?: 'real';
  /** ProGAN: the fraction of the stage over which the new blocks fade in (alpha 0 -> 1; fadeAlpha); absent = no fade. */
  fade?: number;
}

/**
 * ProGAN's fade-in weight at a stage's step t (G steps of the stage completed): t / (fade * steps) until
 * it reaches 1 (Karras et al. 2018, section 2); 1 for a stage without fade.
 */
export function fadeAlpha(stage: Stage, t: number): number {
  if (!stage.fade) return 1;
  return Math.min(1, t / (stage.fade * stage.steps));
}

/** All G variable names in creation order. */
export function allGNames(resolutions: number[]): string[] {
  return resolutions.flatMap((r) => BLOCK_PARTS.map((p) => gName(r, p)));
}

/**
 * The stage schedule of a mode; `steps[l]` is the budget of the stage that generates level index l.
 * `level` (1-based, 0 = L) is the level oracle-lower trains.
 */
export function buildSchedule(resolutions: number[], mode: TrainMode, steps: number[], level = 0, attention = 0): Stage[] {
  // A self-attention block on s_l (generator.attention) is trained, frozen and hashed with its block.
  const attn = attnNames({ attention });
  const names = [...allGNames(resolutions), ...attn];
  const L = resolutions.length;
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
  const make = (level: number, trained: string[], discInput: Stage['discInput'], outputs: number[], calibrate: number[], oracle: number[] = [], untrainedHeads: number[] = []): Stage => ({
    level,
    resolution: resolutions[level - 1],
    steps: steps[level - 1],
    trained,
    frozen: names.filter((n) => !trained.includes(n)),
    discInput,
    outputs,
    calibrate,
    oracle,
    untrainedHeads,
  });
  const block = (r: number) => [...BLOCK_PARTS.map((p) => gName(r, p)), ...(r === attention ? attn : [])];
  switch (mode) {
    case 'layerwise':
      return resolutions.map((r, i) => make(i + 1, block(r), i === 0 ? 'single' : 'pair', resolutions.slice(0, i + 1), [i]));
    case 'random-lower':
      // The random lower layers are calibrated too (data-free), so that the baseline is not at a degenerate scale.
      return [make(L, block(resolutions[L - 1]), 'single', [resolutions[L - 1]], upTo(L), [], upTo(L - 1))];
    case 'end-to-end': {
      const trained = [...resolutions.flatMap((r) => [gName(r, 'deconv'), gName(r, 'bias')]), gName(resolutions[L - 1], 'out'), ...attn];
      return [make(L, trained, 'single', [resolutions[L - 1]], upTo(L), [], upTo(L - 1))];
    }
    case 'oracle-lower': {
      const l = level === 0 ? L : level;
      return [make(l, block(resolutions[l - 1]), l === 1 ? 'single' : 'pair', resolutions.slice(0, l), [l - 1], upTo(l - 1))];
    }
    default: {
      // Unreachable for a resolved config (mergeStrict allows only MODES); `never` makes a new mode a compile error here.
      const unknown: never = mode;
      throw new Error(`buildSchedule: unknown mode '${String(unknown)}'`);
    }
  }
}

/** sha256 (hex) of a tensor's bytes, with its shape and dtype so reshapes cannot collide. */
export function tensorHash(t: tf.Tensor): string {
  const data = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  return createHash('sha256')
    .update(`${t.dtype}[${t.shape.join(',')}]`)
    .update(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/** Hashes of the named variables. */
export function hashVars(vars: Map<string, tf.Tensor>, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = vars.get(n);
    if (!v) throw new Error(`hashVars: no variable ${n}`);
    out[n] = tensorHash(v);
  }
  return out;
}

/** Names whose hash differs between two records (keys of `a`). */
export function changedNames(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a).filter((k) => a[k] !== b[k]);
}

/** What stages/<level>/stage.json holds. */
export interface StageRecord {
  level: number;
  resolution: number;
  mode: string;
  discInput: Stage['discInput'];
  trainedLayers: string[];
  frozenLayers: string[];
  frozenHashesStart: Record<string, string>;
  frozenHashesEnd: Record<string, string> | null;
  trainedHashesStart: Record<string, string>;
  trainedHashesEnd: Record<string, string> | null;
  /** Trained variables whose hash did not change (should be empty). */
  unchangedTrained: string[] | null;
  startStep: number;
  endStep: number | null;
  /** What calibrating this stage's layers found and did (src/models/calibrate.ts); [] when off. */
  calibration?: CalibrationReport[];
  /** Set when the record was lost and rebuilt on a resume: the hashes "at start" are from this step. */
  rebuiltAtStep?: number;
}
