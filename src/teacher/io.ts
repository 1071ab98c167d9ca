/**
 * A teacher on disk: DIR/teacher.json (format, config, shapes, construction stats, weight specs) and
 * DIR/weights.bin (tf.io.encodeWeights of every block tensor). Loading validates everything against the
 * config and names the offending file in a UserError.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { hiddenGrids, type GeneratorBlock } from '../models/generator.js';
import { resolveTeacherConfig, teacherShape, type TeacherConfig } from './config.js';
import type { Teacher, TeacherLayerInfo } from './build.js';

export const TEACHER_FORMAT = 'fsrgan-teacher';
export const TEACHER_VERSION = 1;

interface TeacherFile {
  format: string;
  version: number;
  config: TeacherConfig;
  layers: TeacherLayerInfo[];
  weights: { file: string; bytes: number; specs: tf.io.WeightsManifestEntry[] };
}

/** Expected tensor shapes by weight name ('r8/deconv', 'r8/bias', 'r8/out', ...). */
function expectedShapes(config: TeacherConfig): Record<string, number[]> {
  const shape = teacherShape(config);
  const g = hiddenGrids(shape);
  const out: Record<string, number[]> = {};
  config.resolutions.forEach((r, l) => {
    const c = config.channels[l];
    out[`r${r}/deconv`] = l === 0 ? [g[0], g[0], c, config.zDim] : [config.kernel, config.kernel, c, config.channels[l - 1]];
    out[`r${r}/bias`] = [c];
    out[`r${r}/out`] = [config.patch, config.patch, 3, c];
  });
  return out;
}

/** Writes `teacher` to `dir` (created if needed). */
export async function saveTeacher(dir: string, teacher: Teacher): Promise<void> {
  const named: tf.NamedTensorMap = {};
  for (const r of teacher.config.resolutions) {
    const b = teacher.params.blocks[r];
    named[`r${r}/deconv`] = b.deconv;
    named[`r${r}/bias`] = b.bias;
    named[`r${r}/out`] = b.out;
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data as ArrayBuffer);
  const file: TeacherFile = {
    format: TEACHER_FORMAT,
    version: TEACHER_VERSION,
    config: teacher.config,
    layers: teacher.layers,
    weights: { file: 'weights.bin', bytes: bytes.byteLength, specs },
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), bytes);
  await writeFile(join(dir, 'teacher.json'), JSON.stringify(file, null, 2) + '\n');
}

/** Reads a teacher written by saveTeacher; a missing, corrupt or mismatched file is a UserError naming it. */
export async function loadTeacher(dir: string): Promise<Teacher> {
  const jsonPath = join(dir, 'teacher.json');
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch {
    throw new UserError(`cannot read ${jsonPath}: not a teacher directory (write one with 'fsrgan teacher build').`);
  }
  let file: TeacherFile;
  try {
    file = JSON.parse(text) as TeacherFile;
  } catch (e) {
    throw new UserError(`${jsonPath} is not valid JSON (${(e as Error).message}); the teacher directory is corrupt, rebuild it.`);
  }
  if (file?.format !== TEACHER_FORMAT || file.version !== TEACHER_VERSION) {
    throw new UserError(`${jsonPath} is not a ${TEACHER_FORMAT} v${TEACHER_VERSION} file (format ${JSON.stringify(file?.format)}, version ${JSON.stringify(file?.version)}).`);
  }
  let config: TeacherConfig;
  try {
    config = resolveTeacherConfig(file.config, 'teacher.json config');
  } catch (e) {
    throw new UserError(`${jsonPath}: ${(e as Error).message}`);
  }
  const expected = expectedShapes(config);
  const specs = file.weights?.specs;
  if (!Array.isArray(specs) || !Array.isArray(file.layers) || file.layers.length !== config.resolutions.length) {
    throw new UserError(`${jsonPath} lacks weight specs or per-layer info; the teacher directory is corrupt, rebuild it.`);
  }
  for (const s of specs) {
    const want = expected[s?.name];
    if (!want || s.dtype !== 'float32' || JSON.stringify(s.shape) !== JSON.stringify(want)) {
      throw new UserError(`${jsonPath}: weight '${s?.name}' has shape [${s?.shape}] (${s?.dtype}), expected ${want ? `[${want}] float32` : 'no such weight'} for its config.`);
    }
  }
  const missing = Object.keys(expected).filter((k) => !specs.some((s) => s.name === k));
  if (missing.length) throw new UserError(`${jsonPath}: weights ${missing.join(', ')} are missing.`);
  const binPath = join(dir, file.weights.file ?? 'weights.bin');
  let bin: Buffer;
  try {
    bin = await readFile(binPath);
  } catch {
    throw new UserError(`cannot read ${binPath}, the teacher's weights; the teacher directory is incomplete, rebuild it.`);
  }
  const need = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (bin.byteLength !== need || file.weights.bytes !== need) {
    throw new UserError(`${binPath} has ${bin.byteLength} bytes, expected ${need} from ${jsonPath}; the file is truncated or corrupt, rebuild the teacher.`);
  }
  const buf = new ArrayBuffer(bin.byteLength);
  new Uint8Array(buf).set(bin);
  const named = tf.io.decodeWeights(buf, specs);
  for (const [k, t] of Object.entries(named)) {
    if (!(t.dataSync() as Float32Array).every(Number.isFinite)) {
      tf.dispose(Object.values(named));
      throw new UserError(`${binPath}: weight '${k}' contains non-finite values; the file is corrupt, rebuild the teacher.`);
    }
  }
  const blocks: Record<number, GeneratorBlock> = {};
  for (const r of config.resolutions) {
    blocks[r] = { deconv: named[`r${r}/deconv`] as tf.Tensor4D, bias: named[`r${r}/bias`] as tf.Tensor1D, out: named[`r${r}/out`] as tf.Tensor4D };
  }
  return { config, params: { shape: teacherShape(config), blocks }, layers: file.layers };
}
