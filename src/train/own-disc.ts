/**
 * Discriminator options that only the FSR learner's D (src/models/discriminator.ts) implements, in one
 * table. The families that build their own D (dcgan, the conditional families, sagan and stylegan, progan)
 * refuse the ones they lack through ownDiscProblem, so that a new option of the FSR D is refused by every
 * such family once it is listed here and in the family's list, and the message names the fields the
 * config actually set, with the value that turns each off.
 */
import type { TrainConfig } from './config.js';

type Disc = TrainConfig['discriminator'];

const FSR_D_OPTIONS = {
  spectralNorm: { on: (d: Disc) => d.spectralNorm, off: 'false' },
  crop: { on: (d: Disc) => d.crop > 0, off: '0' },
  patchStride: { on: (d: Disc) => d.patchStride > 0, off: '0' },
  neighbourDiffs: { on: (d: Disc) => d.neighbourDiffs, off: 'false' },
  pack: { on: (d: Disc) => d.pack > 1, off: '1' },
  minibatchStddev: { on: (d: Disc) => d.minibatchStddev > 0, off: '0' },
  minibatchKernels: { on: (d: Disc) => d.minibatchKernels > 0, off: '0' },
  augment: { on: (d: Disc) => d.augment.length > 0, off: '[]' },
  instanceNoise: { on: (d: Disc) => d.instanceNoise > 0, off: '0' },
} as const;

export type FsrDiscOption = keyof typeof FSR_D_OPTIONS;

/** Every option of the table (for tests and docs). */
export const FSR_DISC_OPTIONS = Object.keys(FSR_D_OPTIONS) as FsrDiscOption[];

/**
 * One sentence refusing the options of `names` that `d` sets, or null when it sets none. `own` says what
 * the family's D is (e.g. "equalised learning rate, minibatch stddev"), shown in brackets.
 */
export function ownDiscProblem(family: string, d: Disc, names: readonly FsrDiscOption[], own = ''): string | null {
  const set = names.filter((n) => FSR_D_OPTIONS[n].on(d));
  if (!set.length) return null;
  const fixes = set.map((n) => `discriminator.${n} to ${FSR_D_OPTIONS[n].off} (got ${JSON.stringify(d[n])})`);
  const last = fixes.length > 1 ? ` and ${fixes.pop()}` : '';
  return `config.generator.family '${family}' has its own D${own ? ` (${own})` : ''}, without the FSR discriminator's ${set.join(', ')}: set ${fixes.join(', ')}${last}.`;
}
