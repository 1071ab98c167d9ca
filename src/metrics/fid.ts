/**
 * Frechet distance between Gaussians fitted to two feature sets: FID (Heusel et al. 2017, "GANs Trained by
 * a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", eq. 6; Dowson & Landau 1982):
 *
 *   FID = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2)).
 *
 * The reference implementations (TTUR, pytorch-fid) take scipy.linalg.sqrtm of the non-symmetric product
 * S_1 S_2 (a Schur decomposition, slow on CPU, with an epsilon fix when it goes complex). fsrgan needs only
 * the trace: S_1 S_2 = A (A S_2) with A = S_1^(1/2), and A (A S_2) has the eigenvalues of (A S_2) A = A S_2 A,
 * a symmetric positive semi-definite matrix. So tr((S_1 S_2)^(1/2)) = sum_i sqrt(lambda_i(A S_2 A)): two
 * symmetric eigendecompositions (ml-matrix, float64), exact also for singular covariances.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { UserError } from '../util/errors.js';
import { moments, type Features, type Moments } from './features.js';

/** FID and its three terms. */
export interface FrechetParts {
  fid: number;
  /** |mu_1 - mu_2|^2. */
  meanTerm: number;
  /** tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2)). */
  covTerm: number;
  /** tr((S_1 S_2)^(1/2)). */
  traceSqrt: number;
}

/** Symmetric eigendecomposition of a row-major d x d float64 matrix (symmetrised first). */
function symEig(m: Float64Array, d: number): { values: number[]; vectors: Matrix } {
  const a = new Matrix(d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a.set(i, j, 0.5 * (m[i * d + j] + m[j * d + i]));
  const e = new EigenvalueDecomposition(a, { assumeSymmetric: true });
  return { values: e.realEigenvalues, vectors: e.eigenvectorMatrix };
}

/** S^(1/2) of a symmetric PSD matrix (eigenvalues below 0, rounding noise, clipped to 0). */
export function psdSqrt(s: Float64Array, d: number): Matrix {
  const { values, vectors } = symEig(s, d);
  const scaled = vectors.clone();
  for (let j = 0; j < d; j++) {
    const r = Math.sqrt(Math.max(values[j], 0));
    for (let i = 0; i < d; i++) scaled.set(i, j, scaled.get(i, j) * r);
  }
  return scaled.mmul(vectors.transpose());
}

/** tr((S_1 S_2)^(1/2)) for symmetric PSD S_1, S_2 [d,d] (row-major float64). */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number): number {
  const a = psdSqrt(s1, d);
  const b = new Matrix(d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) b.set(i, j, s2[i * d + j]);
  const m = a.mmul(b).mmul(a);
  const { values } = symEig(Float64Array.from(m.to1DArray()), d);
  return values.reduce((t, v) => t + Math.sqrt(Math.max(v, 0)), 0);
}

/** The Frechet distance between N(mu_1, S_1) and N(mu_2, S_2). */
export function frechetDistance(a: Moments, b: Moments): FrechetParts {
  const d = a.d;
  if (b.d !== d) throw new UserError(`FID: the feature sets have dimensions ${a.d} and ${b.d}; both must come from the same extractor.`);
  let meanTerm = 0;
  let tr = 0;
  for (let i = 0; i < d; i++) {
    meanTerm += (a.mean[i] - b.mean[i]) ** 2;
    tr += a.cov[i * d + i] + b.cov[i * d + i];
  }
  const traceSqrt = traceSqrtProduct(a.cov, b.cov, d);
  const covTerm = tr - 2 * traceSqrt;
  return { fid: meanTerm + covTerm, meanTerm, covTerm, traceSqrt };
}

/** FID between two feature sets (moments in float64, features.ts). */
export function fid(a: Features | Moments, b: Features | Moments): FrechetParts {
  if (a.d !== b.d) throw new UserError(`FID: the feature sets have dimensions ${a.d} and ${b.d}; both must come from the same extractor.`);
  return frechetDistance('cov' in a ? a : moments(a), 'cov' in b ? b : moments(b));
}
