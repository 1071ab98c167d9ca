/**
 * `fsrgan bench metrics`: the cost of the sample-quality metrics (src/metrics, docs/metrics.md) on N real vs N
 * generated feature vectors of dimension D (default 10,000 vs 10,000 at 128, the issue-16 target), and of
 * extracting the features of N 32x32 images with fsrgan's CNN. The features are seeded synthetic ones
 * (rectified Gaussians, the generated set shifted and narrower), so the timings need no dataset or trained
 * extractor; the metrics' cost does not depend on the values. Part of `npm run bench`.
 */
import * as tf from '@tensorflow/tfjs';
import { cpus, loadavg } from 'node:os';
import { describeChoice, initBackend } from '../backend/index.js';
import { cnnExtractor, DEFAULT_CNN, initCnn } from '../metrics/extractor.js';
import { moments, type Features } from '../metrics/features.js';
import { frechetDistance } from '../metrics/fid.js';
import { DEFAULT_KID, kid } from '../metrics/kid.js';
import { inceptionScore, softmaxRows } from '../metrics/inception-score.js';
import { knnRadii, precisionRecall } from '../metrics/precision-recall.js';
import { extract } from '../metrics/reference.js';
import { DEFAULT_SUPPORT, supportEstimate } from '../metrics/support.js';
import { Rng } from '../util/rng.js';
import { intFlag, parseFlags } from './args.js';

const USAGE = 'fsrgan bench metrics [--n N] [--dim D] [--seed N] [--backend auto|node-gpu|node|wasm|cpu] [--json]';

function synthetic(n: number, d: number, seed: number, shift: number, scale: number): Features {
  const rng = new Rng(seed, `bench-metrics/${shift}`);
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, scale * rng.normal() + shift);
  return { data, n, d };
}

interface Row {
  step: string;
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds of the process (user + system, all threads): what the step costs when the cores are shared. */
  cpu: number;
  value: string;
}

export async function runMetricsBench(argv: string[]): Promise<number> {
  const { values } = parseFlags('bench metrics', argv, { n: { type: 'string' }, dim: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) return console.log(USAGE), 0;
  const n = intFlag('n', values.n, 10_000, 16, 1_000_000);
  const d = intFlag('dim', values.dim, 128, 1, 4096);
  const seed = intFlag('seed', values.seed, 1);
  const choice = await initBackend(values.backend);
  console.error(`${describeChoice(choice)}; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${n} vs ${n} features of dimension ${d}`);
  const real = synthetic(n, d, seed, 0.2, 1);
  const fake = synthetic(n, d, seed + 1, 0.3, 0.9);
  const rows: Row[] = [];
  const time = <T>(step: string, fn: () => T, show: (v: T) => string): T => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const v = fn();
    const c = process.cpuUsage(c0);
    rows.push({ step, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, value: show(v) });
    const r = rows[rows.length - 1];
    console.error(`  ${step}: ${r.seconds.toFixed(2)} s, ${r.cpu.toFixed(2)} CPU s (${r.value})`);
    return v;
  };
  const mr = time('FID: moments of the real set (cached with the reference in use)', () => moments(real), () => `${n} x ${d}`);
  const mf = time('FID: moments of the generated set', () => moments(fake), () => `${n} x ${d}`);
  time('FID: Frechet distance (two symmetric eigendecompositions)', () => frechetDistance(mr, mf), (v) => `FID ${v.fid.toFixed(4)}`);
  time(`KID: ${DEFAULT_KID.subsets} subsets of ${DEFAULT_KID.subsetSize}`, () => kid(real, fake, { ...DEFAULT_KID, seed }), (v) => `KID ${v.kid.toFixed(5)} +- ${v.std.toFixed(5)}`);
  const radii = time('PR: k-NN radii of the real set (k = 3; cached with the reference in use)', () => knnRadii(real, 3), () => `${n} radii`);
  time('PR: precision and recall against cached real radii', () => precisionRecall(real, fake, 3, radii), (v) => `P ${v.precision.toFixed(3)} R ${v.recall.toFixed(3)}`);
  time(`support: birthday test, ${DEFAULT_SUPPORT.samples} samples per set`, () => supportEstimate(real, fake, { ...DEFAULT_SUPPORT, seed }), (v) => `s50 real ${v.real.s50}, generated ${v.fake.s50}`);
  const logits = new Float32Array(n * 10).map((_, i) => Math.sin(i * 0.37) * 3);
  time('IS: 10 splits over 10 classes', () => inceptionScore(softmaxRows(logits, n, 10), n, 10, 10), (v) => `IS ${v.score.toFixed(3)}`);
  // Feature extraction: the CNN at random init costs what a trained one does.
  const spec = { ...DEFAULT_CNN, classNames: Array.from({ length: 10 }, (_, i) => String(i)) };
  const vars = initCnn(spec, seed);
  const ex = cnnExtractor(spec, new Map([...vars.entries()]), { name: 'bench', sha256: '', path: null, info: {} });
  const images = tf.randomUniform([256, 32, 32, 3], -1, 1, 'float32', seed) as tf.Tensor4D;
  time(`extractor: features of ${n} images 32x32 (fsrgan CNN, ${spec.features}-d)`, () => extract(ex, n, (_s, m) => tf.slice(images, 0, m)), () => `${spec.channels.join('/')} channels`);
  tf.dispose([images, ...vars.values()]);
  const core = rows.filter((r) => ['FID', 'KID', 'PR'].some((p) => r.step.startsWith(p)));
  const cached = [rows[0], rows[4]];
  const total = (rs: Row[], k: 'seconds' | 'cpu') => rs.reduce((t, r) => t + r[k], 0);
  const warm = core.filter((r) => !cached.includes(r));
  rows.push({ step: 'FID + KID + precision/recall, cold (real moments and radii computed)', seconds: total(core, 'seconds'), cpu: total(core, 'cpu'), value: '' });
  rows.push({ step: 'FID + KID + precision/recall, warm (real moments and radii cached)', seconds: total(warm, 'seconds'), cpu: total(warm, 'cpu'), value: '' });
  if (values.json) console.log(JSON.stringify({ n, dim: d, backend: choice.backend, cores: cpus().length, loadavg: loadavg(), rows }, null, 1));
  else {
    const w = Math.max(...rows.map((r) => r.step.length));
    const line = (r: Row) => `${r.step.padEnd(w)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.cpu.toFixed(2).padStart(7)}  ${r.value}`;
    console.log([`${'step'.padEnd(w)}  seconds  CPU s    value`, ...rows.map(line)].join('\n'));
  }
  return 0;
}
