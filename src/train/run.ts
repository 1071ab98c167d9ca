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
  const wantSource = opts.source !== false;
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
  const z = sampleLatents(new Rng(opts.seed, 'sample'), opts.n, g.params.shape.zDim);
  const mix = opts.mixFrom === undefined ? undefined : { z: sampleLatents(new Rng(opts.seed, 'sample-mix'), opts.n, g.params.shape.zDim), from: opts.mixFrom };
  if (mix) {
    const sides = run.config.generator.family === 'stylegan' ? styleganSides(run.config.generator) : [];
    if (!sides.length || !sides.includes(mix.from)) {
      tf.dispose([z, mix.z]);
      throw new UserError(sides.length ? `--mix-from must be one of the synthesis sides ${sides.join(', ')}, got ${mix.from}.` : `--mix-from mixes styles of a stylegan run; the run in '${run.dir}' is generator.family '${run.config.generator.family}'.`);
    }
  }
  const x = tf.tidy(() => learnerForward(g, z, level + 1, { mix }).x[level]);
  tf.dispose([z, ...(mix ? [mix.z] : [])]);
  return x;
}
