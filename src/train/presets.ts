/**
 * Named presets of the training config (`"preset"` in a config file, `fsrgan train --set preset=...`): the
 * optimiser and objective recipes of the GAN literature, each with its source, and the smoke budget. A preset
 * sits under the file's own values (src/train/config.ts resolveConfig).
 */
import type { TrainConfig } from './config.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** Named presets: common optimiser/objective recipes from the GAN literature, and the smoke budget. */
export const PRESETS: Record<string, DeepPartial<TrainConfig>> = {
  // Radford et al. 2016.
  dcgan: { objective: { name: 'ns' }, train: { lrG: 0.0002, lrD: 0.0002, beta1: 0.5, beta2: 0.999, dSteps: 1 } },
  // Arjovsky et al. 2017 (Adam with beta1 = 0 in place of RMSProp).
  wgan: { objective: { name: 'wgan', clip: 0.01 }, train: { lrG: 0.00005, lrD: 0.00005, beta1: 0, beta2: 0.9, dSteps: 5 } },
  // Gulrajani et al. 2017.
  'wgan-gp': { objective: { name: 'wgan-gp', gpLambda: 10 }, train: { lrG: 0.0001, lrD: 0.0001, beta1: 0, beta2: 0.9, dSteps: 5 } },
  // Heusel et al. 2017: D learns faster than G.
  ttur: { train: { lrG: 0.0001, lrD: 0.0004, beta1: 0, beta2: 0.9 } },
  // Miyato et al. 2018.
  sngan: { objective: { name: 'hinge' }, discriminator: { spectralNorm: true }, train: { lrG: 0.0002, lrD: 0.0002, beta1: 0, beta2: 0.9 } },
  smoke: { train: { batch: 16, steps: 30 }, log: { every: 5, checkpointEvery: 30, sampleEvery: 30 } },
  // Zhang et al. 2019 (SAGAN): hinge loss and TTUR (lr_D 4e-4, lr_G 1e-4, Adam 0 / 0.9); its spectral norm on G and D is families.sagan.spectralNorm (on by default).
  sagan: { objective: { name: 'hinge' }, train: { lrG: 0.0001, lrD: 0.0004, beta1: 0, beta2: 0.9 } },
  // Karras et al. 2018 (ProGAN): WGAN-GP with the drift term, Adam(0.001, 0, 0.99), one D step per G step, EMA of G.
  progan: { objective: { name: 'wgan-gp', gpLambda: 10, drift: 0.001 }, train: { lrG: 0.001, lrD: 0.001, beta1: 0, beta2: 0.99, dSteps: 1, emaBeta: 0.999 } },
};
