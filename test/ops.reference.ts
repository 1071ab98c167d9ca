/**
 * Float64 JS reference convolutions for the ops tests: direct loops over the definition, written
 * independently of tfjs (padding computed here from the 'same'/'valid' rule, not from tfjs's helpers).
 */

export interface Arr4 {
  shape: [number, number, number, number];
  data: Float64Array;
}

export function arr4(shape: [number, number, number, number], data?: ArrayLike<number>): Arr4 {
  const n = shape[0] * shape[1] * shape[2] * shape[3];
  return { shape, data: data ? Float64Array.from(data) : new Float64Array(n) };
}

const at = (a: Arr4, i: number, j: number, k: number, l: number) =>
  ((i * a.shape[1] + j) * a.shape[2] + k) * a.shape[3] + l;

/** TensorFlow's rule: 'same' gives out = ceil(in/s) with the odd padding row at the end. */
export function convGeometry(inLen: number, k: number, s: number, pad: 'same' | 'valid'): { out: number; before: number } {
  if (pad === 'valid') return { out: Math.floor((inLen - k) / s) + 1, before: 0 };
  const out = Math.ceil(inLen / s);
  const total = Math.max((out - 1) * s + k - inLen, 0);
  return { out, before: Math.floor(total / 2) };
}

/** y[n,i,j,co] = sum_{a,b,ci} x[n, i*s+a-pt, j*s+b-pl, ci] w[a,b,ci,co] (zero outside x). */
export function refConv2d(x: Arr4, w: Arr4, s: number, pad: 'same' | 'valid'): Arr4 {
  const [n, h, wd, cin] = x.shape;
  const [kh, kw, , cout] = w.shape;
  const gy = convGeometry(h, kh, s, pad);
  const gx = convGeometry(wd, kw, s, pad);
  const y = arr4([n, gy.out, gx.out, cout]);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < gy.out; i++)
      for (let j = 0; j < gx.out; j++)
        for (let a = 0; a < kh; a++) {
          const r = i * s + a - gy.before;
          if (r < 0 || r >= h) continue;
          for (let c = 0; c < kw; c++) {
            const q = j * s + c - gx.before;
            if (q < 0 || q >= wd) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xv = x.data[at(x, b, r, q, ci)];
              for (let co = 0; co < cout; co++) y.data[at(y, b, i, j, co)] += xv * w.data[at(w, a, c, ci, co)];
            }
          }
        }
  return y;
}

/**
 * Transposed convolution with tf.conv2dTranspose's layout w [k,k,Cout,Cin]: every input position paints
 * w * x into the output at (i*s+a-pt, j*s+b-pl), where the padding is that of the conv2d it transposes
 * (output [N,H*s,W*s] for 'same', [N,(H-1)s+k,(W-1)s+k] for 'valid').
 */
export function refDeconv2d(x: Arr4, w: Arr4, s: number, pad: 'same' | 'valid'): Arr4 {
  const [n, h, wd, cin] = x.shape;
  const [kh, kw, cout] = w.shape;
  const oh = pad === 'same' ? h * s : (h - 1) * s + kh;
  const ow = pad === 'same' ? wd * s : (wd - 1) * s + kw;
  const pt = convGeometry(oh, kh, s, pad).before;
  const pl = convGeometry(ow, kw, s, pad).before;
  const y = arr4([n, oh, ow, cout]);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < wd; j++)
        for (let a = 0; a < kh; a++) {
          const r = i * s + a - pt;
          if (r < 0 || r >= oh) continue;
          for (let c = 0; c < kw; c++) {
            const q = j * s + c - pl;
            if (q < 0 || q >= ow) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xv = x.data[at(x, b, i, j, ci)];
              for (let co = 0; co < cout; co++) y.data[at(y, b, r, q, co)] += xv * w.data[at(w, a, c, co, ci)];
            }
          }
        }
  return y;
}

/** sum(a * b) in float64. */
export function dot(a: Float64Array, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central finite differences in float64 of a scalar function of one array, at every entry. For the
 * (multi)linear losses used in the tests the truncation error is zero up to rounding.
 */
export function finiteDiff(f: (v: Float64Array) => number, v: Float64Array, h = 1e-3): Float64Array {
  const g = new Float64Array(v.length);
  const p = Float64Array.from(v);
  for (let i = 0; i < v.length; i++) {
    p[i] = v[i] + h;
    const up = f(p);
    p[i] = v[i] - h;
    const down = f(p);
    p[i] = v[i];
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** max |a - b| / max |b|: the error measure of the acceptance criterion (below 1e-4). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: lengths ${a.length} and ${b.length} differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}
