import * as tf from '@tensorflow/tfjs';
import { describeChoice, initBackend } from '../backend/index.js';
import { backendThreads, matmulGflops } from '../backend/measure.js';
import { kernelPlan } from '../ops/kernels.js';
import { parseFlags } from './args.js';

export interface InfoReport {
  backend: string;
  tfjs: string;
  threads: number;
  matmulGflops: number;
}

const USAGE = 'fsrgan info [--backend auto|node-gpu|node|wasm|cpu] [--json]';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('info', argv, { json: { type: 'boolean' }, backend: { type: 'string' } }, USAGE);
  if (values.help) return console.log(USAGE), 0;
  const choice = await initBackend(values.backend);
  const report: InfoReport = {
    backend: choice.backend,
    tfjs: tf.version.tfjs,
    threads: await backendThreads(),
    matmulGflops: Math.round((await matmulGflops()) * 10) / 10,
  };
  if (values.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(describeChoice(choice));
    console.log(`tfjs ${report.tfjs}, ${report.threads} thread(s), matMul ${report.matmulGflops} GFLOP/s`);
    for (const [op, impl] of Object.entries(kernelPlan(choice.backend))) console.log(`  ${op}: ${impl}`);
  }
  return 0;
}
