/**
 * A tiny planted PyramidSource for the trainer's tests: a random FSR generator (the shared forward) with
 * a positive bias so its hidden layers are sparse, sampled from its own seeded Rng (state = the Rng's).
 */
import * as tf from '@tensorflow/tfjs';
import type { PyramidSource } from '../src/data/source.js';
import { createLearner, disposeLearner, sampleLatents, type Learner } from '../src/models/learner.js';
import { generatorForward, type GeneratorShape } from '../src/models/generator.js';
import { Rng, type RngState } from '../src/util/rng.js';
import { resolveConfig, type TrainConfig } from '../src/train/config.js';

export const TINY_SHAPE: GeneratorShape = { resolutions: [4, 8, 16], channels: [4, 4, 4], zDim: 4, kernel: 2, patch: 2, imageChannels: 3 };

export class PlantedSource implements PyramidSource {
  readonly resolutions: number[];
  readonly channels = 3;
  readonly teacherNet: Learner;
  private rng: Rng;

  constructor(
    readonly shape: GeneratorShape = TINY_SHAPE,
    readonly seed = 7,
  ) {
    this.resolutions = [...shape.resolutions];
    this.teacherNet = createLearner(shape, new Rng(seed, 'planted'), { gain: 1.5, outGain: 1, bias: 0.3 });
    this.rng = new Rng(seed, 'planted-data');
  }

  batch(n: number): tf.Tensor4D[] {
    const z = sampleLatents(this.rng, n, this.shape.zDim);
    const out = tf.tidy(() => generatorForward(this.teacherNet.params, z).x);
    z.dispose();
    return out;
  }

  getState(): RngState {
    return this.rng.getState();
  }

  setState(state: unknown): void {
    this.rng.setState(state as RngState);
  }

  describe(): Record<string, unknown> {
    return { name: 'planted', seed: this.seed };
  }

  dispose(): void {
    disposeLearner(this.teacherNet);
  }
}

/** A small config for the planted source (overrides merged on top). */
export function tinyConfig(overrides: Record<string, unknown> = {}, sets: string[] = []): TrainConfig {
  const base = {
    name: 'tiny',
    data: 'planted',
    seed: 3,
    generator: { resolutions: [4, 8, 16], channels: [4, 4, 4], zDim: 4, kernel: 2, patch: 2 },
    discriminator: { widths: [8, 8] },
    train: { batch: 4, steps: 3 },
    log: { every: 1, checkpointEvery: 1000, sampleEvery: 1000, samples: 4 },
  };
  const merged = deepMerge(base, overrides);
  return resolveConfig(merged, { sets });
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
