/**
 * Backend selection. `auto` prefers native TensorFlow (GPU, then CPU) when the optional peer packages are
 * installed, then the wasm backend that ships with fsrgan, then tfjs's pure-JS cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { UserError } from '../util/errors.js';

export const BACKENDS = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];

export interface BackendChoice {
  /** The tfjs backend name now active ('tensorflow', 'wasm' or 'cpu'). */
  backend: string;
  /** What was asked for. */
  requested: BackendRequest;
  /** Why each backend tried before the chosen one was skipped. */
  skipped: { name: BackendRequest; reason: string }[];
}

const INSTALL_HINT: Record<string, string> = {
  'node-gpu':
    'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` on a machine with internet access, CUDA 11.2 and cuDNN 8',
  node: 'install it with `npm install @tensorflow/tfjs-node@4.22.0` on a machine with internet access',
};

/** Loads an optional package by a name TypeScript does not resolve (it may be absent). */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

async function tryNative(which: 'node-gpu' | 'node'): Promise<string | null> {
  const pkg = which === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  try {
    await importOptional(pkg);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/Cannot find (module|package)|Could not resolve|Is it installed/.test(msg) || (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      return `${pkg} is not installed`;
    }
    return `${pkg} failed to load (${msg.split('\n')[0]})`;
  }
  if (!(await tf.setBackend('tensorflow'))) return `${pkg} loaded but the 'tensorflow' backend did not initialise`;
  return null;
}

let current: BackendChoice | null = null;

/** The backend chosen by the last `initBackend` call, or null before the first. */
export function currentBackend(): BackendChoice | null {
  return current;
}

/**
 * Chooses and initialises a tfjs backend. `request` defaults to `$FSRGAN_BACKEND`, then `auto`.
 * Throws a UserError naming the install command when an explicitly requested backend is unavailable.
 */
export async function initBackend(request?: string): Promise<BackendChoice> {
  const req = (request ?? process.env.FSRGAN_BACKEND ?? 'auto') as BackendRequest;
  if (!BACKENDS.includes(req)) {
    throw new UserError(`Unknown backend '${req}' (from --backend or FSRGAN_BACKEND): use one of ${BACKENDS.join(', ')}.`);
  }
  const order: BackendRequest[] = req === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [req];
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    let reason: string | null;
    if (name === 'node-gpu' || name === 'node') {
      reason = await tryNative(name);
    } else {
      reason = (await tf.setBackend(name)) ? null : `the ${name} backend did not initialise`;
    }
    if (reason === null) {
      await tf.ready();
      // The cpu backend's first write prints a banner recommending tfjs-node; fsrgan already says which
      // backend runs and why (describeChoice), so the banner is only noise in logs and tests.
      if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
      const { registerFastKernels } = await import('../ops/kernels.js');
      registerFastKernels(tf.getBackend());
      current = { backend: tf.getBackend(), requested: req, skipped };
      return current;
    }
    if (req !== 'auto') {
      const hint = INSTALL_HINT[name] ? `; ${INSTALL_HINT[name]}, or use --backend wasm` : '';
      throw new UserError(`Backend '${name}' is not available: ${reason}${hint}.`);
    }
    skipped.push({ name, reason });
  }
  throw new UserError('No tfjs backend could be initialised (tried node-gpu, node, wasm, cpu).');
}

/** One line that says which backend runs and why the others were skipped. */
export function describeChoice(c: BackendChoice): string {
  const why = c.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return `backend ${c.backend}${c.requested === 'auto' ? ' (auto' + (why ? `; skipped ${why}` : '') + ')' : ''}`;
}
