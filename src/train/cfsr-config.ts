/**
 * The conditional FSR learner's config (generator.condition 'class' or 'text'; docs/conditional.md): what it
 * may not use, one sentence each naming the field and the fix, and its stages: layer l's condition embedding
 * E_l (g.r<r_l>.cls; src/models/class-shift.ts) is trained with layer l's deconvolution and frozen with it.
 */
import { CLASS_PART, gName } from '../models/learner.js';
import type { TrainConfig } from './config.js';
import type { Stage } from './stages.js';
import { isCondFamily } from '../models/conditional.js';

/** Whether a config is the conditional FSR learner (on the class or on the text of each image). */
export function isCondFsr(c: TrainConfig): boolean {
  return c.generator.condition !== 'none';
}

/** What generator.condition 'class' or 'text' may not be combined with (empty when valid, or when the condition is 'none'). */
export function classFsrProblems(c: TrainConfig): string[] {
  if (!isCondFsr(c)) return [];
  const p: string[] = [];
  const cond = c.generator.condition;
  const no = (bad: boolean, what: string) => bad && p.push(`config.generator.condition '${cond}' ${what}.`);
  if (c.generator.family !== 'fsr') {
    // The conditional families take their condition by their own design; the others have none.
    return [`config.generator.condition '${cond}' conditions the fsr learner; family '${c.generator.family}' ${isCondFamily(c.generator.family) ? 'is conditioned by its own design (docs/conditional.md)' : 'takes no condition'}: set generator.condition to 'none'.`];
  }
  // Of the built-in data sets only emoji names its images (a source without names is refused when the run starts).
  if (cond === 'text') no(c.data === 'fashion-mnist' || /\.json$/i.test(c.data), `needs images with names, which config.data '${c.data}' does not have: train on emoji, or use generator.condition 'class'`);
  else no(/\.json$/i.test(c.data), `needs class labels, and config.data '${c.data}' is a synthetic teacher, which has none: train on emoji, fashion-mnist or a folder of class subfolders, or set generator.condition to 'none'`);
  no(c.generator.virtualBatchNorm, "has no virtual batch norm (its reference batch has no classes): set generator.virtualBatchNorm to false");
  no(c.discriminator.pack > 1, 'judges each image with its own class, which packing mixes: set discriminator.pack to 1');
  no(c.train.unroll > 0 || c.objective.featureMatching > 0, 'has no unrolled D or feature matching (they read D without its classes): set train.unroll and objective.featureMatching to 0');
  no(c.analysis.every > 0 || c.analysis.quality.what.length > 0, 'has no training-time measurements (they draw unconditional samples; measure it with `fsrgan metrics conditional`): set analysis.every to 0 and analysis.quality.what to []');
  const names = c.families.conditional.classNames;
  if (new Set(names).size !== names.length) p.push('config.families.conditional.classNames has a name twice: give each class once.');
  return p;
}

/** Stages with each layer's class embedding trained where its deconvolution is, and frozen (hashed) everywhere else. */
export function classStages(stages: Stage[], resolutions: number[]): Stage[] {
  const all = resolutions.map((r) => gName(r, CLASS_PART));
  return stages.map((st) => {
    const own = resolutions.filter((r) => st.trained.includes(gName(r, 'deconv'))).map((r) => gName(r, CLASS_PART));
    return { ...st, trained: [...st.trained, ...own], frozen: [...st.frozen, ...all.filter((n) => !own.includes(n))] };
  });
}
