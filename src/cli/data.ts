/** `fsrgan data preview`: one PNG grid per resolution, per-resolution statistics and the source's license. */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../backend/index.js';
import { applySets, readJsonFile } from '../util/config.js';
import { outputError, UserError } from '../util/errors.js';
import { openSource, PyramidStats, type LevelStats, type PyramidSource } from '../data/index.js';
import { writeGridPng } from '../util/png.js';
import { intFlag, parseFlags } from './args.js';

const USAGE =
  'fsrgan data preview --dataset <emoji|fashion-mnist|teacher.json|folder> --out <dir> [--n 64] [--seed N] ' +
  '[--resolution 32] [--min-resolution 4] [--recursive] [--config dataset.json] [--set key=value ...] [--stats-samples N] [--backend B]';

export interface PreviewOptions {
  n: number;
  /** Samples the statistics are computed over; default one epoch of a finite dataset (at most 10,000), else 1,024. */
  statsSamples?: number;
  log?: (line: string) => void;
}

export interface PreviewResult {
  files: string[];
  stats: LevelStats[];
  describe: Record<string, unknown>;
}

/**
 * Writes preview-r<r>.png for each resolution (the first `n` images of the source, small levels scaled up
 * to at least 64 px per tile) and returns per-resolution statistics. The source's state is restored after.
 */
export async function previewSource(source: PyramidSource, outDir: string, opts: PreviewOptions): Promise<PreviewResult> {
  const start = source.getState();
  const levels = source.batch(opts.n);
  const files: string[] = [];
  try {
    for (const x of levels) {
      const r = x.shape[1];
      const file = join(outDir, `preview-r${r}.png`);
      await writeGridPng(file, x, { scale: Math.max(1, Math.round(64 / r)), gap: 2, background: 128 });
      files.push(file);
    }
  } finally {
    tf.dispose(levels);
  }
  // From the start of a finite dataset, at most one epoch: each image counts once.
  const d = source.describe();
  const total = opts.statsSamples ?? (typeof d.size === 'number' ? Math.min(d.size, 10_000) : 1024);
  source.setState(start);
  const acc = new PyramidStats();
  for (let done = 0; done < total; ) {
    const m = Math.min(256, total - done);
    const b = source.batch(m);
    acc.add(b);
    tf.dispose(b);
    done += m;
  }
  source.setState(start);
  return { files, stats: acc.result(), describe: d };
}

async function preview(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    'data preview',
    argv,
    {
      dataset: { type: 'string' },
      out: { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      resolution: { type: 'string' },
      'min-resolution': { type: 'string' },
      recursive: { type: 'boolean' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      'stats-samples': { type: 'string' },
      backend: { type: 'string' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (!values.dataset) throw new UserError(`--dataset is required.\nUsage: ${USAGE}`);
  if (!values.out) throw new UserError(`--out is required (the folder for the PNG grids).\nUsage: ${USAGE}`);
  let config = (values.config ? await readJsonFile(values.config, 'dataset config') : {}) as Record<string, unknown>;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UserError(`dataset config '${values.config}' must be a JSON object.`);
  if (values.seed !== undefined) config.seed = intFlag('seed', values.seed, 0, 0, 2 ** 32 - 1);
  if (values.resolution !== undefined) config.resolution = intFlag('resolution', values.resolution, 32, 1, 4096);
  if (values['min-resolution'] !== undefined) config.minResolution = intFlag('min-resolution', values['min-resolution'], 4, 1, 4096);
  if (values.recursive) config.folder = { ...(config.folder as object), recursive: true };
  config = applySets(config, values.set ?? []);
  const n = intFlag('n', values.n, 64, 1, 4096);
  const statsSamples = values['stats-samples'] === undefined ? undefined : intFlag('stats-samples', values['stats-samples'], 1024, 1, 1_000_000);
  await initBackend(values.backend);

  const source = await openSource(values.dataset, {
    config,
    onProgress: (line) => console.error(line),
    onMessage: (p) => console.error(`${p.file}: ${p.action} (${p.reason})`),
  });
  const { files, stats, describe } = await previewSource(source, values.out, { n, statsSamples }).catch((e) => {
    throw outputError(e, values.out!, 'the preview folder');
  });
  const fmt = (v: number[]) => `[${v.map((x) => x.toFixed(3)).join(', ')}]`;
  const size =
    typeof describe.size === 'number'
      ? `${describe.size} images${typeof describe.total === 'number' && describe.total > describe.size ? ` (of ${describe.total}; the rest held out)` : ''}`
      : 'unbounded (generated)';
  console.log(`dataset ${describe.name}: ${size}, resolutions ${source.resolutions.join(', ')}`);
  console.log(`statistics over ${stats[0]?.count ?? 0} images:`);
  for (const s of stats) console.log(`  r=${String(s.resolution).padStart(3)}  mean ${fmt(s.mean)}  std ${fmt(s.std)}  min ${s.min.toFixed(3)}  max ${s.max.toFixed(3)}`);
  console.log(`license: ${describe.license ?? 'unknown'}`);
  if (describe.attribution) console.log(`attribution: ${describe.attribution}`);
  for (const f of files) console.log(`wrote ${f}`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'preview') return preview(rest);
  if (!sub || sub === '--help' || sub === '-h') return console.log(`Usage: ${USAGE}`), sub ? 0 : 1;
  throw new UserError(`unknown subcommand 'data ${sub}'.\nUsage: ${USAGE}`);
}
