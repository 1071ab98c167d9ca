/**
 * Fashion-MNIST (Zalando, MIT) from the Debian package dataset-fashion-mnist: gzip IDX files, 60,000 train
 * plus 10,000 test 28x28 gray images, 10 classes. Stored as one gray channel, served as RGB.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../util/errors.js';
import type { DatasetConfig } from './config.js';
import type { ImageSet } from './dataset.js';
import { areaResize, toUint8 } from './pyramid.js';

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const PARTS = ['train', 't10k'] as const;

/** Parses a (gunzipped) IDX file: magic 0x0000 08 D (unsigned bytes, D dims), D big-endian sizes, data. */
export function parseIdx(buf: Uint8Array, file: string): { dims: number[]; data: Uint8Array } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 4 || view.getUint16(0) !== 0 || buf[2] !== 0x08) throw new UserError(`${file} is not an unsigned-byte IDX file.`);
  const d = buf[3];
  const dims = Array.from({ length: d }, (_, i) => view.getUint32(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * d;
  if (buf.length !== start + n) throw new UserError(`${file} is truncated: expected ${n} values of shape [${dims}].`);
  return { dims, data: buf.subarray(start) };
}

/** Loads train + test Fashion-MNIST at `cfg.resolution` (padded 28 -> 32 first when cfg.fashionMnist.padTo32). */
export async function loadFashionMnist(cfg: DatasetConfig): Promise<ImageSet> {
  const dir = cfg.fashionMnist.dir;
  const names = PARTS.flatMap((p) => [`${p}-images-idx3-ubyte.gz`, `${p}-labels-idx1-ubyte.gz`]);
  const missing = names.filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    throw new UserError(
      `Fashion-MNIST is not installed (${join(dir, missing[0])} is missing); install it with \`apt-get install dataset-fashion-mnist\` (Debian) or set dataset.fashionMnist.dir.`,
    );
  }
  const pad = cfg.fashionMnist.padTo32 ? 2 : 0;
  const side = 28 + 2 * pad;
  const r = cfg.resolution;
  if (r > side) throw new UserError(`dataset.resolution ${r} is above Fashion-MNIST's ${side}x${side}; use ${side} or less.`);
  const images: Uint8Array[] = [];
  const labels: Uint8Array[] = [];
  for (const p of PARTS) {
    const read = async (f: string) => parseIdx(gunzipSync(await readFile(join(dir, f))), join(dir, f));
    const im = await read(`${p}-images-idx3-ubyte.gz`);
    const lb = await read(`${p}-labels-idx1-ubyte.gz`);
    if (im.dims.length !== 3 || im.dims[1] !== 28 || im.dims[2] !== 28 || lb.dims[0] !== im.dims[0]) {
      throw new UserError(`Fashion-MNIST files in ${dir} have unexpected shapes [${im.dims}] / [${lb.dims}].`);
    }
    images.push(im.data);
    labels.push(lb.data);
  }
  const count = images.reduce((a, b) => a + b.length / 784, 0);
  const pixels = new Uint8Array(count * r * r);
  const padded = new Float64Array(side * side);
  let k = 0;
  for (const part of images) {
    for (let i = 0; i < part.length / 784; i++, k++) {
      // Black padding: Fashion-MNIST's background is 0.
      padded.fill(0);
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) padded[(y + pad) * side + x + pad] = part[i * 784 + y * 28 + x];
      pixels.set(r === side ? toUint8(padded) : toUint8(areaResize(padded, side, side, 1, r, r)), k * r * r);
    }
  }
  return {
    name: 'fashion-mnist',
    count,
    resolution: r,
    channels: 1,
    pixels,
    labels: Int32Array.from([...labels[0], ...labels[1]]),
    classNames: FASHION_CLASSES,
    license: 'MIT',
    attribution: 'Fashion-MNIST, Copyright 2017 Zalando SE (https://github.com/zalandoresearch/fashion-mnist), MIT license; via Debian package dataset-fashion-mnist.',
    provenance: { source: `Debian dataset-fashion-mnist (${dir})`, padTo32: cfg.fashionMnist.padTo32, officialTestFrom: images[0].length / 784 },
  };
}
