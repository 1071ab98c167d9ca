/**
 * A TypeScript child process with an IPC channel, as the sweep's run processes (src/sweep/process.ts) and
 * reproduce's training processes (src/experiments/train-pool.ts) use them: forked with tsx's loader, its
 * stdout and stderr handed line by line to the parent's log, and ended by closing the channel.
 */
import { fork, type ChildProcess } from 'node:child_process';

/** Forks `entry` (a .ts file) with the tsx loader at `tsx` (a file URL); each non-empty output line goes to `log`. */
export function forkTs(entry: string, tsx: string, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = fork(entry, [], { execArgv: ['--import', tsx], env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
  const lines = (buf: Buffer) => {
    for (const l of buf.toString().split('\n')) if (l.trim()) log(l);
  };
  child.stdout!.on('data', lines);
  child.stderr!.on('data', lines);
  child.on('error', () => undefined);
  return child;
}

/** Ends an idle child: it exits when its IPC channel closes (resolves at once when it has ended already). */
export function closeChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.disconnect();
  });
}
