/**
 * The sample-quality metrics of src/metrics against independent float64 references written here: FID with the
 * matrix square root of S_1 S_2 by Denman-Beavers iterations (not eigendecompositions), KID by plain loops,
 * IS by its definition, precision/recall by brute force; plus closed forms (FID of N(0, I) vs N(0, 4I) is d;
 * IS of balanced one-hot predictions is C; planted K-mode collapse reads about K in the support estimate),
 * and no tensor left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { moments, sampleIndices, type Features } from '../src/metrics/features.js';
import { fid, frechetDistance } from '../src/metrics/fid.js';
import { kid } from '../src/metrics/kid.js';
import { inceptionScore, softmaxRows } from '../src/metrics/inception-score.js';
import { knnRadii, precisionRecall } from '../src/metrics/precision-recall.js';
import { supportEstimate } from '../src/metrics/support.js';
import { Rng } from '../src/util/rng.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** n x d features: a random linear map of Gaussians (correlated, well-conditioned), shifted. */
function planted(n: number, d: number, seed: number, shift = 0, scale = 1): Features {
  const rng = new Rng(seed, 'test/metrics');
  const mix = Array.from({ length: d * d }, () => rng.normal() / Math.sqrt(d));
  const data = new Float32Array(n * d);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) z[j] = rng.normal();
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += mix[j * d + k] * z[k];
      data[i * d + j] = scale * (s + 0.5 * z[j]) + shift * (1 + (j % 3));
    }
  }
  return { data, n, d };
}

// ---- float64 references, written independently of src/metrics ----

type M = number[][];
const mmul = (a: M, b: M): M => {
  const d = a.length;
  const out = Array.from({ length: d }, () => new Array<number>(b[0].length).fill(0));
  for (let i = 0; i < d; i++) for (let k = 0; k < b.length; k++) for (let j = 0; j < b[0].length; j++) out[i][j] += a[i][k] * b[k][j];
  return out;
};
const eye = (d: number): M => Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));

/** Gauss-Jordan inverse with partial pivoting (rows as Float64Arrays, for speed). */
function inverse(a: M): M {
  const d = a.length;
  const m = a.map((r, i) => {
    const row = new Float64Array(2 * d);
    row.set(r);
    row[d + i] = 1;
    return row;
  });
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const pivot = m[c];
    const piv = pivot[c];
    for (let j = 0; j < 2 * d; j++) pivot[j] /= piv;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const row = m[r];
      const f = row[c];
      if (f !== 0) for (let j = 0; j < 2 * d; j++) row[j] -= f * pivot[j];
    }
  }
  return m.map((r) => Array.from(r.subarray(d)));
}

/**
 * Principal square root of a matrix with positive real eigenvalues: Denman-Beavers iteration (Higham 2008,
 * "Functions of Matrices", eq. 6.15), converging quadratically; stops when a step changes Y by < 1e-12
 * relative (rounding noise of the inverses sits near 1e-13).
 */
function sqrtmDB(a: M): M {
  let y = a.map((r) => [...r]);
  let z = eye(a.length);
  const norm = (m: M) => m.reduce((s, r) => s + r.reduce((t, v) => t + Math.abs(v), 0), 0);
  for (let it = 0; it < 60; it++) {
    const yi = inverse(y);
    const zi = inverse(z);
    const y2 = y.map((r, i) => r.map((v, j) => 0.5 * (v + zi[i][j])));
    const z2 = z.map((r, i) => r.map((v, j) => 0.5 * (v + yi[i][j])));
    const delta = y2.reduce((s, r, i) => s + r.reduce((t, v, j) => t + Math.abs(v - y[i][j]), 0), 0);
    y = y2;
    z = z2;
    if (delta < 1e-12 * norm(y)) break;
  }
  return y;
}

function refMoments(f: Features): { mu: number[]; cov: M } {
  const mu = Array.from({ length: f.d }, (_, j) => {
    let s = 0;
    for (let i = 0; i < f.n; i++) s += f.data[i * f.d + j];
    return s / f.n;
  });
  const cov = Array.from({ length: f.d }, (_, a) =>
    Array.from({ length: f.d }, (_, b) => {
      let s = 0;
      for (let i = 0; i < f.n; i++) s += (f.data[i * f.d + a] - mu[a]) * (f.data[i * f.d + b] - mu[b]);
      return s / (f.n - 1);
    }),
  );
  return { mu, cov };
}

function refFid(a: Features, b: Features): number {
  const x = refMoments(a);
  const y = refMoments(b);
  const root = sqrtmDB(mmul(x.cov, y.cov));
  let v = 0;
  for (let i = 0; i < a.d; i++) v += (x.mu[i] - y.mu[i]) ** 2 + x.cov[i][i] + y.cov[i][i] - 2 * root[i][i];
  return v;
}

function refMmd(x: Features, y: Features): number {
  const k = (p: Features, i: number, q: Features, j: number) => {
    let s = 0;
    for (let t = 0; t < p.d; t++) s += p.data[i * p.d + t] * q.data[j * q.d + t];
    return (s / p.d + 1) ** 3;
  };
  const m = x.n;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) (xx += k(x, i, x, j)), (yy += k(y, i, y, j));
      xy += k(x, i, y, j);
    }
  }
  return xx / (m * (m - 1)) + yy / (m * (m - 1)) - (2 * xy) / (m * m);
}

const rows = (f: Features, idx: ArrayLike<number>): Features => ({
  data: Float32Array.from(Array.from(idx).flatMap((i) => Array.from(f.data.subarray(i * f.d, (i + 1) * f.d)))),
  n: idx.length,
  d: f.d,
});

describe('FID', () => {
  it('equals a Denman-Beavers float64 reference to 1e-6 relative, at d = 16 and d = 128', () => {
    for (const [d, n] of [
      [16, 300],
      [128, 400],
    ]) {
      const a = planted(n, d, 1);
      const b = planted(n, d, 2, 0.05, 1.3);
      const ref = refFid(a, b);
      const got = fid(a, b).fid;
      expect(Math.abs(got - ref) / ref).toBeLessThan(1e-6);
    }
  });

  it('is d between N(0, I) and N(0, 4I) (closed form), and 0 between a set and itself', () => {
    const d = 32;
    const id = (s: number) => {
      const cov = new Float64Array(d * d);
      for (let i = 0; i < d; i++) cov[i * d + i] = s;
      return { mean: new Float64Array(d), cov, n: 2, d };
    };
    expect(frechetDistance(id(1), id(4)).fid).toBeCloseTo(d, 9);
    const a = planted(200, 8, 3);
    expect(Math.abs(fid(a, a).fid)).toBeLessThan(1e-9);
  });

  it('handles singular covariances (fewer samples than dimensions) without going complex', () => {
    const a = planted(20, 64, 4);
    const b = planted(20, 64, 5, 0.1);
    const r = fid(a, b);
    expect(Number.isFinite(r.fid)).toBe(true);
    expect(r.fid).toBeGreaterThan(0);
    // The trace term never exceeds sqrt(tr S_1 tr S_2) (Cauchy-Schwarz for PSD matrices).
    const ma = moments(a);
    const mb = moments(b);
    const tr = (m: typeof ma) => Array.from({ length: 64 }, (_, i) => m.cov[i * 64 + i]).reduce((s, v) => s + v, 0);
    expect(r.traceSqrt).toBeLessThanOrEqual(Math.sqrt(tr(ma) * tr(mb)) * (1 + 1e-12));
  });
});

describe('KID', () => {
  it('equals a float64 loop reference to 1e-6 relative over the same subsets', () => {
    const a = planted(300, 32, 6);
    const b = planted(300, 32, 7, 0.3, 1.2);
    const opts = { subsets: 4, subsetSize: 100, seed: 9 };
    const got = kid(a, b, opts);
    // The same subset draws (the estimator's definition: subsets of m distinct samples from each set, in turn).
    const rng = new Rng(opts.seed, 'metrics/kid');
    const ref: number[] = [];
    for (let s = 0; s < opts.subsets; s++) {
      const x = rows(a, sampleIndices(a.n, 100, rng));
      const y = rows(b, sampleIndices(b.n, 100, rng));
      ref.push(refMmd(x, y));
    }
    const mean = ref.reduce((s, v) => s + v, 0) / ref.length;
    expect(mean).toBeGreaterThan(0.05);
    expect(Math.abs(got.kid - mean) / mean).toBeLessThan(1e-6);
    got.values.forEach((v, i) => expect(Math.abs(v - ref[i]) / Math.abs(ref[i])).toBeLessThan(1e-6));
    expect(got.subsetSize).toBe(100);
  });

  it('is unbiased: about 0 between two samples of one distribution (to 1e-8 absolute against the reference)', () => {
    const both = planted(400, 16, 8);
    const a = rows(both, Array.from({ length: 200 }, (_, i) => i));
    const b = rows(both, Array.from({ length: 200 }, (_, i) => 200 + i));
    const got = kid(a, b, { subsets: 1, subsetSize: 200, seed: 1 });
    const rng = new Rng(1, 'metrics/kid');
    const ref = refMmd(rows(a, sampleIndices(200, 200, rng)), rows(b, sampleIndices(200, 200, rng)));
    expect(Math.abs(got.kid - ref)).toBeLessThan(1e-8);
    expect(Math.abs(got.kid)).toBeLessThan(0.05);
  });
});

describe('Inception Score', () => {
  it('is 1 for identical predictions, C for confident balanced ones, and matches its definition', () => {
    const n = 100;
    const c = 5;
    const flat = new Float64Array(n * c).fill(1 / c);
    expect(inceptionScore(flat, n, c, 4).score).toBeCloseTo(1, 12);
    const onehot = new Float64Array(n * c);
    for (let i = 0; i < n; i++) onehot[i * c + (i % c)] = 1;
    expect(inceptionScore(onehot, n, c, 4).score).toBeCloseTo(c, 12);
    const rng = new Rng(2, 'test/is');
    const logits = Float32Array.from({ length: n * c }, () => 2 * rng.normal());
    const p = softmaxRows(logits, n, c);
    const py = Array.from({ length: c }, (_, k) => p.filter((_, i) => i % c === k).reduce((s, v) => s + v, 0) / n);
    let kl = 0;
    for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) kl += p[i * c + k] * Math.log(p[i * c + k] / py[k]);
    expect(inceptionScore(p, n, c, 1).score).toBeCloseTo(Math.exp(kl / n), 10);
  });
});

describe('precision and recall', () => {
  /** Brute force in float64: squared k-NN radii, then ball membership. */
  function refPR(real: Features, fake: Features, k: number) {
    const d2 = (p: Features, i: number, q: Features, j: number) => {
      let s = 0;
      for (let t = 0; t < p.d; t++) s += (p.data[i * p.d + t] - q.data[j * q.d + t]) ** 2;
      return s;
    };
    const radii = (f: Features) => Array.from({ length: f.n }, (_, i) => Array.from({ length: f.n }, (_, j) => d2(f, i, f, j)).sort((x, y) => x - y)[k]);
    const rr = radii(real);
    const rf = radii(fake);
    const inside = (a: Features, b: Features, rb: number[]) => Array.from({ length: a.n }, (_, i) => rb.some((r, j) => d2(a, i, b, j) <= r)).filter(Boolean).length / a.n;
    return { precision: inside(fake, real, rr), recall: inside(real, fake, rf), rr };
  }

  it('matches a brute-force float64 reference, and knnRadii its radii', () => {
    const real = planted(240, 8, 11);
    const fake = planted(260, 8, 12, 0.4, 0.8);
    const ref = refPR(real, fake, 3);
    const got = precisionRecall(real, fake, 3);
    expect(got.precision).toBeCloseTo(ref.precision, 12);
    expect(got.recall).toBeCloseTo(ref.recall, 12);
    expect(ref.precision).toBeGreaterThan(0.1);
    expect(ref.precision).toBeLessThan(0.99);
    const r = knnRadii(real, 3);
    r.forEach((v, i) => expect(Math.abs(v - ref.rr[i]) / ref.rr[i]).toBeLessThan(1e-4));
  });

  it('is 1 / 1 for a set against itself and loses recall when modes are dropped', () => {
    const real = planted(300, 6, 13);
    expect(precisionRecall(real, real, 3)).toMatchObject({ precision: 1, recall: 1 });
    // Keep only the samples whose first coordinate is negative: a dropped half.
    const half = Array.from({ length: real.n }, (_, i) => i).filter((i) => real.data[i * 6] < 0);
    const pr = precisionRecall(real, rows(real, half), 3);
    expect(pr.precision).toBe(1);
    expect(pr.recall).toBeLessThan(0.8);
  });
});

describe('birthday-paradox support estimate', () => {
  it('reads about K for a generator collapsed onto K modes, and far more for real-like samples', () => {
    const d = 16;
    const real = planted(3000, d, 21);
    const K = 200;
    const modes = planted(K, d, 22);
    const rng = new Rng(23, 'test/support');
    const fakeData = new Float32Array(1500 * d);
    for (let i = 0; i < 1500; i++) {
      const m = rng.int(K);
      for (let j = 0; j < d; j++) fakeData[i * d + j] = modes.data[m * d + j] + 1e-3 * rng.normal();
    }
    const s = supportEstimate(real, { data: fakeData, n: 1500, d }, { quantile: 1e-4, samples: 1500, trials: 200, seed: 1 });
    expect(s.realDisjoint).toBe(true);
    // N equally likely modes: pair rate 1/N, and s50^2 = 2 ln 2 N (Arora & Zhang's s^2 rule overshoots by 1.39).
    expect(s.fake.supportFromPairs).toBeGreaterThan(0.8 * K);
    expect(s.fake.supportFromPairs).toBeLessThan(1.25 * K);
    expect(s.fake.support!).toBeGreaterThan(0.9 * K);
    expect(s.fake.support!).toBeLessThan(2 * K);
    // Real data at its own threshold: pair rate about the quantile, so s50 about sqrt(2 ln 2 / 1e-4) = 118.
    expect(s.real.s50!).toBeGreaterThan(80);
    expect(s.real.s50!).toBeLessThan(160);
    expect(s.real.support!).toBeGreaterThan(3 * s.fake.support!);
  });
});

describe('tensors', () => {
  it('every metric leaves the tensor count where it was', () => {
    const a = planted(300, 16, 31);
    const b = planted(300, 16, 32, 0.2);
    const before = tf.memory().numTensors;
    fid(a, b);
    kid(a, b, { subsets: 2, subsetSize: 50, seed: 1 });
    precisionRecall(a, b, 3);
    supportEstimate(a, b, { quantile: 0.01, samples: 100, trials: 20, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
