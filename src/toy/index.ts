/** The 2-D mode-collapse lab (docs/recipes.md): targets and measures, networks, trainer, experiments. */
export * from './targets.js';
export * from './model.js';
export * from './train.js';
export * from './recipes.js';
export * from './experiment.js';
export * from './published.js';
