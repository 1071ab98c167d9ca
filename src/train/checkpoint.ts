/**
 * Checkpoints: checkpoints/step-<8 digits>/{weights.bin, state.json}. Weights are tfjs's weight format
 * (tf.io.encodeWeights: one binary buffer plus a manifest of name/shape/dtype, kept in state.json with
 * the buffer's sha256). Written atomically: a temporary folder is filled and fsynced, then renamed into
 * place; the previous good checkpoint is kept. A loader takes the newest checkpoint whose weights match
 * their recorded hash, so a run killed mid-write resumes from the one before.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RngState } from '../util/rng.js';
import { UserError } from '../util/errors.js';

export interface CheckpointState {
  version: 1;
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
}

interface StoredState extends CheckpointState {
  weightsSha256: string;
  weights: tf.io.WeightsManifestEntry[];
}

export interface LoadedCheckpoint {
  state: CheckpointState;
  /** Decoded tensors by name; the caller disposes them. */
  tensors: Record<string, tf.Tensor>;
  path: string;
}

const stepDir = (step: number) => `step-${String(step).padStart(8, '0')}`;

async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Saves `tensors` and `state` as checkpoints/step-N under runDir; keeps the newest `keep` checkpoints. */
export async function saveCheckpoint(runDir: string, tensors: Record<string, tf.Tensor>, state: CheckpointState, keep = 2): Promise<string> {
  const root = join(runDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = new Uint8Array(data);
  const stored: StoredState = { ...state, weightsSha256: createHash('sha256').update(bytes).digest('hex'), weights: specs };
  const tmp = join(root, `.tmp-${stepDir(state.step)}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  await writeSynced(join(tmp, 'weights.bin'), bytes);
  await writeSynced(join(tmp, 'state.json'), JSON.stringify(stored));
  await syncDir(tmp);
  const final = join(root, stepDir(state.step));
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await syncDir(root);
  const all = (await readdir(root)).filter((n) => /^step-\d{8}$/.test(n)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(join(root, old), { recursive: true, force: true });
  return final;
}

async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const stored = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as StoredState;
  const bytes = await readFile(join(path, 'weights.bin'));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== stored.weightsSha256) throw new Error(`weights.bin hash ${sha.slice(0, 12)} does not match state.json`);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buf, stored.weights) as Record<string, tf.Tensor>;
  const { weightsSha256: _h, weights: _w, ...state } = stored;
  return { state, tensors, path };
}

/** Checkpoint folders of a run, newest first. */
export async function listCheckpoints(runDir: string): Promise<string[]> {
  const root = join(runDir, 'checkpoints');
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  return names.filter((n) => /^step-\d{8}$/.test(n)).sort().reverse().map((n) => join(root, n));
}

/**
 * The newest valid checkpoint of a run (a corrupt or half-written one is skipped with a warning), or
 * null when the run has none.
 */
export async function loadLatestCheckpoint(runDir: string, warn: (msg: string) => void = console.warn): Promise<LoadedCheckpoint | null> {
  for (const path of await listCheckpoints(runDir)) {
    try {
      return await readCheckpoint(path);
    } catch (e) {
      warn(`skipping checkpoint ${path}: ${(e as Error).message}`);
    }
  }
  return null;
}

/** Like loadLatestCheckpoint, but a run without a usable checkpoint is a UserError. */
export async function requireCheckpoint(runDir: string): Promise<LoadedCheckpoint> {
  const ck = await loadLatestCheckpoint(runDir);
  if (!ck) throw new UserError(`no usable checkpoint in '${runDir}/checkpoints': is this a run directory (fsrgan train --out ...)?`);
  return ck;
}
