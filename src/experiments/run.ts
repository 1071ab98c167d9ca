/**
 * Running: trains each planned run once into `<out>/runs/<id>` (a complete run is reused, an interrupted one
 * resumed), then measures it: the analyses its figures need against held-out real data (in the run's
 * analysis cache, `<run>/analysis/<what>-<key>.json`, shared with `fsrgan analyze`: src/train/rundir.ts),
 * its sample grids, D_1 / G_1 tiles and the recovery of a random-init learner. The result is what the
 * drawings and the claims read (src/report/figure-data.ts).
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { heldOutSource, HeldOutTeacherSource, ImageDataset, LevelsSource, sourceSize, TeacherSource, type PyramidSource } from '../data/index.js';
import { createLearner, disposeLearner } from '../models/learner.js';
import { analyzeRun, type AnalysisConfig, type RunPieces } from '../analysis/pipeline.js';
import { teacherRecovery, type RecoveryReport } from '../analysis/recovery.js';
import { measurement } from '../analysis/registry.js';
import type { AnalysisFile } from '../analysis/validate.js';
import { disposeTeacher, type Teacher } from '../teacher/index.js';
import { discImageFilters } from '../train/analysis-hooks.js';
import { openTrainData } from '../train/data.js';
import { loadRun, sampleRun, type LoadedRun } from '../train/run.js';
import { cachedAnalyses, hasRunConfig, readMetrics } from '../train/rundir.js';
import { resumeTraining, train, type ProgressEvent } from '../train/trainer.js';
import { defaultWorkersFor } from '../train/replicas.js';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { gridPng } from '../util/png.js';
import { Rng } from '../util/rng.js';
import type { RunResult } from '../report/figure-data.js';
import { filterPairPng } from '../report/tiles.js';
import { runSteps, type PlannedRun } from './plan.js';
import { conditionalGridPng } from './conditional-figure.js';
import { existsSync } from 'node:fs';
import { datasetConfig } from '../data/config.js';
import { loadImageSet } from '../data/open.js';
import { extractorPath } from '../analysis/metrics-context.js';
import { buildExtractor } from '../metrics/build-extractor.js';

/** How `ensureRun` got a complete run: 'trained', 'resumed' or 'reused' (complete already). */
export type RunStatus = 'trained' | 'resumed' | 'reused';

const exists = (p: string) => stat(p).then(() => true, () => false);
const MARKER = 'reproduce.json';

/** Teachers built once per config file; image datasets once per (data, seed). */
export class DataCache {
  private teachers = new Map<string, Teacher>();
  private images = new Map<string, ImageDataset>();

  /** A fresh training source for a run (the state a new `fsrgan train` would start from), and its teacher. */
  async open(run: PlannedRun, log: (line: string) => void): Promise<{ source: PyramidSource; teacher: Teacher | null }> {
    const c = run.fullConfig;
    let source: PyramidSource;
    let teacher: Teacher | null = this.teachers.get(c.data) ?? null;
    const imageKey = `${c.data}|${c.seed}`;
    if (teacher) source = new TeacherSource(teacher, c.seed);
    else if (this.images.has(imageKey)) {
      const d = this.images.get(imageKey)!;
      source = new ImageDataset(d.set, { ...d.options });
    } else {
      const data = await openTrainData(c, (m) => log(`  ${m}`));
      teacher = data.teacher;
      if (teacher) this.teachers.set(c.data, teacher);
      else if (data.source instanceof ImageDataset) this.images.set(imageKey, data.source);
      source = data.source;
    }
    return { source: run.levels < c.generator.resolutions.length ? new LevelsSource(source, run.levels) : source, teacher };
  }

  dispose(): void {
    for (const t of this.teachers.values()) disposeTeacher(t);
    this.teachers.clear();
  }
}

function progressLine(tag: string, every: number, log: (l: string) => void): (e: ProgressEvent) => void {
  return (e) => {
    const head = `  ${tag} stage ${e.stageIndex + 1}/${e.stages} (r${e.resolution})`;
    if (e.kind === 'step' && (e.stageStep % every === 0 || e.stageStep === e.stageSteps)) {
      log(`${head} step ${e.stageStep}/${e.stageSteps}  lossD ${e.lossD!.toFixed(3)}  lossG ${e.lossG!.toFixed(3)}  ${e.imagesPerSec!.toFixed(0)} img/s`);
    } else if (e.kind === 'rollback' || e.kind === 'interrupted') log(`${head} ${e.kind} at step ${e.step}`);
  };
}

/**
 * Trains (or resumes, or reuses) one run; returns how, and the training seconds of this call. `workers`:
 * data-parallel replicas (`fsrgan train --workers`; default defaultWorkersFor: one per core where the step allows).
 */
export async function ensureRun(run: PlannedRun, dir: string, data: DataCache, allowTrain: boolean, tag: string, log: (l: string) => void, workers?: number): Promise<{ status: RunStatus; seconds: number }> {
  if (await exists(join(dir, MARKER))) return { status: 'reused', seconds: 0 };
  if (!allowTrain) throw new UserError(`the run ${run.id} is not complete in '${dir}': run fsrgan reproduce without training disabled first.`);
  const t0 = performance.now();
  const { source, teacher } = await data.open(run, log);
  const opts = { source, teacher: teacher ?? undefined, workers: workers ?? defaultWorkersFor(run.config), onProgress: progressLine(tag, run.config.log.progressEvery, log), onMessage: (m: string) => log(`  ${m}`) };
  let status: RunStatus = 'trained';
  let res;
  if (await hasRunConfig(dir)) {
    log(`${tag} resuming ${run.id}`);
    status = 'resumed';
    res = await resumeTraining(dir, opts);
  } else {
    // A folder without config.json is an interrupted start: begin again.
    await rm(dir, { recursive: true, force: true });
    log(`${tag} training ${run.id}: ${run.config.train.mode}, ${run.levels} levels, ${runSteps(run.config)} steps`);
    res = await train(run.config, dir, opts);
  }
  if (!res.completed) throw new UserError(`training ${run.id} stopped at step ${res.step}; run reproduce again to resume it.`);
  const seconds = (performance.now() - t0) / 1000;
  await writeFileAtomic(join(dir, MARKER), JSON.stringify({ id: run.id, name: run.name, completed: new Date().toISOString(), seconds }, null, 2) + '\n');
  return { status, seconds };
}

/** Held-out real data of a run: the teacher's own held-out stream, or the dataset's held-out split, cut to the run's levels. */
async function heldOutOf(run: PlannedRun, loaded: LoadedRun, data: DataCache, log: (l: string) => void): Promise<PyramidSource> {
  if (loaded.teacher) return new HeldOutTeacherSource(loaded.teacher, run.seed, run.levels);
  const { source } = await data.open(run, log);
  return heldOutSource(source, null, run.seed);
}

/**
 * The run's analyses (from its analysis cache, the missing ones computed against held-out data and
 * stored there), sample grids, tiles and the recovery reference.
 */
export async function measureRun(run: PlannedRun, dir: string, analysis: AnalysisConfig, data: DataCache, log: (l: string) => void): Promise<RunResult> {
  const fdir = join(dir, 'figures');
  const loaded = await loadRun(dir, { source: false });
  const result: RunResult = { run, dir, analyses: {}, metrics: [], samples: {}, tiles: null, recoveryRandom: null };
  try {
    const pieces: RunPieces = { dir, config: loaded.config, generator: loaded.generator, learner: loaded.learner, discriminators: loaded.discriminators, source: null, teacher: loaded.teacher, outputs: loaded.outputs };
    let c = analysis;
    if (run.analyses.some((w) => measurement(w).realData)) {
      pieces.source = await heldOutOf(run, loaded, data, log);
      // A held-out split smaller than the sample count would repeat images (and the floor's halves would
      // share them): then every analysis of the run takes that many samples, the cached ones included.
      const n = sourceSize(pieces.source);
      if (n !== null && n < c.samples) c = { ...c, samples: n };
    }
    const say = (l: string) => log(`  ${run.id}: ${l.replace(/^analyze: /, '')}`);
    const files = await cachedAnalyses(loaded, run.analyses, c, { generator: 'learner', real: 'held-out' }, (missing) => analyzeRun(pieces, missing, c, say), say);
    for (const f of files) (result.analyses as Record<string, AnalysisFile>)[f.what] = f as AnalysisFile;
    await mkdirs(fdir);
    for (const r of loaded.outputs) {
      const p = join(fdir, `samples-r${r}.png`);
      if (!(await exists(p))) {
        if (loaded.cond) await writeFile(p, await conditionalGridPng(loaded, loaded.config.generator.resolutions.indexOf(r)));
        else {
          const x = sampleRun(loaded, { n: 16, seed: 0, resolution: r });
          await writeFile(p, gridPng(x, { cols: 8, scale: Math.max(1, Math.round(48 / r)) }));
          x.dispose();
        }
      }
      result.samples[r] = p;
    }
    const align = result.analyses.alignment;
    if (align) {
      const r1 = run.config.generator.resolutions[0];
      const rep = align.results[`D_r${r1} vs G_r${r1}`];
      const d = loaded.discriminators.get(r1);
      if (rep && d) {
        const p = join(fdir, `tiles-r${r1}.png`);
        const filters = discImageFilters(d);
        await writeFile(p, filterPairPng(filters, loaded.generator.blocks[r1].out, rep.pairs.map(([i, j]) => [i, j] as [number, number]), { gap: 2 }));
        filters.dispose();
        result.tiles = p;
      }
    }
    if (result.analyses.recovery && loaded.teacher) result.recoveryRandom = randomRecovery(loaded, analysis);
  } finally {
    loaded.dispose();
  }
  result.metrics = (await readMetrics(dir)) as unknown as Record<string, number>[];
  return result;
}

/** Recovery of the teacher by a random-init learner of the run's shape (the reference of F-recovery). */
function randomRecovery(run: LoadedRun, c: AnalysisConfig): RecoveryReport {
  const l = createLearner(run.generator.shape, new Rng(c.seed, 'analysis/random-init'), run.config.generator.init);
  try {
    return teacherRecovery(l.params, run.teacher!.params, { threshold: c.recovery.threshold });
  } finally {
    disposeLearner(l);
  }
}

/**
 * The default feature extractor of every image dataset whose runs the plan measures with the sample-quality
 * metrics (FID, KID, ...), trained once here when none is cached (as `fsrgan metrics train-extractor` would,
 * about a minute), before any run needs it: so that processes measuring runs side by side never train it twice.
 */
export async function ensureExtractors(runs: PlannedRun[], analysis: AnalysisConfig, log: (l: string) => void): Promise<void> {
  if (analysis.metrics.extractor) return;
  const specs = new Set(runs.filter((r) => r.analyses.some((a) => measurement(a).imageData)).map((r) => r.fullConfig.data));
  for (const spec of specs) {
    const set = await loadImageSet(spec, datasetConfig({}));
    if (existsSync(extractorPath(analysis, set.name))) continue;
    log(`no feature extractor for ${set.name} cached: training the default one (fsrgan metrics train-extractor --dataset ${spec})`);
    await buildExtractor(spec, null, undefined, log);
  }
}
