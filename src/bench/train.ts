/**
 * `fsrgan bench train`: images/s of `fsrgan train`'s own step (src/train/step.ts through the trainer's step
 * runner, src/train/replicas.ts) on a training config's top stage, on one core and on N data-parallel
 * replicas, next to N replicas that train independently (the ceiling) and, optionally, the PyTorch twin
 * (torch.ts) built from the same layer list (layers.ts). Contenders run in alternating rounds and every
 * figure is a median over rounds, so load from other processes hits all of them alike (the cores are
 * shared: ratios travel, absolute numbers do not).
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { ReplicaPool } from '../parallel/pool.js';
import { loadConfigFile, resolveConfig, type TrainConfig } from '../train/config.js';
import { startSteps, type StepRunner } from '../train/replicas.js';
import { stepFlops, type ArchSpec } from './arch.js';
import { stageArch } from './layers.js';
import { formatProfile, profileKernels } from './profile.js';
import { benchSession, createIndependentReplica, stepContext, stepTaken, type BenchSession, type IndependentInit } from './replica.js';
import { TorchTwin, ensureTorch } from './torch.js';

/**
 * The built-in architectures, as training configs. `stage`: stage 3 of experiments/layerwise-emoji.json
 * (the paper-figure stage at 32x32), with what the twin does not build switched off: R1, DiffAugment, D's
 * neighbour differences, the skip and the tanh heads, the EMA; at batch 64. `dcgan`: the DCGAN model family (src/models/dcgan.ts)
 * with DCGAN's recipe (Radford et al. 2016).
 */
export const BUILTIN_ARCHS: Record<string, { about: string; config: (root: string) => Promise<TrainConfig> }> = {
  stage: {
    about: 'layerwise stage 3 of experiments/layerwise-emoji.json (r1, augment, neighbour differences, skip, tanh heads and EMA off; batch 64)',
    config: (root) =>
      loadConfigFile(join(root, 'experiments', 'layerwise-emoji.json'), {
        sets: ['objective.r1=0', 'discriminator.augment=[]', 'discriminator.neighbourDiffs=false', 'generator.skip=false', 'generator.head=linear', 'train.emaBeta=0', 'train.batch=64'],
      }),
  },
  dcgan: {
    about: 'DCGAN (generator.family dcgan): G 100 -> 8x8x128 -> 16x16x64 -> 32x32x3, D 64/128 with BatchNorm, batch 64',
    config: async () => dcganConfig('emoji', [32]),
  },
};

/** The DCGAN of the benchmarks on `data` (its pyramid `resolutions`; G makes the top one). */
export function dcganConfig(data: string, resolutions: number[], overrides: Record<string, unknown> = {}): TrainConfig {
  return resolveConfig({
    name: 'dcgan',
    data,
    preset: 'dcgan',
    ...overrides,
    generator: { family: 'dcgan', resolutions, channels: [128, 64], zDim: 100 },
    discriminator: { widths: [64, 128], leak: 0.2 },
    train: { mode: 'end-to-end', batch: 64, ...((overrides.train as object) ?? {}) },
  });
}

/** A built-in architecture by name, or a training config file (its top stage is timed). */
export async function loadArchConfig(nameOrPath: string, root: string): Promise<{ name: string; config: TrainConfig }> {
  const builtin = BUILTIN_ARCHS[nameOrPath];
  if (builtin) return { name: nameOrPath, config: await builtin.config(root) };
  const file = resolve(nameOrPath);
  if (!existsSync(file)) throw new UserError(`--arch ${nameOrPath}: no such built-in (${Object.keys(BUILTIN_ARCHS).join(', ')}) or training config file.`);
  return { name: nameOrPath.replace(/^.*\//, '').replace(/\.json$/, ''), config: await loadConfigFile(file) };
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
  /** Lowest and highest images/s over the rounds, per contender (run-to-run spread). */
  spread: { imagesPerSec1: [number, number]; imagesPerSec?: [number, number]; torchImagesPerSec?: [number, number] };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Times every contender on the top stage of `config`; see the module comment. */
export async function benchTrainArch(name: string, config: TrainConfig, o: TrainBenchOptions): Promise<TrainBenchRow> {
  const load0 = loadavg()[0];
  const single = benchSession(config, o.seed);
  const arch: ArchSpec = stageArch(single.s, name);
  const flops = stepFlops(arch).total;
  const batch = config.train.batch;
  let parallel: BenchSession | null = null;
  let one: StepRunner | null = null;
  let replicas: StepRunner | null = null;
  let indep: ReplicaPool<{ steps: number }, number> | null = null;
  let twin: TorchTwin | null = null;
  try {
    one = await startSteps(single.s, 1, o.root);
    if (o.workers > 1) {
      o.log(`  ${name}: starting ${o.workers} replicas of the trainer (one worker thread each, each with its own backend)`);
      parallel = benchSession(config, o.seed);
      replicas = await startSteps(parallel.s, o.workers, o.root);
      const init: IndependentInit = { config, seed: o.seed };
      indep = await ReplicaPool.start(createIndependentReplica, {
        module: join(o.root, 'src', 'bench', 'replica.ts'), exportName: 'createIndependentReplica', init, world: o.workers, root: o.root, rank0: 'worker',
      });
    }
    if (o.vsTorch) {
      o.log(`  ${name}: starting the PyTorch twin (${o.torchThreads} threads)`);
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
    const timed = (runner: StepRunner, b: BenchSession, cpu: number[]) => async (steps: number) => {
      const t0 = performance.now();
      const u0 = cpuSec();
      for (let i = 0; i < steps; i++) {
        await runner.step(stepContext(b.s), false);
        stepTaken(b.s);
      }
      cpu.push((cpuSec() - u0) / steps);
      return (performance.now() - t0) / 1000 / steps;
    };
    const runSingle = timed(one, single, c1);
    const runPool = replicas && parallel ? timed(replicas, parallel, cw) : null;
    // Seconds per `batch` images of the independent replicas (each does `steps` steps of batch/W images).
    const runIndependent = async (steps: number) => {
      const t0 = performance.now();
      await indep!.step(() => ({ steps }));
      return (performance.now() - t0) / 1000 / steps;
    };
    const warm = async (run: (steps: number) => Promise<number>) => {
      const t0 = performance.now();
      for (let i = 0; i < o.warmup || performance.now() - t0 < o.warmupSeconds * 1000; i++) await run(1);
    };
    const contenders = 1 + (runPool ? 1 : 0) + (indep ? 1 : 0);
    if (o.warmupSeconds > 0) o.log(`  ${name}: warming up ${contenders} contender(s) for >= ${o.warmupSeconds} s each (--warmup-seconds)`);
    await warm(runSingle);
    if (runPool) await warm(runPool);
    if (indep) await warm(runIndependent);
    c1.length = 0;
    cw.length = 0;
    if (o.profile) {
      const p = profileKernels(() => {
        one!.step(stepContext(single.s), false);
        stepTaken(single.s);
      }, true);
      o.log(`  ${name} kernel profile of one step on one core (CPU time):\n${formatProfile(p, 25)}`);
    }
    const t1: number[] = [];
    const tw: number[] = [];
    const tt: number[] = [];
    const ti: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const rounds: (() => Promise<void>)[] = [
        async () => void t1.push(await runSingle(o.steps)),
        ...(runPool ? [async () => void tw.push(await runPool(o.steps))] : []),
        ...(indep ? [async () => void ti.push(await runIndependent(o.steps))] : []),
        ...(twin ? [async () => void tt.push((await twin!.run(o.steps)).secondsPerStep)] : []),
      ];
      // Alternate the order every round so that no contender always follows the same one.
      if (r % 2) rounds.reverse();
      for (const c of rounds) await c();
      const last = (v: number[]) => (batch / v[v.length - 1]).toFixed(1);
      const parts = [`1 core ${last(t1)}`, ...(runPool ? [`${o.workers} replicas ${last(tw)}`, `${o.workers} independent ${last(ti)}`] : []), ...(twin ? [`torch ${last(tt)}`] : [])];
      o.log(`  ${name} round ${r + 1}/${o.rounds}: img/s ${parts.join(', ')}`);
    }
    const ips1 = batch / median(t1);
    const ipsW = tw.length ? batch / median(tw) : ips1;
    const sec = batch / ipsW;
    const row: TrainBenchRow = {
      arch: name,
      backend: tf.getBackend(),
      imagesPerSec: ipsW,
      gflops: flops / sec / 1e9,
      workers: tw.length ? o.workers : 1,
      imagesPerSec1: ips1,
      flopsPerStep: flops,
      batch,
      rounds: o.rounds,
      stepsPerRound: o.steps,
      warmup: { steps: o.warmup, seconds: o.warmupSeconds },
      load: [load0, loadavg()[0]],
      cpuSecondsPerStep1: median(c1),
      spread: { imagesPerSec1: spread(t1, batch), ...(tw.length ? { imagesPerSec: spread(tw, batch) } : {}), ...(tt.length ? { torchImagesPerSec: spread(tt, batch) } : {}) },
    };
    if (tw.length) {
      row.speedup = ipsW / ips1;
      row.cpuSecondsPerStepW = median(cw);
      row.speedupBound = (o.workers * row.cpuSecondsPerStep1) / row.cpuSecondsPerStepW;
      row.imagesPerSecIndependent = batch / median(ti);
      row.independentSpeedup = row.imagesPerSecIndependent / ips1;
    }
    if (tt.length) {
      row.torchThreads = o.torchThreads;
      row.torchImagesPerSec = batch / median(tt);
      row.ratioVsTorch = ipsW / row.torchImagesPerSec;
    }
    return row;
  } finally {
    await one?.close();
    await replicas?.close();
    await indep?.close();
    await twin?.close();
    single.dispose();
    parallel?.dispose();
  }
}

/** [min, max] images/s over rounds (seconds per step of `batch` images). */
function spread(secs: number[], batch: number): [number, number] {
  return [batch / Math.max(...secs), batch / Math.min(...secs)];
}

/** Runs benchTrainArch for every architecture (installing PyTorch first when --vs torch needs it). */
export async function benchTrain(archs: { name: string; config: TrainConfig }[], o: TrainBenchOptions): Promise<TrainBenchRow[]> {
  if (o.vsTorch) ensureTorch(o.root, o.log);
  const rows: TrainBenchRow[] = [];
  for (const a of archs) rows.push(await benchTrainArch(a.name, a.config, o));
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
