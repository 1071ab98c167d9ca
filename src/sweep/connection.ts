/**
 * The queue's address: `redis://[[user]:password@]host:port[/db]` or `rediss://...` (TLS), parsed into
 * ioredis options. The password may also come from FSRGAN_QUEUE_PASSWORD (so that it is not in the
 * command line, where `ps` shows it), and a private CA for `rediss://` from FSRGAN_QUEUE_CA (a PEM file).
 * Every place that prints the address prints `redactUrl` of it; run processes get an environment without
 * these variables, and nothing of the address is written into run directories (docs/sweeps.md "Security").
 *
 * `openRedis` checks the connection once, quickly and without retrying, so that a wrong port, host,
 * password or TLS setting is a one-line UserError; the connections handed to BullMQ afterwards retry
 * forever (a Redis restart must not kill a worker).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../util/errors.js';

export const QUEUE_ENV = 'FSRGAN_QUEUE';
export const PASSWORD_ENV = 'FSRGAN_QUEUE_PASSWORD';
export const CA_ENV = 'FSRGAN_QUEUE_CA';
/** The BullMQ queue every sweep job goes to. */
export const QUEUE_NAME = 'fsrgan-sweeps';

export interface QueueTarget {
  /** The address with any password replaced by '***' (the only form ever printed). */
  shown: string;
  options: RedisOptions;
}

/** The URL with its password (and any query) replaced: safe to print. Unparseable text is not echoed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<the --queue address>';
  }
}

/**
 * Replaces, in place, the password of any redis:// or rediss:// URL among command-line arguments, so that
 * what a crash report or a log copies of them holds none (the CLI's crash report prints its arguments).
 */
export function redactArgs(argv: string[]): void {
  for (let i = 0; i < argv.length; i++) argv[i] = argv[i].replace(/\b(rediss?:\/\/[^:@/\s]*:)[^@\s]*@/g, '$1***@');
}

/** Parses a queue URL (`--queue`); every problem is a UserError naming --queue and never echoing a password. */
export function parseQueueUrl(url: string, env: NodeJS.ProcessEnv = process.env): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--queue must be a URL like redis://HOST:PORT (or rediss://, with :PASSWORD@ before the host), got something that is not a URL.`);
  }
  const shown = redactUrl(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`--queue ${shown}: the scheme must be redis:// or rediss:// (TLS), not ${u.protocol}//.`);
  if (!u.hostname) throw new UserError(`--queue ${shown}: the host is missing (redis://HOST:PORT).`);
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--queue ${shown}: the port must be 1 to 65535.`);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,2}$/.test(path)) throw new UserError(`--queue ${shown}: the path must be a database number (/0 to /15), got '/${path.slice(0, 20)}'.`);
  if (u.search) throw new UserError(`--queue ${shown}: query parameters are not supported; use ${PASSWORD_ENV} and ${CA_ENV} for the password and a private CA.`);
  const password = u.password ? decodeURIComponent(u.password) : env[PASSWORD_ENV] || undefined;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const options: RedisOptions = { host, port, db: path === '' ? 0 : Number(path), username, password };
  if (u.protocol === 'rediss:') {
    const caFile = env[CA_ENV];
    let ca: string | undefined;
    if (caFile) {
      try {
        ca = readFileSync(caFile, 'utf8');
      } catch (e) {
        throw new UserError(`${CA_ENV}: cannot read the CA file '${caFile}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
      }
    }
    options.tls = { ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}) };
  }
  return { shown, options };
}

/** A one-line reason for a failed connection or command, from ioredis / Node errors. */
export function connectionProblem(e: unknown, t: QueueTarget): string {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e);
  const code = err?.code ?? '';
  const pw = t.options.password !== undefined;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) return 'the queue refused the password (and user): check the password in the URL or ' + PASSWORD_ENV;
  if (/NOAUTH|Authentication required/i.test(msg)) return `the queue needs a password: put it in the URL (redis://:PASSWORD@host:port) or in ${PASSWORD_ENV}`;
  if (/ERR AUTH.*called without any password configured|no password is set/i.test(msg)) return 'a password was given but this Redis has none: drop it from the URL';
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(msg)) return 'connection refused: nothing listens on that host and port (is redis-server running, and is the port right?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(msg)) return 'the host name does not resolve';
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(msg)) {
    return t.options.tls ? 'no answer in time: is that port really TLS (rediss://), or is a firewall in the way?' : 'no answer in time (a firewall, a wrong host, or a TLS port that needs rediss://)';
  }
  if (code === 'ECONNRESET' || /ECONNRESET|socket hang up|Connection is closed/i.test(msg)) {
    return t.options.tls ? 'the connection was closed: is this port really TLS (rediss://)?' : 'the connection was closed by the other side: is this a Redis port, or does it need TLS (rediss://)?';
  }
  if (/certificate|self.signed|SSL|TLS|wrong version number|EPROTO/i.test(msg + code)) return `TLS failed (${msg.split('\n')[0].slice(0, 120)}); for a private CA set ${CA_ENV} to its PEM file`;
  const first = msg.split('\n')[0].slice(0, 160);
  return pw ? first.replace(String(t.options.password), '***') : first;
}

/**
 * Connects to the queue and checks it answers (PING), failing fast with a UserError (the reason, never
 * the password); then returns a client for BullMQ (retrying forever, `maxRetriesPerRequest: null` as
 * BullMQ's workers require).
 */
export async function openRedis(t: QueueTarget, onError: (problem: string) => void = () => {}, timeoutMs = 5000): Promise<Redis> {
  const probe = new Redis({ ...t.options, lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, showFriendlyErrorStack: false });
  // The socket's own error (ECONNREFUSED, a TLS failure) says more than the 'Connection is closed' that follows it.
  let first: unknown = null;
  probe.on('error', (e) => (first ??= e));
  try {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs + 500);
    });
    try {
      await Promise.race([probe.connect().then(() => probe.ping()), late]);
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    const why = connectionProblem(first ?? e, t);
    throw new UserError(`cannot use the queue ${t.shown}: ${why}${/[.?]$/.test(why) ? '' : '.'}`);
  } finally {
    probe.disconnect();
  }
  const client = new Redis({ ...t.options, maxRetriesPerRequest: null, connectTimeout: timeoutMs, retryStrategy: (n) => Math.min(1000 * n, 10_000) });
  // Reported once per outage, not at every reconnection attempt.
  let down = false;
  client.on('error', (e) => {
    if (!down) onError(`queue ${t.shown}: ${connectionProblem(e, t)}; retrying`);
    down = true;
  });
  client.on('ready', () => (down = false));
  return client;
}
