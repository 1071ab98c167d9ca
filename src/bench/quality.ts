/**
 * `fsrgan bench quality`: does a generator learn its data? The anchor every recipe change is judged
 * against (issue 14, docs/findings.md). On the same data and the same number of training images it trains
 *
 *   fsr    fsrgan's layerwise FSR learner (the experiment config of the dataset, as `fsrgan train` runs it)
 *   dcgan  a standard DCGAN in fsrgan (the dcgan model family, src/models/dcgan.ts, trained by `fsrgan train`'s
 *          trainer with DCGAN's recipe)
 *   torch  the same DCGAN in PyTorch (bench/torch_quality.py; Debian's python3-torch)
 *
 * and measures each against held-out real images, per pyramid level: patch SWD (src/analysis/swd.ts) and
 * the first- and second-order patch-moment errors (src/analysis/moments.ts). A DCGAN makes only the top
 * level; its lower levels are 2x2 average pools, as the data's are. The FSR learner is measured on its
 * own heads (its EMA generator when it keeps one). A "real" row compares training images with the
 * held-out ones: the floor no generator can go below. Wall times are training only.
 */
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../util/errors.js';
import { heldOutSource, HeldOutTeacherSource, isTeacherSpec, openSource, poolPyramid, teacherOf, type PyramidSource } from '../data/index.js';
import type { Teacher } from '../teacher/index.js';
import { loadConfigFile, stepsForLevel, type TrainConfig } from '../train/config.js';
import { train } from '../train/trainer.js';
import { loadRun, sampleRun } from '../train/run.js';
import { generatorImages, sourceImages } from '../analysis/pipeline.js';
import { patchSwd } from '../analysis/swd.js';
import { momentMatching } from '../analysis/moments.js';
import { flatFraction } from '../analysis/flatness.js';
import { toImageArray, type ImageArray } from '../analysis/common.js';
import { writeGridPng } from '../util/png.js';
import { dcganConfig } from './train.js';
import { stageArch } from './layers.js';
import { benchSession } from './replica.js';
import { ensureTorch, TORCH_PYTHON } from './torch.js';
import { mkdirs } from '../util/atomic.js';

export const CONTENDERS = ['fsr', 'dcgan', 'torch'] as const;
export type Contender = (typeof CONTENDERS)[number];

/** The datasets of the benchmark and the FSR experiment each runs. */
export const QUALITY_DATASETS: Record<string, { data: string; config: string; about: string }> = {
  emoji: { data: 'emoji', config: 'experiments/layerwise-emoji.json', about: 'Twemoji 32x32 on white' },
  'fashion-mnist': { data: 'fashion-mnist', config: 'experiments/layerwise-fashion.json', about: 'Fashion-MNIST padded to 32x32, gray as RGB' },
  teacher: { data: 'experiments/teacher-small.json', config: 'experiments/layerwise-teacher.json', about: 'the small synthetic teacher (x_L of its pyramid)' },
};

export interface QualityOptions {
  root: string;
  out: string;
  datasets: string[];
  contenders: Contender[];
  /** Training images per contender; default: the FSR config's own budget (sum over stages of steps x batch). */
  images?: number;
  /** Held-out and generated images per measurement. */
  samples: number;
  /** `--set` overrides of every dataset's FSR experiment config (budgets for a quick look, tests). */
  sets?: string[];
  seed: number;
  log: (line: string) => void;
}

export interface LevelQuality {
  resolution: number;
  swd: number;
  /** Relative errors of the patch mean (order 1) and second-moment matrix (order 2). */
  moment1: number;
  moment2: number;
  /** Flat fraction of the measured images (src/analysis/flatness.ts): the real floor row shows the data's own. */
  flat: number;
}

export interface QualityRow {
  dataset: string;
  contender: Contender | 'real';
  images: number;
  seconds: number;
  levels: LevelQuality[];
  grid: string | null;
  note: string;
}

/** Where one dataset's images come from: a training source and a held-out one with the same levels. */
interface Data {
  train: PyramidSource;
  heldOut: PyramidSource;
  teacher: Teacher | null;
  resolutions: number[];
}

async function openData(spec: string, resolutions: number[], seed: number): Promise<Data> {
  // A teacher takes only the seed from the dataset config (its own config fixes its resolutions).
  const config = isTeacherSpec(spec) ? { seed } : { resolution: resolutions[resolutions.length - 1], minResolution: resolutions[0], seed };
  const train = await openSource(spec, { config });
  const teacher = teacherOf(train);
  const heldOut = teacher ? new HeldOutTeacherSource(teacher, seed, resolutions.length) : heldOutSource(train, null, seed);
  return { train, heldOut, teacher, resolutions };
}

/** A dataset's FSR experiment config with the benchmark's seed and --set overrides. */
async function fsrConfig(o: QualityOptions, name: string): Promise<TrainConfig> {
  // Read from the repository root; the run's name is the file's (loadConfigFile takes it from the path).
  return loadConfigFile(join(o.root, QUALITY_DATASETS[name].config), { seed: o.seed, sets: o.sets });
}

/** Training images of a config: G steps of every stage times the batch. */
function budget(c: TrainConfig): number {
  return c.generator.resolutions.reduce((a, _, l) => a + stepsForLevel(c, l) * c.train.batch, 0);
}

export function measure(real: ImageArray[], fake: ImageArray[], seed: number): LevelQuality[] {
  const swd = patchSwd(real, fake, { seed });
  const mom = momentMatching(real, fake, { maxOrder: 2, noiseFloor: false, cross: false, seed });
  return swd.levels.map((lv, i) => ({
    resolution: lv.resolution,
    swd: lv.swd,
    moment1: mom.levels[i].orders.find((o) => o.order === 1)!.relError,
    moment2: mom.levels[i].orders.find((o) => o.order === 2)!.relError,
    flat: flatFraction(fake[i]),
  }));
}

function arraysOf(xs: tf.Tensor4D[]): ImageArray[] {
  return xs.map((x) => toImageArray(x, 'bench quality'));
}

/** A top-level image set [n,R,R,C] as the pyramid a DCGAN is measured on (2x2 average pools). */
function pyramidOf(top: Float32Array, n: number, r: number, c: number, levels: number): ImageArray[] {
  const t = tf.tensor4d(top, [n, r, r, c]);
  const xs = poolPyramid(t, levels);
  const out = arraysOf(xs);
  tf.dispose([t, ...xs]);
  return out;
}

/** The first 64 images of a level as a PNG grid. */
async function grid(path: string, a: ImageArray): Promise<string> {
  const m = Math.min(64, a.n);
  const t = tf.tensor4d(a.data.subarray(0, m * a.h * a.w * a.c), [m, a.h, a.w, a.c]);
  await writeGridPng(path, t, { scale: Math.max(1, Math.round(64 / a.h)) });
  t.dispose();
  return path;
}

async function runFsr(o: QualityOptions, name: string, data: Data, dir: string, held: ImageArray[]): Promise<{ row: Omit<QualityRow, 'dataset'>; images: number }> {
  const spec = QUALITY_DATASETS[name];
  const config = await fsrConfig(o, name);
  const images = budget(config);
  if (o.images && o.images !== images) o.log(`  fsr: ${images} images (its config's budget; --images applies to the DCGANs)`);
  await rm(dir, { recursive: true, force: true });
  const t0 = performance.now();
  await train(config, dir, {
    source: data.train,
    teacher: data.teacher ?? undefined,
    onProgress: (e) => {
      if (e.kind === 'stage-end') o.log(`  fsr: stage ${e.level} done at step ${e.step} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      else if (e.kind === 'step' && e.stageStep % 500 === 0 && e.stageStep < e.stageSteps) o.log(`  fsr: stage ${e.level} step ${e.stageStep}/${e.stageSteps} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const run = await loadRun(dir, { source: false, teacher: false });
  try {
    const g = run.ema ?? run.generator;
    const fake = generatorImages(g, o.samples, o.seed + 1, config.generator.resolutions.length);
    const levels = measure(held, fake, o.seed);
    const png = await grid(join(dir, 'grid.png'), fake[fake.length - 1]);
    return { row: { contender: 'fsr', images, seconds, levels, grid: png, note: `${spec.config}, ${run.ema ? 'EMA' : 'raw'} generator` }, images };
  } finally {
    run.dispose();
  }
}

async function runDcgan(o: QualityOptions, data: Data, images: number, dir: string, held: ImageArray[]): Promise<Omit<QualityRow, 'dataset'>> {
  // The DCGAN model family trained by fsrgan's trainer on the same images, as `fsrgan train` would.
  const probe = dcganConfig('bench-quality', data.resolutions);
  const steps = Math.max(1, Math.round(images / probe.train.batch));
  const config = dcganConfig('bench-quality', data.resolutions, { seed: o.seed, train: { steps }, log: { every: 100, progressEvery: 500, checkpointEvery: 100000, sampleEvery: 100000 } });
  const run = join(dir, 'run');
  await rm(run, { recursive: true, force: true });
  const t0 = performance.now();
  await train(config, run, {
    source: data.train,
    teacher: data.teacher ?? undefined,
    onProgress: (e) => {
      if (e.kind === 'step' && (e.stageStep % 500 === 0 || e.stageStep === e.stageSteps)) o.log(`  dcgan: step ${e.stageStep}/${e.stageSteps} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const loaded = await loadRun(run, { source: false, teacher: false });
  try {
    const r = data.resolutions[data.resolutions.length - 1];
    const b = config.train.batch;
    // In batches of the training batch: BatchNorm normalises with the batch's own statistics, as in training.
    const chunks: Float32Array[] = [];
    let c = 3;
    for (let k = 0; k * b < o.samples; k++) {
      const x = sampleRun(loaded, { n: b, seed: o.seed + 1 + k });
      chunks.push(Float32Array.from(x.dataSync() as Float32Array));
      c = x.shape[3];
      x.dispose();
    }
    const top = new Float32Array(o.samples * r * r * c);
    chunks.forEach((ch, k) => top.set(ch.subarray(0, Math.min(ch.length, top.length - k * ch.length)), k * ch.length));
    const fake = pyramidOf(top, o.samples, r, c, data.resolutions.length);
    const png = await grid(join(dir, 'grid.png'), fake[fake.length - 1]);
    return { contender: 'dcgan', images: steps * config.train.batch, seconds, levels: measure(held, fake, o.seed), grid: png, note: `generator.family dcgan through fsrgan train, ${steps} steps of ${config.train.batch}` };
  } finally {
    loaded.dispose();
  }
}

async function runTorch(o: QualityOptions, data: Data, images: number, dir: string, held: ImageArray[]): Promise<Omit<QualityRow, 'dataset'>> {
  ensureTorch(o.root, o.log);
  // The twin of the DCGAN contender: the layer list of the same model family (src/bench/layers.ts).
  const probe = benchSession(dcganConfig('bench-quality', data.resolutions), o.seed);
  const arch = stageArch(probe.s, 'dcgan');
  probe.dispose();
  const steps = Math.max(1, Math.round(images / arch.batch));
  const [r, , c] = arch.image;
  // The training images as one float32 file: every image of a dataset's train split, or a fixed draw of
  // 16,384 teacher images (the teacher is unbounded; fsr and dcgan draw fresh ones).
  const n = data.teacher ? 16384 : Math.min(65536, (data.train as unknown as { indices: readonly number[] }).indices.length);
  const xs = data.train.batch(n);
  await mkdirs(dir);
  const dataFile = join(dir, 'train.f32');
  const outFile = join(dir, 'samples.f32');
  await writeFile(dataFile, Buffer.from((xs[xs.length - 1].dataSync() as Float32Array).buffer));
  tf.dispose(xs);
  const archFile = join(dir, 'arch.json');
  await writeFile(archFile, JSON.stringify(arch));
  const args = [join(o.root, 'bench', 'torch_quality.py'), archFile, '--data', dataFile, '--n', String(n), '--steps', String(steps), '--samples', String(o.samples), '--out', outFile, '--seed', String(o.seed), '--threads', '2'];
  let seconds = 0;
  let torchVersion = '';
  await new Promise<void>((resolve, reject) => {
    const p = spawn(TORCH_PYTHON, args, { cwd: join(o.root, 'bench'), env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    createInterface({ input: p.stdout }).on('line', (line) => {
      const j = JSON.parse(line) as Record<string, number | string | boolean>;
      if (j.done) (seconds = j.seconds as number), (torchVersion = String(j.torch));
      else if ((j.step as number) % 500 === 0 || j.step === steps) o.log(`  torch: step ${j.step}/${steps} (${(j.seconds as number).toFixed(0)} s)`);
    });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bench/torch_quality.py exited with ${code}:\n${err.trim()}`))));
  });
  const top = new Float32Array((await readFile(outFile)).buffer.slice(0));
  await rm(dataFile, { force: true });
  const fake = pyramidOf(top.subarray(0, o.samples * r * r * c), o.samples, r, c, data.resolutions.length);
  const png = await grid(join(dir, 'grid.png'), fake[fake.length - 1]);
  return { contender: 'torch', images: steps * arch.batch, seconds, levels: measure(held, fake, o.seed), grid: png, note: `PyTorch ${torchVersion}, same architecture and recipe, ${n} training images` };
}

/** quality.json and quality.md, rewritten after every row so that a killed run keeps what it measured. */
async function save(o: QualityOptions, rows: QualityRow[]): Promise<void> {
  await mkdirs(o.out);
  const tmp = join(o.out, 'quality.json.tmp');
  await writeFile(tmp, JSON.stringify({ seed: o.seed, samples: o.samples, rows }, null, 1) + '\n');
  await rename(tmp, join(o.out, 'quality.json'));
  await writeFile(join(o.out, 'quality.md'), formatQualityTable(rows) + '\n');
}

/** Runs the benchmark; rows in dataset order, the real floor first in each. */
export async function benchQuality(o: QualityOptions): Promise<QualityRow[]> {
  const rows: QualityRow[] = [];
  for (const name of o.datasets) {
    const spec = QUALITY_DATASETS[name];
    if (!spec) throw new UserError(`unknown dataset '${name}' for bench quality; use ${Object.keys(QUALITY_DATASETS).join(', ')}.`);
    const config = await fsrConfig(o, name);
    o.log(`${name}: ${spec.about}; levels ${config.generator.resolutions.join(', ')}`);
    const data = await openData(spec.data, config.generator.resolutions, o.seed);
    const dir = join(o.out, name);
    const held = sourceImages(data.heldOut, o.samples);
    const trainSet = sourceImages(data.train, o.samples);
    rows.push({ dataset: name, contender: 'real', images: 0, seconds: 0, levels: measure(held, trainSet, o.seed), grid: await grid(join(dir, 'real.png'), held[held.length - 1]), note: 'training images vs held-out images' });
    await save(o, rows);
    let images = o.images ?? budget(config);
    for (const c of o.contenders) {
      o.log(`${name}: ${c} ...`);
      const sub = join(dir, c);
      await mkdirs(sub);
      if (c === 'fsr') {
        const r = await runFsr(o, name, data, sub, held);
        rows.push({ dataset: name, ...r.row });
        if (!o.images) images = r.images;
      } else if (c === 'dcgan') rows.push({ dataset: name, ...(await runDcgan(o, data, images, sub, held)) });
      else rows.push({ dataset: name, ...(await runTorch(o, data, images, sub, held)) });
      const last = rows[rows.length - 1];
      o.log(`${name}: ${c}: ${last.levels.map((l) => `r${l.resolution} swd ${l.swd.toFixed(4)}`).join(', ')} (${last.seconds.toFixed(0)} s)`);
      await save(o, rows);
    }
  }
  return rows;
}

/** A markdown table: one row per dataset and contender, SWD and moment errors per level, and the ratio to torch. */
export function formatQualityTable(rows: QualityRow[]): string {
  const out = ['| dataset | contender | images | train s | per level: patch SWD (moment err o1 / o2; flat fraction) | SWD / torch |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const torch = rows.find((x) => x.dataset === r.dataset && x.contender === 'torch');
    const per = r.levels.map((l) => `r${l.resolution} ${l.swd.toFixed(4)} (${l.moment1.toFixed(3)} / ${l.moment2.toFixed(3)}; ${l.flat.toFixed(2)})`).join('; ');
    const ratio = torch && r.contender !== 'torch' ? r.levels.map((l, i) => (l.swd / torch.levels[i].swd).toFixed(2)).join(' / ') : '';
    out.push(`| ${r.dataset} | ${r.contender} | ${r.images || ''} | ${r.seconds ? r.seconds.toFixed(0) : ''} | ${per} | ${ratio} |`);
  }
  return out.join('\n');
}
