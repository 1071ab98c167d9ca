/**
 * Measurements logged during training (config.analysis; docs/figures.md): every `analysis.every` G steps,
 * the patch-moment relative errors of G's images against held-out real images per order and resolution
 * (docs/theory.md 3.2, with a noise floor logged once per resolution), and the alignment of the current
 * stage's D first layer with G's head at that resolution (docs/theory.md 3.3, with a random reference
 * logged once), and the exact active fraction of every hidden layer up to the stage's (docs/theory.md 3.1):
 * the traces from which a claim's verdict tells a converged statistic from a moving one
 * (src/experiments/verdict.ts). With analysis.quality, also FID/KID per output resolution (quality-hooks.ts).
 *
 * Logging must not change training: the real images come from a held-out set drawn once from its own
 * source (`heldOutSource`, src/data/open.ts: a dataset's held-out split, or teacher samples from the Rng
 * stream 'analysis/heldout'), the generated ones from fixed latents of the stream 'analysis/z'; nothing
 * reads or advances the run's data source or its Rng streams, and G and D are only read. (Tested: a run
 * with analysis on trains bit-identically to one with it off.)
 */
import * as tf from '@tensorflow/tfjs';
import { heldOutSource, sourceSize } from '../data/index.js';
import { discFirstLayer, type Discriminator } from '../models/discriminator.js';
import { generatorForward, type GeneratorParams } from '../models/generator.js';
import { featureAlignment, matchBanks } from '../analysis/alignment.js';
import { bankColumns, type ImageArray } from '../analysis/common.js';
import { latents } from '../analysis/context.js';
import { momentMetrics } from '../analysis/moments.js';
import { sparsity } from '../analysis/sparsity.js';
import { generatorImages, sourceImages } from '../analysis/pipeline.js';
import type { TrainConfig } from './config.js';
import type { HookContext, TrainHook } from './trainer.js';
import { TrainingQuality } from './quality-hooks.js';

/** D's first-layer filters that see x_l: the whole bank for a single D, the x_l half of a pair D [P,P,C,F]. */
export function discImageFilters(d: Discriminator): tf.Tensor4D {
  return tf.tidy(() => {
    const w = discFirstLayer(d);
    return d.input === 'pair' ? (tf.slice(w, [0, 0, d.imageChannels, 0], [-1, -1, d.imageChannels, -1]) as tf.Tensor4D) : w;
  });
}

/** The numbers one firing of the hooks adds to a metrics line. */
export class TrainingAnalysis {
  private real: ImageArray[] | null = null;
  private floored = new Set<number>();
  private randomRef = new Set<number>();

  constructor(readonly config: TrainConfig) {}

  /** Moment errors of the stage's meaningful levels, alignment of its D, and the seconds it took. */
  measure(ctx: HookContext): Record<string, number> {
    const t0 = performance.now();
    const a = this.config.analysis;
    const out: Record<string, number> = {};
    if (a.moments) Object.assign(out, this.moments(ctx));
    if (a.alignment) Object.assign(out, this.alignment(ctx.disc, ctx.learner.params, ctx.stage.resolution));
    Object.assign(out, this.sparsity(ctx));
    out['analysis/seconds'] = Math.round(performance.now() - t0) / 1000;
    return out;
  }

  private moments(ctx: HookContext): Record<string, number> {
    const c = this.config;
    const rs = ctx.learner.params.shape.resolutions;
    // Drawn once: the same held-out images at every firing, so the curves move only with G. No image twice
    // (a small held-out split caps the count), or the two halves of the noise floor would share images.
    if (!this.real) {
      const held = heldOutSource(ctx.source, ctx.teacher, c.seed);
      this.real = sourceImages(held, Math.min(c.analysis.samples, sourceSize(held) ?? Infinity));
    }
    const idx = ctx.stage.outputs.map((r) => rs.indexOf(r));
    const upTo = Math.max(...idx) + 1;
    const fake = generatorImages(ctx.learner.params, c.analysis.samples, c.seed, upTo);
    const real = idx.map((i) => this.real![i]);
    const gen = idx.map((i) => fake[i]);
    const newLevel = ctx.stage.outputs.some((r) => !this.floored.has(r));
    const m = momentMetrics(real, gen, { patch: c.generator.patch, seed: c.seed, noiseFloor: newLevel });
    if (newLevel) {
      for (const r of ctx.stage.outputs) this.floored.add(r);
    }
    return m;
  }

  /** Active fraction (exactly non-zero channels) of hidden layers 1..stage at fixed latents: `sparsity/r<res>/active`. */
  private sparsity(ctx: HookContext): Record<string, number> {
    const params = ctx.learner.params;
    const rs = params.shape.resolutions;
    const upTo = Math.max(...ctx.stage.outputs.map((r) => rs.indexOf(r))) + 1;
    const z = latents(Math.min(this.config.analysis.samples, 256), params.shape.zDim, this.config.seed);
    const out: Record<string, number> = {};
    try {
      const s = tf.tidy(() => generatorForward(params, z, upTo).s);
      for (const l of sparsity(s, {}, rs).layers) out[`sparsity/r${l.resolution}/active`] = l.exact.activeFraction;
      tf.dispose(s);
    } finally {
      z.dispose();
    }
    return out;
  }

  private alignment(d: Discriminator, g: GeneratorParams, r: number): Record<string, number> {
    const block = g.blocks[r];
    if (!block || d.patch !== g.shape.patch) return {};
    const filters = discImageFilters(d);
    try {
      const ref = bankColumns(filters, 'TrainingAnalysis');
      const tgt = bankColumns(block.out, 'TrainingAnalysis');
      const s = matchBanks(ref, tgt, 'TrainingAnalysis');
      const out: Record<string, number> = { [`alignment/r${r}/matched`]: s.meanMatched, [`alignment/r${r}/best`]: s.meanBest };
      if (!this.randomRef.has(r)) {
        // The reference (random filters of D's shape against G's atoms) depends on the shapes only, up to noise: once per resolution.
        const rep = featureAlignment(ref, tgt, { randomDraws: 5, seed: this.config.seed });
        out[`alignment/r${r}/random`] = rep.random.meanMatched;
        out[`alignment/r${r}/random_std`] = rep.random.stdMatched;
        this.randomRef.add(r);
      }
      return out;
    } finally {
      filters.dispose();
    }
  }
}

/** The hooks config.analysis asks for (none when analysis.every = 0). */
export function analysisHooks(config: TrainConfig): TrainHook[] {
  const a = config.analysis;
  const fsr = a.moments || a.alignment;
  // FID/KID (analysis.quality, quality-hooks.ts): off unless asked for; the constructor checks the extractor before step 1.
  const quality = a.every > 0 && a.quality.what.length ? new TrainingQuality(config) : null;
  if (a.every === 0 || (!fsr && !quality)) return [];
  const state = new TrainingAnalysis(config);
  if (!quality) return [{ every: a.every, fn: (ctx) => state.measure(ctx) }];
  return [{ every: a.every, fn: async (ctx) => ({ ...(fsr ? state.measure(ctx) : {}), ...(await quality.measure(ctx)) }) }];
}
