import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { run } from '../src/cli/analyze.js';
import {
  analysisFileProblems,
  analyzeRun,
  formatAnalysis,
  parseAnalysisFile,
  parseJson,
  reportProblems,
  resolveAnalysisConfig,
  toJson,
  isSparsityReport,
  type AnalysisConfig,
} from '../src/analysis/index.js';
import { buildTeacher, disposeTeacher, resolveTeacherConfig, type Teacher } from '../src/teacher/index.js';
import { TeacherSource } from '../src/data/teacher.js';
import { createLearner, disposeLearner, DEFAULT_INIT, type Learner } from '../src/models/learner.js';
import { createDiscriminator, disposeDiscriminator, type Discriminator } from '../src/models/discriminator.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';

const TEACHER = { resolutions: [4, 8], channels: [8, 8], zDim: 8, kernel: 4, patch: 2, targetActive: [2, 2], calibrationSamples: 128, seed: 3 };

describe('analyze CLI and result files', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'fsrgan-analysis-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('--teacher writes one valid <what>.json per measurement', async () => {
    const cfg = join(dir, 'teacher.json');
    await writeFile(cfg, JSON.stringify(TEACHER));
    const out = join(dir, 'teacher-out');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const code = await run(['--teacher', cfg, '--out', out, '--samples', '64', '--what', 'sparsity,locality,moments,swd,recovery', '--backend', 'wasm', '--set', 'swd.directions=16']);
    log.mockRestore();
    err.mockRestore();
    expect(code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['locality.json', 'moments.json', 'recovery.json', 'sparsity.json', 'swd.json']);
    for (const f of await readdir(out)) {
      const parsed = parseAnalysisFile(await readFile(join(out, f), 'utf8'));
      expect(parsed.what).toBe(f.replace('.json', ''));
      expect(formatAnalysis(parsed).length).toBeGreaterThan(2);
    }
    const sp = parseAnalysisFile(await readFile(join(out, 'sparsity.json'), 'utf8'));
    expect(Object.keys(sp.results).sort()).toEqual(['random-init', 'teacher']);
    expect(sp.results.teacher.method.params.samples).toBe(64);
    const rec = parseAnalysisFile(await readFile(join(out, 'recovery.json'), 'utf8'));
    expect(Object.values(rec.results).every((r) => r.kind === 'recovery' && r.layers.every((l) => l.recovered === 1))).toBe(true);
  });

  it('user mistakes become UserErrors naming the flag or field', async () => {
    await expect(run(['--teacher', join(dir, 'missing.json')])).rejects.toThrow(UserError);
    await expect(run(['--teacher', 'x.json', '--what', 'sparsity,nope'])).rejects.toThrow(/--what: unknown measurement 'nope'/);
    await expect(run([])).rejects.toThrow(/run directory or --teacher/);
    expect(() => resolveAnalysisConfig({}, ['moments.sampling=hexagons'])).toThrow(/analysis.moments.sampling must be one of grid, random/);
    expect(() => resolveAnalysisConfig({ sparsity: { tua: 0.1 } })).toThrow(/did you mean analysis.sparsity.tau/);
  });

  it('validators reject a wrong or incomplete report; non-finite numbers survive the JSON round trip', () => {
    const good = {
      kind: 'sparsity',
      method: { computation: 'x', params: { tau: 0.1 } },
      layers: [
        {
          layer: 1,
          resolution: 4,
          channels: 2,
          positions: 4,
          exact: { meanActive: 1, stdActive: 0, activeFraction: 0.5, histogram: [0, 1, 0] },
          relative: { meanActive: 1, stdActive: 0, activeFraction: 0.5, histogram: [0, 1, 0] },
          hoyer: NaN,
          emptyFraction: 0,
          maxActivation: 1,
        },
      ],
    };
    expect(isSparsityReport(good)).toBe(true);
    const back = parseJson(toJson(good)) as typeof good;
    expect(Number.isNaN(back.layers[0].hoyer)).toBe(true);
    expect(isSparsityReport(back)).toBe(true);
    const broken = structuredClone(good) as Record<string, unknown>;
    (broken.layers as Record<string, unknown>[])[0].exact = { meanActive: '1' };
    expect(reportProblems('sparsity', broken)).toContain('sparsity.layers[0].exact.meanActive must be a number');
    expect(isSparsityReport({ ...good, kind: 'moments' })).toBe(false);
    expect(analysisFileProblems({ what: 'sparsity', source: 's', backend: 'wasm', seconds: 1, results: { a: broken } }).length).toBeGreaterThan(0);
    expect(analysisFileProblems({ what: 'colour', source: 's', backend: 'wasm', seconds: 1, results: {} })[0]).toMatch(/file.what/);
  });
});

describe('analyzeRun on in-memory run pieces (what loadRun returns)', () => {
  let teacher: Teacher;
  let learner: Learner;
  let discs: Map<number, Discriminator>;
  beforeAll(async () => {
    await initBackend('wasm');
    teacher = buildTeacher(resolveTeacherConfig(TEACHER));
    learner = createLearner(teacher.params.shape, new Rng(1, 'init'));
    const dc = { widths: [12, 8], kernel: 3, leak: 0.2, spectralNorm: false, powerIterations: 1, gain: 1 };
    discs = new Map([
      [4, createDiscriminator(4, 'single', 3, 2, dc, new Rng(1, 'd4'))],
      [8, createDiscriminator(8, 'pair', 3, 2, dc, new Rng(1, 'd8'))],
    ]);
  });
  afterAll(() => {
    disposeTeacher(teacher);
    disposeLearner(learner);
    for (const d of discs.values()) disposeDiscriminator(d);
  });

  it('produces every measurement, valid, without leaking tensors', () => {
    const config: AnalysisConfig = resolveAnalysisConfig({ samples: 48, locality: { samples: 8 }, swd: { directions: 8, descriptorsPerImage: 4 } });
    const pieces = {
      dir: 'in-memory',
      config: { seed: 1, generator: { init: DEFAULT_INIT } },
      generator: learner.params,
      discriminators: discs,
      source: new TeacherSource(teacher, 5),
      teacher,
      outputs: [4, 8],
    };
    const before = tf.memory().numTensors;
    const files = analyzeRun(pieces, ['sparsity', 'moments', 'alignment', 'recovery', 'locality', 'swd'], config);
    expect(tf.memory().numTensors).toBe(before);
    expect(files.map((f) => f.what)).toEqual(['sparsity', 'moments', 'alignment', 'recovery', 'locality', 'swd']);
    for (const f of files) expect(analysisFileProblems(parseJson(toJson(f)))).toEqual([]);
    expect(Object.keys(files[0].results).sort()).toEqual(['learner', 'random-init', 'teacher']);
    // The pair D_8 is compared through the x_l half of its filters: 12 filters of 2*2*3 = 12 dims.
    const al = files[2].results as Record<string, { reference: number; dim: number }>;
    expect(Object.keys(al)).toEqual(['D_r4 vs G_r4', 'D_r8 vs G_r8']);
    expect(al['D_r8 vs G_r8'].dim).toBe(12);
    // Code space from the pair D at r8 has the D's 12 features.
    const mom = files[1].results.learner as { levels: { code: { features: number } | null }[] };
    expect(mom.levels[1].code?.features).toBe(12);
    expect(() => analyzeRun({ ...pieces, teacher: null }, ['recovery'], config)).toThrow(/synthetic teacher/);
  });
});
