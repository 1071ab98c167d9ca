/**
 * How well a conditional run follows its condition (docs/conditional.md), measured with the classifier of
 * its dataset (src/metrics/extractor.ts, trained on the real images):
 *
 *   class runs (cgan, acgan, the FSR learner with generator.condition 'class'): `perClass` images of every class at one seed; agreement = the fraction the
 *     classifier puts in the requested class (chance 1/K), with the confusion matrix.
 *   text runs (text2img): one image per name, for the held-out names (never trained on) and as many
 *     training names: category agreement (the classifier's category of G(name) against the emoji's own,
 *     next to the majority-category rate, the score of always answering the most common category) and
 *     retrieval (the fraction of the other images of the set that are farther, in the classifier's
 *     features, from G(name) than the named emoji is; 0.5 = chance).
 */
import * as tf from '@tensorflow/tfjs';
import { ImageDataset } from '../data/dataset.js';
import { findRepoRoot } from '../data/cache.js';
import { classAgreement, type ClassAgreement } from '../metrics/class-agreement.js';
import { defaultExtractorDir, loadExtractor, type Extractor } from '../metrics/extractor.js';
import { loadRun, sampleRun, type LoadedRun } from '../train/run.js';
import { textRows } from '../train/conditions.js';
import { isCondFsr } from '../train/cfsr-config.js';
import { crossGrid } from '../train/cond-samples.js';
import { learnerForward, sampleLatents } from '../models/learner.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';

export interface TextExample {
  name: string;
  category: string;
  predicted: string;
}

export interface TextSplitReport {
  names: number;
  categoryAgreement: number;
  /** The share of the split's most common category (what always answering it would score). */
  majorityRate: number;
  /** Mean over names of the fraction of other images farther from G(name) than the named one (0.5 = chance). */
  retrieval: number;
}

export interface ConditionalReport {
  run: string;
  family: string;
  step: number;
  seed: number;
  extractor: { name: string; sha256: string; heldOutAccuracy: number | null };
  classes?: ClassAgreement & { perClassSamples: number };
  text?: { heldOut: TextSplitReport; train: TextSplitReport; examples: TextExample[] };
  seconds: number;
}

/** The model a report names: the conditional family, or 'cfsr' / 'cfsr-text' for the FSR learner with generator.condition 'class' / 'text'. */
function conditionalModel(run: LoadedRun): string {
  return isCondFsr(run.config) ? (run.config.generator.condition === 'text' ? 'cfsr-text' : 'cfsr') : run.config.generator.family;
}

function datasetOf(run: LoadedRun): ImageDataset {
  if (!(run.source instanceof ImageDataset)) throw new UserError(`the run in '${run.dir}' has no labelled image dataset to measure against.`);
  return run.source;
}

function extractorFor(ds: ImageDataset, path?: string): Extractor {
  return loadExtractor(path ?? defaultExtractorDir(findRepoRoot(), ds.set.name), { features: '', logits: '', inputSize: 0, inputRange: '-1,1' });
}

/** Category agreement and retrieval of one image per name of `indices` (ImageSet indices of one split). */
function textSplit(run: LoadedRun, ex: Extractor, ds: ImageDataset, indices: number[], seed: number, examples?: TextExample[]): TextSplitReport {
  const names = indices.map((i) => ds.set.names![i]);
  const cats = indices.map((i) => ds.set.labels[i]);
  const top = run.config.generator.resolutions.length;
  const z = sampleLatents(new Rng(seed, 'conditional-text'), indices.length, run.learner.params.shape.zDim);
  const c = textRows(names, run.cond!.dim);
  // One latent per name: the grid's diagonal, drawn row by row as a batch of (z_i, c_i).
  const fake = tf.tidy(() => learnerForward(run.learner, z, top, { cond: c }).x[top - 1]);
  const real = ds.topImages(indices);
  const a = ex.apply(fake);
  const b = ex.apply(real);
  const pred = tf.tidy(() => tf.argMax(a.logits!, 1).dataSync() as Int32Array);
  const idx = ds.set.classNames.map((n) => ex.classNames.indexOf(n));
  let agree = 0;
  pred.forEach((p, i) => (agree += p === idx[cats[i]] ? 1 : 0));
  // Cosine distances between every G(name_i) and every real image j.
  const d = tf.tidy(() => {
    const nf = tf.div(a.features, tf.norm(a.features, 2, 1, true).add(1e-8));
    const nr = tf.div(b.features, tf.norm(b.features, 2, 1, true).add(1e-8));
    return tf.sub(1, tf.matMul(nf, nr, false, true)).arraySync() as number[][];
  });
  const n = indices.length;
  let retrieval = 0;
  for (let i = 0; i < n; i++) retrieval += d[i].filter((v, j) => j !== i && v > d[i][i]).length / Math.max(1, n - 1);
  const counts = new Map<number, number>();
  for (const k of cats) counts.set(k, (counts.get(k) ?? 0) + 1);
  if (examples) for (let i = 0; i < Math.min(12, n); i++) examples.push({ name: names[i], category: ds.set.classNames[cats[i]], predicted: ex.classNames[pred[i]] ?? '?' });
  tf.dispose([z, c, fake, real, a.features, a.logits!, b.features, b.logits!]);
  return { names: n, categoryAgreement: agree / n, majorityRate: Math.max(...counts.values()) / n, retrieval: retrieval / n };
}

/** Measures a conditional run (see the file comment); `perClass` images per class, `maxNames` names per text split. */
export async function measureConditional(dir: string, opts: { seed?: number; perClass?: number; maxNames?: number; extractor?: string } = {}): Promise<ConditionalReport> {
  const t0 = performance.now();
  const seed = opts.seed ?? 0;
  const run = await loadRun(dir, { source: true, teacher: false });
  try {
    if (!run.cond) throw new UserError(`the run in '${dir}' is not conditional (generator.family '${run.config.generator.family}').`);
    const ds = datasetOf(run);
    const ex = extractorFor(ds, opts.extractor);
    try {
      const head = { run: dir, family: conditionalModel(run), step: run.step, seed, extractor: { name: ex.name, sha256: ex.sha256, heldOutAccuracy: (ex.info.heldOutAccuracy as number | undefined) ?? null } };
      if (run.cond.kind === 'class') {
        const per = opts.perClass ?? 100;
        const k = run.cond.classNames.length;
        // Every class drawn at the same `per` latents: row-major, row i = class i.
        const x = sampleRun(run, { n: per, seed });
        const requested = Int32Array.from({ length: k * per }, (_, j) => Math.floor(j / per));
        const classes = { ...classAgreement(ex, x, requested, run.cond.classNames), perClassSamples: per };
        x.dispose();
        return { ...head, classes, seconds: (performance.now() - t0) / 1000 };
      }
      const max = opts.maxNames ?? 200;
      const held = ds.heldOut().indices.slice(0, max);
      const trainIdx = ds.indices.filter((_, i) => i % Math.max(1, Math.floor(ds.indices.length / held.length)) === 0).slice(0, held.length);
      const examples: TextExample[] = [];
      const text = { heldOut: textSplit(run, ex, ds, [...held], seed, examples), train: textSplit(run, ex, ds, trainIdx, seed + 1), examples };
      return { ...head, text, seconds: (performance.now() - t0) / 1000 };
    } finally {
      ex.dispose();
    }
  } finally {
    run.dispose();
  }
}

/** Images of a class run for a figure: every class (rows) at `cols` latents of a seed. */
export function classGridImages(run: LoadedRun, cols: number, seed: number): tf.Tensor4D {
  return sampleRun(run, { n: cols, seed });
}

/** Images of a text run for a figure: one row per text at the same `cols` latents. */
export function textGridImages(run: LoadedRun, texts: string[], cols: number, seed: number): tf.Tensor4D {
  const top = run.config.generator.resolutions.length;
  const z = sampleLatents(new Rng(seed, 'sample'), cols, run.learner.params.shape.zDim);
  const c = textRows(texts, run.cond!.dim);
  const x = crossGrid(run.learner, top, z, c);
  tf.dispose([z, c]);
  return x;
}
