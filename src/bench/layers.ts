/**
 * The networks a training session's stage trains, written as the layer list of arch.ts: what
 * bench/torch_twin.py builds PyTorch's identical copy from, and what the step's FLOPs are counted on.
 * Read off the session's models (shapes and which variables the stage trains), so that the benchmark
 * and the twin cannot drift from what `fsrgan train` runs.
 */
import { dcganLayers } from '../models/dcgan.js';
import { gName } from '../models/learner.js';
import { dcganShape } from '../train/config.js';
import type { Session } from '../train/session.js';
import { UserError } from '../util/errors.js';
import { parseArch, type ArchSpec, type LayerSpec } from './arch.js';

/** The layer list of the session's current stage (G as it runs up to the stage's level, and the stage's D). */
export function stageArch(s: Session, name: string): ArchSpec {
  const c = s.config;
  const st = s.stages[s.stageIndex];
  const lr = { lrG: c.train.lrG, lrD: c.train.lrD };
  if (c.generator.family === 'dcgan') {
    const d = dcganShape(c, s.shape.imageChannels);
    const { G, D } = dcganLayers(d);
    return parseArch({ name, batch: c.train.batch, zDim: d.zDim, image: [d.resolution, d.resolution, d.imageChannels], G, D, ...lr }, name);
  }
  const { shape } = s;
  if (shape.skip || shape.head === 'tanh') {
    throw new UserError(`${name}: bench/torch_twin.py builds linear heads without a skip: set generator.skip=false and generator.head=linear.`);
  }
  const disc = s.discs.get(st.resolution)!;
  if (disc.convs.some((l) => l.u) || disc.inputSize !== disc.resolution) throw new UserError(`${name}: the twin has no spectral norm or crops (discriminator.spectralNorm, crop).`);
  if (disc.neighbourDiffs) throw new UserError(`${name}: the twin has no neighbour-difference inputs: set discriminator.neighbourDiffs=false.`);
  if (shape.mixture) throw new UserError(`${name}: the twin's first layer reads z ~ N(0, I): set generator.mixture.components=0.`);
  const trains = (n: string) => st.trained.includes(n);
  const frozen = (n: string) => (trains(n) ? {} : { frozen: true });
  const P = shape.patch;
  const img = shape.imageChannels;
  const G: LayerSpec[] = [{ op: 'reshape', shape: [1, 1, shape.zDim] }];
  let cin = shape.zDim;
  for (let l = 0; l < st.level; l++) {
    const r = shape.resolutions[l];
    const g1 = shape.resolutions[0] / P;
    const k = l === 0 ? g1 : shape.kernel;
    G.push(
      { op: 'deconv', cin, cout: shape.channels[l], k, s: l === 0 ? g1 : 2, pad: l === 0 ? 'valid' : 'same', ...frozen(gName(r, 'deconv')) },
      { op: 'biasrelu', c: shape.channels[l], ...frozen(gName(r, 'bias')) },
    );
    cin = shape.channels[l];
    const head: LayerSpec = { op: 'deconv', cin, cout: img, k: P, s: P, pad: 'valid', ...frozen(gName(r, 'out')) };
    // The level below the top feeds a pair D its x_{l-1}: a side branch that the pair joins at the end.
    if (st.discInput === 'pair' && l === st.level - 2) G.push({ op: 'tap', layers: [head] });
    if (l === st.level - 1) G.push(head);
  }
  if (st.discInput === 'pair') G.push({ op: 'upsample-concat' });
  const r = st.resolution;
  const D: LayerSpec[] = [];
  const din = st.discInput === 'pair' ? 2 * img : img;
  let dc = din;
  for (const l of disc.convs) {
    const [k, , , cout] = l.w.shape;
    D.push({ op: 'conv', cin: dc, cout, k, s: l.stride, pad: l.pad, bias: true }, disc.leak > 0 ? { op: 'lrelu', alpha: disc.leak } : { op: 'relu' });
    dc = cout;
  }
  D.push({ op: 'flatten' }, { op: 'dense', cin: disc.head.w.shape[0], cout: 1, bias: true });
  return parseArch({ name, batch: c.train.batch, zDim: shape.zDim, image: [r, r, din], G, D, ...lr }, name);
}
