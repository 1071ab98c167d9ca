/**
 * A network built from a JSON layer list (arch.ts) with fsrgan's raw ops: conv2d/deconv2d from src/ops
 * (NHWC) and the hand-differentiated ops of fastops.ts (dense, bias + activation, BatchNorm, upsample +
 * concat); no tf.layers (slower on wasm, docs/engine.md). Parameters are
 * tf.Variables; trainable ones are listed in a fixed order so that replicas can exchange them as one flat
 * vector (src/parallel).
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, deconv2d } from '../ops/index.js';
import type { Rng } from '../util/rng.js';
import { layerShapes, type LayerSpec, type Shape } from './arch.js';
import { batchNorm, biasAct, dense, upsampleConcat, type Activation } from './fastops.js';

interface Built {
  spec: LayerSpec;
  w?: tf.Variable;
  b?: tf.Variable;
  /** BatchNorm scale and shift. */
  gamma?: tf.Variable;
  beta?: tf.Variable;
  sub?: Built[];
}

export interface Net {
  layers: Built[];
  /** Trainable variables in a fixed order (layer order; w, b, gamma, beta). */
  trainable: tf.Variable[];
  /** Every variable (trainable or frozen). */
  all: tf.Variable[];
}

const BN_EPS = 1e-5;

function variable(values: Float32Array | number, shape: number[], trainable: boolean): tf.Variable {
  const t = typeof values === 'number' ? tf.fill(shape, values) : tf.tensor(values, shape);
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

function buildLayers(specs: LayerSpec[], input: Shape, rng: Rng, frozenAbove: boolean, net: Net): Built[] {
  const shapes = layerShapes(specs, input, 'net');
  return specs.map((spec, i) => {
    const x = i === 0 ? input : shapes[i - 1];
    const frozen = frozenAbove || ('frozen' in spec && spec.frozen === true);
    const add = (v: tf.Variable) => {
      net.all.push(v);
      if (!frozen) net.trainable.push(v);
      return v;
    };
    const normal = (shape: number[], fanIn: number) => add(variable(rng.normals(shape.reduce((a, b) => a * b, 1), 1 / Math.sqrt(fanIn)), shape, !frozen));
    const b: Built = { spec };
    switch (spec.op) {
      case 'dense':
        b.w = normal([spec.cin, spec.cout], spec.cin);
        if (spec.bias) b.b = add(variable(0, [spec.cout], !frozen));
        break;
      case 'conv':
        b.w = normal([spec.k, spec.k, spec.cin, spec.cout], spec.k * spec.k * spec.cin);
        if (spec.bias) b.b = add(variable(0, [spec.cout], !frozen));
        break;
      case 'deconv':
        // Fan-in of a transposed convolution: about (k/s)^2 input positions feed each output.
        b.w = normal([spec.k, spec.k, spec.cout, spec.cin], Math.max(1, (spec.cin * spec.k * spec.k) / (spec.s * spec.s)));
        if (spec.bias) b.b = add(variable(0, [spec.cout], !frozen));
        break;
      case 'bn':
        b.gamma = add(variable(1, [spec.c], !frozen));
        b.beta = add(variable(0, [spec.c], !frozen));
        break;
      case 'biasrelu':
        b.b = add(variable(0, [spec.c], !frozen));
        break;
      case 'tap':
        b.sub = buildLayers(spec.layers, x, rng, frozen, net);
        break;
      default:
        break;
    }
    return b;
  });
}

/** Builds the network for input shape `input` (without batch), weights ~ N(0, 1/fan_in) from `rng`. */
export function buildNet(specs: LayerSpec[], input: Shape, rng: Rng): Net {
  const net: Net = { layers: [], trainable: [], all: [] };
  net.layers = buildLayers(specs, input, rng, false, net);
  return net;
}

const ACTS: Record<string, Activation> = { relu: 'relu', lrelu: 'lrelu' };

function run(layers: Built[], input: tf.Tensor): tf.Tensor {
  let x = input;
  let tap: tf.Tensor | null = null;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    const s = l.spec;
    // A bias and the activation right after it run as one op (one pass forward, one backward).
    const next = layers[i + 1]?.spec;
    const fuse = next && ACTS[next.op] ? next : null;
    const alpha = fuse?.op === 'lrelu' ? fuse.alpha ?? 0.2 : 0.2;
    const finish = (z: tf.Tensor) => {
      if (fuse) i++;
      return l.b || fuse ? biasAct(z, (l.b as tf.Tensor1D | undefined) ?? null, fuse ? ACTS[fuse.op] : 'linear', { alpha }) : z;
    };
    switch (s.op) {
      case 'dense':
        x = finish(dense(x as tf.Tensor2D, l.w as tf.Tensor2D));
        break;
      case 'conv':
        x = finish(conv2d(x as tf.Tensor4D, l.w as tf.Tensor4D, s.s, s.pad));
        break;
      case 'deconv':
        x = finish(deconv2d(x as tf.Tensor4D, l.w as tf.Tensor4D, s.s, s.pad));
        break;
      case 'reshape':
        x = tf.reshape(x, [x.shape[0], ...s.shape]);
        break;
      case 'flatten':
        x = tf.reshape(x, [x.shape[0], -1]);
        break;
      case 'bn':
        x = batchNorm(x, l.gamma as tf.Tensor1D, l.beta as tf.Tensor1D, BN_EPS);
        break;
      case 'biasrelu':
        x = biasAct(x, l.b as tf.Tensor1D, 'relu', { sign: -1 });
        break;
      case 'relu':
      case 'lrelu':
        x = biasAct(x, null, s.op, { alpha: s.op === 'lrelu' ? s.alpha ?? 0.2 : 0 });
        break;
      case 'tanh':
        x = tf.tanh(x);
        break;
      case 'tap':
        tap = run(l.sub!, x);
        break;
      case 'upsample-concat':
        x = upsampleConcat(tap as tf.Tensor4D, x as tf.Tensor4D);
        break;
    }
  }
  return x;
}

/** The network's output for a batch `x` [N, ...input shape]. Use inside tf.tidy. */
export function forward(net: Net, x: tf.Tensor): tf.Tensor {
  return run(net.layers, x);
}

/** Disposes every variable of the network. */
export function disposeNet(net: Net): void {
  tf.dispose(net.all);
}
