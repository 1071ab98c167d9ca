import { parseArch } from '../../src/bench/arch.js';

/** A small GAN with every op kind but BatchNorm (whose statistics are per shard by design; docs/speed.md). */
export const TINY = parseArch({
  name: 'tiny', batch: 8, zDim: 4, image: [8, 8, 6],
  G: [
    { op: 'dense', cin: 4, cout: 32, frozen: true }, { op: 'reshape', shape: [2, 2, 8] }, { op: 'biasrelu', c: 8, frozen: true },
    { op: 'deconv', cin: 8, cout: 8, k: 4, s: 2, pad: 'same' }, { op: 'biasrelu', c: 8 },
    { op: 'tap', layers: [{ op: 'deconv', cin: 8, cout: 3, k: 1, s: 1, pad: 'valid', frozen: true }] },
    { op: 'deconv', cin: 8, cout: 8, k: 4, s: 2, pad: 'same' }, { op: 'relu' },
    { op: 'deconv', cin: 8, cout: 3, k: 1, s: 1, pad: 'valid' }, { op: 'tanh' }, { op: 'upsample-concat' },
  ],
  D: [
    { op: 'conv', cin: 6, cout: 8, k: 2, s: 2, pad: 'valid', bias: true }, { op: 'lrelu', alpha: 0.2 },
    { op: 'conv', cin: 8, cout: 8, k: 3, s: 2, pad: 'same', bias: true }, { op: 'lrelu', alpha: 0.2 },
    { op: 'flatten' }, { op: 'dense', cin: 32, cout: 1, bias: true },
  ],
});
