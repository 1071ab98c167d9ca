/**
 * Mean all-reduce of Float32Arrays among `world` replicas (threads) over one SharedArrayBuffer.
 *
 * Every replica writes its vector into its own slot, waits at a barrier, then sums the slots in rank order
 * itself. All replicas therefore compute the same float operations in the same order and get bit-identical
 * means, so replicas that apply the same optimiser to them stay bit-identical (docs/speed.md). Slots are
 * double-buffered by call parity: a replica writes call t+2's slots (the buffer of call t) only after
 * passing call t+1's barrier, which every replica reaches only after it has finished reading call t's
 * slots. So one barrier per call suffices. A call may be split (start, other work, finish): at most one
 * is open per replica, so the same argument holds.
 */

/** Control words: arrivals at the current barrier, barrier generation, abort flag. */
const COUNT = 0;
const GEN = 1;
const ABORT = 2;
const CONTROL_BYTES = 16;

export interface SharedMeanLayout {
  /** The shared memory (control words, then 2 x world slots of `capacity` floats). */
  buffer: SharedArrayBuffer;
  world: number;
  /** Floats per slot: the longest vector a call may reduce. */
  capacity: number;
}

/** Allocates the shared memory for `world` replicas reducing vectors of up to `capacity` floats. */
export function allocSharedMean(world: number, capacity: number): SharedMeanLayout {
  if (!Number.isInteger(world) || world < 1) throw new Error(`allocSharedMean: world must be a positive integer, got ${world}`);
  const cap = Math.max(1, Math.ceil(capacity));
  return { buffer: new SharedArrayBuffer(CONTROL_BYTES + 2 * world * cap * 4), world, capacity: cap };
}

/** Thrown in every replica when one replica aborted (its step failed) or a barrier timed out. */
export class ReplicaAbort extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaAbort';
  }
}

export class SharedMean {
  private readonly ctl: Int32Array;
  private readonly slots: Float32Array;
  private calls = 0;
  /** The reduction between start() and finish(). */
  private pending: { v: Float32Array; base: number; gen: number } | null = null;

  /** `timeoutMs`: how long a barrier waits for the other replicas before giving up. */
  constructor(readonly layout: SharedMeanLayout, readonly rank: number, readonly timeoutMs = 600_000) {
    if (!(rank >= 0 && rank < layout.world)) throw new Error(`SharedMean: rank ${rank} is outside world ${layout.world}`);
    this.ctl = new Int32Array(layout.buffer, 0, CONTROL_BYTES / 4);
    this.slots = new Float32Array(layout.buffer, CONTROL_BYTES);
  }

  /** Replaces `v` (same length on every replica, at most `capacity`) by the mean over replicas, in place. */
  meanInPlace(v: Float32Array): void {
    this.start(v);
    this.finish();
  }

  /**
   * The first half of meanInPlace: contributes `v` and arrives at the barrier without waiting, so the
   * caller can do work that does not need the mean before `finish()` (docs/speed.md: the replica that
   * arrives first otherwise idles while the other finishes its phase). `v` must not change until then.
   */
  start(v: Float32Array): void {
    const { world, capacity } = this.layout;
    if (this.pending) throw new Error('SharedMean.start: the previous reduction was not finished');
    if (v.length > capacity) throw new Error(`SharedMean.start: vector of ${v.length} floats exceeds the capacity ${capacity}`);
    if (world === 1) {
      this.pending = { v, base: 0, gen: 0 };
      return;
    }
    const base = (this.calls++ % 2) * world * capacity;
    this.slots.set(v, base + this.rank * capacity);
    this.pending = { v, base, gen: this.arrive() };
  }

  /** Waits for every replica's contribution to the started reduction and replaces its vector by the mean. */
  finish(): void {
    const p = this.pending;
    if (!p) throw new Error('SharedMean.finish: no reduction was started');
    this.pending = null;
    const { world, capacity } = this.layout;
    if (world === 1) return;
    this.waitPast(p.gen);
    const { v, base } = p;
    const n = v.length;
    const inv = 1 / world;
    const s = this.slots;
    // Fixed rank order: the same float sums on every replica.
    for (let i = 0; i < n; i++) {
      let acc = s[base + i];
      for (let r = 1; r < world; r++) acc += s[base + r * capacity + i];
      v[i] = acc * inv;
    }
  }

  /** Blocks until every replica has arrived (generation-counting barrier). */
  barrier(): void {
    this.waitPast(this.arrive());
  }

  /** Counts this replica in at the current barrier; returns the generation to wait past. */
  private arrive(): number {
    const ctl = this.ctl;
    const gen = Atomics.load(ctl, GEN);
    if (Atomics.load(ctl, ABORT)) throw new ReplicaAbort('another replica aborted');
    if (Atomics.add(ctl, COUNT, 1) === this.layout.world - 1) {
      Atomics.store(ctl, COUNT, 0);
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
    }
    return gen;
  }

  /** Blocks until the barrier of generation `gen` has been passed (every replica arrived). */
  private waitPast(gen: number): void {
    const ctl = this.ctl;
    if (Atomics.load(ctl, GEN) !== gen) return;
    const deadline = Date.now() + this.timeoutMs;
    // A short spin first: the other replica is usually close behind, and waking from Atomics.wait costs ~50 us.
    for (let i = 0; i < 2000; i++) if (Atomics.load(ctl, GEN) !== gen) return;
    while (Atomics.load(ctl, GEN) === gen) {
      Atomics.wait(ctl, GEN, gen, 100);
      if (Atomics.load(ctl, ABORT)) throw new ReplicaAbort('another replica aborted');
      if (Date.now() > deadline) {
        this.abort();
        throw new ReplicaAbort(`barrier timed out after ${this.timeoutMs} ms`);
      }
    }
  }

  /** Makes every replica's current and next barrier throw (called when a replica's step fails). */
  abort(): void {
    Atomics.store(this.ctl, ABORT, 1);
    Atomics.notify(this.ctl, GEN);
  }
}
