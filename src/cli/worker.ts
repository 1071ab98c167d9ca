/**
 * `fsrgan worker --queue redis://HOST:PORT`: takes sweep jobs from the queue (`fsrgan sweep SPEC --queue`)
 * and trains and measures each into `<out>/runs/<id>`, until stopped (Ctrl-C or SIGTERM: the running
 * runs checkpoint and go back to the queue) or, with --until-empty, until the queue is empty. A plain
 * process: start it by hand, under Slurm, Kubernetes or systemd, as many per machine as fit.
 * Library: src/sweep/worker.ts; docs/sweeps.md.
 */
import { hostname } from 'node:os';
import { UserError } from '../util/errors.js';
import { QUEUE_ENV, redactArgs } from '../sweep/connection.js';
import { runWorker } from '../sweep/worker.js';
import { intFlag, parseFlags } from './args.js';
import { noteworthy } from './sweep.js';

const USAGE =
  `fsrgan worker --queue redis://[:PASSWORD@]HOST:PORT (or rediss://; or $${QUEUE_ENV}) [--out DIR] [--concurrency N] [--id NAME]\n` +
  '       [--until-empty] [--stall-seconds S] [--verbose]   runs go to <out>/runs/<id> (default out: sweeps; put it on shared storage)';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'worker',
    argv,
    {
      queue: { type: 'string' },
      out: { type: 'string' },
      concurrency: { type: 'string' },
      id: { type: 'string' },
      'until-empty': { type: 'boolean' },
      'stall-seconds': { type: 'string' },
      verbose: { type: 'boolean' },
    },
    USAGE,
  );
  // The parsed values keep the address; the arguments themselves lose its password (crash reports print them).
  redactArgs(argv);
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'.\nUsage: ${USAGE}`);
  const url = values.queue ?? process.env[QUEUE_ENV];
  if (!url) throw new UserError(`--queue redis://HOST:PORT is required (or set ${QUEUE_ENV}).\nUsage: ${USAGE}`);
  const id = values.id ?? `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$/.test(id)) throw new UserError(`--id must be a plain word (letters, digits, '.', '_', '@', '-'), got '${id.slice(0, 40)}'.`);
  const stamp = () => new Date().toISOString().slice(11, 19);
  const log = (l: string) => console.log(`${stamp()} ${l}`);
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    log('stopping: running runs checkpoint and go back to the queue (again to quit now)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const n = await runWorker({
      url,
      root: values.out ?? 'sweeps',
      concurrency: intFlag('concurrency', values.concurrency, 1, 1, 256),
      id,
      stallSeconds: intFlag('stall-seconds', values['stall-seconds'], 30, 1, 3600),
      untilEmpty: values['until-empty'] === true,
      log: (l) => (values.verbose || !l.startsWith('  ') || noteworthy(l)) && log(l),
      signal: controller.signal,
    });
    log(`worker ${id}: ${n.completed} job(s) completed, ${n.failed} failed attempt(s)`);
    return controller.signal.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
