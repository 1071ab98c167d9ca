/**
 * Families with their own discriminator refuse the options only the FSR learner's D implements
 * (src/train/own-disc.ts): each shipped config of such a family, with one of those options turned on,
 * is a UserError naming exactly that field and the value that turns it off; with all of them on, every
 * one is named; the FSR learner accepts each.
 */
import { describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../src/train/config.js';
import { FSR_DISC_OPTIONS, type FsrDiscOption } from '../src/train/own-disc.js';
import { UserError } from '../src/util/errors.js';

/** A value that turns each option on, as a config file would write it. */
const ON: Record<FsrDiscOption, unknown> = {
  spectralNorm: true,
  crop: 4,
  patchStride: 2,
  neighbourDiffs: true,
  pack: 2,
  minibatchStddev: 4,
  minibatchKernels: 4,
  augment: ['color'],
  instanceNoise: 0.1,
};

/** Shipped config of each family, and the options its own D lacks. */
const FAMILIES: [string, FsrDiscOption[]][] = [
  ['experiments/dcgan-emoji.json', ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs']],
  ['experiments/progan-emoji.json', ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs']],
  ['experiments/cgan-emoji.json', ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs', 'pack', 'minibatchStddev', 'minibatchKernels', 'augment', 'instanceNoise']],
  ['experiments/acgan-fashion.json', ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs', 'pack', 'minibatchStddev', 'minibatchKernels', 'augment', 'instanceNoise']],
  ['experiments/sagan-emoji.json', ['crop', 'patchStride', 'pack', 'minibatchStddev', 'minibatchKernels', 'neighbourDiffs']],
  ['experiments/stylegan-emoji.json', ['crop', 'patchStride', 'pack', 'minibatchStddev', 'minibatchKernels', 'neighbourDiffs']],
];

const problem = (base: Record<string, unknown>, disc: Record<string, unknown>): string | null => {
  try {
    resolveConfig({ ...base, discriminator: { ...(base.discriminator as object), ...disc } });
    return null;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return e.message;
  }
};

describe('families with their own D refuse the FSR discriminator options', () => {
  for (const [file, refused] of FAMILIES) {
    it(file, async () => {
      const base = await readConfigFile(file);
      const family = (base.generator as { family: string }).family;
      expect(problem(base, {}), 'the shipped config is valid').toBeNull();
      for (const name of refused) {
        const msg = problem(base, { [name]: ON[name] });
        expect(msg, `${family}: discriminator.${name}`).toMatch(new RegExp(`family '${family}' has its own D.*: set discriminator\\.${name} to \\S+ \\(got `));
        // Only the field that was set is named in the fix.
        for (const other of refused) if (other !== name) expect(msg).not.toMatch(new RegExp(`discriminator\\.${other} to`));
      }
      const all = problem(base, Object.fromEntries(refused.map((n) => [n, ON[n]])));
      for (const name of refused) expect(all).toMatch(new RegExp(`discriminator\\.${name} to`));
    });
  }

  it('the FSR learner (layerwise emoji) accepts every option of the table one at a time', async () => {
    const base = await readConfigFile('experiments/layerwise-emoji.json');
    expect(FSR_DISC_OPTIONS.length).toBe(Object.keys(ON).length);
    for (const name of FSR_DISC_OPTIONS) {
      const msg = problem(base, { [name]: ON[name] });
      expect(msg ?? '', name).not.toMatch(/has its own D/);
    }
  });
});
