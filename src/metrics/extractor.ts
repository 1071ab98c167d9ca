/**
 * Feature extractors for the sample-quality metrics (docs/metrics.md): fsrgan's own small classifier per
 * dataset (trained offline by train-extractor.ts, stored as tfjs model artifacts: model.json with a
 * weightsManifest plus weights.bin, the format tf.io writes) or a user-supplied tfjs graph model such as an
 * Inception-v3 (graph-model.ts). Both load synchronously from disk, never from the network, and carry a
 * content hash that every metric report names.
 *
 * The classifier: three 3x3 stride-2 convolutions with ReLU (32 -> 16 -> 8 -> 4), a dense ReLU layer whose
 * 128 outputs are the features (FID, KID, precision/recall, support) and a linear head over the dataset's
 * classes (Inception Score). Small on purpose: it trains in about a minute on 2 cores and extracts 10,000
 * images in seconds. Features of a classifier trained on the data itself are what FID's Inception features
 * are for ImageNet-like images (Heusel et al. 2017 use the pool3 layer of a classifier); they make the
 * numbers comparable within fsrgan, not with published FIDs (for those, plug in an Inception graph model).
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdirs, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { loadGraphExtractor, type GraphOptions } from './graph-model.js';
import { contentHash, readWeights, resizeTo, type Extractor } from './model-files.js';

export { contentHash, resizeTo, type Extractor } from './model-files.js';

/** The architecture of fsrgan's classifier (modelTopology of its model.json). */
export interface CnnSpec {
  kind: 'fsrgan-cnn';
  /** Side of the input images (others are resized bilinearly). */
  inputSize: number;
  /** Channels of the stride-2 3x3 convolutions. */
  channels: number[];
  /** Feature dimension: outputs of the dense layer before the head. */
  features: number;
  /** Class names, in label order; the head has one logit per class. */
  classNames: string[];
}

export const DEFAULT_CNN: Omit<CnnSpec, 'classNames'> = { kind: 'fsrgan-cnn', inputSize: 32, channels: [32, 64, 64], features: 128 };

/** Parameter names and shapes of a CNN spec, in weightsManifest order. */
export function cnnShapes(spec: CnnSpec): [string, number[]][] {
  const out: [string, number[]][] = [];
  let cin = 3;
  spec.channels.forEach((c, i) => {
    out.push([`conv${i + 1}.w`, [3, 3, cin, c]], [`conv${i + 1}.b`, [c]]);
    cin = c;
  });
  let side = spec.inputSize;
  for (let i = 0; i < spec.channels.length; i++) side = Math.ceil(side / 2);
  out.push(['dense.w', [side * side * cin, spec.features]], ['dense.b', [spec.features]]);
  out.push(['head.w', [spec.features, spec.classNames.length]], ['head.b', [spec.classNames.length]]);
  return out;
}

/** He-normal weights (ReLU; He et al. 2015) and zero biases, from Rng(seed, 'metrics/extractor-init'). */
export function initCnn(spec: CnnSpec, seed: number): Map<string, tf.Variable> {
  const rng = new Rng(seed, 'metrics/extractor-init');
  const vars = new Map<string, tf.Variable>();
  for (const [name, shape] of cnnShapes(spec)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? size / shape[shape.length - 1] : 1;
    const data = name.endsWith('.b') ? new Float32Array(size) : rng.normals(size, Math.sqrt(2 / fanIn));
    const init = tf.tensor(data, shape);
    vars.set(name, tf.variable(init, true));
    init.dispose();
  }
  return vars;
}

/** The CNN's forward pass: features (post-ReLU dense layer) and logits. Call inside tf.tidy. */
export function cnnForward(spec: CnnSpec, p: Map<string, tf.Tensor>, x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
  let h: tf.Tensor4D = resizeTo(x, spec.inputSize);
  spec.channels.forEach((_, i) => {
    h = tf.relu(tf.add(tf.conv2d(h, p.get(`conv${i + 1}.w`) as tf.Tensor4D, 2, 'same'), p.get(`conv${i + 1}.b`)!)) as tf.Tensor4D;
  });
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  const features = tf.relu(tf.add(tf.matMul(flat, p.get('dense.w') as tf.Tensor2D), p.get('dense.b')!)) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(features, p.get('head.w') as tf.Tensor2D), p.get('head.b')!) as tf.Tensor2D;
  return { features, logits };
}

/** An Extractor over in-memory CNN weights (tensors owned by it). */
export function cnnExtractor(spec: CnnSpec, params: Map<string, tf.Tensor>, meta: { name: string; sha256: string; path: string | null; info: Record<string, unknown> }): Extractor {
  return {
    ...meta,
    kind: 'fsrgan-cnn',
    inputSize: spec.inputSize,
    featureDim: spec.features,
    classNames: spec.classNames,
    apply: (x) => tf.tidy(() => cnnForward(spec, params, x)),
    dispose: () => tf.dispose([...params.values()]),
  };
}

/** model.json of fsrgan's extractor format. */
interface CnnModelJson {
  format: 'fsrgan-extractor';
  generatedBy: string;
  modelTopology: CnnSpec;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata: { fsrgan: Record<string, unknown> };
}

/**
 * Writes a trained CNN as `<dir>/model.json` + `<dir>/weights.bin` (the tfjs artifacts layout); returns the
 * content hash recorded in model.json (info.sha256).
 */
export async function saveCnn(dir: string, spec: CnnSpec, params: Map<string, tf.Tensor>, info: Record<string, unknown>): Promise<string> {
  const named = cnnShapes(spec).map(([name]) => ({ name, tensor: params.get(name)! }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data as ArrayBuffer);
  const sha256 = contentHash(spec, bytes);
  const json: CnnModelJson = {
    format: 'fsrgan-extractor',
    generatedBy: 'fsrgan metrics train-extractor',
    modelTopology: spec,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    userDefinedMetadata: { fsrgan: { ...info, sha256 } },
  };
  await mkdirs(dir);
  await writeFileAtomic(join(dir, 'weights.bin'), bytes);
  // model.json last: a folder with model.json holds a complete extractor.
  await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(json, null, 1) + '\n');
  return sha256;
}

/** Options of loadExtractor for graph models (src/analysis/config.ts metrics.graph). */
export type LoadOptions = GraphOptions;

/**
 * Loads an extractor from a model.json path, synchronously (the measurement registry runs synchronously):
 * fsrgan's own format, or a tfjs graph model (`format: 'graph-model'`, e.g. a converted Inception-v3).
 * A missing or foreign file is a UserError naming the path and the fix.
 */
export function loadExtractor(path: string, graph: LoadOptions): Extractor {
  const st = existsSync(path) ? statSync(path) : null;
  if (!st) throw new UserError(`the feature extractor '${path}' does not exist: train one with \`fsrgan metrics train-extractor --dataset NAME --out DIR\` and pass DIR/model.json, or leave metrics.extractor empty for the default.`);
  if (st.isDirectory()) return loadExtractor(join(path, 'model.json'), graph);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`the feature extractor '${path}' is not a model.json (${(e as Error).message.split('\n')[0]}): pass the model.json of a tfjs model.`);
  }
  if (json.format === 'fsrgan-extractor') return loadCnn(path, json as unknown as CnnModelJson);
  const topo = json.modelTopology as { node?: unknown } | undefined;
  if (json.format === 'graph-model' || Array.isArray(topo?.node)) return loadGraphExtractor(path, json, graph);
  throw new UserError(
    `the feature extractor '${path}' is neither fsrgan's (format 'fsrgan-extractor') nor a tfjs graph model (format 'graph-model'); a Keras layers model must be converted with tensorflowjs_converter --output_format tfjs_graph_model.`,
  );
}

function loadCnn(path: string, json: CnnModelJson): Extractor {
  const spec = json.modelTopology;
  const bytes = readWeights(path, json.weightsManifest);
  const sha256 = contentHash(spec, bytes);
  const info = json.userDefinedMetadata?.fsrgan ?? {};
  if (info.sha256 !== undefined && info.sha256 !== sha256) {
    throw new UserError(`the weights of the extractor '${path}' do not match the hash in its model.json (damaged or replaced): train it again with fsrgan metrics train-extractor.`);
  }
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = cnnShapes(spec);
  const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, specs);
  const params = new Map<string, tf.Tensor>();
  for (const [name, shape] of expected) {
    const t = decoded[name];
    if (!t || t.shape.join() !== shape.join()) {
      tf.dispose(Object.values(decoded));
      throw new UserError(`the extractor '${path}' has no weight '${name}' of shape [${shape}]: it does not match its own modelTopology; train it again.`);
    }
    params.set(name, t);
  }
  const name = `fsrgan-cnn-${String(info.dataset ?? 'custom')}`;
  return cnnExtractor(spec, params, { name, sha256, path, info });
}

/** The folder name of a dataset's default extractor ('fashion-mnist'; folders get a hash of their name). */
function datasetFolder(dataset: string): string {
  return /^[a-z0-9-]+$/.test(dataset) ? dataset : `dataset-${createHash('sha256').update(dataset).digest('hex').slice(0, 12)}`;
}

/** Where the default extractor of a dataset lives: `<repo root>/.cache/extractors/<dataset>/` (git-ignored). */
export function defaultExtractorDir(root: string, dataset: string): string {
  return join(root, '.cache', 'extractors', datasetFolder(dataset));
}

/**
 * What identifies the extractor a setting names, without loading it (for cache keys): the model.json text's
 * hash (fsrgan's records the weights' sha256) plus the weight files' sizes and modification times (a graph
 * model's model.json does not hash its weights). '' when the file is not there.
 */
export function extractorFingerprint(modelJson: string): string {
  if (!existsSync(modelJson) || !statSync(modelJson).isFile()) return '';
  const text = readFileSync(modelJson);
  const h = createHash('sha256').update(text);
  try {
    const manifest = (JSON.parse(text.toString('utf8')) as { weightsManifest?: { paths: string[] }[] }).weightsManifest ?? [];
    for (const p of manifest.flatMap((g) => g.paths)) {
      const f = join(dirname(modelJson), p);
      const st = existsSync(f) ? statSync(f) : null;
      h.update(`${p}:${st?.size ?? -1}:${st?.mtimeMs ?? -1}`);
    }
  } catch {
    // Not JSON: loading it will say so.
  }
  return h.digest('hex').slice(0, 16);
}
