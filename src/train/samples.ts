/**
 * Sample grids of a run during training: samples/step-<8 digits>/r<r>.png and ema-r<r>.png at the run's
 * fixed latents (docs/training.md, the run directory).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { learnerForward } from '../models/learner.js';
import { writeGridPng } from '../util/png.js';
import { samplesPath } from './rundir.js';
import type { Session } from './session.js';
import type { Stage } from './stages.js';

/** Sample grids of G (and its EMA) at the fixed latents, one PNG per meaningful resolution. */
export async function writeSamples(s: Session, runDir: string, stage: Stage): Promise<void> {
  const dir = samplesPath(runDir, s.step);
  const upTo = s.shape.resolutions.indexOf(Math.max(...stage.outputs)) + 1;
  for (const [tag, g] of [['', s.learner], ['ema-', s.ema]] as const) {
    if (!g) continue;
    const xs = tf.tidy(() => learnerForward(g, s.sampleZ, upTo).x);
    for (const r of stage.outputs) await writeGridPng(join(dir, `${tag}r${r}.png`), xs[s.shape.resolutions.indexOf(r)], { scale: Math.max(1, Math.round(64 / r)) });
    tf.dispose(xs);
  }
}
