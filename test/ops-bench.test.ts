/**
 * bench/ops.ts bookkeeping: FLOP counts against a direct count of multiply-adds, and the row structure
 * of a tiny run (no timing assertions: speed targets live in `fsrgan bench ops`).
 */
import { describe, expect, it } from 'vitest';
import { benchOps, caseFlops, formatOpTable, ganCases, type OpCase } from '../bench/ops.js';
import { initBackend } from '../src/backend/index.js';
import { convGeometry } from './ops.reference.js';

/** Multiply-adds of a convolution counted by visiting every (output, tap) pair that lands inside x. */
function countMacs(c: OpCase): number {
  const conv = c.op === 'conv2d';
  // A deconv's work is that of the conv it transposes: input = the deconv's output.
  const inLen = conv ? c.x[1] : c.pad === 'same' ? c.x[1] * c.s : (c.x[1] - 1) * c.s + c.k;
  const g = convGeometry(inLen, c.k, c.s, c.pad);
  let taps = 0;
  for (let i = 0; i < g.out; i++) for (let a = 0; a < c.k; a++) taps += 1;
  const cin = conv ? c.x[3] : c.cout;
  const cout = conv ? c.cout : c.x[3];
  return c.x[0] * taps * taps * cin * cout;
}

describe('bench ops', () => {
  it('counts 2 FLOPs per multiply-add of every DCGAN case (padding taps included, as the kernels do them)', () => {
    for (const c of ganCases(4)) expect(caseFlops(c), JSON.stringify(c)).toBe(2 * countMacs(c));
  });

  it('a tiny run yields one row per case and pass plus totals', async () => {
    await initBackend('cpu');
    const cases: OpCase[] = [
      { op: 'conv2d', x: [4, 16, 16, 8], k: 4, s: 2, cout: 16, pad: 'same' },
      { op: 'deconv2d', x: [4, 8, 8, 16], k: 2, s: 2, cout: 8, pad: 'valid' },
    ];
    const seen: string[] = [];
    const rows = await benchOps(cases, { reps: 1, matmulN: 64, onRow: (r) => seen.push(r.shape) });
    expect(rows.map((r) => `${r.op} ${r.pass}`)).toEqual([
      'conv2d fwd', 'conv2d fwd+bwd', 'deconv2d fwd', 'deconv2d fwd+bwd',
      'conv2d fwd', 'conv2d fwd+bwd', 'deconv2d fwd', 'deconv2d fwd+bwd',
    ]);
    expect(rows.slice(4).every((r) => r.shape === 'total')).toBe(true);
    expect(seen).toHaveLength(8);
    // Rounded to 2-3 digits, so a slow shared machine may print 0; never negative, NaN or infinite.
    for (const r of rows) {
      expect(Number.isFinite(r.gflops) && r.gflops >= 0).toBe(true);
      expect(Number.isFinite(r.ratioToMatmul) && r.ratioToMatmul >= 0).toBe(true);
    }
    expect(formatOpTable(rows).split('\n')).toHaveLength(2 + rows.length);
  });
});
