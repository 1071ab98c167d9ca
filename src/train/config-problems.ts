/**
 * The checks of a merged training config that mergeStrict cannot make (integers, ranges, a consistent
 * resolution schedule, a dataset, what each model family may use): one sentence per problem, naming the
 * field and the fix. resolveConfig (config.ts) throws them as one UserError.
 */
import { shapeProblems } from '../models/generator.js';
import { dcganProblems, type DcganShape } from '../models/dcgan.js';
import { AUGMENTS } from './augment.js';
import { memoryProblem } from './memory.js';
import { imageRecipeProblems, recipeProblems } from './recipe-checks.js';
import { familyProblems, isMultiFamily } from './families.js';
import { qualityProblems } from './quality-hooks.js';
import { condConfigProblems } from './cond-config.js';
import { classFsrProblems } from './cfsr-config.js';
import { ownDiscProblem } from './own-disc.js';
import { isCondFamily } from '../models/conditional.js';
import type { TrainConfig } from './config.js';

/** Everything wrong with a merged config, one sentence each naming the field (empty when valid). */
export function configProblems(c: TrainConfig): string[] {
  const p: string[] = [];
  // Elements of a list whose default is empty (stepsByLevel) reach here unchecked by mergeStrict: show them as JSON, cut short.
  const show = (v: unknown) => {
    const s = typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  };
  const int = (v: number, field: string, min: number) => {
    if (!Number.isInteger(v) || v < min) p.push(`config.${field} must be an integer >= ${min}, got ${show(v)}.`);
  };
  const inRange = (v: number, field: string, lo: number, hi: number, hiOpen = true) => {
    if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) p.push(`config.${field} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${show(v)}.`);
  };
  if (c.data.trim() === '') {
    p.push("config.data is required: name a teacher config (e.g. experiments/teacher-small.json), 'emoji', or an image folder.");
  }
  int(c.seed, 'seed', 0);
  // The dataset section is read only for image data, but a value out of range is wrong for any data.
  inRange(c.dataset.heldOutFraction, 'dataset.heldOutFraction', 0, 1);
  if (c.seed > 0xffffffff) p.push(`config.seed must be at most 4294967295 (2^32 - 1; the Rng takes 32 bits), got ${show(c.seed)}.`);
  const g = c.generator;
  if (g.family === 'dcgan') p.push(...dcganConfigProblems(c));
  else if (isMultiFamily(g.family)) p.push(...familyProblems(c));
  else if (isCondFamily(g.family)) p.push(...condConfigProblems(c));
  else p.push(...shapeProblems({ ...g, head: undefined, skip: undefined, equalizedLr: undefined, virtualBatchNorm: undefined, spectralNorm: undefined, imageChannels: 3 }, 'config.generator').map((s) => `${s}.`));
  p.push(...classFsrProblems(c));
  if (g.skipUpsample !== 'nearest' && !g.skip) p.push(`config.generator.skipUpsample = '${g.skipUpsample}' acts only through the skip: set generator.skip to true, or leave skipUpsample at 'nearest'.`);
  g.resolutions.forEach((r, i) => int(r, `generator.resolutions[${i}]`, 1));
  g.channels.forEach((ch, i) => int(ch, `generator.channels[${i}]`, 1));
  int(g.zDim, 'generator.zDim', 1);
  int(g.patch, 'generator.patch', 1);
  int(g.kernel, 'generator.kernel', 1);
  if (!(g.init.active > 0 && g.init.active < 1)) p.push(`config.generator.init.active must be in (0, 1), got ${show(g.init.active)}.`);
  int(g.init.calibrationSamples, 'generator.init.calibrationSamples', 1);
  const h = g.homeostasis;
  if (!(h.active >= 0 && h.active < 1)) p.push(`config.generator.homeostasis.active must be in [0, 1) (0 = off; the teacher's own is targetActive / channels), got ${show(h.active)}.`);
  int(h.every, 'generator.homeostasis.every', 1);
  int(h.samples, 'generator.homeostasis.samples', 1);
  int(h.from, 'generator.homeostasis.from', 1);
  if (Number.isInteger(h.from) && h.from > g.resolutions.length) p.push(`config.generator.homeostasis.from = ${h.from} is above the top level (${g.resolutions.length}); use 1..${g.resolutions.length}.`);
  if (g.attention !== 0 && (g.family !== 'fsr' || !g.resolutions.includes(g.attention))) {
    p.push(g.family !== 'fsr' ? `config.generator.attention places attention in the fsr learner; for family '${g.family}' leave it at 0 (the sagan family has families.sagan.attentionG).` : `config.generator.attention = ${g.attention} must be 0 or one of generator.resolutions (${g.resolutions.join(', ')}).`);
  }
  const mx = g.mixture;
  if (mx.components !== 0) {
    if (!(Number.isInteger(mx.components) && mx.components >= 2)) p.push(`config.generator.mixture.components must be 0 (off) or a whole number of at least 2, got ${show(mx.components)}.`);
    if (!(mx.spread > 0)) p.push(`config.generator.mixture.spread must be above 0 (DeLiGAN starts at 0.2), got ${show(mx.spread)}.`);
    if (g.family !== 'fsr') p.push(`config.generator.mixture is the fsr learner's first-layer latent; for family '${g.family}' leave mixture.components at 0.`);
    if (c.train.mode === 'oracle-lower') p.push("config.generator.mixture cannot be used with train.mode 'oracle-lower': the teacher's first layer reads z ~ N(0, I); leave mixture.components at 0.");
  }
  if (h.active > 0 && g.family !== 'fsr') p.push(`config.generator.homeostasis acts on the hidden layers of the fsr family; set generator.homeostasis.active = 0 for the '${g.family}' family.`);
  if (g.patch >= 1 && g.resolutions.some((r) => r % g.patch !== 0)) p.push(`config.generator.patch = ${g.patch} must divide every resolution.`);
  const d = c.discriminator;
  if (d.widths.length < 1) p.push('config.discriminator.widths must have at least one entry.');
  d.widths.forEach((w, i) => int(w, `discriminator.widths[${i}]`, 1));
  int(d.kernel, 'discriminator.kernel', 1);
  int(d.powerIterations, 'discriminator.powerIterations', 1);
  inRange(d.leak, 'discriminator.leak', 0, 1);
  int(d.crop, 'discriminator.crop', 0);
  int(d.patchStride, 'discriminator.patchStride', 0);
  int(d.augmentFrom, 'discriminator.augmentFrom', 0);
  if (!Array.isArray(d.augment)) p.push(`config.discriminator.augment must be a list of ${AUGMENTS.join(', ')} (or []), got ${show(d.augment)}.`);
  else d.augment.forEach((a, i) => {
    if (!AUGMENTS.includes(a)) p.push(`config.discriminator.augment[${i}] = ${show(a)} is not a policy; use ${AUGMENTS.join(', ')}.`);
  });
  if (d.patchStride > 0 && g.resolutions.some((r) => (r - g.patch) % d.patchStride !== 0)) p.push(`config.discriminator.patchStride = ${d.patchStride} must divide every resolution minus the patch size (${g.patch}).`);
  if (d.crop > 0 && d.crop % g.patch !== 0) p.push(`config.discriminator.crop = ${d.crop} must be a multiple of config.generator.patch = ${g.patch} (or 0 for whole images).`);
  const t = c.train;
  int(t.batch, 'train.batch', 1);
  int(t.steps, 'train.steps', 1);
  int(t.dSteps, 'train.dSteps', 1);
  int(t.level, 'train.level', 0);
  if (t.level > g.resolutions.length) p.push(`config.train.level must be between 0 and ${g.resolutions.length} (the number of resolutions), got ${t.level}.`);
  if (t.mode === 'oracle-lower' && !/\.json$/i.test(c.data)) p.push("config.train.mode 'oracle-lower' needs a synthetic teacher as config.data: it copies the teacher's own lower layers into the learner.");
  if (t.stepsByLevel.length !== 0 && t.stepsByLevel.length !== g.resolutions.length) {
    p.push(`config.train.stepsByLevel must be empty or have one entry per resolution (${g.resolutions.length}), got ${t.stepsByLevel.length}.`);
  }
  t.stepsByLevel.forEach((s, i) => int(s, `train.stepsByLevel[${i}]`, 1));
  for (const k of ['lrG', 'lrD'] as const) if (!(t[k] > 0)) p.push(`config.train.${k} must be > 0, got ${t[k]}.`);
  inRange(t.beta1, 'train.beta1', 0, 1);
  inRange(t.beta2, 'train.beta2', 0, 1);
  inRange(t.emaBeta, 'train.emaBeta', 0, 1);
  int(c.objective.r1Every, 'objective.r1Every', 1);
  if (!(c.objective.r1 >= 0)) p.push(`config.objective.r1 must be >= 0, got ${c.objective.r1}.`);
  if (!(c.objective.gpLambda >= 0)) p.push(`config.objective.gpLambda must be >= 0, got ${c.objective.gpLambda}.`);
  if (!(c.objective.clip > 0)) p.push(`config.objective.clip must be > 0, got ${c.objective.clip}.`);
  if (!(c.objective.drift >= 0)) p.push(`config.objective.drift must be >= 0, got ${c.objective.drift}.`);
  p.push(...recipeProblems(c), ...imageRecipeProblems(c));
  const l = c.log;
  for (const k of ['every', 'progressEvery', 'checkpointEvery', 'sampleEvery', 'samples'] as const) int(l[k], `log.${k}`, 1);
  int(c.analysis.every, 'analysis.every', 0);
  // The noise floor compares two disjoint halves of the held-out images.
  int(c.analysis.samples, 'analysis.samples', 4);
  p.push(...qualityProblems(c));
  if (!(c.guard.lrFactor > 0 && c.guard.lrFactor <= 1)) p.push(`config.guard.lrFactor must be in (0, 1], got ${c.guard.lrFactor}.`);
  int(c.guard.maxRollbacks, 'guard.maxRollbacks', 0);
  int(c.guard.maxSkips, 'guard.maxSkips', 1);
  // Only a config whose fields are valid can be sized (src/train/memory.ts; its terms are the FSR learner's).
  if (!p.length && g.family === 'fsr') {
    const m = memoryProblem(c);
    if (m) p.push(m);
  }
  return p;
}

/** What a dcgan config may not use: second derivatives (its fused ops have first ones), and FSR-only parts. */
function dcganConfigProblems(c: TrainConfig): string[] {
  const p = dcganProblems(dcganShape(c)).map((s) => `config: ${s}.`);
  const no = (bad: boolean, what: string) => bad && p.push(`config.generator.family 'dcgan' ${what}.`);
  no(c.train.mode !== 'end-to-end', `trains end to end: set train.mode to 'end-to-end', got '${c.train.mode}'`);
  no(c.objective.r1 > 0 || c.objective.name === 'wgan-gp', 'has no second derivatives: objective.r1 must be 0 and the objective not wgan-gp');
  const own = ownDiscProblem('dcgan', c.discriminator, ['spectralNorm', 'crop', 'patchStride', 'neighbourDiffs']);
  if (own) p.push(own);
  no(c.train.emaBeta > 0, 'keeps no EMA: train.emaBeta must be 0');
  no(c.analysis.every > 0, "has none of the FSR measurements: analysis.every must be 0");
  return p;
}

/** The DCGAN of a config with generator.family 'dcgan' (the top resolution; src/models/dcgan.ts). */
export function dcganShape(c: TrainConfig, imageChannels = 3): DcganShape {
  const g = c.generator;
  return { resolution: g.resolutions[g.resolutions.length - 1], resolutions: [...g.resolutions], imageChannels, zDim: g.zDim, gWidths: [...g.channels], dWidths: [...c.discriminator.widths], leak: c.discriminator.leak };
}
