/**
 * A user-supplied tfjs graph model as a feature extractor (docs/metrics.md "Inception"): typically
 * Inception-v3 converted with `tensorflowjs_converter --output_format tfjs_graph_model`, whose pool3 features
 * (2,048) and logits (1,000 or 1,008) make FID, KID and IS comparable with published numbers. fsrgan never
 * downloads it: the user copies model.json and its weight shards to disk and passes the path.
 *
 * Which nodes hold the features and the logits, the input side and the input range differ between
 * conversions, so they are settings (analysis config `metrics.graph`); by default the features are the
 * model's first output, there are no logits (no Inception Score), the input side is read from the model's
 * input shape (else 299) and images are mapped to [0, 1] (TF-Hub's convention; Keras' Inception wants [-1, 1]).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { contentHash, readWeights, resizeTo, type Extractor } from './model-files.js';

export interface GraphOptions {
  /** Output node of the features ('' = the model's first output). */
  features: string;
  /** Output node of the class logits ('' = none: no Inception Score). */
  logits: string;
  /** Input side in pixels (0 = from the model's input shape, else 299). */
  inputSize: number;
  /** The range the model expects its pixels in. */
  inputRange: '0,1' | '-1,1';
}

export const DEFAULT_GRAPH: GraphOptions = { features: '', logits: '', inputSize: 0, inputRange: '0,1' };

/** Loads a tfjs graph model from model.json and its weight shards, synchronously. */
export function loadGraphExtractor(path: string, json: Record<string, unknown>, opts: GraphOptions): Extractor {
  const manifest = (json.weightsManifest ?? []) as { paths: string[] }[];
  const bytes = readWeights(path, manifest);
  const sha256 = contentHash(json.modelTopology, bytes);
  let model: tf.GraphModel<tf.io.IOHandlerSync>;
  try {
    model = tf.loadGraphModelSync([json as unknown as tf.io.ModelJSON, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer]);
  } catch (e) {
    throw new UserError(`the graph model '${path}' could not be loaded (${(e as Error).message.split('\n')[0]}); check that it was converted with tensorflowjs_converter --output_format tfjs_graph_model.`);
  }
  const input = model.inputs[0];
  const shape = input?.shape ?? [];
  const side = opts.inputSize || (shape.length === 4 && shape[1]! > 0 ? shape[1]! : 299);
  const featureNode = opts.features || model.outputs[0]?.name;
  if (!featureNode) throw new UserError(`the graph model '${path}' has no outputs; set metrics.graph.features to the node of its features.`);
  const logitNode = opts.logits || null;
  const run = (x: tf.Tensor4D): tf.Tensor[] => {
    const inp = tf.tidy(() => {
      const r = resizeTo(x, side);
      return opts.inputRange === '0,1' ? tf.div(tf.add(r, 1), 2) : r;
    });
    try {
      const out = model.execute(inp, logitNode ? [featureNode, logitNode] : [featureNode]);
      return Array.isArray(out) ? out : [out];
    } catch (e) {
      const nodes = model.outputs.map((o) => o.name).join(', ');
      throw new UserError(`the graph model '${path}' failed on [${x.shape}] images (${(e as Error).message.split('\n')[0]}); check metrics.graph (its outputs: ${nodes}).`);
    } finally {
      inp.dispose();
    }
  };
  // One probe to learn the feature dimension and the number of classes.
  const probe = tf.zeros([1, side, side, 3]) as tf.Tensor4D;
  const out = run(probe);
  const featureDim = out[0].size;
  const classes = out[1]?.size ?? 0;
  tf.dispose([probe, ...out]);
  const flat = (t: tf.Tensor, n: number) => tf.reshape(t, [n, -1]) as tf.Tensor2D;
  return {
    name: `graph:${path}`,
    sha256,
    kind: 'graph-model',
    inputSize: side,
    featureDim,
    classNames: Array.from({ length: classes }, (_, i) => `class ${i}`),
    path,
    info: { graph: { ...opts, features: featureNode, logits: logitNode ?? '' } },
    apply: (x) => {
      const [f, l] = run(x);
      const n = x.shape[0];
      const features = tf.tidy(() => flat(f, n));
      const logits = l ? tf.tidy(() => flat(l, n)) : null;
      tf.dispose([f, ...(l ? [l] : [])]);
      return { features, logits };
    },
    dispose: () => model.dispose(),
  };
}
