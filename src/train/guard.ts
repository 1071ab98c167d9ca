/**
 * The divergence guard (docs/reliability.md): every D and G update is checked before it is applied. The
 * update is computed (Adam.propose, which tests its new moments and weights for NaN and Inf as it
 * computes them), then its loss is read back and tested; a non-finite update is discarded, so no variable changes. What happens next is
 * `config.guard.onNonFinite`: `rollback` (restore the newest checkpoint, scale both learning rates by
 * `lrFactor`, at most `maxRollbacks` times), `stop` (a DivergenceError with the report), `skip` (drop that
 * update, go on; `maxSkips` steps in a row with a dropped update stop the run), `off` (no checks).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import type { AdamUpdate } from './adam.js';

export const GUARD_ACTIONS = ['rollback', 'stop', 'skip', 'off'] as const;
export type GuardAction = (typeof GUARD_ACTIONS)[number];

/** One rejected update. */
export interface NonFiniteUpdate {
  /** `D1`..`D<dSteps>` or `G`. */
  update: string;
  /** The first non-finite quantity: `loss`, or `<variable>` / `<variable> (Adam m|v)` after the update. */
  tensor: string;
}

/** True when every element of every tensor is finite (one scalar read back). */
export function allFinite(tensors: tf.Tensor[]): boolean {
  if (tensors.length === 0) return true;
  const s = tf.tidy(() => tf.addN(tensors.map((t) => tf.sum(tf.mul(t, 0)))));
  const v = s.dataSync()[0];
  s.dispose();
  return v === 0;
}

/** The checks of one training step; trainStep consults it before applying each update. */
export class StepGuard {
  readonly failures: NonFiniteUpdate[] = [];

  /** `abandonOnFailure`: after a rejected update the rest of the step is not computed (rollback, stop). */
  constructor(readonly abandonOnFailure: boolean) {}

  /** True when the rest of the step should be dropped. */
  get abandoned(): boolean {
    return this.abandonOnFailure && this.failures.length > 0;
  }

  /**
   * Whether `pending` (with its loss) may be applied; records the failure otherwise. Adam.propose has
   * already checked the new weights and moments (its `nonFinite`); `loss` is a scalar tensor or its value.
   */
  admit(update: string, loss: tf.Scalar | number, pending: AdamUpdate): boolean {
    const value = typeof loss === 'number' ? loss : loss.dataSync()[0];
    if (Number.isFinite(value) && pending.nonFinite === null) return true;
    this.failures.push({ update, tensor: Number.isFinite(value) ? pending.nonFinite! : 'loss' });
    return false;
  }
}

/** What the guard reports when it stops a run. */
export interface DivergenceReport {
  step: number;
  stage: number;
  resolution: number;
  failures: NonFiniteUpdate[];
  /** Why the run stops rather than recovers. */
  reason: string;
  /** The newest checkpoint on disk (what a resume starts from). */
  lastCheckpoint: string | null;
  runDir: string;
}

/** The guard stopped the run: a UserError whose message is the report (the CLI prints it). */
export class DivergenceError extends UserError {
  constructor(readonly report: DivergenceReport) {
    const r = report;
    const what = r.failures.map((f) => `${f.update} update: ${f.tensor === 'loss' ? 'the loss' : f.tensor} is NaN or Inf`).join('; ');
    super(
      `training diverged at step ${r.step} (stage ${r.stage}, r${r.resolution}): ${what}. That update was not applied. ${r.reason} ` +
        `The newest checkpoint is ${r.lastCheckpoint ?? 'none'}; a resume replays the same steps, so first lower train.lrG / train.lrD ` +
        `or set guard.onNonFinite to "rollback" in ${r.runDir}/config.json, then: fsrgan train --resume ${r.runDir}`,
    );
    this.name = 'DivergenceError';
  }
}

/** The metrics.jsonl line of a guard event. */
export function guardEventLine(step: number, stage: number, resolution: number, failures: NonFiniteUpdate[], action: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { event: 'non-finite', step, stage, resolution, updates: failures.map((f) => `${f.update}: ${f.tensor}`).join('; '), action, ...extra };
}
