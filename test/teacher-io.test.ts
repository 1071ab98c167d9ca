import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import {
  buildTeacher,
  coherence,
  disposeTeacher,
  loadTeacher,
  resolveTeacherConfig,
  sampleTeacher,
  saveTeacher,
  welchBound,
  type Teacher,
} from '../src/teacher/index.js';
import { TeacherSource } from '../src/data/teacher.js';

const TINY = resolveTeacherConfig({ resolutions: [8, 16], channels: [8, 8], zDim: 4, targetActive: [2, 2], calibrationSamples: 128, seed: 5 });
const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fsrgan-teacher-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function bytes(t: tf.Tensor): Buffer {
  return Buffer.from((t.dataSync() as Float32Array).buffer);
}

describe('teacher config and dictionary', () => {
  it('rejects unknown keys and inconsistent fields with the field named', () => {
    expect(() => resolveTeacherConfig({ chanels: [8] })).toThrow(/unknown key teacher\.chanels \(did you mean teacher\.channels\?\)/);
    expect(() => resolveTeacherConfig({ targetActive: [2, 2] })).toThrow(/teacher\.targetActive must have one entry per resolution \(3\)/);
    expect(() => resolveTeacherConfig({ targetActive: [2, 20, 2] })).toThrow(/teacher\.targetActive\[1\] must be between 0 and channels\[1\] = 16/);
    expect(() => resolveTeacherConfig({ resolutions: [8, 12, 32] })).toThrow(UserError);
    expect(() => resolveTeacherConfig({ coherenceBound: 1.5 })).toThrow(/coherenceBound must be in \(0, 1\)/);
  });
  it('coherence and the Welch bound agree on an equiangular simplex (closed form 1/d)', () => {
    // d + 1 unit vectors in R^d with pairwise cosine -1/d: the regular simplex, which meets the Welch bound.
    const d = 3;
    const pts = [
      [1, 1, 1],
      [1, -1, -1],
      [-1, 1, -1],
      [-1, -1, 1],
    ].map((v) => Float64Array.from(v.map((x) => x / Math.sqrt(3))));
    expect(coherence(pts)).toBeCloseTo(1 / d, 12);
    expect(welchBound(d + 1, d)).toBeCloseTo(1 / d, 12);
    expect(welchBound(16, 48)).toBe(0);
  });
  it('an unreachable coherence bound is a UserError that cites the Welch bound', () => {
    expect(() => buildTeacher(resolveTeacherConfig({ resolutions: [8], channels: [96], targetActive: [2], coherenceBound: 0.05 }))).toThrow(
      /coherenceBound is too small.*Welch lower bound 0\.103/,
    );
  });
});

describeEachBackend('teacher save/load and source', () => {
  let teacher: Teacher;
  it('round-trips through a directory with bit-identical weights and samples', async () => {
    teacher = buildTeacher(TINY);
    const dir = await tmp();
    await saveTeacher(dir, teacher);
    const back = await loadTeacher(dir);
    expect(back.config).toEqual(teacher.config);
    expect(back.layers).toEqual(teacher.layers);
    for (const r of TINY.resolutions)
      for (const k of ['deconv', 'bias', 'out'] as const) expect(bytes(back.params.blocks[r][k]).equals(bytes(teacher.params.blocks[r][k]))).toBe(true);
    const a = sampleTeacher(teacher, 6, new Rng(2));
    const b = sampleTeacher(back, 6, new Rng(2));
    for (let l = 0; l < 2; l++) expect(bytes(b.x[l]).equals(bytes(a.x[l]))).toBe(true);
    tf.dispose([a.z, b.z, ...a.s, ...a.x, ...b.s, ...b.x]);
    disposeTeacher(back);
  });

  it('a missing, truncated, corrupt or mismatched directory is a UserError naming the file', async () => {
    const dir = await tmp();
    await expect(loadTeacher(dir)).rejects.toThrow(/cannot read .*teacher\.json: not a teacher directory/);
    await saveTeacher(dir, teacher);
    const json = await readFile(join(dir, 'teacher.json'), 'utf8');
    await truncate(join(dir, 'weights.bin'), 100);
    await expect(loadTeacher(dir)).rejects.toThrow(/weights\.bin has 100 bytes, expected \d+ .*truncated/);
    await rm(join(dir, 'weights.bin'));
    await expect(loadTeacher(dir)).rejects.toThrow(/cannot read .*weights\.bin/);
    await writeFile(join(dir, 'teacher.json'), json.slice(0, 50));
    await expect(loadTeacher(dir)).rejects.toThrow(/teacher\.json is not valid JSON/);
    const wrong = JSON.parse(json);
    wrong.config.channels = [8, 9];
    wrong.config.targetActive = [2, 2];
    await writeFile(join(dir, 'teacher.json'), JSON.stringify(wrong));
    await expect(loadTeacher(dir)).rejects.toThrow(/teacher\.json: weight 'r16\/deconv' has shape \[4,4,8,8\] \(float32\), expected \[4,4,9,8\]/);
    await expect(loadTeacher(dir)).rejects.toBeInstanceOf(UserError);
  });

  it('TeacherSource resumes exactly from getState and describes itself', () => {
    const src = new TeacherSource(teacher, 3);
    expect(src.resolutions).toEqual([8, 16]);
    tf.dispose(src.batch(4));
    const state = JSON.parse(JSON.stringify(src.getState()));
    const next = src.batch(5);
    const other = new TeacherSource(teacher, 99);
    other.setState(state);
    const again = other.batch(5);
    expect(next.map((t) => t.shape)).toEqual([
      [5, 8, 8, 3],
      [5, 16, 16, 3],
    ]);
    for (let l = 0; l < 2; l++) expect(bytes(again[l]).equals(bytes(next[l]))).toBe(true);
    const fresh = new TeacherSource(teacher, 3).batch(5);
    expect(bytes(fresh[1]).equals(bytes(next[1]))).toBe(false); // the state really advanced
    expect(src.describe()).toMatchObject({ name: 'teacher', seed: 3, teacherSeed: 5, resolutions: [8, 16] });
    expect(() => other.setState({ rng: 'x' })).toThrow(UserError);
    tf.dispose([...next, ...again, ...fresh]);
    disposeTeacher(teacher);
  });
});
