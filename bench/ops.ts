/**
 * Speed of fsrgan's differentiable convolutions at GAN shapes, as GFLOP/s and as a ratio to a matMul
 * measured in the same run on the same backend (the cores are shared, so only ratios travel; docs/engine.md).
 * Library for `fsrgan bench ops` and for notebooks.
 */
import * as tf from '@tensorflow/tfjs';
import { timeOp } from '../src/backend/measure.js';
import { conv2d, deconv2d, type Pad } from '../src/ops/index.js';

export interface OpBenchRow {
  /** 'conv2d' or 'deconv2d'. */
  op: string;
  /** Human-readable geometry, e.g. '64x16x16x64 -> 64x8x8x128 k4 s2 same', or 'total' for a sum over the shapes. */
  shape: string;
  pass: 'fwd' | 'fwd+bwd';
  gflops: number;
  /** gflops over the matMul anchor's GFLOP/s: median over calls of op rate / rate of the anchor call right after it. */
  ratioToMatmul: number;
}

export interface OpCase {
  op: 'conv2d' | 'deconv2d';
  /** Input [N,H,W,C]. */
  x: [number, number, number, number];
  /** Kernel size, stride, output channels, padding. */
  k: number;
  s: number;
  cout: number;
  pad: Pad;
}

export interface OpBenchOptions {
  /** Batch size (64 in the DCGAN reference). */
  batch?: number;
  /** Timed repetitions per row (the median is reported). */
  reps?: number;
  /** Side of the square matMul anchor (512: a call lasts about as long as the op calls it is paired with). */
  matmulN?: number;
  /** Called after each row (progress). */
  onRow?: (row: OpBenchRow) => void;
}

/** DCGAN geometry: 32x32x3 <-> 16x16x64 <-> 8x8x128 with kernel 4 ('same') and kernel 2 ('valid'), stride 2. */
export function ganCases(batch = 64): OpCase[] {
  const cases: OpCase[] = [];
  for (const [k, pad] of [[4, 'same'], [2, 'valid']] as const) {
    cases.push({ op: 'conv2d', x: [batch, 32, 32, 3], k, s: 2, cout: 64, pad });
    cases.push({ op: 'conv2d', x: [batch, 16, 16, 64], k, s: 2, cout: 128, pad });
    cases.push({ op: 'deconv2d', x: [batch, 8, 8, 128], k, s: 2, cout: 64, pad });
    cases.push({ op: 'deconv2d', x: [batch, 16, 16, 64], k, s: 2, cout: 3, pad });
  }
  return cases;
}

function outShape(c: OpCase): [number, number, number, number] {
  const [n, h, w] = c.x;
  if (c.op === 'conv2d') {
    const f = (d: number) => (c.pad === 'same' ? Math.ceil(d / c.s) : Math.floor((d - c.k) / c.s) + 1);
    return [n, f(h), f(w), c.cout];
  }
  const f = (d: number) => (c.pad === 'same' ? d * c.s : (d - 1) * c.s + c.k);
  return [n, f(h), f(w), c.cout];
}

/** Forward FLOPs (2 per multiply-add) of a case; forward+backward counts 3x this. */
export function caseFlops(c: OpCase): number {
  const y = outShape(c);
  // conv2d: every output position sums k*k*Cin products; deconv2d: every input position paints k*k*Cout.
  return c.op === 'conv2d' ? 2 * y[0] * y[1] * y[2] * y[3] * c.k * c.k * c.x[3] : 2 * c.x[0] * c.x[1] * c.x[2] * c.x[3] * c.k * c.k * c.cout;
}

export function caseLabel(c: OpCase): string {
  return `${c.x.join('x')} -> ${outShape(c).join('x')} k${c.k} s${c.s} ${c.pad}`;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/**
 * Times every case forward and forward+backward (gradients for input and filter) in rounds: per round one
 * untimed and three timed calls of the op, then the same of an n x n matMul, so that load from other
 * processes hits op and anchor alike; a round's ratio divides the two medians.
 * Rows with shape 'total' sum FLOPs and times over the cases of one op and pass.
 */
export async function benchOps(cases: OpCase[] = ganCases(), opts: OpBenchOptions = {}): Promise<OpBenchRow[]> {
  const reps = opts.reps ?? 5;
  const mmN = opts.matmulN ?? 512;
  const [ma, mb] = [tf.randomNormal([mmN, mmN]), tf.randomNormal([mmN, mmN])];
  const mmFlops = 2 * mmN ** 3;
  const rows: OpBenchRow[] = [];
  const totals = new Map<string, { flops: number; seconds: number; anchorFlops: number }>();
  for (const c of cases) {
    const x = tf.randomNormal(c.x) as tf.Tensor4D;
    const wShape: [number, number, number, number] = c.op === 'conv2d' ? [c.k, c.k, c.x[3], c.cout] : [c.k, c.k, c.cout, c.x[3]];
    const w = tf.mul(tf.randomNormal(wShape), 0.05) as tf.Tensor4D;
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) => (c.op === 'conv2d' ? conv2d(a, b, c.s, c.pad) : deconv2d(a, b, c.s, c.pad));
    const dy = tf.randomNormal(outShape(c)) as tf.Tensor4D;
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D));
    const passes: [OpBenchRow['pass'], () => tf.Tensor | tf.Tensor[], number][] = [
      ['fwd', () => f(x, w), caseFlops(c)],
      ['fwd+bwd', () => grads([x, w], dy), 3 * caseFlops(c)],
    ];
    for (const [pass, fn, flops] of passes) {
      const opT: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < reps; r++) {
        // One untimed call first, so the op runs as it does in training, on inputs and outputs that
        // are in cache (right after the anchor, a 1M-float activation comes from memory: 2-4x slower).
        const t = await timeOp(fn, 3, r === 0 ? 3 : 1);
        const m = await timeOp(() => tf.matMul(ma, mb), 3, r === 0 ? 2 : 1);
        opT.push(t);
        // Each round of op calls is paired with the anchor round right after it, so both saw the same load.
        ratios.push(flops / t / (mmFlops / m));
      }
      const seconds = median(opT);
      const ratio = median(ratios);
      const row: OpBenchRow = { op: c.op, shape: caseLabel(c), pass, gflops: round(flops / seconds / 1e9), ratioToMatmul: round(ratio, 3) };
      rows.push(row);
      opts.onRow?.(row);
      const key = `${c.op}|${pass}`;
      const t = totals.get(key) ?? { flops: 0, seconds: 0, anchorFlops: 0 };
      // anchorFlops: the FLOPs the anchor would have done in this row's time.
      totals.set(key, { flops: t.flops + flops, seconds: t.seconds + seconds, anchorFlops: t.anchorFlops + flops / ratio });
    }
    tf.dispose([x, w, dy]);
  }
  tf.dispose([ma, mb]);
  // Whole-network view: total FLOPs over total time, and over the anchor's FLOPs in the same times.
  for (const [key, t] of totals) {
    const [op, pass] = key.split('|') as [string, OpBenchRow['pass']];
    const row: OpBenchRow = { op, shape: 'total', pass, gflops: round(t.flops / t.seconds / 1e9), ratioToMatmul: round(t.flops / t.anchorFlops, 3) };
    rows.push(row);
    opts.onRow?.(row);
  }
  return rows;
}

function round(v: number, digits = 2): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

/** The rows as an aligned text table. */
export function formatOpTable(rows: OpBenchRow[]): string {
  const head = ['op', 'shape', 'pass', 'GFLOP/s', 'ratio to matMul'];
  const body = rows.map((r) => [r.op, r.shape, r.pass, r.gflops.toFixed(2), r.ratioToMatmul.toFixed(3)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
