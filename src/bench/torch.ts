/**
 * The PyTorch anchor of `fsrgan bench train --vs torch`: bench/torch_twin.py as a long-lived child process
 * that times N steps of the identical architecture on request, so that fsrgan and PyTorch runs alternate
 * within one invocation (the cores are shared; only ratios measured side by side travel). Run the way
 * docs/engine.md measured it: Debian's /usr/bin/python3 with python3-torch, OPENBLAS_NUM_THREADS=1,
 * 2 threads.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { UserError } from '../util/errors.js';
import type { ArchSpec } from './arch.js';

export const TORCH_PYTHON = '/usr/bin/python3';

export interface TorchRun {
  imagesPerSec: number;
  secondsPerStep: number;
  steps: number;
  threads: number;
  torch: string;
}

function hasTorch(): boolean {
  return spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure Debian's python3-torch is importable by /usr/bin/python3, running bench/setup-torch.sh
 * (apt-get) when it is not. Throws a UserError saying what to install when that fails.
 */
export function ensureTorch(root: string, log: (line: string) => void = () => {}): void {
  if (hasTorch()) return;
  log('PyTorch is missing: running bench/setup-torch.sh (apt-get install python3-torch libopenblas0-pthread)');
  const r = spawnSync('sh', [join(root, 'bench', 'setup-torch.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 || !hasTorch()) {
    throw new UserError(
      `--vs torch needs Debian's python3-torch for ${TORCH_PYTHON}; bench/setup-torch.sh could not install it ` +
        '(run `sudo apt-get install python3-torch libopenblas0-pthread`, or leave out --vs torch).',
    );
  }
}

export class TorchTwin {
  private readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private stderr = '';
  private ended = false;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams, private readonly dir: string) {
    this.lines = createInterface({ input: proc.stdout });
    this.lines.on('line', (l) => this.push(l));
    this.lines.on('close', () => {
      this.ended = true;
      this.push(null);
    });
    proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
  }

  private push(line: string | null): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w(line);
    else if (line !== null) this.queue.push(line);
  }

  private async nextJson(): Promise<Record<string, unknown>> {
    const line = this.queue.shift() ?? (this.ended ? null : await new Promise<string | null>((r) => (this.waiter = r)));
    if (line === null) throw new Error(`bench/torch_twin.py ended unexpectedly:\n${this.stderr.trim()}`);
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`bench/torch_twin.py printed a line that is not JSON: ${line}`);
    }
  }

  /** Starts the twin on `arch` (written to a temp file) and waits until its warm-up steps are done. */
  static async start(root: string, arch: ArchSpec, opts: { threads?: number; warmup?: number } = {}): Promise<TorchTwin> {
    const dir = mkdtempSync(join(tmpdir(), 'fsrgan-torch-'));
    const file = join(dir, `${arch.name}.arch.json`);
    writeFileSync(file, JSON.stringify(arch));
    const args = [join(root, 'bench', 'torch_twin.py'), file, '--serve', '--threads', String(opts.threads ?? 2), '--warmup', String(opts.warmup ?? 2)];
    const proc = spawn(TORCH_PYTHON, args, { env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(opts.threads ?? 2) } });
    const twin = new TorchTwin(proc, dir);
    const ready = await twin.nextJson();
    if (ready.ready !== true) throw new Error(`bench/torch_twin.py: expected a ready line, got ${JSON.stringify(ready)}`);
    return twin;
  }

  /** Times `steps` steps in the twin. */
  async run(steps: number): Promise<TorchRun> {
    this.proc.stdin.write(`run ${steps}\n`);
    return (await this.nextJson()) as unknown as TorchRun;
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.proc.stdin.write('quit\n');
      this.proc.stdin.end();
      await new Promise<void>((r) => (this.proc.exitCode !== null ? r() : this.proc.once('exit', () => r())));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
