import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';

describe('Rng', () => {
  it('is deterministic per seed and stream, and streams differ', () => {
    const a = new Rng(7, 'data');
    const b = new Rng(7, 'data');
    const c = new Rng(7, 'init');
    const xa = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xa);
  });
  it('restores its state exactly', () => {
    const a = new Rng(1);
    a.normals(10);
    const s = a.getState();
    const x = a.normals(100);
    expect(Rng.fromState(s).normals(100)).toEqual(x);
  });
  it('normals have mean 0 and variance 1 within sampling error (n = 200k)', () => {
    const x = new Rng(3).normals(200_000);
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const v = x.reduce((s, t) => s + (t - m) ** 2, 0) / x.length;
    expect(Math.abs(m)).toBeLessThan(0.01); // 4.5 standard errors
    expect(Math.abs(v - 1)).toBeLessThan(0.015);
  });
  it('uniform ints cover the range evenly (chi-square, 10 bins)', () => {
    const r = new Rng(5);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(10)]++;
    const chi2 = counts.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(27.9); // p = 0.001 at 9 degrees of freedom
  });
});
