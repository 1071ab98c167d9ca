/**
 * Running the measurements of docs/theory.md section 3 on whole models: a run directory's pieces (from
 * `loadRun` in src/train/run.ts) or a teacher alone. Each measurement becomes one AnalysisFile
 * (validate.ts) with one report per subject ("learner", "random-init", "teacher", "D_r8 vs G_r8", ...).
 * The parameters are one config object (the defaults are the schema; docs/analysis.md).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';
import { join } from 'node:path';
import { generatorForward, type GeneratorParams } from '../models/generator.js';
import { createLearner, disposeLearner, DEFAULT_INIT, type LearnerInit } from '../models/learner.js';
import { calibrateLayer } from '../models/calibrate.js';
import { discFirstLayer, type Discriminator } from '../models/discriminator.js';
import type { PyramidSource } from '../data/source.js';
import type { Teacher } from '../teacher/index.js';
import { applySets, mergeStrict } from '../util/config.js';
import { outputError, UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { bankColumns, type ImageArray } from './common.js';
import { DEFAULT_SPARSITY, generatorSparsity, type SparsityReport } from './sparsity.js';
import { DEFAULT_MOMENTS, momentMatching, type CodeMap } from './moments.js';
import { DEFAULT_ALIGNMENT, featureAlignment } from './alignment.js';
import { DEFAULT_RECOVERY, teacherRecovery } from './recovery.js';
import { DEFAULT_LOCALITY, generatorLocality } from './locality.js';
import { DEFAULT_SWD, patchSwd } from './swd.js';
import { ANALYSES, toJson, type AnalysisFile, type AnalysisName, type ReportTypes } from './validate.js';

/** The calibration fields of a training config's generator.init (src/train/config.ts). */
interface CalibrationInit {
  calibrate: boolean;
  active: number;
  calibrationSamples: number;
}

export const DEFAULT_ANALYSIS = {
  /** Images per set (real and generated) for sparsity, moments and SWD. */
  samples: 2048,
  /** Seed of the latents, the random-init learner and every sampling choice of the measurements. */
  seed: 0,
  /** Samples per generator forward (memory only). */
  chunk: 256,
  sparsity: { tau: DEFAULT_SPARSITY.tau },
  moments: {
    /** Patch size; 0 = the generator's output patch P. */
    patch: 0,
    sampling: DEFAULT_MOMENTS.sampling as string,
    cropsPerImage: DEFAULT_MOMENTS.cropsPerImage,
    maxPatches: DEFAULT_MOMENTS.maxPatches,
    directions: DEFAULT_MOMENTS.directions,
    maxOrder: DEFAULT_MOMENTS.maxOrder,
    noiseFloor: true,
    cross: true,
    /** Code space phi(x): 'discriminator' (D_l's first layer), 'teacher' (A*_l, b = codeBias), 'none'. */
    code: 'discriminator' as string,
    codeBias: 0,
  },
  alignment: { randomDraws: DEFAULT_ALIGNMENT.randomDraws },
  recovery: { threshold: DEFAULT_RECOVERY.threshold },
  locality: { samples: 256, epsilon: DEFAULT_LOCALITY.epsilon, positions: 4 },
  swd: { patch: DEFAULT_SWD.patch, descriptorsPerImage: DEFAULT_SWD.descriptorsPerImage, maxDescriptors: DEFAULT_SWD.maxDescriptors, directions: DEFAULT_SWD.directions },
};

export type AnalysisConfig = typeof DEFAULT_ANALYSIS;

const ALLOWED = { 'analysis.moments.sampling': ['grid', 'random'], 'analysis.moments.code': ['discriminator', 'teacher', 'none'] } as const;

/** Merges user JSON and `--set` overrides over the defaults; a UserError names a bad field. */
export function resolveAnalysisConfig(user: unknown = {}, sets: string[] = []): AnalysisConfig {
  const c = mergeStrict(DEFAULT_ANALYSIS, applySets((user ?? {}) as Record<string, unknown>, sets), 'analysis', ALLOWED);
  if (!(Number.isInteger(c.samples) && c.samples >= 4)) throw new UserError('analysis.samples must be an integer >= 4.');
  if (!(c.sparsity.tau >= 0 && c.sparsity.tau < 1)) throw new UserError('analysis.sparsity.tau must be in [0, 1).');
  if (!(Number.isInteger(c.moments.maxOrder) && c.moments.maxOrder >= 1 && c.moments.maxOrder <= 4)) throw new UserError('analysis.moments.maxOrder must be 1, 2, 3 or 4.');
  if (!(Number.isInteger(c.locality.samples) && c.locality.samples >= 1)) throw new UserError('analysis.locality.samples must be a positive integer.');
  if (c.locality.epsilon === 0) throw new UserError('analysis.locality.epsilon must be non-zero.');
  return c;
}

/** What analyzeRun needs from a run directory; src/train/run.ts's LoadedRun provides all of it. */
export interface RunPieces {
  dir: string;
  config: { seed: number; generator: { init: LearnerInit & Partial<CalibrationInit> } };
  /** The trained learner. */
  generator: GeneratorParams;
  /** D per resolution it judges. */
  discriminators: Map<number, Discriminator>;
  /** Real data (null: moments and SWD are unavailable). */
  source: PyramidSource | null;
  teacher: Teacher | null;
  /** Resolutions whose generated images are meaningful (trained stages). */
  outputs: number[];
}

export type Log = (line: string) => void;

/** Latents [n,1,1,zDim] from Rng(seed, 'analysis/z'). */
function latents(n: number, zDim: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed, 'analysis/z').normals(n * zDim), [n, 1, 1, zDim]);
}

/** Concatenates per-chunk level data into one ImageArray per level. */
function gather(chunks: ImageArray[][]): ImageArray[] {
  return chunks[0].map((first, l) => {
    const n = chunks.reduce((a, c) => a + c[l].n, 0);
    const data = new Float32Array(n * first.h * first.w * first.c);
    let o = 0;
    for (const c of chunks) data.set(c[l].data, o), (o += c[l].data.length);
    return { data, n, h: first.h, w: first.w, c: first.c };
  });
}

function toArrays(xs: tf.Tensor4D[]): ImageArray[] {
  return xs.map((x) => {
    const [n, h, w, c] = x.shape;
    return { data: x.dataSync() as Float32Array, n, h, w, c };
  });
}

/** Images of a generator at levels 1..upTo, n samples at latents from `seed`, in chunks. */
export function generatorImages(params: GeneratorParams, n: number, seed: number, upTo: number, chunk = 256): ImageArray[] {
  const z = latents(n, params.shape.zDim, seed);
  const chunks: ImageArray[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const xs = tf.tidy(() => generatorForward(params, tf.slice(z, [s, 0, 0, 0], [m, -1, -1, -1]), upTo).x);
    chunks.push(toArrays(xs));
    tf.dispose(xs);
  }
  z.dispose();
  return gather(chunks);
}

/** n real pyramids from a source, in chunks. */
export function sourceImages(source: PyramidSource, n: number, chunk = 256): ImageArray[] {
  const chunks: ImageArray[][] = [];
  for (let s = 0; s < n; s += chunk) {
    const xs = source.batch(Math.min(chunk, n - s));
    chunks.push(toArrays(xs));
    tf.dispose(xs);
  }
  return gather(chunks);
}

function momentOpts(c: AnalysisConfig, patch: number) {
  const { code: _code, codeBias: _bias, ...m } = c.moments;
  return { ...m, sampling: m.sampling as 'grid' | 'random', patch: m.patch || patch, seed: c.seed };
}

function codeMaps(c: AnalysisConfig, resolutions: number[], discs: Map<number, Discriminator> | null, teacher: Teacher | null): Record<number, CodeMap> {
  const out: Record<number, CodeMap> = {};
  for (const r of resolutions) {
    if (c.moments.code === 'discriminator' && discs?.get(r)) {
      const d = discs.get(r)!;
      const w = discFirstLayer(d);
      const b = d.convs[0].b.dataSync();
      out[r] = { atoms: bankColumns(w, 'codeMaps'), bias: Array.from(b, (x) => -x), leak: d.leak, input: d.input, source: `D_r${r} first layer` };
      w.dispose();
    } else if (c.moments.code === 'teacher' && teacher?.params.blocks[r]) {
      const atoms = bankColumns(teacher.params.blocks[r].out, 'codeMaps');
      out[r] = { atoms, bias: new Array(atoms.length).fill(c.moments.codeBias), leak: 0, input: 'single', source: `teacher A_r${r}` };
    }
  }
  return out;
}

/**
 * The random-init reference learner: the run's shape and init recipe at Rng(seed, 'analysis/random-init'),
 * calibrated layer by layer when the run calibrates (src/models/calibrate.ts): what training starts from,
 * so that "sparser than random init" means sparser than the start, not than an uncalibrated net.
 */
function randomInit<T>(params: GeneratorParams, init: LearnerInit & Partial<CalibrationInit>, seed: number, fn: (g: GeneratorParams) => T): T {
  const l = createLearner(params.shape, new Rng(seed, 'analysis/random-init'), init);
  try {
    if (init.calibrate) {
      const z = latents(init.calibrationSamples ?? 256, params.shape.zDim, seed + 1);
      try {
        params.shape.resolutions.forEach((_, i) => calibrateLayer(l.params, i, z, init.active ?? 0.2));
      } finally {
        z.dispose();
      }
    }
    return fn(l.params);
  } finally {
    disposeLearner(l);
  }
}

function timed<W extends AnalysisName>(what: W, source: string, log: Log, body: () => Record<string, ReportTypes[W]>): AnalysisFile<W> {
  const t0 = performance.now();
  log(`analyze: ${what} ...`);
  const results = body();
  const seconds = (performance.now() - t0) / 1000;
  log(`analyze: ${what} done in ${seconds.toFixed(1)} s`);
  return { what, source, backend: tf.getBackend(), seconds, results };
}

function sparsityOf(params: GeneratorParams, c: AnalysisConfig): SparsityReport {
  const z = latents(c.samples, params.shape.zDim, c.seed);
  try {
    return generatorSparsity(params, z, { tau: c.sparsity.tau, chunk: c.chunk }, c.seed);
  } finally {
    z.dispose();
  }
}

function localityOf(params: GeneratorParams, c: AnalysisConfig) {
  const z = latents(c.locality.samples, params.shape.zDim, c.seed);
  try {
    return generatorLocality(params, z, { epsilon: c.locality.epsilon, positions: c.locality.positions, seed: c.seed, chunk: c.chunk }, c.seed);
  } finally {
    z.dispose();
  }
}

/**
 * Runs `what` on a loaded run: learner against real data, D against G, learner against teacher.
 * Generated images are taken at the levels in `run.outputs` only.
 */
export function analyzeRun(run: RunPieces, what: AnalysisName[], config: AnalysisConfig = DEFAULT_ANALYSIS, log: Log = () => {}): AnalysisFile[] {
  const c = config;
  const g = run.generator;
  const rs = g.shape.resolutions;
  const upTo = Math.max(0, ...run.outputs.map((r) => rs.indexOf(r) + 1));
  const levels = rs.slice(0, upTo);
  const files: AnalysisFile[] = [];
  let real: ImageArray[] | null = null;
  let fake: ImageArray[] | null = null;
  const pyramids = () => {
    if (!run.source) throw new UserError(`moments and swd need the run's data, which could not be opened for '${run.dir}'.`);
    if (upTo === 0) throw new UserError(`the run in '${run.dir}' has no trained stage yet: nothing to compare.`);
    if (!real) real = sourceImages(run.source, c.samples, c.chunk).slice(0, upTo);
    if (!fake) fake = generatorImages(g, c.samples, c.seed, upTo, c.chunk);
    return { real, fake };
  };
  for (const w of what) {
    if (w === 'sparsity') {
      files.push(
        timed('sparsity', run.dir, log, () => ({
          learner: sparsityOf(g, c),
          'random-init': randomInit(g, run.config.generator.init, c.seed, (p) => sparsityOf(p, c)),
          ...(run.teacher ? { teacher: sparsityOf(run.teacher.params, c) } : {}),
        })),
      );
    } else if (w === 'moments') {
      const p = pyramids();
      files.push(timed('moments', run.dir, log, () => ({ learner: momentMatching(p.real, p.fake, momentOpts(c, g.shape.patch), codeMaps(c, levels, run.discriminators, run.teacher)) })));
    } else if (w === 'swd') {
      const p = pyramids();
      files.push(timed('swd', run.dir, log, () => ({ learner: patchSwd(p.real, p.fake, { ...c.swd, seed: c.seed }) })));
    } else if (w === 'alignment') {
      files.push(timed('alignment', run.dir, log, () => alignmentResults(run, c)));
    } else if (w === 'recovery') {
      const t = run.teacher;
      if (!t) throw new UserError(`recovery needs a run trained on a synthetic teacher; '${run.dir}' was trained on real data (drop recovery from --what).`);
      files.push(
        timed('recovery', run.dir, log, () => ({
          learner: teacherRecovery(g, t.params, { threshold: c.recovery.threshold }, sparsityOf(g, c), sparsityOf(t.params, c)),
        })),
      );
    } else if (w === 'locality') {
      files.push(
        timed('locality', run.dir, log, () => ({
          learner: localityOf(g, c),
          'random-init': randomInit(g, run.config.generator.init, c.seed, (p) => localityOf(p, c)),
          ...(run.teacher ? { teacher: localityOf(run.teacher.params, c) } : {}),
        })),
      );
    }
  }
  return files;
}

/**
 * D_l's first-layer filters against G's output atoms at the same resolution, for every D. A pair D's
 * filters act on (upsample(x_{l-1}), x_l): the x_l half (the last imageChannels input channels) is compared.
 */
function alignmentResults(run: RunPieces, c: AnalysisConfig): Record<string, ReportTypes['alignment']> {
  const out: Record<string, ReportTypes['alignment']> = {};
  for (const [r, d] of [...run.discriminators.entries()].sort((a, b) => a[0] - b[0])) {
    const block = run.generator.blocks[r];
    if (!block || d.patch !== run.generator.shape.patch) continue;
    const filters = tf.tidy(() => {
      const w = discFirstLayer(d);
      return d.input === 'pair' ? tf.slice(w, [0, 0, d.imageChannels, 0], [-1, -1, d.imageChannels, -1]) : w;
    });
    out[`D_r${r} vs G_r${r}`] = featureAlignment(filters, block.out, { randomDraws: c.alignment.randomDraws, seed: c.seed });
    filters.dispose();
  }
  if (!Object.keys(out).length) throw new UserError(`alignment: no discriminator of '${run.dir}' shares G's patch geometry.`);
  return out;
}

/**
 * The teacher alone: sparsity and locality of the teacher (and of a random-init learner of its shape),
 * moments and SWD of two independent teacher samples (a sanity noise floor: both should be near the
 * floor), and recovery of the teacher against itself (1.0 by construction).
 */
export function analyzeTeacher(teacher: Teacher, what: AnalysisName[], config: AnalysisConfig = DEFAULT_ANALYSIS, label = 'teacher', log: Log = () => {}): AnalysisFile[] {
  const c = config;
  const t = teacher.params;
  const L = t.shape.resolutions.length;
  const files: AnalysisFile[] = [];
  let halves: { a: ImageArray[]; b: ImageArray[] } | null = null;
  const pair = () => (halves ??= { a: generatorImages(t, c.samples, c.seed, L, c.chunk), b: generatorImages(t, c.samples, c.seed + 1, L, c.chunk) });
  for (const w of what) {
    if (w === 'sparsity') {
      files.push(timed('sparsity', label, log, () => ({ teacher: sparsityOf(t, c), 'random-init': randomInit(t, DEFAULT_INIT, c.seed, (p) => sparsityOf(p, c)) })));
    } else if (w === 'locality') {
      files.push(timed('locality', label, log, () => ({ teacher: localityOf(t, c), 'random-init': randomInit(t, DEFAULT_INIT, c.seed, (p) => localityOf(p, c)) })));
    } else if (w === 'moments') {
      const h = pair();
      const codes = c.moments.code === 'teacher' ? codeMaps(c, t.shape.resolutions, null, teacher) : {};
      files.push(timed('moments', label, log, () => ({ 'teacher vs teacher': momentMatching(h.a, h.b, momentOpts(c, t.shape.patch), codes) })));
    } else if (w === 'swd') {
      const h = pair();
      files.push(timed('swd', label, log, () => ({ 'teacher vs teacher': patchSwd(h.a, h.b, { ...c.swd, seed: c.seed }) })));
    } else if (w === 'recovery') {
      files.push(timed('recovery', label, log, () => ({ 'teacher vs itself': teacherRecovery(t, t, { threshold: c.recovery.threshold }) })));
    } else if (w === 'alignment') {
      throw new UserError('alignment compares a discriminator with a generator: analyse a run directory, not --teacher.');
    }
  }
  return files;
}

/** Parses a --what list ("sparsity,moments"); a UserError names an unknown entry. */
export function parseWhat(list: string | undefined, dflt: readonly AnalysisName[]): AnalysisName[] {
  if (!list) return [...dflt];
  const items = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) {
    if (!(ANALYSES as readonly string[]).includes(i)) throw new UserError(`--what: unknown measurement '${i}'; use a comma-separated list of ${ANALYSES.join(', ')}.`);
  }
  return items as AnalysisName[];
}

/** Writes each file as `<dir>/<what>.json`; returns the paths. */
export async function writeAnalysisFiles(dir: string, files: AnalysisFile[]): Promise<string[]> {
  const paths: string[] = [];
  try {
    await mkdir(dir, { recursive: true });
    for (const f of files) {
      const p = join(dir, `${f.what}.json`);
      await writeFileAtomic(p, toJson(f) + '\n');
      paths.push(p);
    }
  } catch (e) {
    throw outputError(e, dir, 'the analysis folder');
  }
  return paths;
}
