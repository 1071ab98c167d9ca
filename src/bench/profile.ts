/**
 * Kernel-level profile of a function on a synchronous backend (wasm, cpu): every registered kernel of the
 * backend is wrapped with a timer for the duration of the call. Kernels built from other kernels (fsrgan's
 * Conv2DBackpropFilter / Conv2DBackpropInput on wasm) report their self time (own time minus the nested
 * kernels they ran) next to their total, so the rows add up to the wall time. tf.profile, by contrast,
 * reads every output back for a NaN check, which distorts small kernels. Times are this process's CPU
 * time (user + system), not wall time: the backend computes on the calling thread, and CPU time does not
 * count the time other processes on a shared machine take from it.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelRow {
  kernel: string;
  calls: number;
  /** Time inside the kernel, nested kernels included (ms). */
  totalMs: number;
  /** Time inside the kernel minus nested kernels (ms). */
  selfMs: number;
}

export interface KernelProfile {
  rows: KernelRow[];
  /** Outermost kernel calls (nested ones are not counted). */
  calls: number;
  /** All kernel calls, nested included. */
  allCalls: number;
  /** CPU time of the whole call (ms); minus the kernels' self time it is JS overhead (tape, tidy, ...). */
  cpuMs: number;
}

/**
 * Runs `fn` once with every kernel of the active backend timed. Restores the kernels afterwards.
 * `byShape` splits each kernel's row by its input shapes.
 */
/** CPU milliseconds used by this process so far. */
function nowCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function profileKernels(fn: () => void, byShape = false): KernelProfile {
  const backend = tf.getBackend();
  const configs = tf.getKernelsForBackend(backend);
  const rows = new Map<string, KernelRow>();
  const stack: number[] = [];
  let calls = 0;
  let allCalls = 0;
  const wrap = (cfg: tf.KernelConfig): tf.KernelFunc => (args) => {
    allCalls++;
    if (stack.length === 0) calls++;
    stack.push(0);
    const t0 = nowCpuMs();
    try {
      return cfg.kernelFunc(args);
    } finally {
      const dt = nowCpuMs() - t0;
      const nested = stack.pop()!;
      if (stack.length) stack[stack.length - 1] += dt;
      const key = byShape ? `${cfg.kernelName} ${Object.values(args.inputs).map((t) => `[${t?.shape}]`).join(' ')}` : cfg.kernelName;
      const r = rows.get(key) ?? { kernel: key, calls: 0, totalMs: 0, selfMs: 0 };
      r.calls++;
      r.totalMs += dt;
      r.selfMs += dt - nested;
      rows.set(key, r);
    }
  };
  const swap = (make: (c: tf.KernelConfig) => tf.KernelConfig) => {
    for (const c of configs) {
      tf.unregisterKernel(c.kernelName, backend);
      tf.registerKernel(make(c));
    }
  };
  swap((c) => ({ ...c, kernelFunc: wrap(c) }));
  const t0 = nowCpuMs();
  try {
    fn();
  } finally {
    swap((c) => c);
  }
  const cpuMs = nowCpuMs() - t0;
  return { rows: [...rows.values()].sort((a, b) => b.selfMs - a.selfMs), calls, allCalls, cpuMs };
}

const byShapeWidth = (p: KernelProfile) => Math.min(70, Math.max(24, ...p.rows.map((r) => r.kernel.length)));

/** A text table of the top `top` kernels by self time. */
export function formatProfile(p: KernelProfile, top = 15): string {
  const self = p.rows.reduce((a, r) => a + r.selfMs, 0);
  const lines = [
    `${p.calls} kernel calls (${p.allCalls} with nested), CPU ${p.cpuMs.toFixed(1)} ms, kernels ${self.toFixed(1)} ms, other JS ${(p.cpuMs - self).toFixed(1)} ms`,
    `  ${'kernel'.padEnd(byShapeWidth(p))} ${'calls'.padStart(6)} ${'self ms'.padStart(9)} ${'total ms'.padStart(9)}`,
  ];
  for (const r of p.rows.slice(0, top)) {
    lines.push(`  ${r.kernel.padEnd(byShapeWidth(p))} ${String(r.calls).padStart(6)} ${r.selfMs.toFixed(2).padStart(9)} ${r.totalMs.toFixed(2).padStart(9)}`);
  }
  return lines.join('\n');
}
