/**
 * fsrgan train: resolve a config, train layer by layer into a run directory, or resume one.
 * Ctrl-C (or SIGTERM, as schedulers and `docker stop` send) finishes the current step, writes a
 * checkpoint and exits (code 130); a second one exits at once. The run directory's lock is released on
 * every exit path (src/train/lock.ts).
 */
import { join } from 'node:path';
import { describeChoice, initBackend } from '../backend/index.js';
import { UserError } from '../util/errors.js';
import { loadConfigFile } from '../train/config.js';
import { resumeTraining, train, type ProgressEvent } from '../train/trainer.js';
import { readRunConfig } from '../train/rundir.js';
import { defaultWorkersFor } from '../train/replicas.js';
import { intFlag, parseFlags } from './args.js';

const USAGE =
  'fsrgan train --config <file> [--out <dir>] [--backend auto|node-gpu|node|wasm|cpu] [--workers N] [--seed N] [--set key=value ...] [--dry-run]\n' +
  '       fsrgan train --resume <dir> [--backend ...] [--workers N]';


function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Progress lines: rewritten in place on a TTY, one every `every` steps otherwise. */
function progressPrinter(every: number): (e: ProgressEvent) => void {
  const tty = process.stdout.isTTY === true;
  let open = false;
  let printed = -1;
  return (e) => {
    const head = `stage ${e.stageIndex + 1}/${e.stages} (r${e.resolution})`;
    if (e.kind === 'stage-start') {
      printed = e.stageStep;
      console.log(`${head}: ${e.stageSteps} steps from step ${e.step}`);
      return;
    }
    if (e.kind === 'step') {
      const line = `${head} step ${e.stageStep}/${e.stageSteps}  lossD ${e.lossD!.toFixed(4)}  lossG ${e.lossG!.toFixed(4)}  ${e.imagesPerSec!.toFixed(0)} img/s`;
      if (tty) {
        process.stdout.write(`\r${line}\x1b[K`);
        open = true;
      } else if (Math.floor(e.stageStep / every) > Math.floor(printed / every) || e.stageStep === e.stageSteps) {
        console.log(line);
        printed = e.stageStep;
      }
      return;
    }
    if (open) process.stdout.write('\n');
    open = false;
    if (e.kind === 'stage-end') console.log(`${head} done at step ${e.step}`);
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    'train',
    argv,
    {
      config: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
      seed: { type: 'string' },
      set: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
      resume: { type: 'string' },
      workers: { type: 'string' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  const workers = values.workers === undefined ? undefined : intFlag('workers', values.workers, 1, 1, 1024);
  if (values.resume && values.config) throw new UserError(`use either --config (new run) or --resume (existing run), not both.\nUsage: ${USAGE}`);

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    console.log('\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to quit now)');
    controller.abort();
  };
  const listen = () => {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
  };
  const unlisten = () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  };

  if (values.resume) {
    const dir = values.resume;
    const cfg = await readRunConfig(dir);
    const choice = await initBackend(values.backend ?? cfg.backend);
    console.log(`resuming ${dir} on ${describeChoice(choice)}`);
    listen();
    try {
      // Without --workers a run goes on with the replicas it was trained with (recorded in its checkpoints).
      const res = await resumeTraining(dir, { signal: controller.signal, workers, onProgress: progressPrinter(cfg.log.progressEvery), onMessage: (m) => console.log(m) });
      return report(res.interrupted, res.step, dir);
    } finally {
      unlisten();
    }
  }

  if (!values.config) throw new UserError(`--config <file> is required (or --resume <dir>).\nUsage: ${USAGE}`);
  const seed = values.seed === undefined ? undefined : intFlag('seed', values.seed, 0, 0, 0xffffffff);
  const config = await loadConfigFile(values.config, { sets: values.set ?? [], seed });
  if (values['dry-run']) {
    console.log(JSON.stringify(config, null, 2));
    return 0;
  }
  const choice = await initBackend(values.backend ?? config.backend);
  const out = values.out ?? join('runs', `${config.name}-${timestamp()}`);
  const n = workers ?? defaultWorkersFor(config, choice.backend);
  // Before anything is written: each replica needs at least one image of a step.
  if (n > config.train.batch) throw new UserError(`--workers ${n} is more than train.batch = ${config.train.batch} images per step: use at most ${config.train.batch}.`);
  console.log(`training ${config.name} (${config.train.mode}, ${config.objective.name}) into ${out} on ${describeChoice(choice)}, ${n} worker${n > 1 ? 's' : ''}`);
  listen();
  try {
    const res = await train(config, out, { signal: controller.signal, workers: n, onProgress: progressPrinter(config.log.progressEvery), onMessage: (m) => console.log(m) });
    return report(res.interrupted, res.step, out);
  } finally {
    unlisten();
  }
}

function report(interrupted: boolean, step: number, dir: string): number {
  if (interrupted) {
    console.log(`interrupted at step ${step}; checkpoint saved. Resume with: fsrgan train --resume ${dir}`);
    return 130;
  }
  console.log(`done: ${step} steps in ${dir}`);
  return 0;
}
