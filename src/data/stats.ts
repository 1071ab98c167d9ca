/** Per-resolution statistics of a pyramid source (what `fsrgan data preview` prints), in float64 JS. */
import type * as tf from '@tensorflow/tfjs';

export interface LevelStats {
  resolution: number;
  /** Images seen. */
  count: number;
  /** Per-channel mean and (population) standard deviation. */
  mean: number[];
  std: number[];
  min: number;
  max: number;
}

/** Accumulates per-channel sums over batches of pyramids [x_1..x_L], each [n,r,r,C]. */
export class PyramidStats {
  private acc: { resolution: number; count: number; sum: Float64Array; sq: Float64Array; px: number; min: number; max: number }[] = [];

  add(levels: tf.Tensor4D[]): void {
    levels.forEach((x, l) => {
      const [n, h, w, c] = x.shape;
      const a = (this.acc[l] ??= { resolution: h, count: 0, sum: new Float64Array(c), sq: new Float64Array(c), px: 0, min: Infinity, max: -Infinity });
      if (a.resolution !== h || a.sum.length !== c) throw new Error(`PyramidStats.add: level ${l} changed shape to [${x.shape}]`);
      const d = x.dataSync();
      for (let i = 0; i < d.length; i++) {
        const v = d[i];
        a.sum[i % c] += v;
        a.sq[i % c] += v * v;
        if (v < a.min) a.min = v;
        if (v > a.max) a.max = v;
      }
      a.count += n;
      a.px += n * h * w;
    });
  }

  result(): LevelStats[] {
    return this.acc.map((a) => {
      const mean = Array.from(a.sum, (s) => s / a.px);
      const std = Array.from(a.sq, (s, ch) => Math.sqrt(Math.max(0, s / a.px - mean[ch] ** 2)));
      return { resolution: a.resolution, count: a.count, mean, std, min: a.min, max: a.max };
    });
  }
}
