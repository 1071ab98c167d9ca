/**
 * Moment matching (docs/theory.md 3.2): per resolution, moments of order 1..4 of image patches, real versus
 * generated. Order 1 is the mean vector, order 2 the (uncentred) second-moment matrix E[x x^T], orders
 * 3 and 4 the directional moments E[(u . x)^c] along a fixed seeded set of unit vectors u (the full
 * tensors have d^3, d^4 entries). Each is compared as ||M(real) - M(fake)|| / ||M(real)|| (Frobenius /
 * Euclidean), next to a noise floor: the same error between two disjoint halves of the real images.
 * Also the cross-resolution moment E[x_{l,p} x_{l-1,parent(p)}^T] and the moments of codes
 * phi(x) = act(U^T x - b) (docs/theory.md 3.2, code space). Products run as tf.matMul on row chunks;
 * sums across chunks are float64.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { download, gridPatches, randomCrops, selectImages, toImageArray, unitDirections, type ImageArray, type Method, type Vectors } from './common.js';

export interface MomentOptions {
  /** Patch size P (use the generator's output patch so a patch is one atom's footprint). */
  patch: number;
  /** 'grid': non-overlapping P x P patches (the generator's patches); 'random': random crops. */
  sampling: 'grid' | 'random';
  /** Crops per image when sampling = 'random'. */
  cropsPerImage: number;
  /** At most this many patches per level and set (seeded random subset); the cost is linear in it. */
  maxPatches: number;
  /** Number of random unit directions for orders 3 and 4. */
  directions: number;
  /** Highest order computed (1..4). */
  maxOrder: number;
  /** Seed of the directions, the patch subsets and the real-data split. */
  seed: number;
  /** Also compute the noise floor (real half versus real half). */
  noiseFloor: boolean;
  /** Also compute the cross-resolution moment (levels >= 2; grid patches). */
  cross: boolean;
}

export const DEFAULT_MOMENTS: MomentOptions = {
  patch: 4,
  sampling: 'grid',
  cropsPerImage: 16,
  maxPatches: 200_000,
  directions: 64,
  maxOrder: 4,
  seed: 0,
  noiseFloor: true,
  cross: true,
};

/** A feature map phi(x) = act(U^T x - b) on patches, act = leaky ReLU with slope `leak` (0: ReLU). */
export interface CodeMap {
  /** Columns of U, each of dimension P*P*C_in in (row, col, channel) order (a [P,P,C_in,F] bank). */
  atoms: Float64Array[];
  /** b [F] (subtracted). For a discriminator layer act(conv + beta), pass b = -beta. */
  bias: ArrayLike<number>;
  leak: number;
  /**
   * 'single': U acts on patches of x_l (C_in = image channels); 'pair': on patches of
   * concat(upsample2x(x_{l-1}), x_l) (C_in = 2 * image channels), the input of a pair discriminator.
   */
  input: 'single' | 'pair';
  /** Where U comes from (e.g. "D_1 first layer", "teacher A_2"). */
  source: string;
}

export interface OrderError {
  /** 1..4; the cross-resolution moment is reported with order 2. */
  order: number;
  /** ||M(real) - M(fake)|| / ||M(real)||. */
  relError: number;
  /** ||M(real) - M(fake)||. */
  absError: number;
  /** ||M(real)||. */
  normReal: number;
  /** relError between the two halves of the real images (null when not computed). */
  noiseFloor: number | null;
}

export interface LevelMoments {
  resolution: number;
  /** Patches used per set (real, fake); the floor uses two halves of the real images. */
  patchesReal: number;
  patchesFake: number;
  orders: OrderError[];
  cross: OrderError | null;
  code: { source: string; features: number; orders: OrderError[] } | null;
}

export interface MomentReport {
  kind: 'moments';
  method: Method;
  levels: LevelMoments[];
}

/** Moments of one set of vectors. */
export interface Moments {
  m: number;
  d: number;
  /** E[x] [d]. */
  o1: Float64Array;
  /** E[x x^T] [d*d] row-major (null when maxOrder < 2). */
  o2: Float64Array | null;
  /** E[(u_q . x)^3], E[(u_q . x)^4] [k] (null when maxOrder < 3 / 4). */
  o3: Float64Array | null;
  o4: Float64Array | null;
}

/** Rows per tf.matMul: float32 sums stay short, partial results are added in float64. */
const CHUNK = 8192;

/** Calls fn(rows) with tensors of consecutive row chunks [c, d] of each set (same row ranges). */
function forChunks(sets: Vectors[], fn: (chunks: tf.Tensor2D[], start: number, rows: number) => void): void {
  const m = sets[0].m;
  for (let s = 0; s < m; s += CHUNK) {
    const c = Math.min(CHUNK, m - s);
    const ts = sets.map((v) => tf.tensor2d(v.data.subarray(s * v.d, (s + c) * v.d), [c, v.d]));
    try {
      fn(ts, s, c);
    } finally {
      tf.dispose(ts);
    }
  }
}

/** acc += a (float64 += float32). */
function addInto(acc: Float64Array, a: ArrayLike<number>): void {
  for (let i = 0; i < acc.length; i++) acc[i] += a[i];
}

/**
 * Moments up to `maxOrder` of the vectors in `v`; `dirs` are k unit vectors of dimension d, row-major.
 * Products run as tf.matMul on row chunks of CHUNK (fast on wasm), sums across chunks in float64.
 */
export function vectorMoments(v: Vectors, maxOrder: number, dirs: Float64Array, k: number): Moments {
  const { m, d, data } = v;
  if (m === 0) throw new Error('vectorMoments: no vectors');
  if (maxOrder >= 3 && dirs.length !== k * d) throw new Error(`vectorMoments: need ${k} directions of dimension ${d}`);
  const o1 = new Float64Array(d);
  const o2 = maxOrder >= 2 ? new Float64Array(d * d) : null;
  const o3 = maxOrder >= 3 ? new Float64Array(k) : null;
  const o4 = maxOrder >= 4 ? new Float64Array(k) : null;
  for (let i = 0; i < data.length; i++) o1[i % d] += data[i];
  const u = o3 ? tf.tidy(() => tf.transpose(tf.tensor2d(Float32Array.from(dirs), [k, d]))) : null;
  forChunks([v], ([x]) => {
    // Explicit transposes: tfjs-wasm's matMul with transpose flags is 4x slower (measured).
    if (o2) addInto(o2, download(() => tf.matMul(tf.transpose(x), x)));
    if (o3 && u) {
      const t = download(() => tf.matMul(x, u));
      for (let i = 0; i < t.length; i++) {
        const q = i % k;
        const t2 = t[i] * t[i];
        o3[q] += t2 * t[i];
        if (o4) o4[q] += t2 * t2;
      }
    }
  });
  u?.dispose();
  for (const a of [o1, o2, o3, o4]) if (a) for (let i = 0; i < a.length; i++) a[i] /= m;
  return { m, d, o1, o2, o3, o4 };
}

/** E[x y^T] [dx*dy] for paired rows of x and y (tf.matMul on row chunks, float64 sums). */
export function crossMoment(x: Vectors, y: Vectors): Float64Array {
  if (x.m !== y.m) throw new Error(`crossMoment: ${x.m} and ${y.m} vectors`);
  const out = new Float64Array(x.d * y.d);
  forChunks([x, y], ([a, b]) => addInto(out, download(() => tf.matMul(tf.transpose(a), b))));
  for (let i = 0; i < out.length; i++) out[i] /= x.m;
  return out;
}

/** ||a - b|| / ||a|| with the norms. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): { relError: number; absError: number; normReal: number } {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += a[i] * a[i];
  }
  const absError = Math.sqrt(diff);
  const normReal = Math.sqrt(norm);
  return { relError: normReal > 0 ? absError / normReal : absError === 0 ? 0 : Infinity, absError, normReal };
}

/** Per-order errors of `fake` against `real`, with the floor from `halves` when given. */
export function orderErrors(real: Moments, fake: Moments, halves: [Moments, Moments] | null): OrderError[] {
  const pick = (mo: Moments, c: number) => [mo.o1, mo.o2, mo.o3, mo.o4][c - 1];
  const out: OrderError[] = [];
  for (let c = 1; c <= 4; c++) {
    const a = pick(real, c);
    const b = pick(fake, c);
    if (!a || !b) break;
    const floor = halves ? relativeError(pick(halves[0], c)!, pick(halves[1], c)!).relError : null;
    out.push({ order: c, ...relativeError(a, b), noiseFloor: floor });
  }
  return out;
}

/** Codes phi(x) [m, F] of patch vectors (dimension must equal the atoms'). */
export function applyCodeMap(v: Vectors, map: CodeMap): Vectors {
  const f = map.atoms.length;
  if (f === 0 || map.atoms[0].length !== v.d) throw new Error(`applyCodeMap: atoms have dimension ${map.atoms[0]?.length}, patches ${v.d}`);
  if (map.bias.length !== f) throw new Error(`applyCodeMap: bias has ${map.bias.length} entries for ${f} atoms`);
  const uData = new Float32Array(v.d * f);
  map.atoms.forEach((col, j) => col.forEach((x, a) => (uData[a * f + j] = x)));
  const u = tf.tensor2d(uData, [v.d, f]);
  const b = tf.tensor1d(Float32Array.from(map.bias));
  const out = new Float32Array(v.m * f);
  forChunks([v], ([x], start) => {
    const h = download(() => tf.leakyRelu(tf.sub(tf.matMul(x, u), b), map.leak));
    out.set(h, start * f);
  });
  tf.dispose([u, b]);
  return { data: out, m: v.m, d: f };
}

/** Pair images concat(upsample2x(x_{l-1}), x_l) [n,r,r,2c] as the pair discriminator sees them. */
export function pairImages(prev: ImageArray, cur: ImageArray): ImageArray {
  if (prev.n !== cur.n || prev.h * 2 !== cur.h || prev.w * 2 !== cur.w || prev.c !== cur.c) {
    throw new Error(`pairImages: levels [${prev.n},${prev.h},${prev.w},${prev.c}] and [${cur.n},${cur.h},${cur.w},${cur.c}] are not a 2x pair`);
  }
  const c = cur.c;
  const data = new Float32Array(cur.n * cur.h * cur.w * 2 * c);
  for (let i = 0; i < cur.n; i++)
    for (let y = 0; y < cur.h; y++)
      for (let x = 0; x < cur.w; x++) {
        const o = ((i * cur.h + y) * cur.w + x) * 2 * c;
        const pp = ((i * prev.h + (y >> 1)) * prev.w + (x >> 1)) * c;
        const pc = ((i * cur.h + y) * cur.w + x) * c;
        for (let k = 0; k < c; k++) {
          data[o + k] = prev.data[pp + k];
          data[o + c + k] = cur.data[pc + k];
        }
      }
  return { data, n: cur.n, h: cur.h, w: cur.w, c: 2 * c };
}

/** Grid patches of x_l with, row for row, the P x P patch of x_{l-1} that contains each (its parent). */
export function parentPairs(cur: ImageArray, prev: ImageArray, p: number, maxPatches: number, seed: number): { child: Vectors; parent: Vectors } | null {
  if (prev.h % p !== 0 || prev.w % p !== 0 || cur.h !== 2 * prev.h || cur.n !== prev.n) return null;
  const child = gridPatches(cur, p, maxPatches, seed);
  const gh = cur.h / p;
  const gw = cur.w / p;
  const ph = prev.h / p;
  const pw = prev.w / p;
  const all = gridPatches(prev, p);
  const data = new Float32Array(child.m * all.d);
  for (let k = 0; k < child.m; k++) {
    const idx = child.positions[k];
    const img = Math.floor(idx / (gh * gw));
    const gi = Math.floor((idx % (gh * gw)) / gw);
    const gj = idx % gw;
    const parent = img * ph * pw + (gi >> 1) * pw + (gj >> 1);
    data.set(all.data.subarray(parent * all.d, (parent + 1) * all.d), k * all.d);
  }
  return { child, parent: { data, m: child.m, d: all.d } };
}

function patchesOf(a: ImageArray, o: MomentOptions, stream: number): Vectors {
  if (o.sampling === 'grid') return gridPatches(a, o.patch, o.maxPatches, o.seed + stream);
  const per = Math.max(1, Math.min(o.cropsPerImage, Math.floor(o.maxPatches / Math.max(1, a.n))));
  return randomCrops(a, o.patch, per, o.seed + stream);
}

function checkOptions(o: MomentOptions, fn: string): void {
  if (!(Number.isInteger(o.maxOrder) && o.maxOrder >= 1 && o.maxOrder <= 4)) throw new Error(`${fn}: maxOrder must be 1..4, got ${o.maxOrder}`);
  if (!(Number.isInteger(o.patch) && o.patch >= 1)) throw new Error(`${fn}: patch must be a positive integer, got ${o.patch}`);
  if (!(o.directions >= 1 && o.maxPatches >= 1)) throw new Error(`${fn}: directions and maxPatches must be >= 1`);
}

/**
 * Moment errors of generated against real pyramids. `real[l]`, `fake[l]`: [N,r_l,r_l,C] tensors (or
 * ImageArrays), ascending resolution; N may differ between real and fake. `codes[r]`, when present,
 * adds the code-space moments at resolution r.
 */
export function momentMatching(
  real: (tf.Tensor4D | ImageArray)[],
  fake: (tf.Tensor4D | ImageArray)[],
  options: Partial<MomentOptions> = {},
  codes: Record<number, CodeMap> = {},
): MomentReport {
  const o = { ...DEFAULT_MOMENTS, ...options };
  checkOptions(o, 'momentMatching');
  if (real.length !== fake.length) throw new Error(`momentMatching: ${real.length} real levels but ${fake.length} fake levels`);
  const R = real.map((x) => toImageArray(x, 'momentMatching'));
  const F = fake.map((x) => toImageArray(x, 'momentMatching'));
  // The halves: a seeded permutation of the real images split in two (disjoint).
  const n = R[0]?.n ?? 0;
  const perm = new Rng(o.seed, 'analysis/moments-split').permutation(n);
  const halfIdx = [perm.slice(0, n >> 1), perm.slice(n >> 1, 2 * (n >> 1))];
  const floorOn = o.noiseFloor && n >= 2;
  const levels: LevelMoments[] = R.map((r, l) => {
    const f = F[l];
    if (r.h !== f.h || r.w !== f.w || r.c !== f.c) throw new Error(`momentMatching: level ${l + 1} real is ${r.h}x${r.w}x${r.c}, fake ${f.h}x${f.w}x${f.c}`);
    const d = o.patch * o.patch * r.c;
    const dirs = unitDirections(o.directions, d, o.seed, 'analysis/moment-directions');
    const halves = floorOn ? halfIdx.map((idx) => selectImages(r, idx)) : null;
    const mom = (a: ImageArray, s: number) => vectorMoments(patchesOf(a, o, s), o.maxOrder, dirs, o.directions);
    const pr = patchesOf(r, o, 1);
    const pf = patchesOf(f, o, 2);
    const mr = vectorMoments(pr, o.maxOrder, dirs, o.directions);
    const mf = vectorMoments(pf, o.maxOrder, dirs, o.directions);
    const mh = halves ? ([mom(halves[0], 3), mom(halves[1], 4)] as [Moments, Moments]) : null;
    const level: LevelMoments = {
      resolution: r.h,
      patchesReal: pr.m,
      patchesFake: pf.m,
      orders: orderErrors(mr, mf, mh),
      cross: null,
      code: null,
    };
    if (o.cross && l > 0) {
      const cm = (cur: ImageArray, prev: ImageArray, s: number) => {
        const pairs = parentPairs(cur, prev, o.patch, o.maxPatches, o.seed + s);
        return pairs && crossMoment(pairs.child, pairs.parent);
      };
      const cr = cm(r, R[l - 1], 5);
      const cf = cm(f, F[l - 1], 6);
      if (cr && cf) {
        const floor = halves ? relativeError(cm(halves[0], selectImages(R[l - 1], halfIdx[0]), 7)!, cm(halves[1], selectImages(R[l - 1], halfIdx[1]), 8)!).relError : null;
        level.cross = { order: 2, ...relativeError(cr, cf), noiseFloor: floor };
      }
    }
    const map = codes[r.h];
    if (map) {
      const inputs = (set: ImageArray[], i: number): ImageArray => (map.input === 'pair' ? pairImages(set[i - 1], set[i]) : set[i]);
      if (map.input === 'pair' && l === 0) throw new Error('momentMatching: a pair code map needs the level below');
      const k = Math.min(o.directions, 64);
      const cdirs = unitDirections(k, map.atoms.length, o.seed, 'analysis/code-directions');
      const cmom = (a: ImageArray, s: number) => vectorMoments(applyCodeMap(patchesOf(a, o, s), map), o.maxOrder, cdirs, k);
      // Only the levels phi reads are split (l, and l - 1 for a pair map).
      const half = (h: number) => R.map((x, i) => (i === l || (map.input === 'pair' && i === l - 1) ? selectImages(x, halfIdx[h]) : x));
      const ch = halves ? ([cmom(inputs(half(0), l), 11), cmom(inputs(half(1), l), 12)] as [Moments, Moments]) : null;
      level.code = { source: map.source, features: map.atoms.length, orders: orderErrors(cmom(inputs(R, l), 9), cmom(inputs(F, l), 10), ch) };
    }
    return level;
  });
  return {
    kind: 'moments',
    method: {
      computation:
        'patch moments: o1 mean, o2 E[xx^T], o3/o4 E[(u.x)^c] on seeded unit directions; relative Frobenius error real vs fake; floor = error between two disjoint halves of the real images; cross = E[x_l,p x_{l-1},parent(p)^T] on grid patches',
      params: {
        patch: o.patch,
        sampling: o.sampling,
        cropsPerImage: o.cropsPerImage,
        maxPatches: o.maxPatches,
        directions: o.directions,
        maxOrder: o.maxOrder,
        seed: o.seed,
        noiseFloor: floorOn,
        cross: o.cross,
        realImages: n,
        fakeImages: F[0]?.n ?? 0,
      },
    },
    levels,
  };
}

/** Cheap defaults for logging during training (docs/analysis.md gives the cost). */
export const LOGGING_MOMENTS: MomentOptions = { ...DEFAULT_MOMENTS, maxPatches: 4096, directions: 32, noiseFloor: false };

/**
 * Flat metrics for the trainer's hooks: {"moments/r16/o1": relError, ..., "moments/r16/cross": ...},
 * plus "moments/r16/o1_floor" when options.noiseFloor is on. Subsamples to `maxPatches` per level.
 */
export function momentMetrics(real: (tf.Tensor4D | ImageArray)[], fake: (tf.Tensor4D | ImageArray)[], options: Partial<MomentOptions> = {}): Record<string, number> {
  const rep = momentMatching(real, fake, { ...LOGGING_MOMENTS, ...options });
  const out: Record<string, number> = {};
  for (const lv of rep.levels) {
    for (const e of lv.orders) {
      out[`moments/r${lv.resolution}/o${e.order}`] = e.relError;
      if (e.noiseFloor !== null) out[`moments/r${lv.resolution}/o${e.order}_floor`] = e.noiseFloor;
    }
    if (lv.cross) out[`moments/r${lv.resolution}/cross`] = lv.cross.relError;
  }
  return out;
}
