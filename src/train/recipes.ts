/**
 * The stabilisation recipes of the GAN literature (issue 19, docs/recipes.md) as pure functions of tensors,
 * shared by the image stages (step.ts) and the 2-D lab (src/toy/). Each composes with any objective of
 * objectives.ts; the random draws are passed in (or drawn from a caller's Rng) so that a run's seed fixes
 * them. Every function disposes what it makes except its result.
 *
 *   DRAGAN                  lambda E (||grad D(x + delta)|| - 1)^2, delta ~ N(0, (c std(x))^2)   Kodali et al. 2017
 *   label smoothing/noise   D's logistic / least-squares targets t_r, t_f instead of 1, 0          Salimans et al. 2016
 *   instance noise          N(0, sigma_t^2) on D's inputs, sigma_t = sigma_0 (1 - t/T)              Sonderby et al. 2017
 *   feature matching        || E f(x_real) - E f(G(z)) ||^2 on D's last hidden features f          Salimans et al. 2016
 *   minibatch discrimination o_b(x_i) = sum_j exp(-||M_ib - M_jb||_1), M = f T                     Salimans et al. 2016
 *   historical averaging    lambda || theta - (1/t) sum_i theta_i ||^2                            Salimans et al. 2016
 *   PacGAN                  D judges m samples concatenated along channels                        Lin et al. 2018
 *   unrolled GAN            G's loss against D after k gradient steps, through them or not         Metz et al. 2017
 * Minibatch stddev, pixel norm and equalised learning rate are layers (src/models/layers/).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';

// ---------------------------------------------------------------------------------------------------------
// DRAGAN

/** Per-sample squared norm of grad_x f(x) [N] for x of any rank (f: one value per sample). */
export function gradSqNormAny(f: (x: tf.Tensor) => tf.Tensor1D, x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    // Each sample's value depends only on its own input (true for D without minibatch layers; with
    // minibatch features the cross-sample terms are included, as in DRAGAN's own code).
    const g = tf.grad((xx: tf.Tensor) => tf.sum(f(xx)))(x);
    const axes = Array.from({ length: g.rank - 1 }, (_, i) => i + 1);
    return (axes.length ? tf.sum(tf.square(g), axes) : tf.square(g)) as tf.Tensor1D;
  });
}

/**
 * DRAGAN's perturbation delta = c * std(x) * n, n ~ N(0, I) elementwise, std over the whole batch (the
 * scale of Kodali et al.'s code, X + 0.5 X.std() noise; the paper's delta ~ N(0, cI)). Drawn from `rng`.
 */
export function draganPerturbation(rng: Rng, x: tf.Tensor, c: number): tf.Tensor {
  const data = x.dataSync();
  let m = 0;
  for (const v of data) m += v;
  m /= data.length;
  let s = 0;
  for (const v of data) s += (v - m) ** 2;
  const sd = Math.sqrt(s / data.length);
  return tf.tensor(rng.normals(x.size, c * sd), x.shape);
}

/**
 * DRAGAN penalty (Kodali et al. 2017, eq. 3 with k = 1): lambda * E (||grad_x D(x + delta)|| - 1)^2 at
 * real samples x perturbed by delta (from draganPerturbation): a gradient penalty around the data
 * manifold, against the sharp D gradients there that they link to mode collapse.
 */
export function draganPenalty(f: (x: tf.Tensor) => tf.Tensor1D, real: tf.Tensor, delta: tf.Tensor, lambda: number): tf.Scalar {
  return tf.tidy(() => {
    const xp = tf.add(real, delta);
    const norm = tf.sqrt(tf.add(gradSqNormAny(f, xp), 1e-12));
    return tf.mul(lambda, tf.mean(tf.square(tf.sub(norm, 1)))) as tf.Scalar;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Label smoothing, noisy and flipped labels

export interface LabelRecipe {
  /** One-sided smoothing s: real targets 1 - s, fake targets stay 0 (Salimans et al. 2016, section 3.4). */
  smoothing: number;
  /** Noisy labels w: real targets ~ U[1 - s - w, 1 - s], fake ~ U[0, w] (the soft labels of the GAN hacks). */
  noise: number;
  /** Flipped labels p: each target t becomes 1 - t with probability p. */
  flip: number;
}

export function labelsOn(l: LabelRecipe): boolean {
  return l.smoothing > 0 || l.noise > 0 || l.flip > 0;
}

/** Targets for n real and n fake samples, drawn from `rng` (real first, then fake; uniform, then flip). */
export function drawTargets(rng: Rng, n: number, l: LabelRecipe): { real: Float32Array; fake: Float32Array } {
  const one = (base: number, lo: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let t = l.noise > 0 ? lo + l.noise * rng.uniform() : base;
      if (l.flip > 0 && rng.uniform() < l.flip) t = 1 - t;
      out[i] = t;
    }
    return out;
  };
  const real = one(1 - l.smoothing, 1 - l.smoothing - l.noise);
  const fake = one(0, 0);
  return { real, fake };
}

/**
 * D's loss with targets: logistic (ns, minimax) mean(softplus(d) - t d) = the cross-entropy
 * -t log sigmoid(d) - (1 - t) log(1 - sigmoid(d)); least squares (lsgan) 1/2 mean((d - t)^2). With t = 1
 * and 0 these are objectives.ts' D losses exactly.
 */
export function targetDLoss(kind: 'logistic' | 'lsgan', dr: tf.Tensor1D, df: tf.Tensor1D, tr: tf.Tensor1D, tfk: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    if (kind === 'logistic') {
      const ce = (d: tf.Tensor1D, t: tf.Tensor1D) => tf.mean(tf.sub(tf.softplus(d), tf.mul(t, d)));
      return tf.add(ce(dr, tr), ce(df, tfk)) as tf.Scalar;
    }
    const sq = (d: tf.Tensor1D, t: tf.Tensor1D) => tf.mul(0.5, tf.mean(tf.square(tf.sub(d, t))));
    return tf.add(sq(dr, tr), sq(df, tfk)) as tf.Scalar;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Instance noise

/**
 * The instance-noise standard deviation after `step` of `total` steps: sigma_0 (1 - step/total), annealed
 * linearly to 0 (Sonderby et al. 2017; Arjovsky & Bottou 2017: noise makes the supports of the real and
 * generated distributions overlap, so D's gradients stay informative).
 */
export function instanceNoiseSigma(sigma0: number, step: number, total: number): number {
  if (sigma0 <= 0 || total <= 0) return 0;
  return sigma0 * Math.max(0, 1 - step / total);
}

/** x + sigma n, n ~ N(0, I) drawn from rng (x itself returned, not copied, when sigma is 0). */
export function addInstanceNoise<T extends tf.Tensor>(rng: Rng, x: T, sigma: number): T {
  if (sigma <= 0) return x;
  return tf.tidy(() => tf.add(x, tf.tensor(rng.normals(x.size, sigma), x.shape)) as T);
}

// ---------------------------------------------------------------------------------------------------------
// Feature matching

/**
 * Feature matching (Salimans et al. 2016, section 3.1): || E_x f(x) - E_z f(G(z)) ||_2^2 over D's last
 * hidden features f ([N, F] or [N, ...], flattened). Salimans et al. make it G's whole objective; here it
 * is added to G's loss with a weight, so weight alone (objective unchanged) approaches theirs.
 */
export function featureMatchingLoss(fReal: tf.Tensor, fFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const mr = tf.mean(fReal.reshape([fReal.shape[0], -1]), 0);
    const mf = tf.mean(fFake.reshape([fFake.shape[0], -1]), 0);
    return tf.sum(tf.square(tf.sub(mr, mf))) as tf.Scalar;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Minibatch discrimination

// A layer of D (src/models/layers/minibatch-discrimination.ts), re-exported with the other recipes.
export { minibatchDiscrimination } from '../models/layers/minibatch-discrimination.js';

// ---------------------------------------------------------------------------------------------------------
// Historical averaging

/**
 * Historical averaging (Salimans et al. 2016, section 3.3): a penalty lambda ||theta - theta_bar||^2 with
 * theta_bar = (1/t) sum_{i=1..t} theta_i the running mean of the parameters after each of the t updates so
 * far (fictitious play's averaging). One instance per network; `record` after every update.
 */
export class HistoricalAverage {
  private readonly mean = new Map<string, tf.Tensor>();
  private count = 0;

  /** theta_bar <- theta_bar + (theta - theta_bar) / t (the first call sets it to theta). */
  record(vars: Map<string, tf.Tensor>): void {
    this.count++;
    const a = 1 / this.count;
    for (const [name, v] of vars) {
      const old = this.mean.get(name);
      const next = old ? tf.tidy(() => tf.add(old, tf.mul(a, tf.sub(v, old)))) : v.clone();
      old?.dispose();
      this.mean.set(name, next);
    }
  }

  /** Updates averaged so far. */
  get updates(): number {
    return this.count;
  }

  /** The running means by name (the average's own tensors: read, do not dispose); a checkpoint saves them with `updates`. */
  get means(): ReadonlyMap<string, tf.Tensor> {
    return this.mean;
  }

  /** Restores a checkpointed average: `updates` and the means by name (copied; the caller keeps its tensors). */
  restore(updates: number, means: Record<string, tf.Tensor>): void {
    this.dispose();
    this.count = updates;
    for (const [name, t] of Object.entries(means)) this.mean.set(name, t.clone());
  }

  /** lambda sum_v ||v - v_bar||^2 over the named variables that have an average (0 before the first record). */
  penalty(vars: Map<string, tf.Tensor>, lambda: number): tf.Scalar {
    return tf.tidy(() => {
      let s: tf.Tensor = tf.scalar(0);
      for (const [name, v] of vars) {
        const m = this.mean.get(name);
        if (m) s = tf.add(s, tf.sum(tf.square(tf.sub(v, m))));
      }
      return tf.mul(lambda, s) as tf.Scalar;
    });
  }

  dispose(): void {
    for (const t of this.mean.values()) t.dispose();
    this.mean.clear();
    this.count = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// PacGAN

/**
 * PacGAN packing (Lin et al. 2018): m consecutive samples concatenated along the last (channel/feature)
 * axis, x [N, ..., C] -> [N/m, ..., m*C], sample k*m + i in channels i*C..(i+1)*C-1 of packed sample k.
 * D judging m samples at once sees the lack of diversity of a collapsed G (their analysis: packing
 * penalises mode collapse in total variation). N must be a multiple of m.
 */
export function pack(x: tf.Tensor, m: number): tf.Tensor {
  if (m <= 1) return x;
  const [n, ...rest] = x.shape;
  if (n % m !== 0) throw new Error(`pack: batch ${n} is not a multiple of the packing degree ${m}`);
  const c = rest[rest.length - 1];
  const inner = rest.slice(0, -1);
  return tf.tidy(() => {
    const y = x.reshape([n / m, m, ...inner, c]);
    // Move the member axis next to the channels: [N/m, ...inner, m, C] -> [N/m, ...inner, m*C].
    const perm = [0, ...inner.map((_, i) => i + 2), 1, inner.length + 2];
    return tf.transpose(y, perm).reshape([n / m, ...inner, m * c]);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Unrolled GAN

/**
 * D's parameters after k gradient-descent steps on its loss (Metz et al. 2017, eq. 3-4, plain SGD with
 * step lr): theta_{i+1} = theta_i - lr * dL_D(theta_i)/dtheta. Inside a gradient tape over G's variables,
 * L_D's dependence on G (through the generated samples it reads) is recorded, so G's gradient includes the
 * second-order term dtheta_k/dtheta_G (the paper's full unrolled gradient); computed outside the tape (or
 * with frozen samples) the unrolled D is a constant and only the first-order term remains. Call it inside
 * tf.tidy or a gradient tape, which dispose the intermediate steps.
 */
export function unrollParams(params: tf.Tensor[], lossD: (p: tf.Tensor[]) => tf.Scalar, k: number, lr: number): tf.Tensor[] {
  // Intermediates are left to the caller's tf.tidy or tape: a tape needs them for the backward pass.
  let p = params;
  for (let i = 0; i < k; i++) {
    const cur = p;
    const g = tf.grads((...q: tf.Tensor[]) => lossD(q))(cur);
    p = cur.map((t, j) => tf.sub(t, tf.mul(lr, g[j])));
  }
  return p === params ? params.map((t) => t.clone()) : p;
}

// ---------------------------------------------------------------------------------------------------------
// Virtual batch normalisation

// A layer (src/models/layers/virtual-batch-norm.ts), shared by the lab's MLP G and the FSR learner.
export { referenceBatchNorm, virtualBatchNorm } from '../models/layers/virtual-batch-norm.js';
