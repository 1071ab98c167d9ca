/**
 * The recipes by name for `fsrgan toy --recipe` and figure F-modes: each a set of config overrides on top
 * of the non-saturating GAN (docs/recipes.md gives each one's source and formula). The weights are the
 * papers' where they give one for this setting, else a value checked to train in the lab's budget.
 */
export const TOY_RECIPES: Record<string, { sets: Record<string, unknown>; label: string }> = {
  gan: { sets: {}, label: 'GAN (non-saturating)' },
  dragan: { sets: { 'objective.dragan': 10 }, label: 'DRAGAN' },
  'sn-d': { sets: { 'discriminator.spectralNorm': true }, label: 'spectral norm on D' },
  'sn-g': { sets: { 'discriminator.spectralNorm': true, 'generator.spectralNorm': true }, label: 'spectral norm on G and D' },
  'feature-matching': { sets: { 'objective.featureMatching': 1 }, label: 'feature matching' },
  'minibatch-disc': { sets: { 'discriminator.minibatchKernels': 8, 'discriminator.minibatchKernelDims': 3 }, label: 'minibatch discrimination' },
  'minibatch-stddev': { sets: { 'discriminator.minibatchStddev': 4 }, label: 'minibatch stddev' },
  'historical-avg': { sets: { 'train.historicalAveraging': 0.01 }, label: 'historical averaging' },
  'label-smoothing': { sets: { 'objective.labelSmoothing': 0.1 }, label: 'one-sided label smoothing' },
  'noisy-labels': { sets: { 'objective.labelNoise': 0.2, 'objective.labelFlip': 0.05 }, label: 'noisy and flipped labels' },
  'instance-noise': { sets: { 'discriminator.instanceNoise': 0.1 }, label: 'instance noise' },
  vbn: { sets: { 'generator.virtualBatchNorm': true }, label: 'virtual batch norm (G)' },
  'pixel-norm': { sets: { 'generator.pixelNorm': true }, label: 'pixel norm (G)' },
  'equalized-lr': { sets: { 'generator.equalizedLr': true, 'discriminator.equalizedLr': true }, label: 'equalised learning rate' },
  unrolled: { sets: { 'train.unroll': 5, 'train.unrollSecondOrder': true }, label: 'unrolled (k=5, 2nd order)' },
  'unrolled-1st': { sets: { 'train.unroll': 5 }, label: 'unrolled (k=5, 1st order)' },
  pacgan2: { sets: { 'discriminator.pack': 2 }, label: 'PacGAN2' },
  pacgan4: { sets: { 'discriminator.pack': 4 }, label: 'PacGAN4' },
};

/** `key=value` strings of a recipe, for resolveRecipeConfig's --set list. */
export function recipeSets(name: string): string[] {
  return Object.entries(TOY_RECIPES[name].sets).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
}
