/**
 * A sweep's progress on the terminal: how many runs are done (of which complete already), running,
 * failed and waiting, and an ETA from the G steps still to train over the steps per second trained so far
 * in this session (every process together). On a TTY the status line is rewritten in place; otherwise a
 * line is printed at each change of counts.
 */

export type RunState = 'waiting' | 'running' | 'done' | 'failed';

interface Entry {
  state: RunState;
  steps: number;
  /** G steps trained when last heard of (progress events). */
  at: number;
  reused: boolean;
}

/** 75 -> '1m15s'. */
export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private runs = new Map<string, Entry>();
  private trained = 0;
  private readonly t0 = performance.now();
  private lastLine = '';
  private lastDraw = 0;

  constructor(
    private readonly name: string,
    runs: { id: string; steps: number }[],
    private readonly out: { tty: boolean; write: (s: string) => void; line: (s: string) => void },
  ) {
    for (const r of runs) this.runs.set(r.id, { state: 'waiting', steps: r.steps, at: 0, reused: false });
  }

  /** Sets a run's state and shows the status (`quiet`: not now; a later change or draw shows it). */
  set(id: string, state: RunState, opts: { reused?: boolean; quiet?: boolean } = {}): void {
    const e = this.runs.get(id);
    if (!e) return;
    e.state = state;
    if (state === 'done') {
      e.reused = opts.reused ?? false;
      // Steps trained since the last progress event count toward the rate (not those of a run found complete).
      if (!e.reused) this.trained += Math.max(0, e.steps - e.at);
      e.at = e.steps;
    }
    if (!opts.quiet) this.draw(true);
  }

  /** A progress event: the run is at G step `step`. */
  step(id: string, step: number): void {
    const e = this.runs.get(id);
    if (!e) return;
    // The first event of a resumed run counts from where it resumed, not from 0.
    if (e.at === 0 && step > 1) e.at = step - 1;
    if (step > e.at) this.trained += step - e.at;
    e.at = Math.max(e.at, step);
    this.draw(false);
  }

  counts(): Record<RunState, number> & { reused: number } {
    const c = { waiting: 0, running: 0, done: 0, failed: 0, reused: 0 };
    for (const e of this.runs.values()) {
      c[e.state]++;
      if (e.state === 'done' && e.reused) c.reused++;
    }
    return c;
  }

  /** Seconds left at the rate trained so far (null before any step). */
  eta(): number | null {
    const secs = (performance.now() - this.t0) / 1000;
    if (this.trained === 0 || secs <= 0) return null;
    let left = 0;
    for (const e of this.runs.values()) if (e.state === 'waiting' || e.state === 'running') left += Math.max(0, e.steps - e.at);
    return left / (this.trained / secs);
  }

  line(): string {
    const c = this.counts();
    const eta = this.eta();
    const total = this.runs.size;
    return `sweep ${this.name}: ${c.done}/${total} done${c.reused ? ` (${c.reused} complete already)` : ''}, ${c.running} running, ${c.failed} failed, ${c.waiting} waiting${eta === null || c.done === total ? '' : `; ETA ${duration(eta)}`}`;
  }

  /** Prints the status: in place on a TTY (at most twice a second for steps), else only when counts change. */
  draw(changed: boolean): void {
    const line = this.line();
    if (this.out.tty) {
      const now = performance.now();
      if (!changed && now - this.lastDraw < 500) return;
      this.lastDraw = now;
      this.out.write(`\r${line}\x1b[K`);
    } else if (changed && line.replace(/; ETA.*/, '') !== this.lastLine.replace(/; ETA.*/, '')) {
      this.out.line(line);
    }
    this.lastLine = line;
  }

  /** A log line above the status line. */
  log(s: string): void {
    if (this.out.tty) this.out.write(`\r\x1b[K${s}\n`);
    else this.out.line(s);
    if (this.out.tty) this.draw(true);
  }

  /** Ends the status line (TTY). */
  finish(): void {
    if (this.out.tty) this.out.write(`\r${this.line()}\x1b[K\n`);
  }
}
