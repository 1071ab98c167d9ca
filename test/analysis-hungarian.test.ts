import { describe, expect, it } from 'vitest';
import { maxWeightAssignment, minCostAssignment } from '../src/analysis/hungarian.js';
import { Rng } from '../src/util/rng.js';

/** Brute force: the minimum over every injection of the smaller side into the larger. */
function bruteMin(c: number[][]): number {
  const n = c.length;
  const m = c[0].length;
  let best = Infinity;
  const used = new Array(Math.max(n, m)).fill(false);
  if (n <= m) {
    const go = (i: number, acc: number) => {
      if (i === n) return void (best = Math.min(best, acc));
      for (let j = 0; j < m; j++) if (!used[j]) (used[j] = true), go(i + 1, acc + c[i][j]), (used[j] = false);
    };
    go(0, 0);
  } else {
    const go = (j: number, acc: number) => {
      if (j === m) return void (best = Math.min(best, acc));
      for (let i = 0; i < n; i++) if (!used[i]) (used[i] = true), go(j + 1, acc + c[i][j]), (used[i] = false);
    };
    go(0, 0);
  }
  return best;
}

describe('Hungarian assignment', () => {
  it('matches brute force on 300 random matrices up to 6x6, square and rectangular', () => {
    const rng = new Rng(7, 'test/hungarian');
    for (let t = 0; t < 300; t++) {
      const n = 1 + rng.int(6);
      const m = 1 + rng.int(6);
      // Integer entries make ties frequent, which is where bookkeeping bugs show.
      const c = Array.from({ length: n }, () => Array.from({ length: m }, () => (t % 2 ? rng.int(5) : rng.normal())));
      const { rowToCol, total } = minCostAssignment(c);
      expect(total).toBeCloseTo(bruteMin(c), 9);
      const cols = rowToCol.filter((j) => j >= 0);
      expect(cols.length).toBe(Math.min(n, m));
      expect(new Set(cols).size).toBe(cols.length);
      let sum = 0;
      rowToCol.forEach((j, i) => j >= 0 && (sum += c[i][j]));
      expect(sum).toBeCloseTo(total, 9);
    }
  });

  it('maximises weights (max = -min of the negated matrix)', () => {
    const rng = new Rng(8, 'test/hungarian-max');
    for (let t = 0; t < 50; t++) {
      const n = 1 + rng.int(5);
      const m = 1 + rng.int(5);
      const w = Array.from({ length: n }, () => Array.from({ length: m }, () => rng.uniform()));
      expect(maxWeightAssignment(w).total).toBeCloseTo(-bruteMin(w.map((r) => r.map((x) => -x))), 9);
    }
  });

  it('recovers a planted permutation on a 64x64 matrix', () => {
    const rng = new Rng(9, 'test/hungarian-perm');
    const perm = rng.permutation(64);
    const w = Array.from({ length: 64 }, (_, i) => Array.from({ length: 64 }, (_, j) => (perm[i] === j ? 1 : 0.5 * rng.uniform())));
    expect(maxWeightAssignment(w).rowToCol).toEqual(perm);
  });

  it('rejects ragged and non-finite input', () => {
    expect(() => minCostAssignment([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => minCostAssignment([[NaN]])).toThrow(/finite/);
  });
});
