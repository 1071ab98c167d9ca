/**
 * Checkpoints: checkpoints/step-<8 digits>[-r<k>]/{weights.bin, state.json, manifest.json}. Weights are
 * tfjs's weight format (tf.io.encodeWeights: one binary buffer, its name/shape/dtype specs kept in
 * state.json). manifest.json lists every other file with its size and sha256 and is written last.
 *
 * Atomic: a temporary folder is filled and fsynced, renamed into place, the parent fsynced, and the
 * new checkpoint is read back and verified before older ones are pruned (the newest `keep` stay). A
 * loader verifies sizes and checksums and names what is wrong (missing, truncated, altered); a resume
 * falls back to the newest checkpoint that verifies. A failed write (full disk) removes its temporary
 * folder and leaves every earlier checkpoint as it was. `-r<k>` marks the checkpoint a divergence
 * rollback writes at the step it rolled back to (src/train/guard.ts): same step, newer state.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { RngState } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { diskError, mkdirs, syncDir, writeFileSynced } from '../util/atomic.js';
import { nextAfterStop, runPaths } from './rundir.js';

export const CHECKPOINT_VERSION = 2;

/** Divergence-guard state that later steps depend on (part of exact resume). */
export interface GuardState {
  /** Factor on train.lrG and train.lrD (lrFactor^rollbacks). */
  lrScale: number;
  /** Rollbacks so far in the run. */
  rollbacks: number;
  /** Consecutive steps with a skipped update (onNonFinite 'skip'). */
  skipsInRow: number;
}

export interface CheckpointState {
  version: typeof CHECKPOINT_VERSION;
  /** G steps completed in the whole run. */
  step: number;
  /** Index into the schedule of the stage to run next (== stages.length when done). */
  stageIndex: number;
  /** G steps completed in that stage. */
  stageStep: number;
  /** Wall seconds of training so far (across resumes). */
  wallTime: number;
  /** Every Rng stream's state. */
  rng: Record<string, RngState>;
  /** The data source's state (PyramidSource.getState). */
  source: unknown;
  /** The backend that wrote it (exact resume needs the same one). */
  backend: string;
  guard: GuardState;
  /** Size of metrics.jsonl at the checkpoint: a resume truncates the file back to it. */
  metricsBytes: number;
  /** Data-parallel replicas that trained the run (src/train/replicas.ts); absent: 1. */
  workers?: number;
}

interface StoredState extends CheckpointState {
  weightsSha256: string;
  weights: tf.io.WeightsManifestEntry[];
}

interface Manifest {
  format: 'fsrgan-checkpoint';
  version: number;
  files: { name: string; bytes: number; sha256: string }[];
}

export interface LoadedCheckpoint {
  state: CheckpointState;
  /** The sha256 of weights.bin (state.json records it): identifies the weights, e.g. for the analysis cache. */
  weightsSha256: string;
  /** Decoded tensors by name; the caller disposes them. */
  tensors: Record<string, tf.Tensor>;
  path: string;
}

const NAME = /^step-(\d{8})(?:-r(\d+))?$/;
/** The files a checkpoint's manifest lists (it does not list itself). */
const MANIFEST_FILES = ['state.json', 'weights.bin'];
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The folder name of a checkpoint at `step` (`rollback` > 0: the one written by that rollback). */
export function checkpointName(step: number, rollback = 0): string {
  return `step-${String(step).padStart(8, '0')}${rollback > 0 ? `-r${rollback}` : ''}`;
}

/** Order of checkpoint names: by step, then by rollback index. */
function rank(name: string): [number, number] {
  const m = NAME.exec(name)!;
  return [Number(m[1]), Number(m[2] ?? 0)];
}

/** Checkpoint folders of a run, newest first. */
export async function listCheckpoints(runDir: string): Promise<string[]> {
  const root = runPaths(runDir).checkpoints;
  const names = await readdir(root).catch(() => [] as string[]);
  return names
    .filter((n) => NAME.test(n))
    .sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return y[0] - x[0] || y[1] - x[1];
    })
    .map((n) => join(root, n));
}

/** Tests only: FSRGAN_TEST_SLOW_CHECKPOINT_MS sleeps between the files of a checkpoint write, so that a kill lands inside one. */
function slowdown(): Promise<void> {
  const ms = Number(process.env.FSRGAN_TEST_SLOW_CHECKPOINT_MS ?? 0);
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

export interface SaveOptions {
  /** Checkpoints to keep, newest first (default 2). */
  keep?: number;
  /** Rollback index for the name (checkpointName). */
  rollback?: number;
}

/** Saves `tensors` and `state` as a checkpoint under runDir/checkpoints; returns its folder. */
export async function saveCheckpoint(runDir: string, tensors: Record<string, tf.Tensor>, state: CheckpointState, opts: SaveOptions = {}): Promise<string> {
  const root = runPaths(runDir).checkpoints;
  const name = checkpointName(state.step, opts.rollback);
  const previous = (await listCheckpoints(runDir))[0];
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  const final = join(root, name);
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const weights = new Uint8Array(data);
  const stored: StoredState = { ...state, weightsSha256: sha256(weights), weights: specs };
  const json = Buffer.from(JSON.stringify(stored));
  const manifest: Manifest = {
    format: 'fsrgan-checkpoint',
    version: CHECKPOINT_VERSION,
    files: [
      { name: 'weights.bin', bytes: weights.byteLength, sha256: stored.weightsSha256 },
      { name: 'state.json', bytes: json.byteLength, sha256: sha256(json) },
    ],
  };
  try {
    await mkdirs(root);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    await writeFileSynced(join(tmp, 'weights.bin'), weights);
    await slowdown();
    await writeFileSynced(join(tmp, 'state.json'), json);
    await slowdown();
    await writeFileSynced(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
    await syncDir(tmp);
    await slowdown();
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    await syncDir(root);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    const kept = previous ? `the previous checkpoint ${basename(previous)} is intact` : 'no earlier checkpoint exists';
    throw diskError(e, `cannot save checkpoint ${name} in '${root}'`, `The run stopped; ${kept}.`, await nextAfterStop(runDir));
  }
  // Read back before pruning: an older checkpoint goes only once a newer one is known good.
  await verifyCheckpoint(final);
  const all = await listCheckpoints(runDir);
  for (const old of all.slice(Math.max(1, opts.keep ?? 2))) await rm(old, { recursive: true, force: true });
  return final;
}

/** A UserError-worthy description of what is wrong with a checkpoint's files, or null when they verify. */
async function manifestProblem(path: string): Promise<string | null> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return 'manifest.json is damaged (not valid JSON)';
    const old = await readFile(join(path, 'state.json'), 'utf8').then((t) => (JSON.parse(t) as { version?: number }).version === 1, () => false);
    return old ? 'written by an older fsrgan (checkpoint format 1, without manifest.json): resume it with that version' : 'manifest.json is missing (not a complete checkpoint)';
  }
  if (!manifest || typeof manifest !== 'object' || manifest.format !== 'fsrgan-checkpoint' || !Array.isArray(manifest.files)) return 'manifest.json is not an fsrgan checkpoint manifest';
  if (manifest.version !== CHECKPOINT_VERSION) return `written by another checkpoint format (version ${manifest.version}, this fsrgan reads ${CHECKPOINT_VERSION})`;
  // Exactly the checkpoint's own files, each once: a manifest that lists fewer would leave a file
  // unchecked, and a name such as '../../config.json' would read outside the checkpoint.
  const names = manifest.files.map((f) => (f && typeof f === 'object' ? f.name : undefined));
  if (names.length !== MANIFEST_FILES.length || !MANIFEST_FILES.every((n) => names.includes(n))) {
    return `manifest.json must list exactly ${MANIFEST_FILES.join(' and ')}, it lists ${JSON.stringify(names).slice(0, 200)}`;
  }
  for (const f of manifest.files) {
    if (!Number.isInteger(f.bytes) || f.bytes < 0 || typeof f.sha256 !== 'string') return `manifest.json's entry for ${f.name} has no valid size and sha256`;
  }
  for (const f of manifest.files) {
    const file = join(path, f.name);
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size < 0) return `${f.name} is missing`;
    if (size < f.bytes) return `${f.name} is truncated (${size} of ${f.bytes} bytes)`;
    if (size > f.bytes) return `${f.name} has ${size} bytes, the manifest says ${f.bytes} (altered)`;
    const got = sha256(await readFile(file));
    if (got !== f.sha256) return `${f.name} was altered or damaged: its sha256 ${got.slice(0, 12)}... differs from the manifest's ${f.sha256.slice(0, 12)}...`;
  }
  return null;
}

/** Throws an Error naming the problem when the checkpoint at `path` does not verify. */
export async function verifyCheckpoint(path: string): Promise<void> {
  const problem = await manifestProblem(path);
  if (problem) throw new Error(`checkpoint ${basename(path)}: ${problem}`);
}

/** What is wrong with a parsed state.json (hand-edited, or written by a bug), or null. */
function stateProblem(st: StoredState): string | null {
  if (!st || typeof st !== 'object' || Array.isArray(st)) return 'state.json is not an object';
  for (const k of ['step', 'stageIndex', 'stageStep'] as const) {
    if (!Number.isInteger(st[k]) || st[k] < 0) return `state.json's ${k} must be a non-negative integer, got ${st[k] === undefined ? 'nothing' : JSON.stringify(st[k])}`;
  }
  if (typeof st.wallTime !== 'number' || !Number.isFinite(st.wallTime)) return `state.json's wallTime must be a number, got ${st.wallTime === undefined ? 'nothing' : JSON.stringify(st.wallTime)}`;
  if (!st.rng || typeof st.rng !== 'object') return "state.json's rng must be an object of stream states";
  if (st.workers !== undefined && !(Number.isInteger(st.workers) && st.workers >= 1)) return `state.json's workers must be a positive integer, got ${JSON.stringify(st.workers)}`;
  if (!Array.isArray(st.weights) || typeof st.weightsSha256 !== 'string') return "state.json's weights and weightsSha256 are missing";
  return null;
}

async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  await verifyCheckpoint(path);
  let stored: StoredState;
  try {
    stored = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as StoredState;
  } catch (e) {
    throw new Error(`checkpoint ${basename(path)}: state.json is damaged (${(e as Error).message})`);
  }
  const problem = stateProblem(stored);
  if (problem) throw new Error(`checkpoint ${basename(path)}: ${problem}`);
  const bytes = await readFile(join(path, 'weights.bin'));
  // state.json carries its own hash of the weights: checked too, whatever the manifest says.
  if (sha256(bytes) !== stored.weightsSha256) throw new Error(`checkpoint ${basename(path)}: weights.bin does not match the sha256 recorded in state.json (altered or damaged)`);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let tensors: Record<string, tf.Tensor>;
  try {
    tensors = tf.io.decodeWeights(buf, stored.weights) as Record<string, tf.Tensor>;
  } catch (e) {
    throw new Error(`checkpoint ${basename(path)}: weights.bin does not match its specs in state.json (${(e as Error).message})`);
  }
  const { weightsSha256, weights: _w, ...state } = stored;
  return { state, weightsSha256, tensors, path };
}

export interface CheckpointSearch {
  /** The newest checkpoint that verifies, or null. */
  checkpoint: LoadedCheckpoint | null;
  /** Newer checkpoints that did not verify, with the reason. */
  skipped: { path: string; reason: string }[];
}

/** The newest checkpoint that verifies, and the newer ones that did not. */
export async function findCheckpoint(runDir: string): Promise<CheckpointSearch> {
  const skipped: CheckpointSearch['skipped'] = [];
  for (const path of await listCheckpoints(runDir)) {
    try {
      return { checkpoint: await readCheckpoint(path), skipped };
    } catch (e) {
      skipped.push({ path, reason: (e as Error).message });
    }
  }
  return { checkpoint: null, skipped };
}

/**
 * The newest valid checkpoint of a run (a damaged one is skipped with a warning naming the problem),
 * or null when the run has none.
 */
export async function loadLatestCheckpoint(runDir: string, warn: (msg: string) => void = console.warn): Promise<LoadedCheckpoint | null> {
  const { checkpoint, skipped } = await findCheckpoint(runDir);
  for (const s of skipped) warn(`skipping ${s.reason}${checkpoint ? `; using ${basename(checkpoint.path)}` : ''}`);
  return checkpoint;
}

/** Like loadLatestCheckpoint, but a run without a usable checkpoint is a UserError. */
export async function requireCheckpoint(runDir: string, warn?: (msg: string) => void): Promise<LoadedCheckpoint> {
  const { checkpoint, skipped } = await findCheckpoint(runDir);
  if (checkpoint) {
    for (const s of skipped) (warn ?? console.warn)(`skipping ${s.reason}; using ${basename(checkpoint.path)}`);
    return checkpoint;
  }
  if (skipped.length) throw new UserError(`no usable checkpoint in '${runDir}/checkpoints': ${skipped.map((s) => s.reason).join('; ')}.`);
  throw new UserError(`no usable checkpoint in '${runDir}/checkpoints': is this a run directory (fsrgan train --out ...)?`);
}

/**
 * Before a resume writes again (under the run's lock): removes temporary folders of interrupted writes
 * and renames checkpoints that failed verification to `damaged-<name>` (kept for inspection, out of
 * the pruning order, so they never displace a good one).
 */
export async function tidyCheckpoints(runDir: string, damaged: string[]): Promise<void> {
  const root = runPaths(runDir).checkpoints;
  for (const n of await readdir(root).catch(() => [] as string[])) if (n.startsWith('.tmp-')) await rm(join(root, n), { recursive: true, force: true });
  // Temp files of atomic writes (src/util/atomic.ts: .<name>.tmp-<pid>) that a kill left in the run folder
  // and its stage folders; the lock guarantees that no live writer owns them.
  const stages = runPaths(runDir).stages;
  const folders = [runDir, ...(await readdir(stages).catch(() => [] as string[])).map((l) => join(stages, l))];
  for (const dir of folders) {
    for (const n of await readdir(dir).catch(() => [] as string[])) if (/^\..+\.tmp-\d+$/.test(n)) await rm(join(dir, n), { force: true });
  }
  for (const p of damaged) {
    const aside = join(root, `damaged-${basename(p)}`);
    await rename(p, aside).catch(() => rename(p, `${aside}-${Date.now()}`)).catch(() => undefined);
  }
}
