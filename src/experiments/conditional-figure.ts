/**
 * Figures F-cgan (cgan and the class-conditional FSR learner, cfsr), F-acgan and F-text2img (text2img and the
 * text-conditional FSR learner, cfsr-text) in `reproduce`
 * (builder 'conditional'; docs/conditional.md): for each run of the figure, the classifier of its dataset
 * judges whether the images follow their condition (src/experiments/conditional.ts; the report also goes to
 * <run>/conditional.json), drawn as grouped bars (agreement per class, or category agreement and retrieval
 * for training and held-out names, next to chance), with the run's class-by-row or name-by-row sample grid
 * and a table of the numbers.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { groupedBars, type BarRow } from '../report/charts.js';
import type { ChartSpec } from '../report/render.js';
import { f3, type FigureImage, type RunResult, type Table } from '../report/figure-data.js';
import { gridPng } from '../util/png.js';
import { buildExtractor } from '../metrics/build-extractor.js';
import { DEFAULT_TRAINING } from '../metrics/train-extractor.js';
import { gridTexts } from '../train/conditions.js';
import { openTrainData } from '../train/data.js';
import { loadRun, sampleRun, type LoadedRun } from '../train/run.js';
import { measureConditional, textGridImages } from './conditional.js';
import type { FigureSpec, Scale } from './plan.js';
import type { FigureOutput } from './summary.js';
import { UserError } from '../util/errors.js';

/** Images per class (class runs) and names per split (text runs) judged at each scale. */
const PER_CLASS: Record<Scale, number> = { test: 4, quick: 50, full: 200 };
const NAMES: Record<Scale, number> = { test: 8, quick: 100, full: 200 };
/**
 * The classifier a scale builds when the dataset has none cached: the default one (written to the cache,
 * where `fsrgan metrics` finds it too) at quick and full; at test (the unit tests, notebooks in CI) a
 * 40-step one kept inside the output folder, so that no throwaway model is ever cached as the default.
 */
const EXTRACTOR_STEPS: Record<Scale, number> = { test: 40, quick: DEFAULT_TRAINING.steps, full: DEFAULT_TRAINING.steps };

/**
 * A conditional run's sample grid for the figure folder (measureRun, run.ts): one row per class, or per
 * grid text (4 training and 4 held-out names), 8 fixed latents per row. [n, r, r, C] with 8 columns.
 */
export async function conditionalGridPng(run: LoadedRun, level: number): Promise<Buffer> {
  const r = run.config.generator.resolutions[level];
  const scale = Math.max(1, Math.round(48 / r));
  let x: tf.Tensor4D;
  if (run.cond!.kind === 'class') x = sampleRun(run, { n: 8, seed: 0, resolution: r });
  else {
    // The grid's names come from the dataset (opened here when the run was loaded without it).
    const t = gridTexts(run.source ?? (await openTrainData(run.config)).source);
    x = textGridImages(run, [...t.train, ...t.heldOut], 8, 0);
  }
  const png = gridPng(x, { cols: 8, scale });
  x.dispose();
  return png;
}

export async function conditionalFigureOutput(spec: FigureSpec, runs: RunResult[], scale: Scale, out: string, log: (line: string) => void): Promise<FigureOutput> {
  const table: Table = {
    title: `${spec.name}: the classifier of the real data on the generated images`,
    columns: ['data', 'family', 'seed', 'G steps', 'condition', 'images', 'agreement', 'chance / majority', 'retrieval (0.5 = chance)', 'classifier accuracy on real'],
    rows: [],
  };
  const bars: BarRow[] = [];
  const images: FigureImage[] = [];
  // Classifiers built here, by dataset: the model.json of a test-scale one, null for a default (cached) one.
  const built = new Map<string, string | null>();
  for (const r of runs) {
    const top = Math.max(...Object.keys(r.samples).map(Number));
    const caption = (what: string) => `${r.run.data}, ${r.run.method} (seed ${r.run.seed}): ${what}, the same 8 latents in every row.`;
    // A figure may hold two models of one dataset (F-cgan: cgan and cfsr): the bars name the model too.
    const label = `${r.run.data} ${r.run.method} s${r.run.seed}`;
    if (Number.isFinite(top)) images.push({ path: r.samples[top], caption: caption(r.run.method === 'text2img' || r.run.method === 'cfsr-text' ? 'rows: 4 training names, then 4 held-out names' : 'one row per class') });
    let rep: Awaited<ReturnType<typeof measureConditional>>;
    const measure = () => measureConditional(r.dir, { seed: 0, perClass: PER_CLASS[scale], maxNames: NAMES[scale], extractor: built.get(r.run.data) ?? undefined });
    try {
      try {
        rep = await measure();
      } catch (e) {
        // No classifier of this dataset cached yet (a fresh clone): build one once (EXTRACTOR_STEPS), as
        // `fsrgan metrics train-extractor --dataset <data>` would, then measure.
        if (!(e instanceof UserError && /feature extractor/.test(e.message)) || built.has(r.run.data)) throw e;
        const steps = EXTRACTOR_STEPS[scale];
        log(`${spec.name}: no classifier of ${r.run.data} cached: training one (${steps} steps; fsrgan metrics train-extractor --dataset ${r.run.data})`);
        const at = scale === 'test' ? join(out, 'extractors', r.run.data) : null;
        const path = await buildExtractor(r.run.data, at, { ...DEFAULT_TRAINING, steps }, (l) => log(`  ${l}`));
        built.set(r.run.data, at ? path : null);
        rep = await measure();
      }
    } catch (e) {
      // Without the dataset's classifier the grids are still drawn; the table says how to get the numbers.
      if (!(e instanceof UserError && /feature extractor/.test(e.message))) throw e;
      log(`${spec.name}: ${r.run.id}: not measured (${e.message.split(':')[0]}): run fsrgan metrics train-extractor --dataset ${r.run.data}`);
      table.rows.push([r.run.data, r.run.method, r.run.seed, null, 'not measured: no classifier (fsrgan metrics train-extractor)', null, null, null, null, null]);
      continue;
    }
    await writeFile(join(r.dir, 'conditional.json'), JSON.stringify(rep, null, 1) + '\n');
    const head = [r.run.data, rep.family, r.run.seed, rep.step];
    const acc = rep.extractor.heldOutAccuracy === null ? null : f3(rep.extractor.heldOutAccuracy);
    if (rep.classes) {
      const c = rep.classes;
      table.rows.push([...head, 'class', c.n, f3(c.agreement), f3(c.chance), null, acc]);
      for (const [name, v] of Object.entries(c.perClass)) if (Number.isFinite(v)) bars.push({ group: name, method: label, value: v });
      log(`${spec.name}: ${r.run.id}: agreement ${f3(c.agreement)} over ${c.n} images (chance ${f3(c.chance)})`);
    }
    if (rep.text) {
      // Text interpolation: each row one latent, from a training name's embedding to a held-out name's.
      const path = join(r.dir, 'interpolation.png');
      await writeFile(path, await interpolationPng(r.dir));
      images.push({ path, caption: `${r.run.data}, text2img (seed ${r.run.seed}): text interpolation, each row one latent, the text embedding moving in 8 steps from a training name (left) to a held-out name (right).` });
      for (const [split, s] of [['held-out names', rep.text.heldOut], ['training names', rep.text.train]] as const) {
        table.rows.push([...head, split, s.names, f3(s.categoryAgreement), f3(s.majorityRate), f3(s.retrieval), acc]);
        bars.push({ group: `category (${split})`, method: label, value: s.categoryAgreement });
        bars.push({ group: `retrieval (${split})`, method: label, value: s.retrieval });
      }
      log(`${spec.name}: ${r.run.id}: held-out names category ${f3(rep.text.heldOut.categoryAgreement)}, retrieval ${f3(rep.text.heldOut.retrieval)}`);
    }
  }
  const caption = `${spec.about} Agreement: the fraction of generated images the dataset's classifier puts in the requested class (or the emoji's category), at seed 0.`;
  const charts = bars.length
    ? [{ file: spec.name, spec: slantedLabels(groupedBars({ title: spec.title, caption, rows: bars, xTitle: 'requested class (or measure)', yTitle: 'agreement', methodTitle: 'run', width: 48 * new Set(bars.map((b) => b.group)).size })) }]
    : [];
  return { name: spec.name, title: spec.title, caption, charts, images, tables: [table], claims: [] };
}

/** Rows of text interpolation (4 training names to 4 held-out names, 8 steps, one latent per row), as a PNG. */
async function interpolationPng(dir: string): Promise<Buffer> {
  const run = await loadRun(dir, { source: true, teacher: false });
  try {
    const t = gridTexts(run.source);
    const rows = t.train.slice(0, t.heldOut.length).map((a, i) => sampleRun(run, { n: 8, seed: i, text: a, textTo: t.heldOut[i] }));
    const x = tf.concat(rows) as tf.Tensor4D;
    const png = gridPng(x, { cols: 8, scale: Math.max(1, Math.round(48 / x.shape[1])) });
    tf.dispose([x, ...rows]);
    return png;
  } finally {
    run.dispose();
  }
}

/** Class names are long ('Smileys & Emotion'): the x labels slanted so that they do not overlap. */
function slantedLabels(spec: ChartSpec): ChartSpec {
  const x = (spec as unknown as { encoding: { x: { axis?: Record<string, unknown> } } }).encoding.x;
  x.axis = { ...x.axis, labelAngle: -35, labelLimit: 200 };
  return spec;
}
