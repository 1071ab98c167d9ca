import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { layerShapes, parseArch, stepFlops, type ArchSpec, type LayerSpec } from '../src/bench/arch.js';
import { stageArch } from '../src/bench/layers.js';
import { profileKernels } from '../src/bench/profile.js';
import { benchSession, type BenchSession } from '../src/bench/replica.js';
import { BUILTIN_ARCHS } from '../src/bench/train.js';
import { initBackend } from '../src/backend/index.js';
import { resolveConfig } from '../src/train/config.js';
import { UserError } from '../src/util/errors.js';
import { describeEachBackend } from './helpers/backends.js';

const ROOT = resolve('.');

/** A planted architecture whose FLOPs are counted by hand below. */
function planted(frozenDense = false): ArchSpec {
  return parseArch({
    name: 'planted', batch: 2, zDim: 3, image: [8, 8, 1],
    G: [{ op: 'dense', cin: 3, cout: 32, frozen: frozenDense }, { op: 'reshape', shape: [4, 4, 2] }, { op: 'deconv', cin: 2, cout: 1, k: 2, s: 2, pad: 'valid' }],
    D: [{ op: 'conv', cin: 1, cout: 2, k: 4, s: 4, pad: 'valid', bias: true }, { op: 'lrelu' }, { op: 'flatten' }, { op: 'dense', cin: 8, cout: 1 }],
  });
}

describe('architecture FLOP count', () => {
  it('counts a planted architecture as done by hand', () => {
    // Per image: G dense 2*3*32 = 192, G deconv 2*(4*4)*2*(2*2)*1 = 256; D conv 2*(2*2)*2*(4*4)*1 = 256, D dense 2*8 = 16.
    // D step = G fwd 448 + 2 x (D fwd 272 + D dw 272 + D dx past its first layer 16) = 1568.
    // G step = G fwd 448 + D fwd 272 + D dx 272 + G dw 448 + G dx past its first layer 256 = 1696.
    expect(stepFlops(planted())).toEqual({ dStep: 2 * 1568, gStep: 2 * 1696, total: 2 * (1568 + 1696) });
    // Frozen dense: forward only, and nothing upstream of the deconv trains, so no deconv input gradient.
    // G step = 448 + 272 + 272 + 256 = 1248.
    expect(stepFlops(planted(true)).gStep).toBe(2 * 1248);
  });

  it('infers shapes through tap and upsample-concat (the stage architecture, read off the trainer)', async () => {
    await initBackend('wasm');
    const b = benchSession(await BUILTIN_ARCHS.stage.config(ROOT), 1);
    try {
      const stage = stageArch(b.s, 'stage');
      const shapes = layerShapes(stage.G, [stage.zDim], 'G');
      expect(shapes.at(-2)).toEqual([32, 32, 3]);
      expect(shapes.at(-1)).toEqual([32, 32, 6]);
    } finally {
      b.dispose();
    }
  });
});

describe('architecture parsing', () => {
  const base = () => JSON.parse(JSON.stringify(planted())) as Record<string, unknown>;
  const bad = (edit: (a: Record<string, unknown>) => void) => {
    const a = base();
    edit(a);
    return () => parseArch(a, 'arch');
  };
  it('rejects mistakes with a UserError naming the layer', () => {
    expect(bad((a) => ((a.G as { op: string }[])[2].op = 'conv3d'))).toThrow(/arch\.G\[2\]\.op must be one of/);
    expect(bad((a) => ((a.D as { cin: number }[])[0].cin = 5))).toThrow(/arch\.D\[0\] \(conv\): expects \[h,w,5\], gets \[8,8,1\]/);
    expect(bad((a) => ((a.G as { stride?: number }[])[2].stride = 2))).toThrow(/unknown key 'stride'/);
    expect(bad((a) => (a.D as unknown[]).pop())).toThrow(/must end in one logit/);
    expect(bad((a) => (a.image = [8, 8, 3]))).toThrow(/G ends in \[8,8,1\] but image is \[8,8,3\]/);
    expect(bad((a) => (a.batch = 0))).toThrow(UserError);
  });
});

describeEachBackend('bench profile', () => {
  it('profileKernels counts the kernels a function runs and restores them', () => {
    const a = tf.ones([4]);
    const before = tf.getKernel('Add', tf.getBackend())!.kernelFunc;
    const p = profileKernels(() => tf.dispose([tf.add(a, a), tf.mul(a, a), tf.add(a, 1)]));
    expect(p.rows.find((r) => r.kernel === 'Add')?.calls).toBe(2);
    expect(p.rows.find((r) => r.kernel === 'Multiply')?.calls).toBe(1);
    expect(tf.getKernel('Add', tf.getBackend())!.kernelFunc).toBe(before);
    a.dispose();
  });
});

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Parameters of a layer list: [trainable, total]. */
function params(layers: LayerSpec[], frozen = false): [number, number] {
  let t = 0;
  let all = 0;
  for (const l of layers) {
    const f = frozen || ('frozen' in l && l.frozen === true);
    let n = 0;
    if (l.op === 'dense') n = l.cin * l.cout + (l.bias ? l.cout : 0);
    if (l.op === 'conv' || l.op === 'deconv') n = l.k * l.k * l.cin * l.cout + (l.bias ? l.cout : 0);
    if (l.op === 'bn') n = 2 * l.c;
    if (l.op === 'biasrelu') n = l.c;
    if (l.op === 'tap') {
      const [a, b] = params(l.layers, f);
      t += a;
      all += b;
    }
    all += n;
    if (!f) t += n;
  }
  return [t, all];
}

const size = (vs: Iterable<{ size: number }>) => [...vs].reduce((a, v) => a + v.size, 0);

describe('the layer lists are the networks the trainer trains', () => {
  const sessions: BenchSession[] = [];
  afterAll(() => sessions.forEach((b) => b.dispose()));
  it.each(Object.keys(BUILTIN_ARCHS))('%s: trainable parameters of G and D equal the session\'s', async (name) => {
    await initBackend('wasm');
    const b = benchSession(await BUILTIN_ARCHS[name].config(ROOT), 1);
    sessions.push(b);
    const arch = stageArch(b.s, name);
    const st = b.s.stages[b.s.stageIndex];
    expect(params(arch.G)[0]).toBe(size(st.trained.map((n) => b.s.learner.vars.get(n)!)));
    expect(params(arch.D)).toEqual([size(b.s.discs.get(st.resolution)!.vars.values()), size(b.s.discs.get(st.resolution)!.vars.values())]);
    // Outputs: G makes D's input, D one logit (parseArch checks both).
    expect(arch.image).toEqual(name === 'stage' ? [32, 32, 6] : [32, 32, 3]);
  });

  it.skipIf(!hasTorch).each(Object.keys(BUILTIN_ARCHS))('%s: the PyTorch twin builds the same shapes and parameter counts', async (name) => {
    await initBackend('wasm');
    const b = benchSession(await BUILTIN_ARCHS[name].config(ROOT), 1);
    sessions.push(b);
    const arch = stageArch(b.s, name);
    const dir = mkdtempSync(join(tmpdir(), 'fsrgan-twin-'));
    try {
      const file = join(dir, 'arch.json');
      writeFileSync(file, JSON.stringify(arch));
      const r = spawnSync('/usr/bin/python3', ['bench/torch_twin.py', file, '--describe'], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
      expect(r.status, r.stderr).toBe(0);
      const t = JSON.parse(r.stdout) as Record<'G' | 'D', { out: number[]; trainable: number; total: number }>;
      // PyTorch is NCHW: [c,h,w] there is [h,w,c] here.
      const [c, h, w] = t.G.out;
      expect([h, w, c]).toEqual(arch.image);
      expect(t.D.out).toEqual([1]);
      expect([t.G.trainable, t.G.total]).toEqual(params(arch.G));
      expect([t.D.trainable, t.D.total]).toEqual(params(arch.D));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fsrgan bench train (CLI)', () => {
  it(`times the trainer's step on a training config's top stage: one JSON row with fsrgan's figures${hasTorch ? ', PyTorch\'s and their ratio' : ''}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fsrgan-bench-'));
    try {
      const config = {
        data: 'stand-in', seed: 1,
        generator: { resolutions: [4, 8], channels: [4, 4], zDim: 4, kernel: 2, patch: 2 },
        discriminator: { widths: [8, 8] },
        train: { batch: 4, steps: 10 },
      };
      const file = join(dir, 'tiny.json');
      writeFileSync(file, JSON.stringify(config));
      await initBackend('wasm');
      const b = benchSession(resolveConfig(config), 1);
      const flops = stepFlops(stageArch(b.s, 'tiny')).total;
      b.dispose();
      const args = ['bin/fsrgan.mjs', 'bench', 'train', '--json', '--arch', file, '--steps', '1', '--rounds', '1', '--warmup', '1', '--warmup-seconds', '0', '--workers', '2', '--backend', 'wasm'];
      if (hasTorch) args.push('--vs', 'torch');
      const r = spawnSync('node', args, { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
      expect(rows).toHaveLength(1);
      const row = rows[0];
      expect(row.arch).toBe('tiny');
      expect(row.backend).toBe('wasm');
      expect(row.workers).toBe(2);
      expect(row.flopsPerStep).toBe(flops);
      expect(row.imagesPerSec as number).toBeGreaterThan(0);
      expect(row.gflops as number).toBeCloseTo(((row.flopsPerStep as number) * (row.imagesPerSec as number)) / 4 / 1e9, 6);
      expect(row.imagesPerSecIndependent as number).toBeGreaterThan(0);
      expect(row.independentSpeedup as number).toBeCloseTo((row.imagesPerSecIndependent as number) / (row.imagesPerSec1 as number), 6);
      expect((row.spread as { imagesPerSec1: number[] }).imagesPerSec1).toHaveLength(2);
      if (hasTorch) {
        expect(row.torchImagesPerSec as number).toBeGreaterThan(0);
        expect(row.ratioVsTorch as number).toBeCloseTo((row.imagesPerSec as number) / (row.torchImagesPerSec as number), 6);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a bad flag value in one sentence, without a stack trace', () => {
    const r = spawnSync('node', ['bin/fsrgan.mjs', 'bench', 'train', '--vs', 'jax'], { encoding: 'utf8', cwd: ROOT });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--vs must be 'torch'/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
