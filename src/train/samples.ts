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
import { writeFileAtomic } from '../util/atomic.js';
import { crossGrid, gridRows } from './cond-samples.js';

/** Sample grids of G (and its EMA) at the fixed latents, one PNG per meaningful resolution. */
export async function writeSamples(s: Session, runDir: string, stage: Stage): Promise<void> {
  const dir = samplesPath(runDir, s.step);
  const upTo = s.shape.resolutions.indexOf(Math.max(...stage.outputs)) + 1;
  if (s.cond) return writeCondSamples(s, dir, upTo);
  for (const [tag, g] of [['', s.learner], ['ema-', s.ema]] as const) {
    if (!g) continue;
    const xs = tf.tidy(() => learnerForward(g, s.sampleZ, upTo).x);
    for (const r of stage.outputs) await writeGridPng(join(dir, `${tag}r${r}.png`), xs[s.shape.resolutions.indexOf(r)], { scale: Math.max(1, Math.round(64 / r)) });
    tf.dispose(xs);
  }
}

/**
 * A conditional run's grids (cond-samples.ts): one row per class (or per grid text), one column per fixed
 * latent (at most 8), and rows.json naming the rows in order.
 */
async function writeCondSamples(s: Session, dir: string, upTo: number): Promise<void> {
  const r = s.shape.resolutions[upTo - 1];
  const cols = Math.min(8, s.sampleZ.shape[0]);
  const rows = gridRows(s.cond!, s.source);
  const z = tf.slice(s.sampleZ, [0, 0, 0, 0], [cols, -1, -1, -1]);
  try {
    for (const [tag, g] of [['', s.learner], ['ema-', s.ema]] as const) {
      if (!g || rows.labels.length === 0) continue;
      const x = crossGrid(g, upTo, z, rows.cond);
      await writeGridPng(join(dir, `${tag}r${r}.png`), x, { cols, scale: Math.max(1, Math.round(64 / r)) });
      x.dispose();
    }
    await writeFileAtomic(join(dir, 'rows.json'), JSON.stringify(rows.labels, null, 1) + '\n');
  } finally {
    tf.dispose([z, rows.cond]);
  }
}
