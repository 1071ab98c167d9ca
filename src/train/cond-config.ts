/**
 * A conditional family's config (generator.family cgan, acgan or text2img; docs/conditional.md): its
 * network shape, and what such a config may not use, one sentence each naming the field and the fix.
 */
import { condShapeProblems, type CondFamily, type CondShape } from '../models/conditional.js';
import { ownDiscProblem } from './own-disc.js';
import { ADDITIVE_OBJECTIVES } from './cond-objectives.js';
import type { TrainConfig } from './config.js';
import type { ConditionSpace } from './conditions.js';

/** The conditional networks of a config for a condition space (its top resolution; src/models/conditional.ts). */
export function condShape(c: TrainConfig, space: Pick<ConditionSpace, 'dim' | 'kind'>, imageChannels = 3): CondShape {
  const g = c.generator;
  const f = c.families.conditional;
  const family = g.family as CondFamily;
  return {
    family,
    resolution: g.resolutions[g.resolutions.length - 1],
    resolutions: [...g.resolutions],
    imageChannels,
    zDim: g.zDim,
    gWidths: [...g.channels],
    dWidths: [...c.discriminator.widths],
    leak: c.discriminator.leak,
    condDim: space.dim,
    classes: family === 'acgan' ? space.dim : 0,
    project: f.project,
    dCondition: family === 'acgan' ? 'none' : f.dCondition,
  };
}

/** What a conditional config may not use (empty when valid). */
export function condConfigProblems(c: TrainConfig): string[] {
  const family = c.generator.family as CondFamily;
  const f = c.families.conditional;
  const p = condShapeProblems(condShape(c, { dim: 1, kind: 'class' })).map((s) => `config: ${s}.`);
  const no = (bad: boolean, what: string) => bad && p.push(`config.generator.family '${family}' ${what}.`);
  no(c.train.mode !== 'end-to-end', `trains end to end: set train.mode to 'end-to-end', got '${c.train.mode}'`);
  no(c.objective.name === 'wgan-gp' || c.objective.dragan > 0, 'has R1 (objective.r1) as its only gradient penalty: set objective.dragan to 0 and use another objective than wgan-gp (e.g. ns with objective.r1)');
  no(!(ADDITIVE_OBJECTIVES as readonly string[]).includes(c.objective.name), `needs an objective whose D loss adds a real and a fake term (${ADDITIVE_OBJECTIVES.join(', ')}), got '${c.objective.name}'`);
  const own = ownDiscProblem(family, c.discriminator, ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs', 'pack', 'minibatchStddev', 'minibatchKernels', 'augment', 'instanceNoise']);
  if (own) p.push(own);
  const o = c.objective;
  no(o.labelSmoothing > 0 || o.labelNoise > 0 || o.labelFlip > 0 || o.featureMatching > 0 || c.train.unroll > 0 || c.train.historicalAveraging > 0, 'has none of the label, feature-matching, unrolling or averaging recipes: leave them at 0');
  no(c.analysis.every > 0, 'has none of the FSR measurements: analysis.every must be 0');
  if (!(f.auxWeight >= 0)) p.push(`config.families.conditional.auxWeight must be >= 0, got ${f.auxWeight}.`);
  if (!(f.wrongWeight >= 0 && f.wrongWeight <= 1)) p.push(`config.families.conditional.wrongWeight must be in [0, 1], got ${f.wrongWeight}.`);
  if (!Number.isInteger(f.textDim) || f.textDim < 8) p.push(`config.families.conditional.textDim must be an integer >= 8, got ${f.textDim}.`);
  if (!Number.isInteger(f.project) || f.project < 0) p.push(`config.families.conditional.project must be an integer >= 0, got ${f.project}.`);
  if (family === 'text2img' && f.project === 0) p.push(`config.generator.family 'text2img' compresses its ${f.textDim}-d text embedding: set families.conditional.project (Reed et al.: 128; e.g. 64).`);
  if (!(f.interpolation >= 0)) p.push(`config.families.conditional.interpolation must be >= 0, got ${f.interpolation}.`);
  if (f.interpolation > 0 && family !== 'text2img') p.push(`config.families.conditional.interpolation (GAN-INT) interpolates texts: it applies to 'text2img' only; set it to 0 for '${family}'.`);
  if (family === 'acgan' && f.dCondition !== 'projection') p.push("config.families.conditional.dCondition does not apply to 'acgan' (its D is unconditional with a class head): leave it at 'projection'.");
  if (new Set(f.classNames).size !== f.classNames.length) p.push('config.families.conditional.classNames has a name twice: give each class once.');
  return p;
}
