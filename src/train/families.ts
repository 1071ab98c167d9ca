/**
 * The multi-resolution model families as the trainer runs them (docs/families.md): LAPGAN, ProGAN, the
 * stacked GAN and SRGAN-style supervised super-resolution (`generator.family`). For each: its generator
 * (a Learner whose forward is the family's, src/models/<family>.ts), one discriminator per stage, and its
 * stages as data (src/train/stages.ts): which G variables each stage trains, what its D sees, whether G is
 * conditioned on the real level below (`condition`) and whether new blocks fade in (`fade`). The
 * trainer, checkpoints, resume, replicas, sample grids and loadRun treat them as they treat the FSR learner.
 *
 *   lapgan   layerwise: level l trains G_l on the real x_{l-1} (the paper); D_1 on x_1, D_l on (x_{l-1}, x_l).
 *            end-to-end: one stage trains every level through the generated chain, against D_L on (x_{L-1}, x_L).
 *   progan   layerwise (growing): stage l trains every block <= l (and rgb_{l-1} for the fade), D on x_l.
 *   stacked  layerwise: stage 1 trains G_1 at r_1; stage 2 (level L) trains G_2 with G_1 frozen, D on (x_1, x_L).
 *   srgan    layerwise: stage 1 as LAPGAN's; level l >= 2 trains G_l on the real x_{l-1} with SRGAN's loss, D on x_l.
 */
import type * as tf from '@tensorflow/tfjs';
import { createDiscriminator, type Discriminator } from '../models/discriminator.js';
import type { Learner } from '../models/learner.js';
import { createLapganGenerator, lapganLevelNames } from '../models/lapgan.js';
import { createStackedGenerator, stackedPairInput, stackedStageNames } from '../models/stacked.js';
import { createSrganGenerator } from '../models/srgan.js';
import { createProganDiscriminators, createProganGenerator, proganStageNames, type ProganShape } from '../models/progan.js';
import { Rng } from '../util/rng.js';
import { createStyleDiscriminators, createStyleGenerator, isStyleFamily, type StyleFamily, styleImageChannels, styleProblems, styleSchedule } from './families-style.js';
import type { TrainConfig } from './config.js';
import type { Stage } from './stages.js';
import { ownDiscProblem } from './own-disc.js';

/** The families this file builds (generator.family); 'fsr' and 'dcgan' are built by session.ts. */
export const MULTI_FAMILIES = ['lapgan', 'progan', 'stacked', 'srgan', 'sagan', 'stylegan'] as const;
export type MultiFamily = (typeof MULTI_FAMILIES)[number];

export function isMultiFamily(family: string): family is MultiFamily {
  return (MULTI_FAMILIES as readonly string[]).includes(family);
}

/** The train.mode values each family runs. */
export const FAMILY_MODES: Record<MultiFamily, string[]> = {
  lapgan: ['layerwise', 'end-to-end'],
  progan: ['layerwise'],
  stacked: ['layerwise'],
  srgan: ['layerwise'],
  sagan: ['end-to-end'],
  stylegan: ['end-to-end'],
};

function proganShape(c: TrainConfig, imageChannels: number): ProganShape {
  const g = c.generator;
  return { resolutions: [...g.resolutions], imageChannels, zDim: g.zDim, widths: [...g.channels], group: c.families.progan.stddevGroup };
}

/** The family's generator, drawn from Rng(seed, 'init-g'). */
export function createFamilyGenerator(c: TrainConfig, imageChannels: number): Learner {
  const g = c.generator;
  const rng = new Rng(c.seed, 'init-g');
  const base = { resolutions: [...g.resolutions], imageChannels, zDim: g.zDim, widths: [...g.channels] };
  const family = g.family as MultiFamily;
  if (isStyleFamily(family)) return createStyleGenerator(c, imageChannels);
  switch (family) {
    case 'lapgan':
      return createLapganGenerator({ ...base, noiseChannels: c.families.lapgan.noiseChannels }, rng);
    case 'srgan':
      return createSrganGenerator(base, rng);
    case 'stacked':
      return createStackedGenerator({ ...base, widths: [g.channels[0], g.channels[g.channels.length - 1]], noiseChannels: c.families.stacked.noiseChannels }, rng);
    case 'progan':
      return createProganGenerator(proganShape(c, imageChannels), rng);
    default: {
      const unknown: never = family;
      throw new Error(`createFamilyGenerator: unknown family '${String(unknown)}'`);
    }
  }
}

/** Names of every G variable of the family (for the stages' frozen lists). */
function stagesOf(c: TrainConfig, steps: number[], names: (l: number) => string[], all: string[]): Stage[] {
  const g = c.generator;
  const L = g.resolutions.length;
  const res = g.resolutions;
  const make = (level: number, trained: string[], discInput: Stage['discInput'], outputs: number[], extra: Partial<Stage> = {}): Stage => ({
    level, resolution: res[level - 1], steps: steps[level - 1], trained, frozen: all.filter((n) => !trained.includes(n)), discInput, outputs,
    calibrate: [], oracle: [], untrainedHeads: [], ...extra,
  });
  const family = g.family as Exclude<MultiFamily, StyleFamily>;
  switch (family) {
    case 'lapgan':
      if (c.train.mode === 'end-to-end') return [make(L, all, L > 1 ? 'pair' : 'single', [...res])];
      return res.map((_, l) => make(l + 1, names(l), l === 0 ? 'single' : 'pair', res.slice(0, l + 1), l > 0 ? { condition: 'real' } : {}));
    case 'srgan':
      return res.map((_, l) => make(l + 1, names(l), 'single', res.slice(0, l + 1), l > 0 ? { condition: 'real' } : {}));
    case 'stacked':
      return L === 1 ? [make(1, names(0), 'single', [res[0]])] : [make(1, names(0), 'single', [res[0]]), make(L, names(1), 'pair', [res[0], res[L - 1]])];
    case 'progan':
      return res.map((_, l) => make(l + 1, names(l), 'single', res.slice(0, l + 1), l > 0 ? { fade: c.families.progan.fade } : {}));
    default: {
      const unknown: never = family;
      throw new Error(`familySchedule: unknown family '${String(unknown)}'`);
    }
  }
}

/** The family's stages; `steps[l]` is the budget of the stage that generates level index l. */
export function familySchedule(c: TrainConfig, steps: number[]): Stage[] {
  // The names come from a generator built for the purpose (cheap at these sizes, and disposed at once).
  if (isStyleFamily(c.generator.family)) return styleSchedule(c, steps);
  const g = createFamilyGenerator(c, 3);
  try {
    const all = [...g.vars.keys()];
    const res = c.generator.resolutions;
    const family = c.generator.family as MultiFamily;
    const names = (l: number): string[] => {
      if (family === 'stacked') return stackedStageNames(g.vars, l === 0 ? 1 : 2);
      if (family === 'progan') return proganStageNames(proganShape(c, 3), g.vars, l);
      return lapganLevelNames(g.vars, res[l]);
    };
    return stagesOf(c, steps, names, all);
  } finally {
    for (const v of g.vars.values()) v.dispose();
  }
}

/** One D per stage, keyed by the stage's resolution; each drawn from Rng(seed, `init-d.r<r>`) (ProGAN: one shared set). */
export function createFamilyDiscriminators(c: TrainConfig, stages: Stage[], imageChannels: number): Map<number, Discriminator> {
  if (isStyleFamily(c.generator.family)) return createStyleDiscriminators(c, imageChannels);
  if (c.generator.family === 'progan') return createProganDiscriminators(proganShape(c, imageChannels), new Rng(c.seed, 'init-d'));
  const dc = c.discriminator;
  const discs = new Map<number, Discriminator>();
  for (const st of stages) {
    const size = dc.crop > 0 && dc.crop < st.resolution ? dc.crop : st.resolution;
    const d = createDiscriminator(st.resolution, st.discInput, imageChannels, c.generator.patch, dc, new Rng(c.seed, `init-d.r${st.resolution}`), size);
    if (c.generator.family === 'stacked' && st.level > 1) d.makeInput = stackedPairInput;
    discs.set(st.resolution, d);
  }
  return discs;
}

/** The image channels of a family's checkpoint (its first output layer's last axis), or null when not one. */
export function familyImageChannels(c: TrainConfig, tensors: Record<string, tf.Tensor>): number | null {
  if (isStyleFamily(c.generator.family)) return styleImageChannels(tensors);
  const r1 = c.generator.resolutions[0];
  const t = { lapgan: `g.r${r1}.rgb.w`, srgan: `g.r${r1}.rgb.w`, stacked: 'g.s1.rgb.w', progan: `g.rgb${r1}.w` }[c.generator.family as Exclude<MultiFamily, StyleFamily>];
  return t && tensors[t] ? (tensors[t].shape[3] ?? null) : null;
}

/** What a family config may not use, one sentence each naming the field and the fix. */
export function familyProblems(c: TrainConfig): string[] {
  const p: string[] = [];
  const family = c.generator.family as MultiFamily;
  const g = c.generator;
  const modes = FAMILY_MODES[family];
  if (!modes.includes(c.train.mode)) p.push(`config.generator.family '${family}' trains in train.mode ${modes.map((m) => `'${m}'`).join(' or ')}, got '${c.train.mode}'.`);
  if (g.channels.length !== g.resolutions.length) p.push(`config.generator.channels must have one width per resolution (${g.resolutions.length}) for family '${family}', got ${g.channels.length}.`);
  for (let i = 1; i < g.resolutions.length; i++) {
    if (g.resolutions[i] !== 2 * g.resolutions[i - 1]) p.push(`config.generator.resolutions must double at each level for family '${family}' (got ${g.resolutions[i - 1]} then ${g.resolutions[i]}).`);
  }
  const r1 = g.resolutions[0];
  if (!(r1 <= 4 || Number.isInteger(Math.log2(r1 / 4)))) p.push(`config.generator.resolutions[0] = ${r1} must be at most 4 or 4 times a power of 2 for family '${family}' (its first block doubles from a 4x4 grid).`);
  if (c.analysis.every > 0) p.push(`config.generator.family '${family}' has none of the FSR learner's training-time measurements: set analysis.every to 0 (measure the run afterwards with fsrgan analyze).`);
  if (g.head !== 'linear' || g.skip) p.push(`config.generator.head and generator.skip are FSR-learner options; family '${family}' has its own output layers: leave them at 'linear' and false.`);
  if (family === 'progan') {
    const own = ownDiscProblem('progan', c.discriminator, ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs'], 'equalised learning rate, minibatch stddev');
    if (own) p.push(own);
    const f = c.families.progan;
    if (!(f.fade >= 0 && f.fade <= 1)) p.push(`config.families.progan.fade must be in [0, 1] (the fraction of each stage over which alpha ramps to 1), got ${f.fade}.`);
    if (!Number.isInteger(f.stddevGroup) || f.stddevGroup < 1) p.push(`config.families.progan.stddevGroup must be an integer >= 1, got ${f.stddevGroup}.`);
  }
  for (const k of ['lapgan', 'stacked'] as const) {
    const n = c.families[k].noiseChannels;
    if (!Number.isInteger(n) || n < 0) p.push(`config.families.${k}.noiseChannels must be an integer >= 0, got ${n}.`);
  }
  if (isStyleFamily(family)) p.push(...styleProblems(c));
  const s = c.families.srgan;
  for (const k of ['adversarial', 'pixel', 'feature'] as const) if (!(s[k] >= 0)) p.push(`config.families.srgan.${k} must be >= 0, got ${s[k]}.`);
  return p;
}
