/**
 * A small first- and second-order moment gap between real and generated images, used by the trainer's
 * acceptance check and as an example hook (the full moment module, with higher orders, code space and
 * noise floors, is src/analysis). Patches are the non-overlapping P x P tiles of G's output head.
 */
import type * as tf from '@tensorflow/tfjs';

export interface MomentGap {
  /** ||mean_real - mean_fake|| / ||mean_real|| of the patch vectors. */
  mean: number;
  /** ||M_real - M_fake||_F / ||M_real||_F with M = E[p p^T]. */
  second: number;
  /** Patches per side. */
  patches: number;
}

/** Mean vector and second-moment matrix (float64) of the P x P x C tiles of images [N,H,W,C]. */
export function patchMoments(x: tf.Tensor4D, patch: number): { mean: Float64Array; second: Float64Array; count: number } {
  const [n, h, w, c] = x.shape;
  if (h % patch !== 0 || w % patch !== 0) throw new Error(`patchMoments: image ${h}x${w} is not tiled by patch ${patch}`);
  const data = x.dataSync();
  const d = patch * patch * c;
  const mean = new Float64Array(d);
  const second = new Float64Array(d * d);
  const v = new Float64Array(d);
  let count = 0;
  for (let i = 0; i < n; i++)
    for (let py = 0; py < h; py += patch)
      for (let px = 0; px < w; px += patch) {
        let k = 0;
        for (let y = 0; y < patch; y++)
          for (let xx = 0; xx < patch; xx++) for (let ch = 0; ch < c; ch++) v[k++] = data[((i * h + py + y) * w + px + xx) * c + ch];
        for (let a = 0; a < d; a++) {
          mean[a] += v[a];
          for (let b = 0; b < d; b++) second[a * d + b] += v[a] * v[b];
        }
        count++;
      }
  for (let a = 0; a < d; a++) mean[a] /= count;
  for (let a = 0; a < d * d; a++) second[a] /= count;
  return { mean, second, count };
}

const relErr = (a: Float64Array, b: Float64Array) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += a[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
};

/** Relative first- and second-moment errors of generated patches against real ones. */
export function momentGap(real: tf.Tensor4D, fake: tf.Tensor4D, patch: number): MomentGap {
  const r = patchMoments(real, patch);
  const f = patchMoments(fake, patch);
  return { mean: relErr(r.mean, f.mean), second: relErr(r.second, f.second), patches: r.count };
}
