import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { layerShapes, parseArch, stepFlops, type ArchSpec } from '../src/bench/arch.js';
import { batchNorm, biasAct, dense, upsampleConcat } from '../src/bench/fastops.js';
import { buildNet } from '../src/bench/net.js';
import { profileKernels } from '../src/bench/profile.js';
import { loadArch } from '../src/bench/train.js';
import { flatSize } from '../src/parallel/flat.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
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

  it('infers shapes through tap and upsample-concat', () => {
    const stage = loadArch('stage', ROOT);
    const shapes = layerShapes(stage.G, [stage.zDim], 'G');
    expect(shapes.at(-2)).toEqual([32, 32, 3]);
    expect(shapes.at(-1)).toEqual([32, 32, 6]);
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

// ---- float64 references ----
const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
function matmul64(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const o = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let p = 0; p < k; p++) o[i * m + j] += a[i * k + p] * b[p * m + j];
  return o;
}
const transpose64 = (a: Float64Array, r: number, c: number) => Float64Array.from({ length: r * c }, (_, i) => a[(i % r) * c + Math.floor(i / r)]);

/** Gradients of sum(f(inputs) * r) with respect to each input, by tf.grads. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], r: tf.Tensor): tf.Tensor[] {
  return tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
}

describeEachBackend('fast ops against float64 references', () => {
  const rng = new Rng(11, 'fastops');
  const rand = (shape: number[]) => tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1)), shape);

  it('dense: forward and both gradients, for both ways of computing dx', () => {
    for (const [n, cin, cout] of [[5, 7, 3], [2, 40, 30]]) {
      tf.tidy(() => {
        const x = rand([n, cin]);
        const w = rand([cin, cout]);
        const r = rand([n, cout]);
        const y64 = matmul64(f64(x), f64(w), n, cin, cout);
        expect(maxDiff(dense(x as tf.Tensor2D, w as tf.Tensor2D).dataSync(), y64)).toBeLessThan(1e-4);
        const [dx, dw] = gradsOf((a, b) => dense(a as tf.Tensor2D, b as tf.Tensor2D), [x, w], r);
        expect(maxDiff(dx.dataSync(), matmul64(f64(r), transpose64(f64(w), cin, cout), n, cout, cin))).toBeLessThan(1e-4);
        expect(maxDiff(dw.dataSync(), matmul64(transpose64(f64(x), n, cin), f64(r), cin, n, cout))).toBeLessThan(1e-4);
      });
    }
  });

  it('biasAct: relu(x - b), lrelu(x + b), linear x + b and bias-free lrelu, forward and gradients', () => {
    const cases = [
      { act: 'relu', sign: -1, bias: true }, { act: 'lrelu', sign: 1, bias: true }, { act: 'linear', sign: 1, bias: true }, { act: 'lrelu', sign: 1, bias: false },
    ] as const;
    // [5,4,4,8]: 80 rows, more than one float32 block of the wasm kernel's bias gradient (64 rows).
    for (const c of cases.flatMap((k) => [[3, 2, 2, 4], [5, 4, 4, 8], [2, 3, 1, 6]].map((shape) => ({ ...k, shape })))) {
      tf.tidy(() => {
        const [n, h, w, ch] = c.shape;
        const x = rand([n, h, w, ch]);
        const b = rand([ch]);
        const r = rand([n, h, w, ch]);
        const xv = f64(x);
        const bv = f64(b);
        const rv = f64(r);
        const slope = (z: number) => (c.act === 'linear' || z > 0 ? 1 : c.act === 'lrelu' ? 0.2 : 0);
        const z = xv.map((v, i) => v + (c.bias ? c.sign * bv[i % ch] : 0));
        const f = (a: tf.Tensor, bb?: tf.Tensor) => biasAct(a, c.bias ? (bb as tf.Tensor1D) : null, c.act, { sign: c.sign, alpha: 0.2 });
        expect(maxDiff(f(x, b).dataSync(), z.map((v) => v * slope(v)))).toBeLessThan(1e-5);
        const g = gradsOf(f, c.bias ? [x, b] : [x], r);
        const dz = z.map((v, i) => rv[i] * slope(v));
        expect(maxDiff(g[0].dataSync(), dz)).toBeLessThan(1e-5);
        if (c.bias) {
          const db = new Float64Array(ch);
          dz.forEach((v, i) => (db[i % ch] += c.sign * v));
          expect(maxDiff(g[1].dataSync(), db)).toBeLessThan(1e-4);
        }
      });
    }
  });

  it('batchNorm: forward, and gradients against central finite differences of a float64 version', () => {
    tf.tidy(() => {
      const [m, ch] = [6, 3];
      const x = rand([2, 3, 1, ch]);
      const gamma = rand([ch]);
      const beta = rand([ch]);
      const r = rand([2, 3, 1, ch]);
      const eps = 1e-5;
      const bn64 = (xv: Float64Array, gv: Float64Array, bv: Float64Array) => {
        const out = new Float64Array(xv.length);
        for (let j = 0; j < ch; j++) {
          let mean = 0;
          for (let i = 0; i < m; i++) mean += xv[i * ch + j] / m;
          let v = 0;
          for (let i = 0; i < m; i++) v += (xv[i * ch + j] - mean) ** 2 / m;
          for (let i = 0; i < m; i++) out[i * ch + j] = ((xv[i * ch + j] - mean) / Math.sqrt(v + eps)) * gv[j] + bv[j];
        }
        return out;
      };
      const ins = [f64(x), f64(gamma), f64(beta)];
      const rv = f64(r);
      const loss = (vs: Float64Array[]) => bn64(vs[0], vs[1], vs[2]).reduce((a, v, i) => a + v * rv[i], 0);
      expect(maxDiff(batchNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, eps).dataSync(), bn64(ins[0], ins[1], ins[2]))).toBeLessThan(1e-4);
      const g = gradsOf((a, gg, bb) => batchNorm(a, gg as tf.Tensor1D, bb as tf.Tensor1D, eps), [x, gamma, beta], r);
      ins.forEach((v, k) => {
        const fd = v.map((_, i) => {
          const h = 1e-6;
          const plus = ins.map((u) => u.slice());
          const minus = ins.map((u) => u.slice());
          plus[k][i] += h;
          minus[k][i] -= h;
          return (loss(plus) - loss(minus)) / (2 * h);
        });
        expect(maxDiff(g[k].dataSync(), fd)).toBeLessThan(2e-3);
      });
    });
  });

  // 3 + 3 channels (the stage pair) takes an unrolled path.
  it.each([[2, 3], [3, 3]])('upsampleConcat: forward and gradients of both inputs (%i + %i channels)', (c1, c2) => {
    tf.tidy(() => {
      const [n, h, w] = [2, 2, 3];
      const tap = rand([n, h, w, c1]);
      const x = rand([n, 2 * h, 2 * w, c2]);
      const r = rand([n, 2 * h, 2 * w, c1 + c2]);
      const [tv, xv, rv] = [f64(tap), f64(x), f64(r)];
      const want = new Float64Array(r.size);
      const dtap = new Float64Array(tap.size);
      const dx = new Float64Array(x.size);
      // For every output element, the one input element it copies.
      for (let b = 0; b < n; b++)
        for (let yy = 0; yy < 2 * h; yy++)
          for (let xx = 0; xx < 2 * w; xx++)
            for (let c = 0; c < c1 + c2; c++) {
              const o = ((b * 2 * h + yy) * 2 * w + xx) * (c1 + c2) + c;
              if (c < c1) {
                const s = ((b * h + Math.floor(yy / 2)) * w + Math.floor(xx / 2)) * c1 + c;
                want[o] = tv[s];
                dtap[s] += rv[o];
              } else {
                const s = ((b * 2 * h + yy) * 2 * w + xx) * c2 + c - c1;
                want[o] = xv[s];
                dx[s] += rv[o];
              }
            }
      expect(maxDiff(upsampleConcat(tap as tf.Tensor4D, x as tf.Tensor4D).dataSync(), want)).toBe(0);
      const [gt, gx] = gradsOf((a, b) => upsampleConcat(a as tf.Tensor4D, b as tf.Tensor4D), [tap, x], r);
      expect(maxDiff(gt.dataSync(), dtap)).toBeLessThan(1e-5);
      expect(maxDiff(gx.dataSync(), dx)).toBe(0);
    });
  });

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

describe.skipIf(!hasTorch)('the PyTorch twin builds the identical network', () => {
  it.each(['dcgan', 'stage'])('%s: same output shapes and parameter counts (trainable and frozen) on both sides', (name) => {
    const arch = loadArch(name, ROOT);
    const r = spawnSync('/usr/bin/python3', ['bench/torch_twin.py', join(ROOT, 'bench', `${name}.arch.json`), '--describe'], {
      encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as Record<'G' | 'D', { out: number[]; trainable: number; total: number }>;
    const rng = new Rng(1);
    const G = buildNet(arch.G, [arch.zDim], rng);
    const D = buildNet(arch.D, arch.image, rng);
    try {
      // PyTorch is NCHW: [c,h,w] there is [h,w,c] here.
      const [c, h, w] = t.G.out;
      expect([h, w, c]).toEqual(arch.image);
      expect(t.D.out).toEqual([1]);
      expect(flatSize(G.trainable)).toBe(t.G.trainable);
      expect(flatSize(G.all)).toBe(t.G.total);
      expect(flatSize(D.trainable)).toBe(t.D.trainable);
      expect(flatSize(D.all)).toBe(t.D.total);
    } finally {
      tf.dispose([...G.all, ...D.all]);
    }
  });
});

describe('fsrgan bench train (CLI)', () => {
  it(`prints one JSON row per architecture with fsrgan's figures${hasTorch ? ', PyTorch\'s and their ratio' : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'fsrgan-bench-'));
    try {
      const file = join(dir, 'planted.arch.json');
      writeFileSync(file, JSON.stringify(planted()));
      const args = ['bin/fsrgan.mjs', 'bench', 'train', '--json', '--arch', file, '--steps', '1', '--rounds', '1', '--warmup', '1', '--warmup-seconds', '0', '--workers', '2', '--backend', 'wasm'];
      if (hasTorch) args.push('--vs', 'torch');
      const r = spawnSync('node', args, { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
      expect(rows).toHaveLength(1);
      const row = rows[0];
      expect(row.arch).toBe('planted');
      expect(row.backend).toBe('wasm');
      expect(row.workers).toBe(2);
      expect(row.flopsPerStep).toBe(stepFlops(planted()).total);
      expect(row.imagesPerSec as number).toBeGreaterThan(0);
      expect(row.gflops as number).toBeCloseTo(((row.flopsPerStep as number) * (row.imagesPerSec as number)) / 2 / 1e9, 6);
      expect(row.imagesPerSecIndependent as number).toBeGreaterThan(0);
      expect(row.independentSpeedup as number).toBeCloseTo((row.imagesPerSecIndependent as number) / (row.imagesPerSec1 as number), 6);
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
