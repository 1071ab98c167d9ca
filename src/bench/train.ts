/**
 * `fsrgan bench train`: images/s of one full GAN training step (gan.ts) per architecture, on one core and
 * data-parallel on all cores (src/parallel), optionally against the PyTorch twin (torch.ts) in the same
 * invocation. Contenders run in alternating rounds and every figure is a median over rounds, so load from
 * other processes hits all of them alike (the cores are shared: ratios travel, absolute numbers do not).
 */
import { readFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { ReplicaPool } from '../parallel/pool.js';
import { parseArch, stepFlops, type ArchSpec } from './arch.js';
import { createGanReplica, createIndependentReplica, GanTrainer, type GanInit, type GanLosses, type GanShard } from './gan.js';
import { formatProfile, profileKernels } from './profile.js';
import { TorchTwin, ensureTorch } from './torch.js';

/** Architectures shipped in bench/: name -> file. */
export const BUILTIN_ARCHS: Record<string, string> = { dcgan: 'dcgan.arch.json', stage: 'stage.arch.json' };

/** Reads an architecture by built-in name (dcgan, stage) or JSON path. */
export function loadArch(nameOrPath: string, root: string): ArchSpec {
  const file = BUILTIN_ARCHS[nameOrPath] ? join(root, 'bench', BUILTIN_ARCHS[nameOrPath]) : resolve(nameOrPath);
  if (!existsSync(file)) throw new UserError(`--arch ${nameOrPath}: no such built-in (${Object.keys(BUILTIN_ARCHS).join(', ')}) or file.`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`--arch ${nameOrPath}: ${file} is not valid JSON (${(e as Error).message}).`);
  }
  return parseArch(raw, file);
}

export interface TrainBenchOptions {
  /** Repository root (bench/ scripts, worker entry). */
  root: string;
  /** Replicas of the data-parallel run (1 = one core only). */
  workers: number;
  /** Also time bench/torch_twin.py. */
  vsTorch: boolean;
  /** Steps per contender per round. */
  steps: number;
  rounds: number;
  /** Untimed steps per contender before the first round (at least). */
  warmup: number;
  /**
   * ...and at least this many seconds of them per contender. V8 keeps optimising tfjs's JS for hundreds
   * of steps, separately in every worker's isolate, on helper threads that compete with the replicas
   * for the cores (the one-core run has an idle core for them); the stage speedup measured 1.5x after
   * 10-20 s of warm-up and 1.8x after 40 s (docs/speed.md). Training runs live in the steady state.
   */
  warmupSeconds: number;
  seed: number;
  torchThreads: number;
  /** Print a kernel profile of one single-replica step (to `log`). */
  profile: boolean;
  log: (line: string) => void;
}

export interface TrainBenchRow {
  arch: string;
  backend: string;
  /** Images/s of the fsrgan configuration reported (the data-parallel one when workers > 1). */
  imagesPerSec: number;
  /** Achieved GFLOP/s of that configuration (step FLOPs counted from the layer shapes). */
  gflops: number;
  torchImagesPerSec?: number;
  ratioVsTorch?: number;
  /** Threads the PyTorch twin computed with. */
  torchThreads?: number;
  /** Replicas behind imagesPerSec. */
  workers: number;
  /** Images/s on one core, and the data-parallel speedup over it (same rounds). */
  imagesPerSec1: number;
  speedup?: number;
  /** FLOPs of one training step (D step + G step). */
  flopsPerStep: number;
  batch: number;
  rounds: number;
  stepsPerRound: number;
  /** Untimed warm-up per contender: at least this many steps and seconds. */
  warmup: { steps: number; seconds: number };
  /** 1-minute load average before and after the measurement. */
  load: [number, number];
  /** Process CPU seconds per step on one core, and with all replicas (worker threads included). */
  cpuSecondsPerStep1: number;
  cpuSecondsPerStepW?: number;
  /** workers x cpuSecondsPerStep1 / cpuSecondsPerStepW: the speedup the replicas' total work allows on idle cores. */
  speedupBound?: number;
  /**
   * Images/s of `workers` replicas that train independently on batch/workers images each (no gradient
   * exchange, no barriers), and its ratio to one core: the most data parallelism can reach on this
   * machine, against which `speedup` is read.
   */
  imagesPerSecIndependent?: number;
  independentSpeedup?: number;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Shards of one step's latents: rows [k*n/w, (k+1)*n/w) of [n, zDim]. */
function shardOf(z: Float32Array, zDim: number, rank: number, world: number): Float32Array {
  const rows = z.length / zDim / world;
  return z.slice(rank * rows * zDim, (rank + 1) * rows * zDim);
}

/** Times every contender on `arch`; see the module comment. */
export async function benchTrainArch(arch: ArchSpec, o: TrainBenchOptions): Promise<TrainBenchRow> {
  const flops = stepFlops(arch).total;
  const load0 = loadavg()[0];
  const rng = new Rng(o.seed, 'latents');
  const n = arch.batch * arch.zDim;
  const init: GanInit = { arch, seed: o.seed };
  const single = new GanTrainer(arch, o.seed);
  let pool: ReplicaPool<GanShard, GanLosses> | null = null;
  let indep: ReplicaPool<{ steps: number }, number> | null = null;
  let twin: TorchTwin | null = null;
  try {
    if (o.workers > 1) {
      o.log(`  ${arch.name}: starting ${o.workers} replicas (one worker thread each, each with its own backend)`);
      // Every rank in a worker: this thread holds the one-core trainer (and the other pool's rank 0), and
      // the rank that shares a heap with them was the one the other waited for at the barriers.
      const where = { module: join(o.root, 'src', 'bench', 'gan.ts'), init, world: o.workers, root: o.root, rank0: 'worker' as const };
      pool = await ReplicaPool.start(createGanReplica, { ...where, exportName: 'createGanReplica' });
      indep = await ReplicaPool.start(createIndependentReplica, { ...where, exportName: 'createIndependentReplica' });
    }
    if (o.vsTorch) {
      o.log(`  ${arch.name}: starting the PyTorch twin (${o.torchThreads} threads)`);
      twin = await TorchTwin.start(o.root, arch, { threads: o.torchThreads, warmup: o.warmup });
    }
    // CPU seconds of the whole process (worker threads included) per step, next to wall seconds: on a
    // loaded machine, W x cpu1 / cpuW bounds what W replicas would gain on idle cores.
    const c1: number[] = [];
    const cw: number[] = [];
    const cpuSec = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const runSingle = (steps: number) => {
      const t0 = performance.now();
      const u0 = cpuSec();
      for (let i = 0; i < steps; i++) single.step(rng.normals(n), rng.normals(n));
      c1.push((cpuSec() - u0) / steps);
      return (performance.now() - t0) / 1000 / steps;
    };
    const runPool = async (steps: number) => {
      const t0 = performance.now();
      const u0 = cpuSec();
      for (let i = 0; i < steps; i++) {
        const zD = rng.normals(n);
        const zG = rng.normals(n);
        await pool!.step((k) => ({ zD: shardOf(zD, arch.zDim, k, o.workers), zG: shardOf(zG, arch.zDim, k, o.workers) }));
      }
      cw.push((cpuSec() - u0) / steps);
      return (performance.now() - t0) / 1000 / steps;
    };
    // Seconds per `batch` images of the independent replicas (each does `steps` steps of batch/W images).
    const runIndependent = async (steps: number) => {
      const t0 = performance.now();
      await indep!.step(() => ({ steps }));
      return (performance.now() - t0) / 1000 / steps;
    };
    const warm = async (run: (steps: number) => number | Promise<number>) => {
      const t0 = performance.now();
      for (let i = 0; i < o.warmup || performance.now() - t0 < o.warmupSeconds * 1000; i++) await run(1);
    };
    const contenders = 1 + (pool ? 1 : 0) + (indep ? 1 : 0);
    if (o.warmupSeconds > 0) o.log(`  ${arch.name}: warming up ${contenders} contender(s) for >= ${o.warmupSeconds} s each (--warmup-seconds)`);
    await warm(runSingle);
    if (pool) await warm(runPool);
    if (indep) await warm(runIndependent);
    c1.length = 0;
    cw.length = 0;
    if (o.profile) {
      const p = profileKernels(() => void single.step(rng.normals(n), rng.normals(n)), true);
      o.log(`  ${arch.name} kernel profile of one step on one core (CPU time):\n${formatProfile(p, 25)}`);
    }
    const t1: number[] = [];
    const tw: number[] = [];
    const tt: number[] = [];
    const ti: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const contenders: (() => Promise<void>)[] = [
        async () => void t1.push(runSingle(o.steps)),
        ...(pool ? [async () => void tw.push(await runPool(o.steps))] : []),
        ...(indep ? [async () => void ti.push(await runIndependent(o.steps))] : []),
        ...(twin ? [async () => void tt.push((await twin!.run(o.steps)).secondsPerStep)] : []),
      ];
      // Alternate the order every round so that no contender always follows the same one.
      if (r % 2) contenders.reverse();
      for (const c of contenders) await c();
      const last = (s: number[]) => (arch.batch / s[s.length - 1]).toFixed(1);
      const parts = [`1 core ${last(t1)}`, ...(pool ? [`${o.workers} replicas ${last(tw)}`, `${o.workers} independent ${last(ti)}`] : []), ...(twin ? [`torch ${last(tt)}`] : [])];
      o.log(`  ${arch.name} round ${r + 1}/${o.rounds}: img/s ${parts.join(', ')}`);
    }
    const ips1 = arch.batch / median(t1);
    const ipsW = tw.length ? arch.batch / median(tw) : ips1;
    const sec = arch.batch / ipsW;
    const row: TrainBenchRow = {
      arch: arch.name,
      backend: tf.getBackend(),
      imagesPerSec: ipsW,
      gflops: flops / sec / 1e9,
      workers: tw.length ? o.workers : 1,
      imagesPerSec1: ips1,
      flopsPerStep: flops,
      batch: arch.batch,
      rounds: o.rounds,
      stepsPerRound: o.steps,
      warmup: { steps: o.warmup, seconds: o.warmupSeconds },
      load: [load0, loadavg()[0]],
      cpuSecondsPerStep1: median(c1),
    };
    if (tw.length) {
      row.speedup = ipsW / ips1;
      row.cpuSecondsPerStepW = median(cw);
      row.speedupBound = (o.workers * row.cpuSecondsPerStep1) / row.cpuSecondsPerStepW;
      row.imagesPerSecIndependent = arch.batch / median(ti);
      row.independentSpeedup = row.imagesPerSecIndependent / ips1;
    }
    if (tt.length) {
      row.torchThreads = o.torchThreads;
      row.torchImagesPerSec = arch.batch / median(tt);
      row.ratioVsTorch = ipsW / row.torchImagesPerSec;
    }
    return row;
  } finally {
    single.dispose();
    await pool?.close();
    await indep?.close();
    await twin?.close();
  }
}

/** Runs benchTrainArch for every architecture (installing PyTorch first when --vs torch needs it). */
export async function benchTrain(archs: ArchSpec[], o: TrainBenchOptions): Promise<TrainBenchRow[]> {
  if (o.vsTorch) ensureTorch(o.root, o.log);
  const rows: TrainBenchRow[] = [];
  for (const a of archs) rows.push(await benchTrainArch(a, o));
  return rows;
}

/** A text table of the rows. */
export function formatTrainTable(rows: TrainBenchRow[]): string {
  const head = ['arch', 'backend', 'img/s', 'GFLOP/s', 'GFLOP/step', '1-core img/s', 'speedup', 'independent', 'idle bound', 'torch img/s', 'fsrgan/torch', 'load'];
  const body = rows.map((r) => [
    r.arch, `${r.backend} x${r.workers}`, r.imagesPerSec.toFixed(1), r.gflops.toFixed(1), (r.flopsPerStep / 1e9).toFixed(2), r.imagesPerSec1.toFixed(1),
    r.speedup ? `${r.speedup.toFixed(2)}x` : '-', r.independentSpeedup ? `${r.independentSpeedup.toFixed(2)}x` : '-', r.speedupBound ? `${r.speedupBound.toFixed(2)}x` : '-', r.torchImagesPerSec ? r.torchImagesPerSec.toFixed(1) : '-', r.ratioVsTorch ? `${r.ratioVsTorch.toFixed(3)}x` : '-',
    `${r.load[0].toFixed(1)}/${r.load[1].toFixed(1)}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padStart(w[i])).join('  ')).join('\n');
}
