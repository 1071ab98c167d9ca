/**
 * GAN architectures as plain JSON layer lists: what the PyTorch twin (bench/torch_twin.py,
 * bench/torch_quality.py) builds its networks from. fsrgan writes them from the networks its trainer trains
 * (layers.ts), so that both sides time the identical network. This module parses and checks a list,
 * infers every activation shape, and counts a training step's FLOPs from the shapes.
 *
 * Ops: dense {cin,cout,bias?}, reshape {shape:[h,w,c]}, bn {c}, relu, lrelu {alpha?}, tanh,
 * deconv/conv {cin,cout,k,s,pad,bias?}, biasrelu {c} = ReLU(x - b), flatten, tap {layers} (a side branch
 * whose output is kept aside: a frozen lower output head), upsample-concat ([upsample2x(tap), x] along
 * channels: the pair (x_{l-1}, x_l) of a layerwise stage, docs/theory.md section 2). Any layer with
 * parameters may carry "frozen": true (forward only).
 */
import { UserError } from '../util/errors.js';

export type Pad = 'same' | 'valid';

export type LayerSpec =
  | { op: 'dense'; cin: number; cout: number; bias?: boolean; frozen?: boolean }
  | { op: 'reshape'; shape: [number, number, number] }
  | { op: 'bn'; c: number; frozen?: boolean }
  | { op: 'relu' }
  | { op: 'tanh' }
  | { op: 'lrelu'; alpha?: number }
  | { op: 'conv' | 'deconv'; cin: number; cout: number; k: number; s: number; pad: Pad; bias?: boolean; frozen?: boolean }
  | { op: 'biasrelu'; c: number; frozen?: boolean }
  | { op: 'flatten' }
  | { op: 'tap'; layers: LayerSpec[] }
  | { op: 'upsample-concat' };

export interface ArchSpec {
  name: string;
  /** Images per training step. */
  batch: number;
  /** Latent size: G's input is z [batch, zDim]. */
  zDim: number;
  /** G's output and D's input [h,w,c]. */
  image: [number, number, number];
  G: LayerSpec[];
  D: LayerSpec[];
  lrG?: number;
  lrD?: number;
  /** Free text (what the architecture stands for). */
  about?: string;
}

/** An activation shape without the batch axis: [features] or [h,w,c]. */
export type Shape = number[];

const KEYS: Record<string, string[]> = {
  dense: ['cin', 'cout', 'bias', 'frozen'],
  reshape: ['shape'],
  bn: ['c', 'frozen'],
  relu: [],
  tanh: [],
  lrelu: ['alpha'],
  conv: ['cin', 'cout', 'k', 's', 'pad', 'bias', 'frozen'],
  deconv: ['cin', 'cout', 'k', 's', 'pad', 'bias', 'frozen'],
  biasrelu: ['c', 'frozen'],
  flatten: [],
  tap: ['layers'],
  'upsample-concat': [],
};

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** Output shape of one layer for input shape `x`, or a UserError naming the layer. `tap` is the kept branch's shape. */
export function layerOutShape(l: LayerSpec, x: Shape, where: string, tap: Shape | null): Shape {
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new UserError(`${where} (${l.op}): ${msg}.`);
  };
  switch (l.op) {
    case 'dense':
      need(x.length === 1 && x[0] === l.cin, `expects ${l.cin} input features, gets [${x}]`);
      return [l.cout];
    case 'reshape':
      need(x.length === 1 && x[0] === l.shape[0] * l.shape[1] * l.shape[2], `cannot reshape [${x}] to [${l.shape}]`);
      return [...l.shape];
    case 'flatten':
      return [x.reduce((a, b) => a * b, 1)];
    case 'bn':
    case 'biasrelu':
      need(x[x.length - 1] === l.c, `has c = ${l.c} but its input is [${x}]`);
      return x;
    case 'relu':
    case 'tanh':
    case 'lrelu':
      return x;
    case 'conv':
    case 'deconv': {
      need(x.length === 3 && x[2] === l.cin, `expects [h,w,${l.cin}], gets [${x}]`);
      const f = (d: number) =>
        l.op === 'conv'
          ? l.pad === 'same' ? Math.ceil(d / l.s) : Math.floor((d - l.k) / l.s) + 1
          : l.pad === 'same' ? d * l.s : (d - 1) * l.s + l.k;
      const out = [f(x[0]), f(x[1]), l.cout];
      need(out[0] > 0 && out[1] > 0, `kernel ${l.k} does not fit input [${x}]`);
      return out;
    }
    case 'tap':
      return x;
    case 'upsample-concat':
      need(tap !== null, 'needs an earlier tap');
      need(x.length === 3 && tap!.length === 3 && tap![0] * 2 === x[0] && tap![1] * 2 === x[1], `tap [${tap}] upsampled 2x must match [${x}]`);
      return [x[0], x[1], tap![2] + x[2]];
  }
}

const lastShape = (shapes: Shape[]): Shape => shapes[shapes.length - 1];

/** Shapes after every layer of `layers` (index i = output of layer i); throws UserError on a mismatch. */
export function layerShapes(layers: LayerSpec[], input: Shape, where: string): Shape[] {
  const out: Shape[] = [];
  let x = input;
  let tap: Shape | null = null;
  layers.forEach((l, i) => {
    const at = `${where}[${i}]`;
    if (l.op === 'tap') tap = lastShape(layerShapes(l.layers, x, `${at}.layers`));
    x = layerOutShape(l, x, at, tap);
    out.push(x);
  });
  return out;
}

function checkLayer(raw: unknown, where: string): LayerSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${where} must be an object like {"op": "conv", ...}.`);
  const l = raw as Record<string, unknown>;
  const op = l.op as string;
  if (!(op in KEYS)) throw new UserError(`${where}.op must be one of ${Object.keys(KEYS).join(', ')}, got ${JSON.stringify(op)}.`);
  for (const k of Object.keys(l)) if (k !== 'op' && !KEYS[op].includes(k)) throw new UserError(`${where} (${op}) has unknown key '${k}'; allowed: ${KEYS[op].join(', ') || 'none'}.`);
  for (const k of ['cin', 'cout', 'k', 's', 'c']) if (KEYS[op].includes(k) && !isPosInt(l[k])) throw new UserError(`${where}.${k} must be a positive integer, got ${JSON.stringify(l[k])}.`);
  for (const k of ['bias', 'frozen']) if (l[k] !== undefined && typeof l[k] !== 'boolean') throw new UserError(`${where}.${k} must be true or false.`);
  if (KEYS[op].includes('pad') && l.pad !== 'same' && l.pad !== 'valid') throw new UserError(`${where}.pad must be 'same' or 'valid'.`);
  if (op === 'reshape' && !(Array.isArray(l.shape) && l.shape.length === 3 && l.shape.every(isPosInt))) throw new UserError(`${where}.shape must be [h,w,c] of positive integers.`);
  if (op === 'lrelu' && l.alpha !== undefined && typeof l.alpha !== 'number') throw new UserError(`${where}.alpha must be a number.`);
  if (op === 'tap') {
    if (!Array.isArray(l.layers) || l.layers.length === 0) throw new UserError(`${where}.layers must be a non-empty layer list.`);
    l.layers.forEach((s, i) => checkLayer(s, `${where}.layers[${i}]`));
  }
  return l as unknown as LayerSpec;
}

/** Checks a parsed JSON architecture (`source` names it in messages) and returns it typed. */
export function parseArch(raw: unknown, source = 'architecture'): ArchSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${source} must be a JSON object.`);
  const a = raw as Record<string, unknown>;
  const allowed = ['name', 'batch', 'zDim', 'image', 'G', 'D', 'lrG', 'lrD', 'about'];
  for (const k of Object.keys(a)) if (!allowed.includes(k)) throw new UserError(`${source} has unknown key '${k}'; allowed: ${allowed.join(', ')}.`);
  if (typeof a.name !== 'string' || !a.name) throw new UserError(`${source}.name must be a non-empty string.`);
  for (const k of ['batch', 'zDim']) if (!isPosInt(a[k])) throw new UserError(`${source}.${k} must be a positive integer.`);
  if (!(Array.isArray(a.image) && a.image.length === 3 && a.image.every(isPosInt))) throw new UserError(`${source}.image must be [h,w,c].`);
  for (const k of ['G', 'D']) if (!Array.isArray(a[k]) || (a[k] as unknown[]).length === 0) throw new UserError(`${source}.${k} must be a non-empty layer list.`);
  const spec: ArchSpec = {
    ...(a as unknown as ArchSpec),
    G: (a.G as unknown[]).map((l, i) => checkLayer(l, `${source}.G[${i}]`)),
    D: (a.D as unknown[]).map((l, i) => checkLayer(l, `${source}.D[${i}]`)),
  };
  const g = lastShape(layerShapes(spec.G, [spec.zDim], `${source}.G`));
  if (g.join() !== spec.image.join()) throw new UserError(`${source}.G ends in [${g}] but image is [${spec.image}].`);
  const d = lastShape(layerShapes(spec.D, spec.image, `${source}.D`));
  if (d.join() !== '1') throw new UserError(`${source}.D must end in one logit per image, ends in [${d}].`);
  return spec;
}

/** Forward FLOPs per image of one layer (2 per multiply-add of the direct formulation; elementwise ops count 0). */
function linearFlops(l: LayerSpec, x: Shape, y: Shape): number {
  if (l.op === 'dense') return 2 * l.cin * l.cout;
  if (l.op === 'conv') return 2 * y[0] * y[1] * l.cout * l.k * l.k * l.cin;
  if (l.op === 'deconv') return 2 * x[0] * x[1] * l.cin * l.k * l.k * l.cout;
  return 0;
}

const hasParams = (l: LayerSpec) => ['dense', 'conv', 'deconv', 'bn', 'biasrelu'].includes(l.op);
const trains = (l: LayerSpec) => hasParams(l) && !(l as { frozen?: boolean }).frozen;

/** Per-image FLOPs of a network's forward pass, its weight gradients and its input gradients. */
export interface NetFlops {
  fwd: number;
  /** Weight gradients of trainable layers (each as many FLOPs as the layer's forward). */
  dw: number;
  /** Input gradients of layers with a trainable layer upstream (computed when training this net). */
  dxOwn: number;
  /** Input gradients of every linear layer (when something upstream of the net trains, e.g. D in the G step). */
  dxAll: number;
}

/** Counts `layers` on input shape `input`; `upstream` says whether a trainable layer feeds the input. */
export function netFlops(layers: LayerSpec[], input: Shape, upstream = false): NetFlops {
  const f: NetFlops = { fwd: 0, dw: 0, dxOwn: 0, dxAll: 0 };
  let x = input;
  let tap: Shape | null = null;
  let live = upstream;
  for (const l of layers) {
    if (l.op === 'tap') {
      // A side branch: its gradient flows only if something upstream trains or it trains itself.
      const t = netFlops(l.layers, x, live);
      f.fwd += t.fwd;
      f.dw += t.dw;
      f.dxOwn += t.dxOwn;
      f.dxAll += t.dxAll;
      tap = lastShape(layerShapes(l.layers, x, 'tap'));
      continue;
    }
    const y = layerOutShape(l, x, 'layer', tap);
    const c = linearFlops(l, x, y);
    f.fwd += c;
    f.dxAll += c;
    if (live) f.dxOwn += c;
    if (trains(l)) {
      f.dw += c;
      live = true;
    }
    x = y;
  }
  return f;
}

export interface StepFlops {
  /** FLOPs of one D step + G step over the whole batch. */
  total: number;
  dStep: number;
  gStep: number;
}

/**
 * FLOPs of one training step, counted from the layer shapes (linear layers only):
 * D step = G forward + 2 x (D forward + D weight grads + D input grads past D's first trainable layer);
 * G step = G forward + D forward + all D input grads + G weight grads + G input grads past G's first
 * trainable layer. Frozen layers cost their forward only, as on both sides.
 */
export function stepFlops(a: ArchSpec): StepFlops {
  const g = netFlops(a.G, [a.zDim]);
  const d = netFlops(a.D, a.image);
  const dStep = g.fwd + 2 * (d.fwd + d.dw + d.dxOwn);
  const gStep = g.fwd + d.fwd + d.dxAll + g.dw + g.dxOwn;
  return { total: a.batch * (dStep + gStep), dStep: a.batch * dStep, gStep: a.batch * gStep };
}
