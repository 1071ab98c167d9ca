/**
 * Bad input (issue 8.4): seeded fuzzing of the config loader through the CLI's own entry point
 * (`fsrgan train --config FILE --dry-run [--set ...] [--seed ...]`: random keys, types, values, deletions,
 * deep nesting, prototype keys, malformed --set and --seed, truncated files) and of the folder dataset
 * loader (truncated and byte-flipped PNG/JPEG, random bytes with image names, empty files, directories
 * and FIFOs named x.png, dangling symlinks, headers claiming huge or zero sizes). Every case must end in
 * a UserError or a skipped file with a message; anything else, a process abort or a case that does not
 * answer within 10 s (watchdog on a child process) fails. 500 config and 120 file cases in plain
 * `npm test`; 3,000 and 400 with FSRGAN_SLOW=1.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface CaseResult {
  i: number;
  kind: string;
  outcome: string;
  message: string;
}

let work = '';
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fsrgan-fuzz-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** Runs a suite in a child process; a silent child (a hang) is killed after `silenceMs` and reported. */
function runSuite(suite: 'config' | 'files', cases: number, seed: number, silenceMs = 10_000): Promise<{ results: CaseResult[]; failure: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/reliability-fuzz-child.ts', suite, String(cases), String(seed), work], {
      env: { ...process.env, FSRGAN_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const results: CaseResult[] = [];
    let buf = '';
    let stderr = '';
    let done = false;
    let failure: string | null = null;
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        failure = `no answer within ${silenceMs} ms after case ${results.length - 1} (a hang in case ${results.length})`;
        child.kill('SIGKILL');
      }, silenceMs);
    };
    arm();
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const o = JSON.parse(l);
        if (o.done) done = true;
        else results.push(o);
      }
      arm();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!failure && (!done || code !== 0)) failure = `the child ended (code ${code}, signal ${signal}) after case ${results.length - 1}: ${stderr.slice(-2000)}`;
      resolve({ results, failure });
    });
  });
}

function tally(results: CaseResult[]): string {
  const by = new Map<string, number>();
  for (const r of results) by.set(r.outcome, (by.get(r.outcome) ?? 0) + 1);
  return [...by].map(([k, v]) => `${v} ${k}`).join(', ');
}

const SLOW = !!process.env.FSRGAN_SLOW;

describe('fuzzing the config loader (fsrgan train --config ... --dry-run)', () => {
  it(`${SLOW ? 3000 : 500} seeded mutations: each one a valid config or a UserError naming the problem`, async () => {
    const n = SLOW ? 3000 : 500;
    const { results, failure } = await runSuite('config', n, SLOW ? 11 : 1);
    expect(failure).toBeNull();
    expect(results).toHaveLength(n);
    const bugs = results.filter((r) => r.outcome === 'bug');
    expect(bugs.map((b) => `#${b.i} (${b.kind}): ${b.message}`)).toEqual([]);
    expect(results.filter((r) => r.outcome === 'ok').length).toBeGreaterThan(0);
    console.log(`config fuzz: ${n} cases tried (${tally(results)}); 0 crashes, 0 hangs, 0 unknown keys accepted, 0 messages over 2,000 characters or one line`);
  }, 120_000);
});

describe('fuzzing the folder dataset loader', () => {
  it(`${SLOW ? 400 : 120} bad files: each one skipped with a message, ignored, decoded, or a UserError when nothing is usable`, async () => {
    const n = SLOW ? 400 : 120;
    const { results, failure } = await runSuite('files', n, SLOW ? 12 : 2);
    expect(failure).toBeNull();
    expect(results).toHaveLength(n);
    const bugs = results.filter((r) => r.outcome === 'bug');
    expect(bugs.map((b) => `#${b.i} (${b.kind}): ${b.message}`)).toEqual([]);
    for (const r of results.filter((x) => x.outcome === 'skipped' || x.outcome === 'user-error')) expect(r.message.length, r.kind).toBeGreaterThan(10);
    // The headers that crashed (abort in zlib) or allocated gigabytes before decode.ts checked them.
    for (const kind of ['PNG header 2147483647x1', 'PNG header 20000x20000', 'PNG header 100000x100000', 'JPEG header 65535x65535']) {
      expect(results.find((r) => r.kind === kind)).toMatchObject({ outcome: 'skipped', message: expect.stringMatching(/megapixel|maxResolutionInMP/) });
    }
    expect(results.find((r) => r.kind === 'FIFO')).toMatchObject({ outcome: 'skipped', message: 'not a regular file' });
    const kinds = new Set(results.map((r) => r.kind.replace(/ \(alone\)$/, '')));
    console.log(`dataset fuzz: ${n} file cases of ${kinds.size} kinds tried (${tally(results)}); 0 crashes, 0 hangs`);
  }, 120_000);
});
