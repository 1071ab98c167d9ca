/**
 * Adam (Kingma & Ba 2015) over one flat Float32Array of parameters, in plain JS. One loop replaces about
 * ten tensor kernels per variable (docs/engine.md: kernel calls, not FLOPs, dominate a small GAN step),
 * and it is deterministic, so replicas that feed it the same averaged gradient stay bit-identical. Same
 * update as torch.optim.Adam: m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps).
 */
export class FlatAdam {
  /** Steps taken. */
  t = 0;
  readonly m: Float32Array;
  readonly v: Float32Array;

  constructor(readonly size: number, public lr: number, readonly beta1: number, readonly beta2: number, readonly epsilon = 1e-8) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** One update of `params` in place from `grad` (both of length `size`). */
  step(params: Float32Array, grad: Float32Array): void {
    if (params.length !== this.size || grad.length !== this.size) {
      throw new Error(`FlatAdam.step: expected ${this.size} parameters and gradients, got ${params.length} and ${grad.length}`);
    }
    this.t++;
    const { m, v, beta1: b1, beta2: b2, epsilon: eps } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const a1 = 1 - b1;
    const a2 = 1 - b2;
    const lr = this.lr / c1;
    const s2 = 1 / Math.sqrt(c2);
    for (let i = 0; i < params.length; i++) {
      const g = grad[i];
      const mi = b1 * m[i] + a1 * g;
      const vi = b2 * v[i] + a2 * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= (lr * mi) / (Math.sqrt(vi) * s2 + eps);
    }
  }
}
