/**
 * The run's data, opened by openSource (src/data/open.ts). config.data is either a synthetic teacher config
 * (*.json: whose teacher the run saves into teacher/ so that loadRun can serve the very same teacher again)
 * or a dataset spec, opened with the resolutions and seed of the training config.
 */
import { stat } from 'node:fs/promises';
import { isTeacherSpec, openSource, teacherOf, TeacherSource, type PyramidSource } from '../data/index.js';
import { loadTeacher, saveTeacher, type Teacher } from '../teacher/index.js';
import { UserError } from '../util/errors.js';
import type { TrainConfig } from './config.js';
import { runPaths } from './rundir.js';

export interface TrainData {
  source: PyramidSource;
  /** The synthetic teacher, when config.data names one. */
  teacher: Teacher | null;
}

/** True when config.data names a synthetic teacher config. */
export function isTeacherData(config: TrainConfig): boolean {
  return isTeacherSpec(config.data);
}

/** Opens config.data (building the teacher when it is one) and checks it against the generator's shape. */
export async function openTrainData(config: TrainConfig, onProgress?: (line: string) => void): Promise<TrainData> {
  const g = config.generator;
  // A teacher takes only the seed: its resolutions are checked against the generator below.
  const dataset = isTeacherData(config)
    ? { seed: config.seed }
    : { ...config.dataset, resolution: g.resolutions[g.resolutions.length - 1], minResolution: g.resolutions[0], seed: config.seed };
  let source: PyramidSource;
  try {
    // Every skipped or converted file of a folder is said, as `fsrgan data preview` says it (docs/data.md).
    source = await openSource(config.data, { config: dataset, onProgress, onMessage: (p) => onProgress?.(`${p.file}: ${p.action} (${p.reason})`) });
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`config.data: ${e.message}`);
    throw e;
  }
  const teacher = teacherOf(source);
  checkSourceMatches(config, source, teacher?.config.channels);
  return { source, teacher };
}

/** The data of a run whose teacher is already at hand (loaded from a run directory). */
export function teacherData(config: TrainConfig, teacher: Teacher): TrainData {
  const source = new TeacherSource(teacher, config.seed);
  checkSourceMatches(config, source, teacher.config.channels);
  return { source, teacher };
}

/** A UserError when the data's pyramid does not match config.generator, or the learner is narrower than the teacher. */
export function checkSourceMatches(config: TrainConfig, source: PyramidSource, teacherChannels?: number[]): void {
  const want = config.generator.resolutions;
  if (source.resolutions.join() !== want.join()) {
    throw new UserError(
      `config.generator.resolutions is [${want}] but the data '${config.data}' has resolutions [${source.resolutions}]: set generator.resolutions to [${source.resolutions}].`,
    );
  }
  if (teacherChannels) {
    const narrow = config.generator.channels.findIndex((c, i) => c < teacherChannels[i]);
    if (narrow >= 0) {
      throw new UserError(
        `config.generator.channels[${narrow}] = ${config.generator.channels[narrow]} is narrower than the teacher's ${teacherChannels[narrow]}: the learner must be at least as wide as the teacher (docs/theory.md section 2).`,
      );
    }
  }
}

/** Saves the teacher under runDir/teacher. */
export async function saveRunTeacher(teacher: Teacher, runDir: string): Promise<void> {
  await saveTeacher(runPaths(runDir).teacher, teacher);
}

/** Loads runDir/teacher, or null when the run has none. */
export async function loadRunTeacher(runDir: string): Promise<Teacher | null> {
  const dir = runPaths(runDir).teacher;
  if (!(await stat(dir).catch(() => null))) return null;
  return loadTeacher(dir);
}
