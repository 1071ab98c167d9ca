/**
 * The checks of the recipe fields of the training config (docs/recipes.md): their ranges, the objectives a
 * label recipe needs, and which recipes the image stages apply. Used by configProblems (config.ts) and by
 * the 2-D lab's resolveRecipeConfig.
 */
import type { TrainConfig } from './config.js';

/** The recipe fields (docs/recipes.md) checked on their own: shared by configProblems and the 2-D lab (src/toy/). */
export function recipeProblems(c: TrainConfig): string[] {
  const p: string[] = [];
  const o = c.objective;
  const d = c.discriminator;
  const t = c.train;
  const nonNeg = (v: number, field: string) => {
    if (!(v >= 0)) p.push(`config.${field} must be >= 0, got ${v}.`);
  };
  const int = (v: number, field: string, min: number) => {
    if (!Number.isInteger(v) || v < min) p.push(`config.${field} must be an integer >= ${min}, got ${v}.`);
  };
  nonNeg(o.dragan, 'objective.dragan');
  if (!(o.draganNoise > 0)) p.push(`config.objective.draganNoise must be > 0, got ${o.draganNoise}.`);
  nonNeg(o.featureMatching, 'objective.featureMatching');
  for (const k of ['labelSmoothing', 'labelNoise', 'labelFlip'] as const) {
    if (!(o[k] >= 0 && o[k] < 0.5)) p.push(`config.objective.${k} must be in [0, 0.5), got ${o[k]}.`);
  }
  if (o.labelSmoothing + o.labelNoise >= 1) p.push('config.objective.labelSmoothing + labelNoise must be < 1.');
  const labels = o.labelSmoothing > 0 || o.labelNoise > 0 || o.labelFlip > 0;
  if (labels && !['ns', 'minimax', 'lsgan'].includes(o.name)) {
    p.push(`config.objective.labelSmoothing, labelNoise and labelFlip change the targets of a classifier D: use objective ns, minimax or lsgan, not '${o.name}'.`);
  }
  nonNeg(d.instanceNoise, 'discriminator.instanceNoise');
  int(d.pack, 'discriminator.pack', 1);
  if (d.pack >= 1 && Number.isInteger(c.train.batch) && c.train.batch % d.pack !== 0) p.push(`config.discriminator.pack = ${d.pack} must divide config.train.batch = ${c.train.batch}.`);
  int(d.minibatchStddev, 'discriminator.minibatchStddev', 0);
  int(d.minibatchKernels, 'discriminator.minibatchKernels', 0);
  int(d.minibatchKernelDims, 'discriminator.minibatchKernelDims', 1);
  int(t.unroll, 'train.unroll', 0);
  if (!(t.unrollLr > 0)) p.push(`config.train.unrollLr must be > 0, got ${t.unrollLr}.`);
  nonNeg(t.historicalAveraging, 'train.historicalAveraging');
  return p;
}

/** The recipe fields set in `c` that the image stages do not apply (they act in the 2-D lab only). */
export function imageUnsupportedRecipes(c: TrainConfig): string[] {
  const g = c.generator;
  const d = c.discriminator;
  // The D-side recipes build on the FSR discriminator's layers (src/models/discriminator.ts); the other
  // families' discriminators have their own forward pass.
  const fsrD = g.family === 'fsr';
  // The G-side recipes build on the FSR learner's layers (src/models/generator.ts); spectral norm on another
  // family's G is refused in imageRecipeProblems.
  const fsrG = g.family === 'fsr';
  const on: [boolean, string][] = [
    [g.pixelNorm && !fsrG, `generator.pixelNorm (with generator.family '${g.family}')`],
    [g.equalizedLr && !fsrG, `generator.equalizedLr (with generator.family '${g.family}')`],
    [g.virtualBatchNorm && !fsrG, `generator.virtualBatchNorm (with generator.family '${g.family}')`],
    [!fsrD && d.equalizedLr, `discriminator.equalizedLr (with generator.family '${g.family}')`],
    [!fsrD && c.train.historicalAveraging > 0, `train.historicalAveraging (with generator.family '${g.family}')`],
    [!fsrD && c.train.unrollSecondOrder, `train.unrollSecondOrder (with generator.family '${g.family}')`],
    [!fsrD && d.pack > 1, `discriminator.pack (with generator.family '${g.family}')`],
    [!fsrD && d.minibatchStddev > 0, `discriminator.minibatchStddev (with generator.family '${g.family}')`],
    [!fsrD && d.minibatchKernels > 0, `discriminator.minibatchKernels (with generator.family '${g.family}')`],
    [!fsrD && c.objective.featureMatching > 0, `objective.featureMatching (with generator.family '${g.family}')`],
    [!fsrD && c.train.unroll > 0, `train.unroll (with generator.family '${g.family}')`],
  ];
  return on.filter(([b]) => b).map(([, k]) => k);
}

/** What the image stages (src/train/step.ts) cannot do with the recipes set in `c`. */
export function imageRecipeProblems(c: TrainConfig): string[] {
  const p: string[] = [];
  // D's first layer of a packed D reads m samples' channels, which G's atoms cannot be matched against.
  if (c.discriminator.pack > 1 && c.analysis.every > 0 && c.analysis.alignment) p.push("config.discriminator.pack > 1 makes D's first layer read several samples at once: set analysis.alignment to false (or analysis.every to 0).");
  // generator.spectralNorm normalises the FSR learner's weights (generator.ts); the other families build their own G.
  const family = c.generator.family;
  if (c.generator.spectralNorm && family !== 'fsr') {
    p.push(
      family === 'sagan'
        ? "config.generator.spectralNorm normalises the FSR learner (generator.family 'fsr'); family 'sagan' normalises G and D by families.sagan.spectralNorm (on by default): leave generator.spectralNorm false."
        : `config.generator.spectralNorm normalises the FSR learner's weights (generator.family 'fsr') and the 2-D lab's G, not family '${family}''s own G: set it to false (or use generator.family 'fsr' or 'sagan').`,
    );
  }
  // The recipes the image stages do not apply yet: the 2-D lab (fsrgan toy) has them all.
  const toyOnly = imageUnsupportedRecipes(c);
  if (toyOnly.length) p.push(`${toyOnly.join(', ')} ${toyOnly.length > 1 ? 'are' : 'is'} implemented in the 2-D lab (fsrgan toy) only, not yet in the image stages; see docs/recipes.md.`);
  return p;
}
