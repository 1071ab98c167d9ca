/** Speed measurements shared by `fsrgan info` and the benchmarks. */
import * as tf from '@tensorflow/tfjs';

/** Backends whose kernels have finished when the op call returns. */
const SYNC_BACKENDS = new Set(['wasm', 'cpu', 'tensorflow']);

/**
 * Times `fn` (which must return a tensor, read back on asynchronous backends) and returns the median
 * seconds per call over `reps` calls after `warmup` calls. Disposes everything it creates.
 */
export async function timeOp(fn: () => tf.Tensor | tf.Tensor[], reps = 5, warmup = 2): Promise<number> {
  const once = async () => {
    const t0 = performance.now();
    const out = fn();
    const outs = Array.isArray(out) ? out : [out];
    // wasm, cpu and tfjs-node compute before the op returns; GPU backends only queue work, so read the
    // outputs back there. (Reading on wasm would time a copy of each output out of the heap: ~1 ms for
    // a 1M-float activation, as long as the op itself.)
    if (!SYNC_BACKENDS.has(tf.getBackend())) await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
    return (performance.now() - t0) / 1000;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** GFLOP/s of an n x n by n x n matMul on the active backend (2 n^3 flops). */
export async function matmulGflops(n = 1024, reps = 7): Promise<number> {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const s = await timeOp(() => tf.matMul(a, b), reps);
  tf.dispose([a, b]);
  return (2 * n ** 3) / s / 1e9;
}

/** Threads the active backend computes with. */
export async function backendThreads(): Promise<number> {
  const name = tf.getBackend();
  if (name === 'wasm') {
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    return getThreadsCount();
  }
  if (name === 'tensorflow') return (await import('node:os')).cpus().length;
  return 1;
}
