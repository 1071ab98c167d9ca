/**
 * Optimal one-to-one assignment (Kuhn-Munkres, the O(n^2 m) shortest-augmenting-path form with row and
 * column potentials; Jonker-Volgenant style as in the e-maxx formulation). Used to match filters to atoms
 * up to a permutation (docs/theory.md 3.3 and 3.4). Rectangular matrices are fine: every row of the smaller
 * side is matched to a distinct index of the larger side.
 */

export interface Assignment {
  /** rowToCol[i] = column matched to row i, or -1 when rows > cols and row i is left out. */
  rowToCol: number[];
  /** Sum of the matched entries of the input matrix. */
  total: number;
}

/**
 * Minimum-cost assignment of a rows x cols matrix (array of rows, finite values). Matches
 * min(rows, cols) pairs.
 */
export function minCostAssignment(cost: ArrayLike<number>[]): Assignment {
  const rows = cost.length;
  const cols = rows ? cost[0].length : 0;
  for (const r of cost) {
    if (r.length !== cols) throw new Error(`minCostAssignment: ragged matrix (row lengths ${cols} and ${r.length})`);
    for (let j = 0; j < cols; j++) if (!Number.isFinite(r[j])) throw new Error('minCostAssignment: entries must be finite');
  }
  if (rows === 0 || cols === 0) return { rowToCol: new Array(rows).fill(-1), total: 0 };
  if (rows > cols) {
    // Solve the transpose (the algorithm below needs rows <= cols) and invert the matching.
    const t = Array.from({ length: cols }, (_, j) => Array.from({ length: rows }, (_, i) => cost[i][j]));
    const sub = minCostAssignment(t);
    const rowToCol = new Array(rows).fill(-1);
    sub.rowToCol.forEach((i, j) => (rowToCol[i] = j));
    return { rowToCol, total: sub.total };
  }
  const n = rows;
  const m = cols;
  // 1-based arrays; p[j] = row matched to column j (0 = none), u/v potentials.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      const row = cost[i0 - 1];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = row[j - 1] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  const rowToCol = new Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j] > 0) rowToCol[p[j] - 1] = j - 1;
  let total = 0;
  rowToCol.forEach((j, i) => (total += cost[i][j]));
  return { rowToCol, total };
}

/** Maximum-weight assignment (e.g. of |cosine| similarities); same conventions as minCostAssignment. */
export function maxWeightAssignment(weight: ArrayLike<number>[]): Assignment {
  const neg = weight.map((r) => Array.from(r, (x) => -x));
  const { rowToCol } = minCostAssignment(neg);
  let total = 0;
  rowToCol.forEach((j, i) => j >= 0 && (total += weight[i][j]));
  return { rowToCol, total };
}
