/**
 * Reading a run directory back (its files and their paths: rundir.ts): `loadRun` (for the analysis CLI,
 * sampling, reproduce and notebooks) restores the newest checkpoint into a session and hands out the
 * generator, its EMA, the discriminators, the data source (at the checkpoint's position) and the teacher
 * when the data is synthetic. `sampleRun` draws images from a run at a seed, deterministically.
 */
import * as tf from '@tensorflow/tfjs';
import { basename } from 'node:path';
import type { GeneratorParams } from '../models/generator.js';
import { learnerForward, sampleLatents, type Learner } from '../models/learner.js';
import type { Discriminator } from '../models/discriminator.js';
import type { PyramidSource } from '../data/source.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import type { TrainConfig } from './config.js';
import { requireCheckpoint } from './checkpoint.js';
import { disposeTeacher, type Teacher } from '../teacher/index.js';
import { loadRunTeacher, openTrainData, teacherData } from './data.js';
import { buildSession, closeStageOptimizers, disposeSession, restoreSession } from './session.js';
import type { Stage } from './stages.js';
import { readRunConfig } from './rundir.js';
import { familyImageChannels } from './families.js';
import { styleganSides } from '../models/stylegan.js';
import { classIndex, needsClassNames, oneHotRows, textInterpolationRows, textRows, type ConditionSpace } from './conditions.js';
import { crossGrid } from './cond-samples.js';

export interface LoadedRun {
  dir: string;
  config: TrainConfig;
  stages: Stage[];
  /** G steps completed at the checkpoint. */
  step: number;
  /** The checkpoint loaded: its folder name, step and the sha256 of its weights (what the analysis cache keys on). */
  checkpoint: { name: string; step: number; weightsSha256: string };
  /** Index of the stage the run was in (== stages.length when finished). */
  stageIndex: number;
  completed: boolean;
  /** G's parameters (variables) and the same by name. */
  generator: GeneratorParams;
  learner: Learner;
  /** EMA generator, when the run kept one. */
  ema: GeneratorParams | null;
  emaLearner: Learner | null;
  /** One D per stage, by the resolution it judges. */
  discriminators: Map<number, Discriminator>;
  /** The data source at the checkpoint's position (null when opened with { source: false }). */
  source: PyramidSource | null;
  /** The synthetic teacher (src/teacher) when the data is one, else null. */
  teacher: Teacher | null;
  /** Resolutions whose G images are meaningful at this checkpoint. */
  outputs: number[];
  /** A conditional run's condition space (classes or text; conditions.ts), else null. */
  cond: ConditionSpace | null;
  /** Disposes every tensor of the run, the teacher included. */
  dispose(): void;
}

export interface LoadRunOptions {
  /** Open the data source (default true; false skips dataset loading). */
  source?: boolean;
  /** Load the teacher when the run has one (default true; a synthetic source needs it). */
  teacher?: boolean;
}

/** Loads the newest valid checkpoint of a run directory. */
export async function loadRun(dir: string, opts: LoadRunOptions = {}): Promise<LoadedRun> {
  const config = await readRunConfig(dir);
  const ck = await requireCheckpoint(dir);
  const checkpoint = { name: basename(ck.path), step: ck.state.step, weightsSha256: ck.weightsSha256 };
  // An FSR generator's first head, or a DCGAN's output layer (both [k,k,imageChannels,C]); a family's (families.ts).
  const out = ck.tensors[`g.r${config.generator.resolutions[0]}.out`] ?? ck.tensors['g.out.w'];
  const familyChannels = familyImageChannels(config, ck.tensors);
  if (!out && familyChannels === null) throw new UserError(`the checkpoint in '${ck.path}' holds no generator.`);
  // A class-conditional run takes its class names from its dataset (unless its config lists them).
  const wantSource = opts.source !== false || needsClassNames(config);
  const teacher = opts.teacher === false && !wantSource ? null : await loadRunTeacher(dir);
  const source = !wantSource ? null : teacher ? teacherData(config, teacher).source : (await openTrainData(config)).source;
  const s = buildSession(config, familyChannels ?? out.shape[2] ?? 3, source);
  restoreSession(s, ck);
  closeStageOptimizers(s);
  const completed = s.stageIndex >= s.stages.length;
  const done = s.stages.slice(0, completed ? s.stages.length : s.stageIndex + (s.stageStep > 0 ? 1 : 0));
  const outputs = done.length ? done[done.length - 1].outputs : [];
  return {
    dir,
    config,
    stages: s.stages,
    step: s.step,
    checkpoint,
    stageIndex: s.stageIndex,
    completed,
    generator: s.learner.params,
    learner: s.learner,
    ema: s.ema?.params ?? null,
    emaLearner: s.ema,
    discriminators: s.discs,
    source,
    teacher,
    outputs,
    cond: s.cond,
    dispose: () => {
      disposeSession(s);
      if (teacher) disposeTeacher(teacher);
    },
  };
}

export interface SampleOptions {
  n: number;
  seed: number;
  /** Use the EMA generator (the run must have one). */
  ema?: boolean;
  /** Resolution to draw (default: the highest meaningful one). */
  resolution?: number;
  /**
   * StyleGAN style mixing (src/models/stylegan.ts): the styles of synthesis sides >= mixFrom come from a
   * second set of latents, drawn from Rng(seed, 'sample-mix'); the first set's styles below it and its noise.
   */
  mixFrom?: number;
  /** A class-conditional run: draw this class (a name of run.cond.classNames); absent: every class, one row each. */
  className?: string;
  /** A text-conditional run: draw images of this text (required there). */
  text?: string;
  /** With `text`: one fixed latent, the text's embedding interpolated towards this one's over the n images. */
  textTo?: string;
}

/** Images [n,r,r,C] from a loaded run at latents drawn from Rng(seed, 'sample'): same run and seed, same images. */
export function sampleRun(run: LoadedRun, opts: SampleOptions): tf.Tensor4D {
  const g = opts.ema ? run.emaLearner : run.learner;
  if (!g) throw new UserError(`the run in '${run.dir}' kept no EMA generator (train.emaBeta = 0): drop --ema.`);
  const resolutions = run.config.generator.resolutions;
  const r = opts.resolution ?? (run.outputs.length ? Math.max(...run.outputs) : resolutions[resolutions.length - 1]);
  const level = resolutions.indexOf(r);
  if (level < 0) throw new UserError(`--resolution must be one of ${resolutions.join(', ')}, got ${r}.`);
  // A run stopped before the stage of r has an untrained head there: its images would be random init.
  if (opts.resolution !== undefined && !run.outputs.includes(r)) {
    throw new UserError(
      `the run in '${run.dir}' has not trained resolution ${r} yet (stopped at step ${run.step}; trained: ${run.outputs.join(', ') || 'none'}): resume it, or choose one of the trained resolutions.`,
    );
  }
  if (opts.textTo !== undefined) return interpolateRun(run, g, level + 1, opts);
  const z = sampleLatents(new Rng(opts.seed, 'sample'), opts.n, g.params.shape.zDim);
  const mix = opts.mixFrom === undefined ? undefined : { z: sampleLatents(new Rng(opts.seed, 'sample-mix'), opts.n, g.params.shape.zDim), from: opts.mixFrom };
  if (mix) {
    const sides = run.config.generator.family === 'stylegan' ? styleganSides(run.config.generator) : [];
    if (!sides.length || !sides.includes(mix.from)) {
      tf.dispose([z, mix.z]);
      throw new UserError(sides.length ? `--mix-from must be one of the synthesis sides ${sides.join(', ')}, got ${mix.from}.` : `--mix-from mixes styles of a stylegan run; the run in '${run.dir}' is generator.family '${run.config.generator.family}'.`);
    }
  }
  try {
    const c = conditionRows(run, opts);
    if (!c) return tf.tidy(() => learnerForward(g, z, level + 1, { mix }).x[level]);
    const x = crossGrid(g, level + 1, z, c);
    c.dispose();
    return x;
  } finally {
    tf.dispose([z, ...(mix ? [mix.z] : [])]);
  }
}
/** n images at one latent of the seed, from --text's embedding to --to's (text interpolation). */
function interpolateRun(run: LoadedRun, g: Learner, level: number, opts: SampleOptions): tf.Tensor4D {
  if (run.cond?.kind !== 'text') throw new UserError(`--to interpolates between texts and needs a text-conditional run (text2img, or generator.condition 'text'); the run in '${run.dir}' is '${run.config.generator.family}'.`);
  if (!opts.text?.trim() || !opts.textTo?.trim()) throw new UserError('--to interpolates from --text to --to: give both, e.g. --text "red heart" --to "blue heart".');
  const z1 = sampleLatents(new Rng(opts.seed, 'sample'), 1, g.params.shape.zDim);
  const c = textInterpolationRows(opts.text, opts.textTo, opts.n, run.cond.dim);
  const x = tf.tidy(() => learnerForward(g, tf.tile(z1, [opts.n, 1, 1, 1]) as tf.Tensor4D, level, { cond: c }).x[level - 1]);
  tf.dispose([z1, c]);
  return x;
}

/**
 * The condition rows [R, dim] of a sample request: one row for --class or --text, every class for a
 * class run without --class; null for an unconditional run. Wrong requests are UserErrors naming the flag.
 */
function conditionRows(run: LoadedRun, opts: SampleOptions): tf.Tensor2D | null {
  const space = run.cond;
  const family = run.config.generator.family;
  if (!space) {
    if (opts.className !== undefined || opts.text !== undefined) {
      throw new UserError(`--${opts.className !== undefined ? 'class' : 'text'} needs a conditional run (generator.family cgan, acgan or text2img, or generator.condition 'class' or 'text'); the run in '${run.dir}' is '${family}': drop the flag.`);
    }
    return null;
  }
  if (space.kind === 'text') {
    if (opts.className !== undefined) throw new UserError(`--class needs a class-conditional run (cgan, acgan, or generator.condition 'class'); the run in '${run.dir}' is conditioned on text: use --text "red heart".`);
    if (opts.text === undefined || opts.text.trim() === '') throw new UserError(`the run in '${run.dir}' draws images of a text: give --text, e.g. --text "red heart".`);
    return textRows([opts.text], space.dim);
  }
  if (opts.text !== undefined) throw new UserError(`--text needs a text-conditional run (text2img, or generator.condition 'text'); the run in '${run.dir}' is conditioned on classes: use --class NAME (${space.classNames.map((c) => `'${c}'`).join(', ')}).`);
  const rows = opts.className === undefined ? space.classNames.map((_, i) => i) : [classIndex(space, opts.className)];
  return oneHotRows(rows, space.dim);
}
