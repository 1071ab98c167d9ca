/**
 * Sample-quality metrics logged during training (config.analysis.quality; docs/metrics.md "During
 * training"): every `analysis.every` G steps, FID and/or KID of `analysis.samples` generated images at every
 * output resolution of the current stage against the dataset's cached real reference, as `fid/r<res>`,
 * `kid/r<res>` (and `kid/r<res>/std`) in metrics.jsonl; once per resolution also the floor, the same metric
 * of as many real held-out images (`fid/r<res>_floor`, `kid/r<res>_floor`), as the moment errors log theirs.
 * What the numbers depend on (extractor and its hash, dataset, split, sample counts, seeds) is written once,
 * to `<run>/analysis/training-quality.json`. A level whose images have not changed since the last firing
 * (a frozen lower level of layerwise training) logs its last numbers again instead of measuring them anew.
 *
 * Off by default (analysis.quality.what = []), so existing configs train and hash as before. Like the other
 * hooks it only reads G: the generated images come from the latents of the stream 'analysis/z' at the run's
 * seed (the moment errors' latents), the real ones from the dataset's own split through a separate
 * ImageDataset view, and nothing advances the run's data source or Rng streams (tested: bit-identical
 * training with it on and off). The extractor must already be on disk: a missing one is a UserError
 * naming `fsrgan metrics train-extractor` when training starts (named datasets, folders) or, at the latest,
 * at the first measurement.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DATASET_NAMES } from '../data/open.js';
import { findRepoRoot } from '../data/cache.js';
import { defaultExtractorDir } from '../metrics/extractor.js';
import { generatorImages } from '../analysis/context.js';
import { datasetOf } from '../analysis/metrics-context.js';
import { arraySampler, QUALITY_METRICS, QualityMeter, type QualityMetric, type QualityOptions, type QualityResult } from '../analysis/quality.js';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import type { TrainConfig } from './config.js';
import type { HookContext } from './trainer.js';

export { QUALITY_METRICS, type QualityMetric };

/** Where the provenance of the logged metrics goes. */
export const qualityProvenancePath = (runDir: string) => join(runDir, 'analysis', 'training-quality.json');

const FIELD = 'config.analysis.quality.what';

/**
 * The default extractor's model.json for a data spec, when the spec alone tells the dataset's name (a named
 * dataset or an existing folder; src/data/open.ts names them); null otherwise.
 */
function defaultExtractorFor(spec: string): string | null {
  const named = DATASET_NAMES[spec.toLowerCase()];
  let name = named ?? null;
  if (!name && existsSync(spec) && statSync(spec).isDirectory()) name = `folder:${spec.replace(/[\\/]+$/, '').split(/[\\/]/).pop()}`;
  return name ? join(defaultExtractorDir(findRepoRoot(), name), 'model.json') : null;
}

const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The problems of config.analysis.quality, one sentence each naming the field and the fix (configProblems). */
export function qualityProblems(c: { data: string; analysis: { every: number; quality: { what: QualityMetric[]; realSamples: number } } }): string[] {
  const p: string[] = [];
  const q = c.analysis.quality;
  if (!Array.isArray(q.what)) return [`${FIELD} must be a list of ${QUALITY_METRICS.join(', ')} (or []), got ${show(q.what)}.`];
  q.what.forEach((w, i) => {
    if (!QUALITY_METRICS.includes(w)) p.push(`${FIELD}[${i}] = ${show(w)} is not a training-time metric; use ${QUALITY_METRICS.join(', ')} (the others: fsrgan metrics RUN).`);
  });
  if (q.what.length && /\.json$/i.test(c.data)) {
    p.push(`${FIELD} = ${show(q.what)} needs real images with a feature extractor, and the synthetic teacher '${c.data}' has none: set analysis.quality.what = [] (moments and alignment still log), or train on emoji, fashion-mnist or an image folder.`);
  }
  if (q.what.length && c.analysis.every === 0) p.push(`${FIELD} = ${show(q.what)} is logged every config.analysis.every steps, which is 0 (off): set analysis.every > 0, or analysis.quality.what = [].`);
  if (!Number.isInteger(q.realSamples) || q.realSamples < 2) p.push(`config.analysis.quality.realSamples must be an integer >= 2, got ${show(q.realSamples)}.`);
  return p;
}

/** The numbers one firing adds to a metrics line, and the provenance file written at the first. */
export class TrainingQuality {
  private meter: QualityMeter | null = null;
  private floored = new Set<number>();
  private last = new Map<number, { hash: string; result: QualityResult }>();
  private wrote = false;

  constructor(readonly config: TrainConfig) {
    const q = config.analysis.quality;
    // Fail before the first step where the spec tells which extractor will be needed.
    if (q.extractor && !existsSync(q.extractor)) {
      throw new UserError(`config.analysis.quality.extractor '${q.extractor}' does not exist: pass an extractor's model.json, or '' for the dataset's default (built by \`fsrgan metrics train-extractor --dataset D\`).`);
    }
    const dflt = q.extractor ? null : defaultExtractorFor(config.data);
    if (dflt && !existsSync(dflt)) {
      throw new UserError(`${FIELD} asks for ${q.what.join(', ')} during training, and no feature extractor for '${config.data}' is cached yet (${dflt}): build it once with \`fsrgan metrics train-extractor --dataset ${config.data}\` (about a minute), then train again; or set analysis.quality.what = [].`);
    }
  }

  private options(): Partial<QualityOptions> {
    const q = this.config.analysis.quality;
    return { what: q.what, extractor: q.extractor, realSamples: q.realSamples, cacheDir: q.cacheDir, seed: this.config.seed };
  }

  async measure(ctx: HookContext): Promise<Record<string, number>> {
    const t0 = performance.now();
    const c = this.config;
    if (!this.meter) {
      const ds = datasetOf(ctx.source);
      if (!ds) throw new UserError(`${FIELD} needs an image dataset (emoji, fashion-mnist or an image folder) with a feature extractor; this run's data ('${c.data}') has none: set analysis.quality.what = [].`);
      try {
        this.meter = new QualityMeter(ds, this.options());
      } catch (e) {
        if (e instanceof UserError) throw new UserError(`${FIELD}: ${e.message}`);
        throw e;
      }
    }
    const rs = ctx.learner.params.shape.resolutions;
    const idx = ctx.stage.outputs.map((r) => rs.indexOf(r));
    const fake = generatorImages(ctx.learner.params, c.analysis.samples, c.seed, Math.max(...idx) + 1);
    const out: Record<string, number> = {};
    const provenance: Record<string, unknown>[] = [];
    for (const [k, r] of ctx.stage.outputs.entries()) {
      const img = fake[idx[k]];
      // A frozen level (layerwise training's lower ones) makes the same images again: the same numbers, not measured twice.
      const hash = createHash('sha256').update(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength)).digest('hex');
      const last = this.last.get(r);
      const floor = !this.floored.has(r);
      const m = last && last.hash === hash && !floor ? last.result : this.meter.measure(arraySampler(img), img.n, r, { floor });
      this.last.set(r, { hash, result: { ...m, floor: null } });
      if (m.fid) out[`fid/r${r}`] = m.fid.fid;
      if (m.kid) (out[`kid/r${r}`] = m.kid.kid), (out[`kid/r${r}/std`] = m.kid.std);
      if (m.floor?.fid) out[`fid/r${r}_floor`] = m.floor.fid.fid;
      if (m.floor?.kid) out[`kid/r${r}_floor`] = m.floor.kid.kid;
      this.floored.add(r);
      provenance.push(m.provenance);
    }
    if (!this.wrote) {
      await this.writeProvenance(ctx.runDir, provenance[provenance.length - 1]);
      this.wrote = true;
    }
    out['quality/seconds'] = Math.round(performance.now() - t0) / 1000;
    return out;
  }

  /** The provenance file: what the logged keys mean and what their numbers depend on (no times: the same run writes the same bytes). */
  private async writeProvenance(runDir: string, p: Record<string, unknown>): Promise<void> {
    const c = this.config;
    const { resolution: _r, ...shared } = p;
    const body = {
      format: 1,
      what: c.analysis.quality.what,
      keys: {
        'fid/r<res>': 'FID of analysis.samples generated images at resolution <res> against the real reference (Heusel et al. 2017; src/metrics/fid.ts)',
        'kid/r<res>': 'KID, mean over subsets, and kid/r<res>/std its std over subsets (Binkowski et al. 2018; src/metrics/kid.ts)',
        'fid/r<res>_floor, kid/r<res>_floor': 'the same for as many real images of the other side of the split (logged once per resolution)',
      },
      every: c.analysis.every,
      latents: { stream: 'analysis/z', seed: c.seed, samples: c.analysis.samples },
      ...shared,
    };
    await mkdirs(dirname(qualityProvenancePath(runDir)));
    await writeFileAtomic(qualityProvenancePath(runDir), JSON.stringify(body, null, 1) + '\n');
  }
}
