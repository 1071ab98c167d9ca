/**
 * The 2-D targets where mode collapse can be counted, with the protocol of the VEEGAN (Srivastava et al.
 * 2017) and PacGAN (Lin et al. 2018) papers (docs/recipes.md): a ring of 8 Gaussians on the unit
 * circle with standard deviation 0.01, and a 5x5 grid of 25 Gaussians at {-4,-2,0,2,4}^2 with standard
 * deviation 0.05, equal weights. A generated sample is high quality when it lies within 3 standard
 * deviations of its nearest mode; a mode is covered when at least one high-quality sample falls on it; the
 * reverse KL compares the histogram of samples over their nearest modes with the uniform true one.
 */
import type { Rng } from '../util/rng.js';

export const TARGETS = ['ring', 'grid'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface Target {
  name: TargetName;
  /** Mode centres [K][2]. */
  modes: [number, number][];
  /** Standard deviation of every mode (isotropic). */
  sigma: number;
  /** A square box [-extent, extent]^2 that holds the target with margin (plots, D landscape). */
  extent: number;
}

export function makeTarget(name: TargetName): Target {
  if (name === 'ring') {
    const modes = Array.from({ length: 8 }, (_, k) => [Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)] as [number, number]);
    return { name, modes, sigma: 0.01, extent: 1.5 };
  }
  const modes: [number, number][] = [];
  for (const x of [-4, -2, 0, 2, 4]) for (const y of [-4, -2, 0, 2, 4]) modes.push([x, y]);
  return { name, modes, sigma: 0.05, extent: 6 };
}

/** n samples [n*2] (x, y interleaved): a uniformly chosen mode plus N(0, sigma^2 I). */
export function sampleTarget(t: Target, rng: Rng, n: number): Float32Array {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [mx, my] = t.modes[rng.int(t.modes.length)];
    out[2 * i] = mx + t.sigma * rng.normal();
    out[2 * i + 1] = my + t.sigma * rng.normal();
  }
  return out;
}

export interface ModeReport {
  /** Modes with at least one high-quality sample (of K). */
  modes: number;
  /** K. */
  totalModes: number;
  /** Fraction of samples within 3 sigma of their nearest mode. */
  highQuality: number;
  /** KL(p_G || p_true) of the nearest-mode histograms (all samples), in nats; 0 = every mode equally often. */
  reverseKl: number;
  /** High-quality samples per mode. */
  counts: number[];
}

/** The VEEGAN/PacGAN measures of samples xy [n*2]. */
export function modeReport(t: Target, xy: ArrayLike<number>): ModeReport {
  const n = xy.length / 2;
  const k = t.modes.length;
  const hq = new Array(k).fill(0);
  const nearest = new Array(k).fill(0);
  let good = 0;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    let best = 0;
    let bd = Infinity;
    for (let j = 0; j < k; j++) {
      const d = (x - t.modes[j][0]) ** 2 + (y - t.modes[j][1]) ** 2;
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    nearest[best]++;
    if (Math.sqrt(bd) <= 3 * t.sigma) {
      hq[best]++;
      good++;
    }
  }
  let kl = 0;
  for (const c of nearest) if (c > 0) kl += (c / n) * Math.log((c / n) * k);
  return { modes: hq.filter((c) => c > 0).length, totalModes: k, highQuality: n ? good / n : 0, reverseKl: kl, counts: hq };
}
