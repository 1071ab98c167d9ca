/**
 * A rough upper estimate of the memory a training config needs, checked before anything is allocated
 * (issue 22 case 4): `train.batch = 1e9` or `generator.channels = [1e5, ...]` used to end in
 * "RangeError: Invalid typed array length" deep inside tfjs. The estimate counts float32 elements:
 *
 *   weights    G: k^2 C_{l-1} C_l + P^2 3 C_l per level (x4: weights, Adam m and v, EMA); D likewise
 *   batch      per image and level: G's hidden grid C_l (r_l/P)^2 and images (pair input, 6 r_l^2), D's
 *              feature maps; x8 for the backward pass, R1's double backprop and tfjs's temporaries
 *   samples    log.samples and analysis.samples images at every level
 *
 * It is meant to catch settings that cannot run at all, not to predict usage: it refuses only what is
 * beyond the machine's total memory.
 */
import { totalmem } from 'node:os';
import type { TrainConfig } from './config.js';

/** Bytes the config needs at most (a deliberate overestimate), with the biggest term's name. */
export function estimateBytes(c: TrainConfig): { bytes: number; largest: string } {
  const g = c.generator;
  const d = c.discriminator;
  const P = g.patch;
  let weights = 0;
  let perImage = 0;
  g.resolutions.forEach((r, l) => {
    const fanIn = l === 0 ? g.zDim : g.channels[l - 1];
    weights += g.kernel * g.kernel * fanIn * g.channels[l] + P * P * 3 * g.channels[l];
    perImage += g.channels[l] * (r / P) ** 2 + 6 * r * r;
    let grid = r / P;
    let prev = 6 * P * P;
    for (const w of d.widths) {
      weights += prev * w;
      perImage += w * grid * grid;
      prev = w * d.kernel * d.kernel;
      grid = Math.max(1, Math.ceil(grid / 2));
    }
  });
  const rL = g.resolutions[g.resolutions.length - 1];
  const terms: Record<string, number> = {
    'weights (generator.channels, zDim, kernel; discriminator.widths)': 4 * 4 * weights,
    'activations (train.batch x the networks)': 4 * 8 * c.train.batch * perImage,
    'sample images (log.samples, analysis.samples)': 4 * 2 * (c.log.samples + c.analysis.samples) * 3 * rL * rL,
  };
  const largest = Object.entries(terms).sort((a, b) => b[1] - a[1])[0][0];
  return { bytes: Object.values(terms).reduce((a, b) => a + b, 0), largest };
}

/** A problem sentence when the estimate exceeds the machine's memory, else null. */
export function memoryProblem(c: TrainConfig, available = totalmem()): string | null {
  const { bytes, largest } = estimateBytes(c);
  if (!Number.isFinite(bytes) || bytes > available) {
    const gb = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 0)} GB`;
    return `this config needs about ${Number.isFinite(bytes) ? gb(bytes) : 'unbounded memory'} (mostly ${largest}) and this machine has ${gb(available)}: make those smaller.`;
  }
  return null;
}
