/**
 * `fsrgan teacher sample` as a library function: sample grids per resolution, the dictionaries as tiles,
 * and stats.json, written to a directory.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirs } from '../util/atomic.js';
import { writeGridPng } from '../util/png.js';
import { Rng } from '../util/rng.js';
import { sampleTeacher, type Teacher } from './build.js';
import { teacherStats, type TeacherStats } from './stats.js';
import type { TeacherConfig } from './config.js';

export interface TeacherSampleOptions {
  /** Samples measured for the stats. */
  n: number;
  /** Seed of the sampled z (the teacher itself is fixed by its config's seed). */
  seed: number;
  /** Output directory. */
  out: string;
  /** Images per sample grid (default 64). */
  grid?: number;
}

export interface TeacherSampleReport extends TeacherStats {
  teacherSeed: number;
  config: TeacherConfig;
  /** Files written, relative to the output directory. */
  files: string[];
}

/** Writes samples_r<r>.png, atoms_r<r>.png and stats.json to `opts.out`; returns what stats.json holds. */
export async function writeTeacherSamples(teacher: Teacher, opts: TeacherSampleOptions): Promise<TeacherSampleReport> {
  await mkdirs(opts.out);
  const files: string[] = [];
  const res = teacher.config.resolutions;
  const top = res[res.length - 1];
  // The grids show the first samples of the measured set (same seed and stream as teacherStats).
  const shown = sampleTeacher(teacher, Math.min(opts.grid ?? 64, opts.n), new Rng(opts.seed, 'teacher/sample'));
  for (let l = 0; l < res.length; l++) {
    const f = `samples_r${res[l]}.png`;
    await writeGridPng(join(opts.out, f), shown.x[l], { scale: Math.max(1, Math.round((2 * top) / res[l])), range: [-1, 1] });
    files.push(f);
    const atoms = tf.transpose(teacher.params.blocks[res[l]].out, [3, 0, 1, 2]) as tf.Tensor4D;
    const fa = `atoms_r${res[l]}.png`;
    await writeGridPng(join(opts.out, fa), atoms, { scale: 8, range: 'per-image', gap: 2 });
    atoms.dispose();
    files.push(fa);
  }
  tf.dispose([shown.z, ...shown.s, ...shown.x]);
  const stats = teacherStats(teacher, opts.n, opts.seed);
  files.push('stats.json');
  const report: TeacherSampleReport = { ...stats, teacherSeed: teacher.config.seed, config: teacher.config, files };
  await writeFile(join(opts.out, 'stats.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** A short fixed-width table of the stats for the terminal. */
export function formatTeacherStats(s: TeacherStats): string {
  const rows = [['res', 'C', 'target', 'active', 'empty', 'coherence', 'bound', 'welch', 'gap to x_{l-1}']];
  s.layers.forEach((l, i) =>
    rows.push([
      String(l.resolution),
      String(l.channels),
      String(l.targetActive),
      l.realisedActive.toFixed(2),
      l.emptyFraction.toFixed(2),
      l.coherence.toFixed(3),
      l.coherenceBound.toFixed(3),
      l.welchBound.toFixed(3),
      i === 0 ? '-' : s.consistencyGap[i - 1].toFixed(3),
    ]),
  );
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return [`teacher stats on ${s.n} samples (seed ${s.seed}); active = mean non-zero channels per hidden position`, ...rows.map((r) => r.map((c, j) => c.padStart(w[j])).join('  '))].join('\n');
}
