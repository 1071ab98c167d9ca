/**
 * The fuzz cases of test/reliability-fuzz.test.ts, run in a child process (node --import tsx) so that a
 * hang or a process abort in a decoder is caught by the parent's watchdog instead of stopping the test
 * run. Usage: reliability-fuzz-child.ts config|files <cases> <seed> <workdir>. Prints one JSON line per
 * case: {i, kind, outcome: 'ok' | 'loaded' | 'skipped' | 'ignored' | 'user-error' | 'bug', message}.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { Rng } from '../src/util/rng.js';
import { UserError } from '../src/util/errors.js';
import { run as trainCli } from '../src/cli/train.js';
import { openSource, type FolderProblem } from '../src/data/index.js';
import { DEFAULT_CONFIG } from '../src/train/config.js';
import { initBackend } from '../src/backend/index.js';

const [suite, countArg, seedArg, workArg] = process.argv.slice(2);
const count = Number(countArg);
const rng = new Rng(Number(seedArg), `fuzz-${suite}`);
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];

// ---------------------------------------------------------------- config cases

const BASE = {
  data: 'experiments/teacher-small.json',
  seed: 1,
  generator: { resolutions: [8, 16, 32], channels: [16, 16, 16], zDim: 16, kernel: 4, patch: 4 },
  discriminator: { widths: [32, 64] },
  train: { mode: 'layerwise', batch: 32, steps: 40 },
  log: { every: 10, progressEvery: 20, checkpointEvery: 40, sampleEvery: 40 },
  guard: { onNonFinite: 'rollback' },
};

/** Every dotted path of the schema (sections and leaves). */
function schemaPaths(o: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(o).flatMap(([k, v]) => {
    const p = [...prefix, k];
    return v && typeof v === 'object' && !Array.isArray(v) ? [p, ...schemaPaths(v as Record<string, unknown>, p)] : [p];
  });
}
const PATHS = schemaPaths(DEFAULT_CONFIG as unknown as Record<string, unknown>);
const SPECIAL_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];

function randomString(): string {
  switch (rng.int(6)) {
    case 0:
      return '';
    case 1:
      return 'x'.repeat(1 + rng.int(20000));
    case 2:
      return pick(['ns', 'wgan', 'layerwise', 'emoji', 'auto', 'wasm', 'rollback', 'stop', 'skip', 'off', 'smoke', 'dcgan']);
    case 3:
      return pick(['NaN', 'Infinity', '-1', '1e400', 'null', 'true', '[1,2]', '{"a":1}', '\u0000', '\u{1F600}', '../../etc/passwd']);
    default:
      return Array.from({ length: rng.int(12) }, () => String.fromCharCode(32 + rng.int(95))).join('');
  }
}

function randomValue(depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 9)) {
    case 0:
      return rng.int(2001) - 1000;
    case 1:
      return pick([0, -1, 1, 2.5, -0.5, 1e308, -1e308, 5e-324, 2 ** 53 + 2, 2 ** 31, 0.1, 1e-9]);
    case 2:
      return randomString();
    case 3:
      return rng.uniform() < 0.5;
    case 4:
      return null;
    case 5:
      return (rng.uniform() - 0.5) * 10 ** rng.int(12);
    case 6:
      return Array.from({ length: rng.int(6) }, () => randomValue(depth + 1));
    case 7:
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.uniform() < 0.2 ? pick(SPECIAL_KEYS) : randomString().slice(0, 12), randomValue(depth + 1)]));
    default:
      return Array.from({ length: 1 + rng.int(5) }, () => pick([0, 1, 2, 3, 4, 8, 16, 32, 64, -4, 2 ** 20, 3.5]));
  }
}

function getAt(o: Record<string, unknown>, path: string[]): Record<string, unknown> | null {
  let cur: unknown = o;
  for (const k of path) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return null;
    if (!Object.prototype.hasOwnProperty.call(cur, k)) (cur as Record<string, unknown>)[k] = {};
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Record<string, unknown>) : null;
}

interface ConfigCase {
  kind: string;
  text: string;
  sets: string[];
  seed?: string;
  /** The case adds a key the schema does not have: accepting it is a bug. */
  unknownKey: boolean;
}

function configCase(): ConfigCase {
  const obj = structuredClone(BASE) as Record<string, unknown>;
  const kinds: string[] = [];
  // Unknown keys added (where, which); a later deletion or value may remove them again.
  const added: Array<{ path: string[]; key: string }> = [];
  const sets: string[] = [];
  let seed: string | undefined;
  for (let m = 0, n = 1 + rng.int(3); m < n; m++) {
    const path = pick(PATHS);
    const parent = getAt(obj, path.slice(0, -1));
    const key = path[path.length - 1];
    switch (rng.int(9)) {
      case 0:
      case 1:
      case 2:
        if (parent) parent[key] = randomValue();
        kinds.push('value');
        break;
      case 3:
        if (parent) delete parent[key];
        kinds.push('delete');
        break;
      case 4: {
        const at = path.slice(0, rng.int(path.length));
        const target = getAt(obj, at);
        if (target) {
          const k = rng.uniform() < 0.4 ? pick(SPECIAL_KEYS) : rng.uniform() < 0.5 ? key.toLowerCase() + 'x' : randomString().slice(0, 10) || 'k';
          // JSON.parse makes '__proto__' an own key; setting it here would change the prototype instead.
          Object.defineProperty(target, k, { value: randomValue(), enumerable: true, writable: true, configurable: true });
          added.push({ path: at, key: k });
        }
        kinds.push('unknown-key');
        break;
      }
      case 5: {
        let deep: unknown = randomValue();
        for (let d = 0, depth = 1 + rng.int(200); d < depth; d++) deep = rng.uniform() < 0.5 ? [deep] : { [pick(['a', key])]: deep };
        if (parent) parent[key] = deep;
        kinds.push('nesting');
        break;
      }
      case 6:
        sets.push(
          rng.uniform() < 0.8
            ? `${path.join('.')}=${rng.uniform() < 0.5 ? JSON.stringify(randomValue()) : randomString()}`
            : pick(['noequals', '=1', '.=1', 'a..b=1', 'train.batch.x=1', '__proto__.polluted=1', 'constructor.prototype.x=1', 'train=5', 'guard.onNonFinite=maybe', '']),
        );
        kinds.push('set');
        break;
      case 7:
        seed = pick(['-1', '1.5', 'abc', '4294967296', '0', '4294967295', '1e3', '', ' 7']);
        kinds.push('seed');
        break;
      default:
        kinds.push('top-level');
        return { kind: 'top-level', text: JSON.stringify(pick([[], 'x', 1, null, true, [BASE]])), sets, unknownKey: false };
    }
  }
  let text = JSON.stringify(obj);
  let unknownKey = added.some((a) => {
    let cur: unknown = obj;
    for (const k of a.path) cur = cur && typeof cur === 'object' && !Array.isArray(cur) && Object.prototype.hasOwnProperty.call(cur, k) ? (cur as Record<string, unknown>)[k] : undefined;
    return !!cur && typeof cur === 'object' && !Array.isArray(cur) && Object.prototype.hasOwnProperty.call(cur, a.key);
  });
  if (rng.uniform() < 0.08) {
    text = text.slice(0, rng.int(text.length)); // a truncated file
    kinds.push('truncated');
    unknownKey = false;
  }
  return { kind: kinds.join('+'), text, sets, seed, unknownKey };
}

async function runConfigCases(work: string): Promise<void> {
  const quiet = console.log;
  console.log = () => undefined; // --dry-run prints the config
  try {
    for (let i = 0; i < count; i++) {
      const c = configCase();
      const file = join(work, `config-${i}.json`);
      await writeFile(file, c.text);
      const argv = ['--config', file, '--dry-run', ...c.sets.flatMap((s) => ['--set', s]), ...(c.seed !== undefined ? ['--seed', c.seed] : [])];
      let outcome: string;
      let message = '';
      try {
        await trainCli(argv);
        outcome = c.unknownKey ? 'bug' : 'ok';
        if (c.unknownKey) message = 'an unknown key was accepted';
      } catch (e) {
        message = (e as Error).message;
        outcome = e instanceof UserError ? 'user-error' : 'bug';
        if (e instanceof UserError && (message.length > 2000 || /undefined|\[object Object\]|must be a function/.test(message))) outcome = 'bug';
        // One line (issue 22), a usage line after a flag error aside.
        if (e instanceof UserError && message.split('\nUsage: ')[0].includes('\n')) outcome = 'bug';
        if (!(e instanceof UserError)) message = (e as Error).stack ?? message;
      }
      const polluted = Object.keys(Object.prototype);
      if (polluted.length) {
        outcome = 'bug';
        message = `Object.prototype polluted with ${polluted.join(',')}`;
        for (const k of polluted) delete (Object.prototype as Record<string, unknown>)[k];
      }
      emit({ i, kind: c.kind, outcome, message: message.slice(0, 300), argv: c.sets.length || c.seed ? argv.slice(3) : undefined });
    }
  } finally {
    console.log = quiet;
  }
}

// ---------------------------------------------------------------- file cases

function crc32(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    let c = (crc ^ byte) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A PNG whose IHDR claims w x h, with a tiny IDAT (valid CRCs). */
function pngWithHeader(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(64))), pngChunk('IEND', Buffer.alloc(0))]);
}

function randomPixels(w: number, h: number): Buffer {
  const b = Buffer.alloc(w * h * 4);
  for (let i = 0; i < b.length; i++) b[i] = i % 4 === 3 ? 255 : rng.int(256);
  return b;
}

function validPng(w = 8 + rng.int(40), h = 8 + rng.int(40)): Buffer {
  const png = new PNG({ width: w, height: h });
  png.data = randomPixels(w, h);
  const colorType = pick([0, 2, 4, 6] as const);
  return PNG.sync.write(png, { colorType, bitDepth: pick([8, 16] as const), inputHasAlpha: true });
}

function validJpeg(w = 8 + rng.int(40), h = 8 + rng.int(40)): Buffer {
  return Buffer.from(jpeg.encode({ data: randomPixels(w, h), width: w, height: h }, 50 + rng.int(50)).data);
}

function flip(b: Buffer, n: number): Buffer {
  const out = Buffer.from(b);
  for (let k = 0; k < n; k++) out[rng.int(out.length)] = rng.int(256);
  return out;
}

function randomBytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => rng.int(256)));
}

/** A JPEG whose SOF0 claims 65535 x 65535. */
function jpegWithHugeHeader(): Buffer {
  const b = validJpeg(16, 16);
  for (let i = 0; i + 8 < b.length; i++) {
    if (b[i] === 0xff && b[i + 1] === 0xc0) {
      b.writeUInt16BE(65535, i + 5);
      b.writeUInt16BE(65535, i + 7);
      break;
    }
  }
  return b;
}

type FileCase = { kind: string; name: string; make: (dir: string, file: string) => Promise<void> };
const bytes = (b: Buffer) => async (_dir: string, file: string) => writeFile(file, b);

function fileCase(i: number): FileCase {
  const ext = pick(['png', 'jpg', 'jpeg', 'PNG', 'JPG']);
  const name = `z-${i}.${ext}`;
  const fixed: FileCase[] = [
    { kind: 'empty file', name, make: bytes(Buffer.alloc(0)) },
    { kind: 'directory named like an image', name, make: async (_d, f) => mkdir(f) },
    { kind: 'directory with files named like an image', name, make: async (_d, f) => (await mkdir(f), writeFile(join(f, 'x.png'), validPng())) },
    { kind: 'dangling symlink', name, make: async (_d, f) => symlink('/nonexistent/nothing.png', f) },
    { kind: 'symlink loop', name, make: async (_d, f) => symlink(f, f) },
    { kind: 'FIFO', name, make: async (_d, f) => void execFileSync('mkfifo', [f]) },
    { kind: 'PNG header 100000x100000', name: `z-${i}.png`, make: bytes(pngWithHeader(100000, 100000)) },
    { kind: 'PNG header 2147483647x1', name: `z-${i}.png`, make: bytes(pngWithHeader(2 ** 31 - 1, 1)) },
    { kind: 'PNG header 20000x20000', name: `z-${i}.png`, make: bytes(pngWithHeader(20000, 20000)) },
    { kind: 'PNG header 0x0', name: `z-${i}.png`, make: bytes(pngWithHeader(0, 0)) },
    { kind: 'PNG header 1x1073741824', name: `z-${i}.png`, make: bytes(pngWithHeader(1, 2 ** 30)) },
    { kind: 'JPEG header 65535x65535', name: `z-${i}.jpg`, make: bytes(jpegWithHugeHeader()) },
    { kind: 'image too small (2x2)', name: `z-${i}.png`, make: bytes(validPng(2, 2)) },
    { kind: 'PNG signature only', name: `z-${i}.png`, make: bytes(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
    { kind: 'JPEG SOI only', name: `z-${i}.jpg`, make: bytes(Buffer.from([0xff, 0xd8, 0xff])) },
  ];
  if (i < fixed.length) return fixed[i];
  switch (rng.int(7)) {
    case 0: {
      const b = validPng();
      return { kind: 'truncated PNG', name: `z-${i}.png`, make: bytes(b.subarray(0, rng.int(b.length))) };
    }
    case 1: {
      const b = validJpeg();
      return { kind: 'truncated JPEG', name: `z-${i}.jpg`, make: bytes(b.subarray(0, rng.int(b.length))) };
    }
    case 2:
      return { kind: 'bytes changed in a PNG', name: `z-${i}.png`, make: bytes(flip(validPng(), 1 + rng.int(8))) };
    case 3:
      return { kind: 'bytes changed in a JPEG', name: `z-${i}.jpg`, make: bytes(flip(validJpeg(), 1 + rng.int(8))) };
    case 4:
      return { kind: 'random bytes', name, make: bytes(randomBytes(rng.int(4096))) };
    case 5: {
      const sig = pick([[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0xff, 0xd8, 0xff]]);
      return { kind: 'image signature + random bytes', name, make: bytes(Buffer.concat([Buffer.from(sig), randomBytes(rng.int(2048))])) };
    }
    default:
      return { kind: 'PNG bytes with a .jpg name', name: `z-${i}.jpg`, make: bytes(validPng()) };
  }
}

/** Runs `p` with a time limit (an async hang, such as reading a FIFO, fails the case instead of the run). */
function limit<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms (hang)`)), ms).unref())]);
}

async function runFileCases(work: string): Promise<void> {
  const good = [validPng(16, 16), validJpeg(20, 16)];
  for (let i = 0; i < count; i++) {
    const c = fileCase(i);
    const alone = i % 5 === 4; // every fifth case: the bad file is the only file
    const dir = await mkdtemp(join(work, 'folder-'));
    if (!alone) await Promise.all(good.map((b, k) => writeFile(join(dir, `good-${k}.${k ? 'jpg' : 'png'}`), b)));
    await c.make(dir, join(dir, c.name));
    const messages: FolderProblem[] = [];
    let outcome: string;
    let message = '';
    try {
      const source = await limit(openSource(dir, { config: { resolution: 8, minResolution: 4, heldOutFraction: 0 }, onMessage: (p) => messages.push(p) }), 10_000);
      const batch = source.batch(2);
      batch.forEach((t) => t.dispose());
      const mine = messages.find((m) => m.file === c.name);
      const n = (source.describe() as { size?: number }).size;
      if (mine?.action === 'skipped') {
        outcome = 'skipped';
        message = mine.reason;
      } else if (!mine && n === good.length) {
        outcome = 'ignored';
        message = 'not read (a subfolder without --recursive)';
      } else {
        outcome = 'loaded';
        message = mine ? `${mine.action}: ${mine.reason}` : `decoded (${n} images)`;
      }
    } catch (e) {
      message = (e as Error).message;
      outcome = e instanceof UserError ? 'user-error' : 'bug';
      if (!(e instanceof UserError)) message = (e as Error).stack ?? message;
    }
    emit({ i, kind: `${c.kind}${alone ? ' (alone)' : ''}`, outcome, message: message.slice(0, 300) });
    await rm(dir, { recursive: true, force: true });
  }
}

await initBackend('wasm');
const work = workArg ?? (await mkdtemp('/tmp/fsrgan-fuzz-'));
if (suite === 'config') await runConfigCases(work);
else if (suite === 'files') await runFileCases(work);
else throw new Error(`unknown suite ${suite}`);
emit({ done: true });
