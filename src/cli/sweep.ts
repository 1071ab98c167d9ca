/**
 * `fsrgan sweep SPEC`: a sweep file's runs (seeds x configs x budgets, src/sweep/spec.ts) trained and
 * measured by `--jobs` run processes on this machine, or queued on Redis with `--queue URL` for
 * `fsrgan worker`s on any number of machines; then the report (table, figure, JSON with intervals over
 * seeds). `fsrgan sweep report SPEC` builds the report alone, from the run directories or the queue.
 * docs/sweeps.md.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { QUEUE_ENV, redactArgs, redactUrl } from '../sweep/connection.js';
import { runLocal, type ExecResult } from '../sweep/local.js';
import { Progress } from '../sweep/progress.js';
import { enqueueSweep, openQueue, queueState, watchQueue } from '../sweep/queue.js';
import { writeReport } from '../sweep/report.js';
import { readSummary, runDirOf } from '../sweep/runner.js';
import { loadSweep, type Sweep } from '../sweep/spec.js';
import type { RunSummary } from '../sweep/summary.js';
import { intFlag, parseFlags } from './args.js';

const USAGE =
  'fsrgan sweep <sweep.json> [--out DIR] [--jobs N] [--dry-run] [--verbose]     (local: N run processes, default cores / workers)\n' +
  `       fsrgan sweep <sweep.json> --queue redis://HOST:PORT [--detach]          (queue the runs for fsrgan worker; or $${QUEUE_ENV})\n` +
  '       fsrgan sweep report <sweep.json> [--out DIR] [--queue URL] [--partial]   (report from the run directories, or from the queue)\n' +
  '       runs in <out>/runs/<id> (default out: sweeps), the report in <out>/<sweep name>/';

/** Lines of a run process worth showing without --verbose. */
export const noteworthy = (line: string) => /warn|error|stale|took over|cannot|damaged/i.test(line);

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'sweep',
    argv,
    {
      out: { type: 'string' },
      jobs: { type: 'string' },
      queue: { type: 'string' },
      detach: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      partial: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
    USAGE,
  );
  // The parsed values keep the address; the arguments themselves lose its password (crash reports print them).
  redactArgs(argv);
  if (values.help) return console.log(USAGE), 0;
  const isReport = positionals[0] === 'report';
  const files = isReport ? positionals.slice(1) : positionals;
  if (files.length !== 1) throw new UserError(`give one sweep file.\nUsage: ${USAGE}`);
  const sweep = await loadSweep(files[0]);
  const out = values.out ?? 'sweeps';
  const reportDir = join(out, sweep.spec.name);
  const queueUrl = values.queue ?? process.env[QUEUE_ENV];
  const points = sweep.groups.length;
  const seeds = sweep.spec.axes.seeds.length;
  if (values['dry-run']) {
    console.log(`sweep ${sweep.spec.name}: ${sweep.runs.length} runs (${points} point${points === 1 ? '' : 's'} x ${seeds} seed${seeds === 1 ? '' : 's'}) into ${join(out, 'runs')}`);
    for (const r of sweep.runs) console.log(`  ${r.id}  ${r.group}  seed ${r.seed}  ${r.steps} G steps`);
    return 0;
  }
  if (isReport) return report(sweep, out, reportDir, queueUrl, values.partial === true);
  if (queueUrl) return viaQueue(sweep, queueUrl, reportDir, values.detach === true);
  if (values.detach) throw new UserError('--detach applies to --queue: a local sweep runs in this process.');
  const cores = Math.max(1, cpus().length);
  const jobs = intFlag('jobs', values.jobs, Math.max(1, Math.floor(cores / sweep.spec.workers)), 1, 1024);
  console.log(`sweep ${sweep.spec.name}: ${sweep.runs.length} runs (${points} point${points === 1 ? '' : 's'} x ${seeds} seed${seeds === 1 ? '' : 's'}), ${jobs} at a time (${sweep.spec.workers} core${sweep.spec.workers === 1 ? '' : 's'} each), runs in ${join(out, 'runs')}`);
  const progress = new Progress(sweep.spec.name, sweep.runs, terminal());
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    progress.log('interrupt: each run checkpoints and stops (Ctrl-C again to quit now); run the same command to continue');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let res: ExecResult;
  try {
    res = await runLocal(sweep, { root: out, jobs, progress, signal: controller.signal, log: (l) => (values.verbose || noteworthy(l)) && progress.log(l) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.finish();
  }
  if (res.interrupted) {
    console.log(`interrupted: ${res.summaries.size} of ${sweep.runs.length} runs done; run the same command to continue.`);
    return 130;
  }
  return finish(sweep, res, reportDir);
}

function terminal() {
  return { tty: process.stdout.isTTY === true, write: (s: string) => void process.stdout.write(s), line: (s: string) => console.log(s) };
}

async function finish(sweep: Sweep, res: ExecResult, reportDir: string): Promise<number> {
  const { files } = await writeReport(reportDir, sweep, res.summaries);
  const { readFile } = await import('node:fs/promises');
  console.log('');
  console.log(await readFile(files[1], 'utf8'));
  console.log(`wrote ${files.join(', ')}`);
  if (!res.failures.length) return 0;
  console.error(`fsrgan sweep: ${res.failures.length} of ${sweep.runs.length} runs failed:`);
  for (const f of res.failures) console.error(`  ${f.id} (${f.group}, seed ${f.seed}): ${f.message}`);
  console.error('Fix the cause and run the same command again: complete runs are kept, the others are retried.');
  return res.failures.some((f) => f.kind === 'user') ? 2 : 1;
}

async function viaQueue(sweep: Sweep, url: string, reportDir: string, detach: boolean): Promise<number> {
  const h = await openQueue(url, (l) => console.error(l));
  try {
    const n = await enqueueSweep(h, sweep);
    console.log(`sweep ${sweep.spec.name}: ${n.added} run(s) queued on ${h.target.shown}${n.requeued ? `, ${n.requeued} queued again (failed, or measured otherwise)` : ''}${n.kept ? `, ${n.kept} there already` : ''}; start workers with: fsrgan worker --queue ${h.target.shown}`);
    if (detach) {
      console.log(`report when done: fsrgan sweep report ${sweep.file} --queue ${h.target.shown}`);
      return 0;
    }
    const progress = new Progress(sweep.spec.name, sweep.runs, terminal());
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.on('SIGINT', onSignal);
    let res: ExecResult;
    try {
      res = await watchQueue(h, sweep, progress, controller.signal);
    } finally {
      process.off('SIGINT', onSignal);
      progress.finish();
    }
    if (res.interrupted) {
      console.log(`stopped watching; the jobs stay queued. Report when done: fsrgan sweep report ${sweep.file} --queue ${h.target.shown}`);
      return 130;
    }
    return await finish(sweep, res, reportDir);
  } finally {
    await h.close();
  }
}

async function report(sweep: Sweep, out: string, reportDir: string, url: string | undefined, partial: boolean): Promise<number> {
  let summaries: Map<string, RunSummary>;
  let failures: ExecResult['failures'] = [];
  if (url) {
    const h = await openQueue(url, (l) => console.error(l));
    try {
      const st = await queueState(h, sweep);
      summaries = st.summaries;
      failures = st.failures;
    } finally {
      await h.close();
    }
  } else {
    summaries = new Map();
    for (const r of sweep.runs) {
      const s = await readSummary(runDirOf(out, r.id), sweep.measureKey);
      if (s) summaries.set(r.id, s);
    }
  }
  const missing = sweep.runs.filter((r) => !summaries.has(r.id));
  if (missing.length && !partial) {
    const where = url ? `the queue ${redactUrl(url)}` : `'${join(out, 'runs')}'`;
    throw new UserError(`${missing.length} of ${sweep.runs.length} runs have no summary in ${where} yet (first: ${missing[0].id}${failures.length ? `; ${failures.length} failed` : ''}): finish them with fsrgan sweep ${sweep.file}${url ? ' --queue ...' : ''}, or pass --partial.`);
  }
  return finish(sweep, { summaries, failures: [], interrupted: false }, reportDir);
}
