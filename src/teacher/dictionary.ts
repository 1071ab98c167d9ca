/**
 * The teacher's output dictionaries A_l (docs/theory.md section 1, "edge-color features" with low coherence),
 * computed in float64. An atom is a P x P x 3 patch flattened in (row, col, color) order, which is the
 * order of the output head weight [P,P,3,C]: the weight, read row-major, is the (P*P*3) x C matrix A_l.
 */
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';

/** Atoms as columns: `atoms[c]` is atom c, a Float64Array of length P*P*3. */
export type Atoms = Float64Array[];

function normalize(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function randomColor(rng: Rng): number[] {
  const c = [rng.normal(), rng.normal(), rng.normal()];
  const n = Math.hypot(c[0], c[1], c[2]) || 1;
  return c.map((v) => v / n);
}

/**
 * Raw edge-color atoms before decorrelation: smooth color patches (a color plus a weak linear gradient in
 * another color) and oriented soft edges (tanh of the signed distance to a random line, in a random color,
 * over a weaker base color). Unit norm.
 */
export function edgeColorAtoms(count: number, patch: number, colorFraction: number, rng: Rng): Atoms {
  const nColor = Math.round(count * colorFraction);
  const atoms: Atoms = [];
  const half = patch / 2;
  for (let c = 0; c < count; c++) {
    const a = new Float64Array(patch * patch * 3);
    const c0 = randomColor(rng);
    const c1 = randomColor(rng);
    if (c < nColor) {
      const gx = (rng.uniform() - 0.5) * 0.6;
      const gy = (rng.uniform() - 0.5) * 0.6;
      for (let i = 0; i < patch; i++)
        for (let j = 0; j < patch; j++) {
          const u = (j + 0.5 - half) / half;
          const v = (i + 0.5 - half) / half;
          for (let ch = 0; ch < 3; ch++) a[(i * patch + j) * 3 + ch] = c0[ch] + (gx * u + gy * v) * c1[ch];
        }
    } else {
      const theta = rng.uniform() * Math.PI * 2;
      const offset = (rng.uniform() - 0.5) * half;
      const width = 0.3 + 0.5 * rng.uniform();
      for (let i = 0; i < patch; i++)
        for (let j = 0; j < patch; j++) {
          const u = j + 0.5 - half;
          const v = i + 0.5 - half;
          const e = 0.5 + 0.5 * Math.tanh((u * Math.cos(theta) + v * Math.sin(theta) - offset) / width);
          for (let ch = 0; ch < 3; ch++) a[(i * patch + j) * 3 + ch] = e * c1[ch] + (1 - e) * c0[ch];
        }
    }
    atoms.push(normalize(a));
  }
  return atoms;
}

/** Coherence max_{i != j} |<a_i, a_j>| / (|a_i| |a_j|); 0 for fewer than two atoms. */
export function coherence(atoms: Atoms): number {
  const n = atoms.map((a) => Math.sqrt(dot(a, a)) || 1);
  let m = 0;
  for (let i = 0; i < atoms.length; i++)
    for (let j = i + 1; j < atoms.length; j++) m = Math.max(m, Math.abs(dot(atoms[i], atoms[j])) / (n[i] * n[j]));
  return m;
}

/** Welch lower bound on the coherence of `count` unit vectors in dimension `dim` (0 when count <= dim). */
export function welchBound(count: number, dim: number): number {
  return count <= dim ? 0 : Math.sqrt((count - dim) / (dim * (count - 1)));
}

/**
 * Picks `count` atoms from a pool greedily: an atom is taken when its |cos| with every atom taken so far is
 * at most a threshold that starts at `target` and rises by 0.05 whenever a pass over the pool is not enough.
 * Choosing rather than moving keeps the atoms exactly edge-color shaped where the pool allows it.
 */
export function greedyIncoherent(pool: Atoms, count: number, target: number): Atoms {
  if (pool.length < count) throw new Error(`greedyIncoherent: pool of ${pool.length} is smaller than ${count}`);
  const taken: Atoms = [];
  const used = new Uint8Array(pool.length);
  for (let t = target; taken.length < count; t += 0.05) {
    for (let i = 0; i < pool.length && taken.length < count; i++) {
      if (used[i]) continue;
      if (taken.every((a) => Math.abs(dot(a, pool[i])) <= t)) {
        taken.push(Float64Array.from(pool[i]));
        used[i] = 1;
      }
    }
  }
  return taken;
}

/**
 * Lowers the coherence of unit atoms to at most `target` by pairwise repulsion: every pair with
 * |cos| > target moves each atom away from the other by part of the excess, then atoms are renormalised.
 * It stops as soon as the target is met, so atoms stay as close to their start as the bound allows.
 * Returns new atoms; throws a UserError when `target` is not reached (e.g. below what the Welch bound allows).
 */
export function decorrelate(start: Atoms, target: number, maxIter = 4000): Atoms {
  const atoms = start.map((a) => Float64Array.from(a));
  const n = atoms.length;
  const dim = n ? atoms[0].length : 0;
  const fail = (got: string) =>
    new UserError(
      `teacher.coherenceBound is too small: ${n} atoms of dimension ${dim} reached coherence ${got}, not ${target.toFixed(3)} = 0.9 x the bound ` +
        `(Welch lower bound ${welchBound(n, dim).toFixed(3)}); raise coherenceBound or use fewer channels.`,
    );
  if (target < welchBound(n, dim)) throw fail('- (below the Welch bound, impossible)');
  // Small steps: an atom in conflict with many others sums many pushes, and a large step oscillates.
  const step = 0.1;
  let best = Infinity;
  let bestAt = 0;
  for (let it = 0; it < maxIter && it - bestAt < 300; it++) {
    const delta = atoms.map(() => new Float64Array(dim));
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        const g = dot(atoms[i], atoms[j]);
        worst = Math.max(worst, Math.abs(g));
        if (Math.abs(g) <= target) continue;
        const e = step * (g - Math.sign(g) * target * 0.98);
        for (let k = 0; k < dim; k++) {
          delta[i][k] -= e * atoms[j][k];
          delta[j][k] -= e * atoms[i][k];
        }
      }
    if (worst <= target) return atoms;
    // Stop early once 300 sweeps bring no progress: the target is out of reach.
    if (worst < best - 1e-4) [best, bestAt] = [worst, it];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < dim; k++) atoms[i][k] += delta[i][k];
      normalize(atoms[i]);
    }
  }
  const got = coherence(atoms);
  if (got <= target) return atoms;
  throw fail(got.toFixed(3));
}

/**
 * The dictionary of one output layer: the most incoherent edge-color atoms of a pool of 40 x `count`
 * candidates, then decorrelated to 0.9 x `bound` (a margin, so the reported coherence is clearly below
 * the bound). Unit norm. Color atoms are drawn first so that they keep their share of the dictionary.
 */
export function makeDictionary(count: number, patch: number, colorFraction: number, bound: number, rng: Rng): Atoms {
  const nColor = Math.round(count * colorFraction);
  const target = 0.9 * bound;
  const color = greedyIncoherent(edgeColorAtoms(40 * nColor, patch, 1, rng), nColor, target);
  const edges = edgeColorAtoms(40 * (count - nColor), patch, 0, rng);
  const picked = greedyIncoherent([...color, ...edges], count, target);
  return decorrelate(picked, target);
}
