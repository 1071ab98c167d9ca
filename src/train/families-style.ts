/**
 * The attention and style families as the trainer runs them (docs/families.md), beside families.ts's
 * multi-resolution ones: SAGAN (src/models/sagan.ts) and the StyleGAN-style generator
 * (src/models/stylegan.ts). Both train in one stage at the top resolution (`train.mode end-to-end`), every
 * G variable but the spectral-norm vectors trained, D on x_L alone; their lower levels are 2x2 pools of the
 * top image, as DCGAN's.
 *
 *   sagan     G and D convolutional with a self-attention block each (families.sagan.attentionG / attentionD,
 *             a feature side; 0 = none) and spectral norm on every weight of both (families.sagan.spectralNorm,
 *             on by default); the paper's hinge loss and TTUR are the `sagan` preset.
 *   stylegan  mapping network (families.stylegan.mappingLayers, lrMul), constant input, AdaIN styles, noise
 *             inputs; D is ProGAN's at the top resolution (equalised lr, minibatch stddev, group 4).
 */
import { createSaganDiscriminator, createSaganGenerator, saganProblems, type SaganShape } from '../models/sagan.js';
import { createStyleganGenerator, type StyleganShape } from '../models/stylegan.js';
import { createProganDiscriminators } from '../models/progan.js';
import type { Discriminator } from '../models/discriminator.js';
import type { Learner } from '../models/learner.js';
import { Rng } from '../util/rng.js';
import type { TrainConfig } from './config.js';
import type { Stage } from './stages.js';
import { ownDiscProblem } from './own-disc.js';

export const STYLE_FAMILIES = ['sagan', 'stylegan'] as const;
export type StyleFamily = (typeof STYLE_FAMILIES)[number];

export function isStyleFamily(family: string): family is StyleFamily {
  return (STYLE_FAMILIES as readonly string[]).includes(family);
}

export function saganShape(c: TrainConfig, imageChannels: number): SaganShape {
  const g = c.generator;
  const a = c.families.sagan;
  return {
    resolutions: [...g.resolutions], imageChannels, zDim: g.zDim, widths: [...g.channels], dWidths: [...c.discriminator.widths],
    attentionG: a.attentionG, attentionD: a.attentionD, spectralNormG: a.spectralNorm, spectralNormD: a.spectralNorm,
  };
}

export function styleganShape(c: TrainConfig, imageChannels: number): StyleganShape {
  const g = c.generator;
  const m = c.families.stylegan;
  return { resolutions: [...g.resolutions], imageChannels, zDim: g.zDim, widths: [...g.channels], mappingLayers: m.mappingLayers, lrMul: m.lrMul };
}

/** The family's generator, drawn from Rng(seed, 'init-g'). */
export function createStyleGenerator(c: TrainConfig, imageChannels: number): Learner {
  const rng = new Rng(c.seed, 'init-g');
  return c.generator.family === 'sagan' ? createSaganGenerator(saganShape(c, imageChannels), rng) : createStyleganGenerator(styleganShape(c, imageChannels), rng);
}

/** G variables a stage trains: all but the spectral-norm vectors (refreshed by power iteration, not by Adam). */
export const trainedNames = (names: string[]) => names.filter((n) => !n.includes('.sn.'));

/** One stage at the top level: every trainable G variable, D on x_L. */
export function styleSchedule(c: TrainConfig, steps: number[]): Stage[] {
  const g = createStyleGenerator(c, 3);
  try {
    const L = c.generator.resolutions.length;
    const r = c.generator.resolutions[L - 1];
    return [{ level: L, resolution: r, steps: steps[L - 1], trained: trainedNames([...g.vars.keys()]), frozen: [], discInput: 'single', outputs: [r], calibrate: [], oracle: [], untrainedHeads: [] }];
  } finally {
    for (const v of g.vars.values()) v.dispose();
  }
}

/** The one D, keyed by the top resolution, drawn from Rng(seed, `init-d.r<r>`). */
export function createStyleDiscriminators(c: TrainConfig, imageChannels: number): Map<number, Discriminator> {
  const res = c.generator.resolutions;
  const r = res[res.length - 1];
  const rng = new Rng(c.seed, `init-d.r${r}`);
  if (c.generator.family === 'sagan') return new Map([[r, createSaganDiscriminator(saganShape(c, imageChannels), rng, c.discriminator.powerIterations)]]);
  // ProGAN's D at its top stage (alpha 1): its fromRGB layers of lower levels are not used, so disposed.
  const all = createProganDiscriminators({ resolutions: [...res], imageChannels, zDim: c.generator.zDim, widths: [...c.generator.channels], group: 4 }, rng);
  const top = all.get(r)!;
  const keep = new Set(top.vars.values());
  for (const d of all.values()) for (const v of d.vars.values()) if (!keep.has(v) && !v.isDisposed) v.dispose();
  return new Map([[r, top]]);
}

/** The image channels of a family's checkpoint (its rgb layer's last axis). */
export function styleImageChannels(tensors: Record<string, { shape: number[] }>): number | null {
  return tensors['g.rgb.w']?.shape[3] ?? null;
}

/** What a sagan or stylegan config may not use, one sentence each naming the field and the fix. */
export function styleProblems(c: TrainConfig): string[] {
  const p: string[] = [];
  const family = c.generator.family;
  const d = c.discriminator;
  if (family === 'sagan') {
    p.push(...saganProblems(saganShape(c, 3)));
    if (c.discriminator.spectralNorm) p.push("config.discriminator.spectralNorm configures the FSR discriminator; family 'sagan' normalises G and D by families.sagan.spectralNorm (on by default): leave discriminator.spectralNorm false.");
    if (c.train.emaBeta > 0) p.push("config.train.emaBeta must be 0 for family 'sagan': an EMA of G would keep its spectral-norm vectors from the stage start.");
  } else {
    const m = c.families.stylegan;
    if (!Number.isInteger(m.mappingLayers) || m.mappingLayers < 1) p.push(`config.families.stylegan.mappingLayers must be an integer >= 1 (the paper's 8), got ${m.mappingLayers}.`);
    if (!(m.lrMul > 0 && m.lrMul <= 1)) p.push(`config.families.stylegan.lrMul must be in (0, 1] (the paper's 0.01), got ${m.lrMul}.`);
    if (d.spectralNorm) p.push("config.generator.family 'stylegan' uses the equalised learning rate, not spectral norm: set discriminator.spectralNorm to false.");
  }
  const own = ownDiscProblem(family, d, ['crop', 'patchStride', 'pack', 'minibatchStddev', 'minibatchKernels', 'neighbourDiffs']);
  if (own) p.push(own);
  if (c.objective.featureMatching > 0 || c.train.unroll > 0) p.push(`config.generator.family '${family}' has no FSR discriminator features or parameter swap: set objective.featureMatching and train.unroll to 0.`);
  return p;
}
