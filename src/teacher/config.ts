/**
 * The synthetic teacher's configuration (docs/theory.md section 1; choices the paper does not fix are documented
 * in docs/teacher.md). The defaults object is the schema: unknown or mistyped keys are rejected.
 */
import { mergeStrict, readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { shapeProblems, type GeneratorShape } from '../models/generator.js';

export interface TeacherConfig {
  /** Image resolutions r_1 < ... < r_L, each twice the previous; r_1 a multiple of `patch`. */
  resolutions: number[];
  /** Hidden channels C_l per layer = number of dictionary atoms of output layer l. */
  channels: number[];
  /** Latent dimension of z ~ N(0, I). */
  zDim: number;
  /** Kernel size of the stride-2 hidden deconvolutions (layers >= 2). */
  kernel: number;
  /** Output patch size P: atoms are P x P x 3. */
  patch: number;
  /** Target mean number of non-zero channels of s_l per hidden position, one per layer (0 < t < C_l). */
  targetActive: number[];
  /**
   * Upper bound on the coherence max |cos| between distinct atoms of each A_l. The default 0.3 satisfies
   * the sparse-recovery condition k < (1 + 1/mu) / 2 for k = 2 active atoms (docs/teacher.md).
   */
  coherenceBound: number;
  /** Fraction of atoms that start as smooth color atoms; the rest start as oriented color edges. */
  colorAtomFraction: number;
  /**
   * Parent channels feeding each hidden channel of layers >= 2 (a sparse positive feature tree); 0 means a
   * dense Gaussian channel map.
   */
  deconvFanIn: number;
  /** Relative per-tap variation of the hidden deconvolution around its shared channel map. */
  deconvTapVariation: number;
  /** Samples of z used to calibrate biases (sparsity) and output scales. */
  calibrationSamples: number;
  /** |x_l| at this quantile is scaled to 1, so images lie roughly in [-1, 1]. */
  outputQuantile: number;
  /** Seed of every random choice in the construction. */
  seed: number;
}

export const defaultTeacherConfig: TeacherConfig = {
  resolutions: [8, 16, 32],
  channels: [16, 16, 16],
  zDim: 16,
  kernel: 4,
  patch: 4,
  targetActive: [2, 2, 2],
  coherenceBound: 0.3,
  colorAtomFraction: 0.25,
  deconvFanIn: 1,
  deconvTapVariation: 0.2,
  calibrationSamples: 1024,
  outputQuantile: 0.99,
  seed: 1,
};

/** The generator shape a teacher config describes (3 image channels). */
export function teacherShape(c: TeacherConfig): GeneratorShape {
  return { resolutions: [...c.resolutions], channels: [...c.channels], zDim: c.zDim, kernel: c.kernel, patch: c.patch, imageChannels: 3 };
}

function isPosInt(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

/** Merges user JSON over the defaults and validates it; throws a UserError naming the field. */
export function resolveTeacherConfig(json: unknown, path = 'teacher'): TeacherConfig {
  const c = mergeStrict(defaultTeacherConfig, json, path);
  const p: string[] = [];
  if (!isPosInt(c.patch)) p.push(`${path}.patch must be a positive integer`);
  if (!isPosInt(c.zDim)) p.push(`${path}.zDim must be a positive integer`);
  if (c.resolutions.some((r) => !isPosInt(r))) p.push(`${path}.resolutions must be positive integers`);
  if (c.channels.some((ch) => !isPosInt(ch))) p.push(`${path}.channels must be positive integers`);
  if (!Number.isInteger(c.kernel)) p.push(`${path}.kernel must be an integer`);
  p.push(...shapeProblems(teacherShape(c), path));
  if (c.targetActive.length !== c.resolutions.length) p.push(`${path}.targetActive must have one entry per resolution (${c.resolutions.length})`);
  c.targetActive.forEach((t, i) => {
    if (c.channels[i] !== undefined && !(t > 0 && t < c.channels[i])) p.push(`${path}.targetActive[${i}] must be between 0 and channels[${i}] = ${c.channels[i]} (exclusive), got ${t}`);
  });
  if (!(c.coherenceBound > 0 && c.coherenceBound < 1)) p.push(`${path}.coherenceBound must be in (0, 1)`);
  if (!(c.colorAtomFraction >= 0 && c.colorAtomFraction <= 1)) p.push(`${path}.colorAtomFraction must be in [0, 1]`);
  if (!Number.isInteger(c.deconvFanIn) || c.deconvFanIn < 0) p.push(`${path}.deconvFanIn must be an integer >= 0 (0 = dense)`);
  if (!(c.deconvTapVariation >= 0)) p.push(`${path}.deconvTapVariation must be >= 0`);
  if (!Number.isInteger(c.calibrationSamples) || c.calibrationSamples < 64) p.push(`${path}.calibrationSamples must be an integer >= 64`);
  if (!(c.outputQuantile > 0.5 && c.outputQuantile <= 1)) p.push(`${path}.outputQuantile must be in (0.5, 1]`);
  if (!Number.isInteger(c.seed)) p.push(`${path}.seed must be an integer`);
  if (p.length) throw new UserError(`invalid teacher config: ${p.join('; ')}.`);
  return c;
}

/** Reads and resolves a teacher config file (JSON); errors name the file. */
export async function teacherConfigFromFile(file: string): Promise<TeacherConfig> {
  const json = await readJsonFile(file, 'teacher config');
  try {
    return resolveTeacherConfig(json);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
}
