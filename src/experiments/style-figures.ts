/**
 * Figures F-attention and F-style in `reproduce` (docs/families.md), drawn from trained runs' generators
 * rather than from analysis files, so built here (where runs are loaded) instead of in src/report:
 *
 * - F-attention (SAGAN, Zhang et al. 2019, figures 1 and 5): for generated images, the attention map
 *   beta_{j,.} of G's attention block at a few query positions j, in red over the image (query cell in
 *   green); with the learned gammas of G's and D's blocks and how spread the attention is (normalised
 *   entropy H(beta_j) / log(HW): 1 = uniform) and how far it reaches (mean distance from the query of the
 *   attention mass, against the uniform map's).
 * - F-style (StyleGAN, Karras et al. 2019, figures 3 and 4): the same z with the noise inputs redrawn (and
 *   the per-pixel standard deviation over 16 redraws), and style mixing grids: row A's styles below the
 *   crossover side, column B's from it on. Measured: the share of the variance due to the noise (and, for
 *   reference, to z) that survives a 4x4 average pool: small = the noise changes fine detail only.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { avgPool2x, splitLatent } from '../models/family-layers.js';
import { saganGenerate } from '../models/sagan.js';
import { styleganLatent, styleganSides, styleganSynthesize } from '../models/stylegan.js';
import { sampleLatents } from '../models/learner.js';
import type { FigureImage, RunResult, Table } from '../report/figure-data.js';
import type { ChartSpec } from '../report/render.js';
import { saganShape, styleganShape } from '../train/families-style.js';
import { loadRun, type LoadedRun } from '../train/run.js';
import { writeGridPng } from '../util/png.js';
import { Rng } from '../util/rng.js';
import type { FigureSpec } from './plan.js';
import type { FigureOutput } from './summary.js';

const f3 = (x: number) => Number(x.toFixed(3));

function bars(title: string, rows: { group: string; what: string; value: number }[], yTitle: string): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      x: { field: 'what', type: 'nominal', title: null, sort: null, axis: { labelAngle: -30, labelLimit: 200 } },
      xOffset: { field: 'group' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'group', type: 'nominal', title: 'run' },
    },
    width: 320,
    height: 200,
  } as unknown as ChartSpec;
}

/** Each run of the figure loaded in turn (seed 1 only: the figure shows one trained generator per run). */
async function eachRun(runs: RunResult[], fn: (run: LoadedRun, r: RunResult) => Promise<void>): Promise<void> {
  for (const r of runs.filter((x) => x.run.seed === runs[0].run.seed)) {
    const run = await loadRun(r.dir, { source: false, teacher: false });
    try {
      await fn(run, r);
    } finally {
      run.dispose();
    }
  }
}

/** Three channels in [-1, 1] (a one-channel image repeated). */
const rgb = (x: tf.Tensor4D) => (x.shape[3] === 3 ? x : (tf.tile(tf.mean(x, 3, true), [1, 1, 1, 3]) as tf.Tensor4D));

/** Query positions (row, col) on a side-s grid: upper left, centre, lower right of the middle half. */
export const queryCells = (s: number): [number, number][] => [[Math.floor(s / 4), Math.floor(s / 4)], [Math.floor(s / 2), Math.floor(s / 2)], [Math.floor((3 * s) / 4), Math.floor((3 * s) / 4)]].map(([a, b]) => [Math.min(a, s - 1), Math.min(b, s - 1)] as [number, number]);

async function attentionFigure(spec: FigureSpec, runs: RunResult[], out: string): Promise<FigureOutput> {
  const images: FigureImage[] = [];
  const table: Table = { title: 'Attention in SAGAN', columns: ['run', 'gamma G', 'gamma D', 'attention side', 'normalised entropy', 'mean distance (cells)', 'uniform distance'], rows: [] };
  const chart: { group: string; what: string; value: number }[] = [];
  await eachRun(runs, async (run, r) => {
    const c = run.config;
    const s = saganShape(c, run.generator.shape.imageChannels);
    const r0 = c.generator.resolutions[c.generator.resolutions.length - 1];
    const gammaD = run.discriminators.get(r0)?.vars.get(`d.r${r0}.attn.gamma`)?.dataSync()[0] ?? 0;
    const gammaG = run.learner.vars.get('g.attn.gamma')?.dataSync()[0] ?? 0;
    if (!s.attentionG) {
      table.rows.push([r.run.name, null, f3(gammaD), 0, null, null, null]);
      return;
    }
    const n = 4;
    const side = s.attentionG;
    const z = sampleLatents(new Rng(1, 'figure-attention'), n, s.zDim);
    const { x, beta } = saganGenerate(run.learner.vars, s, z, true);
    const cells = queryCells(side);
    const k = r0 / side;
    const b = beta!.arraySync() as number[][][];
    let ent = 0;
    let dist = 0;
    let uni = 0;
    const tiles = tf.tidy(() => {
      const img = rgb(x);
      const gray = tf.tile(tf.mean(img, 3, true), [1, 1, 1, 3]);
      const out: tf.Tensor4D[] = [];
      for (let i = 0; i < n; i++) {
        out.push(img.slice([i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
        for (const [qy, qx] of cells) {
          const row = b[i][qy * side + qx];
          const max = Math.max(...row);
          ent += -row.reduce((a, p) => a + (p > 0 ? p * Math.log(p) : 0), 0) / Math.log(side * side);
          row.forEach((p, j) => {
            const d = Math.hypot(Math.floor(j / side) - qy, (j % side) - qx);
            dist += p * d;
            uni += d / row.length;
          });
          // Red with opacity a = the map scaled to its maximum, over the image faded to light gray; the query's cell green.
          const alpha = new Float32Array(r0 * r0);
          const colour = new Float32Array(r0 * r0 * 3).fill(-1);
          for (let t = 0; t < r0 * r0; t++) {
            const [cy, cx] = [Math.floor(Math.floor(t / r0) / k), Math.floor((t % r0) / k)];
            const query = cy === qy && cx === qx;
            alpha[t] = query ? 1 : row[cy * side + cx] / max;
            colour[3 * t + (query ? 1 : 0)] = 1;
          }
          const a = tf.tensor4d(alpha, [1, r0, r0, 1]);
          const faded = tf.add(tf.mul(gray.slice([i, 0, 0, 0], [1, -1, -1, -1]), 0.4), 0.5);
          out.push(tf.add(tf.mul(faded, tf.sub(1, a)), tf.mul(tf.tensor4d(colour, [1, r0, r0, 3]), a)) as tf.Tensor4D);
        }
      }
      return tf.concat(out, 0) as tf.Tensor4D;
    });
    const m = n * cells.length;
    const file = join(out, 'figure-images', `${spec.name}-${r.run.id}.png`);
    await writeGridPng(file, tiles, { cols: 1 + cells.length, scale: Math.max(1, Math.round(64 / r0)) });
    images.push({ path: file, caption: `${r.run.data}: generated images (left) and G's attention at side ${side} for the query cells marked green (red: attention weight, scaled to each map's maximum).` });
    table.rows.push([r.run.name, f3(gammaG), f3(gammaD), side, f3(ent / m), f3(dist / m), f3(uni / m)]);
    chart.push({ group: r.run.data, what: 'gamma G', value: gammaG }, { group: r.run.data, what: 'gamma D', value: gammaD }, { group: r.run.data, what: 'normalised entropy', value: ent / m }, { group: r.run.data, what: 'distance / uniform', value: dist / uni });
    tf.dispose([z, x, beta!, tiles]);
  });
  return { name: spec.name, title: spec.title, caption: spec.about, charts: [{ file: spec.name, spec: bars(spec.title, chart, 'value') }], images, tables: [table], claims: [] };
}

/** Latents with the z part of `z` and the noise maps of `noise`. */
function withNoise(z: tf.Tensor4D, noise: tf.Tensor4D, parts: ReturnType<typeof styleganLatent>): tf.Tensor4D {
  return tf.tidy(() => {
    const a = splitLatent(z, parts);
    const b = splitLatent(noise, parts);
    return tf.concat(parts.map((p) => (p.name === 'z' ? a.z : b[p.name]).reshape([z.shape[0], -1])), 1).reshape(z.shape) as tf.Tensor4D;
  });
}

/** Share of the variance of xs (over the batch axis, per pixel) that survives a 4x4 average pool. */
function coarseShare(xs: tf.Tensor4D): number {
  return tf.tidy(() => {
    const d = tf.sub(xs, tf.mean(xs, 0, true)) as tf.Tensor4D;
    const pooled = avgPool2x(avgPool2x(d));
    return tf.div(tf.mean(tf.square(pooled)), tf.add(tf.mean(tf.square(d)), 1e-12)).dataSync()[0];
  });
}

async function styleFigure(spec: FigureSpec, runs: RunResult[], out: string): Promise<FigureOutput> {
  const images: FigureImage[] = [];
  const table: Table = { title: 'Noise inputs and styles', columns: ['run', 'variance share kept by a 4x4 pool: noise', 'same: z', ...['mean |noise scale| per side'], 'mixing grids'], rows: [] };
  const chart: { group: string; what: string; value: number }[] = [];
  await eachRun(runs, async (run, r) => {
    const c = run.config;
    const s = styleganShape(c, run.generator.shape.imageChannels);
    const parts = styleganLatent(s);
    const total = run.generator.shape.zDim;
    const r0 = c.generator.resolutions[c.generator.resolutions.length - 1];
    const scale = Math.max(1, Math.round(64 / r0));
    const synth = (z: tf.Tensor4D, mix?: { z: tf.Tensor4D; from: number }) => {
      const o = styleganSynthesize(run.learner.vars, s, z, { mix });
      tf.dispose(o.features);
      return tf.tidy(() => tf.clipByValue(o.x, -1, 1)) as tf.Tensor4D;
    };
    // Noise only: 4 latents, each with 16 noise redraws; the first 6 shown, then the per-pixel std.
    const base = sampleLatents(new Rng(1, 'figure-style'), 4, total);
    const draws = 16;
    const tiles: tf.Tensor4D[] = [];
    let noiseShare = 0;
    for (let i = 0; i < 4; i++) {
      const zi = tf.tidy(() => tf.tile(base.slice([i, 0, 0, 0], [1, -1, -1, -1]), [draws, 1, 1, 1]) as tf.Tensor4D);
      const noise = sampleLatents(new Rng(i + 1, 'figure-style-noise'), draws, total);
      const zn = withNoise(zi, noise, parts);
      const x = synth(zn);
      noiseShare += coarseShare(x) / 4;
      tiles.push(tf.tidy(() => {
        const sd = tf.mean(tf.sqrt(tf.mean(tf.square(tf.sub(x, tf.mean(x, 0, true))), 0, true)), 3, true);
        const sdImg = tf.tile(tf.sub(tf.mul(tf.div(sd, tf.add(tf.max(sd), 1e-8)), 2), 1), [1, 1, 1, 3]) as tf.Tensor4D;
        return tf.concat([rgb(x.slice([0, 0, 0, 0], [6, -1, -1, -1]) as tf.Tensor4D), sdImg], 0) as tf.Tensor4D;
      }));
      tf.dispose([zi, noise, zn, x]);
    }
    // z only, for reference: 16 latents with one shared set of noise maps.
    const zs = sampleLatents(new Rng(2, 'figure-style'), draws, total);
    const shared = tf.tidy(() => tf.tile(base.slice([0, 0, 0, 0], [1, -1, -1, -1]), [draws, 1, 1, 1]) as tf.Tensor4D);
    const zOnly = withNoise(zs, shared, parts);
    const xz = synth(zOnly);
    const zShare = coarseShare(xz);
    const noiseGrid = tf.concat(tiles, 0) as tf.Tensor4D;
    const noiseFile = join(out, 'figure-images', `${spec.name}-${r.run.id}-noise.png`);
    await writeGridPng(noiseFile, noiseGrid, { cols: 7, scale });
    images.push({ path: noiseFile, caption: `${r.run.data}: each row one z with its noise inputs redrawn (6 draws), then the per-pixel standard deviation over 16 draws (white = most). ${f3(noiseShare)} of the noise-induced variance survives a 4x4 average pool, against ${f3(zShare)} for a change of z.` });
    tf.dispose([zs, shared, zOnly, xz, noiseGrid, ...tiles]);
    // Style mixing: rows A, columns B; cell = A's styles below the crossover, B's from it (A's noise).
    const A = sampleLatents(new Rng(3, 'figure-style'), 4, total);
    const B = sampleLatents(new Rng(4, 'figure-style'), 5, total);
    const sides = styleganSides(s);
    const crossovers = [...new Set([sides[Math.min(1, sides.length - 1)], sides[sides.length - 1]])];
    const xa = synth(A);
    const xb = synth(B);
    for (const from of crossovers) {
      const grid = tf.tidy(() => {
        const blank = tf.ones([1, r0, r0, xa.shape[3]]) as tf.Tensor4D;
        const rows: tf.Tensor4D[] = [blank, xb as tf.Tensor4D];
        for (let i = 0; i < 4; i++) {
          const ai = tf.tile(A.slice([i, 0, 0, 0], [1, -1, -1, -1]), [5, 1, 1, 1]) as tf.Tensor4D;
          rows.push(xa.slice([i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D, synth(ai, { z: B, from }));
        }
        return rgb(tf.concat(rows, 0) as tf.Tensor4D);
      });
      const file = join(out, 'figure-images', `${spec.name}-${r.run.id}-mix${from}.png`);
      await writeGridPng(file, grid, { cols: 6, scale });
      const coarse = sides.filter((x) => x < from).join(', ');
      images.push({ path: file, caption: `${r.run.data}: style mixing at side ${from}. Top row: sources B; left column: sources A; each cell takes A's styles at sides ${coarse} and B's from ${from} to ${r0} (noise: A's).` });
      grid.dispose();
    }
    tf.dispose([A, B, xa, xb, base]);
    const scales = sides.map((side) => {
      const v = ['a', 'b'].map((k) => tf.tidy(() => tf.mean(tf.abs(run.learner.vars.get(`g.s${side}${k}.noise`)!)).dataSync()[0]));
      return (v[0] + v[1]) / 2;
    });
    table.rows.push([r.run.name, f3(noiseShare), f3(zShare), sides.map((side, i) => `${side}: ${f3(scales[i])}`).join('; '), crossovers.join(', ')]);
    chart.push({ group: r.run.data, what: 'noise: kept by 4x4 pool', value: noiseShare }, { group: r.run.data, what: 'z: kept by 4x4 pool', value: zShare });
    sides.forEach((side, i) => chart.push({ group: r.run.data, what: `|noise scale| side ${side}`, value: scales[i] }));
  });
  return { name: spec.name, title: spec.title, caption: spec.about, charts: [{ file: spec.name, spec: bars(spec.title, chart, 'value') }], images, tables: [table], claims: [] };
}

/** F-attention or F-style from the figure's runs (their run directories under `out`). */
export function styleFigureOutput(spec: FigureSpec, runs: RunResult[], out: string): Promise<FigureOutput> {
  return spec.builder === 'attention' ? attentionFigure(spec, runs, out) : styleFigure(spec, runs, out);
}
