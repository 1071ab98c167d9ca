/**
 * Decoding PNG (pngjs) and JPEG (jpeg-js) files to RGBA, compositing alpha onto a fixed background and
 * fitting an image to the top resolution (center crop to a square, then area downscale). Pure JS, offline.
 */
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { areaResize, toUint8 } from './pyramid.js';

export interface DecodedImage {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /** RGBA bytes [height,width,4]. */
  rgba: Uint8Array;
  /** The file stores gray levels only (PNG color type 0/4, or a JPEG whose pixels all have R = G = B). */
  gray: boolean;
  /** Some pixel is not fully opaque. */
  alpha: boolean;
}

/** Largest image decoded, in megapixels (PNG and JPEG alike): a broken or hostile header cannot make a decoder allocate without bound. */
const MAX_MEGAPIXELS = 64;

/**
 * The size a PNG's IHDR claims, checked before pngjs sees the file: pngjs allocates what the header says
 * (gigabytes from a 100-byte file), and a width near 2^31 makes Node's zlib binding abort the process.
 */
function checkPngHeader(bytes: Uint8Array): void {
  if (bytes.length < 24) return; // too short for an IHDR: pngjs reports it
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [w, h] = [view.getUint32(16), view.getUint32(20)];
  if (w * h > MAX_MEGAPIXELS * 1e6) {
    throw new Error(`PNG header says ${w}x${h} (${Math.round((w * h) / 1e6)} megapixels), over the ${MAX_MEGAPIXELS}-megapixel limit`);
  }
}

/** Decodes PNG or JPEG bytes; throws an Error whose message says what is wrong (the caller names the file). */
export function decodeImage(bytes: Uint8Array): DecodedImage {
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  let out: Omit<DecodedImage, 'alpha'>;
  if (isPng) {
    let png: ReturnType<typeof PNG.sync.read>;
    checkPngHeader(bytes);
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new Error(`corrupt PNG (${(e as Error).message})`);
    }
    out = { format: 'png', width: png.width, height: png.height, rgba: new Uint8Array(png.data), gray: !png.color };
  } else if (isJpeg) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      // Limits keep a hostile or broken file from allocating without bound.
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw new Error(`corrupt JPEG (${(e as Error).message ?? String(e)})`);
    }
    let gray = true;
    for (let i = 0; i < img.data.length && gray; i += 4) gray = img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2];
    out = { format: 'jpeg', width: img.width, height: img.height, rgba: img.data, gray };
  } else {
    throw new Error('not a PNG or JPEG file (unknown signature)');
  }
  if (!(out.width > 0 && out.height > 0) || out.rgba.length !== out.width * out.height * 4) {
    throw new Error(`decoded to an empty or inconsistent image (${out.width}x${out.height})`);
  }
  let alpha = false;
  for (let i = 3; i < out.rgba.length && !alpha; i += 4) alpha = out.rgba[i] !== 255;
  return { ...out, alpha };
}

/**
 * RGBA [h,w,4] composited over an opaque background color (0..255 each): returns RGB [h,w,3] as floats in
 * 0..255. Straight (non-premultiplied) alpha, in sRGB values, as browsers composite.
 */
export function compositeOnto(rgba: ArrayLike<number>, background: readonly number[]): Float64Array {
  const n = rgba.length / 4;
  const out = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3] / 255;
    for (let ch = 0; ch < 3; ch++) out[i * 3 + ch] = a * rgba[i * 4 + ch] + (1 - a) * background[ch];
  }
  return out;
}

/**
 * Fits an RGB image [h,w,3] (0..255 floats) to [r,r,3] uint8: the central square crop of side min(h,w),
 * then an area-average downscale. Requires min(h,w) >= r (upscaling would invent detail).
 */
export function fitSquare(rgb: ArrayLike<number>, h: number, w: number, r: number): Uint8Array {
  const side = Math.min(h, w);
  if (side < r) throw new Error(`fitSquare: image ${w}x${h} is smaller than ${r}x${r}`);
  let square: ArrayLike<number> = rgb;
  if (h !== w) {
    const y0 = Math.floor((h - side) / 2);
    const x0 = Math.floor((w - side) / 2);
    const crop = new Float64Array(side * side * 3);
    for (let y = 0; y < side; y++) {
      const from = ((y0 + y) * w + x0) * 3;
      for (let i = 0; i < side * 3; i++) crop[y * side * 3 + i] = rgb[from + i];
    }
    square = crop;
  }
  return toUint8(side === r ? square : areaResize(square, side, side, 3, r, r));
}
