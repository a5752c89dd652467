import { Redis, type RedisOptions } from 'ioredis';
import { ZooError } from '@regime-zoo/core';

/** The BullMQ queue every sweep's jobs go to (jobs carry their sweep and run directory). */
export const QUEUE_NAME = 'regime-zoo';

export interface QueueAddress {
  /** The URL as given, with any password replaced by `***` (for messages). */
  display: string;
  options: RedisOptions;
}

/**
 * Parses `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). A bad URL is a
 * `CONFIG_INVALID` error on `--queue` saying what a good one looks like.
 */
export function parseQueueUrl(raw: string): QueueAddress {
  const bad = (why: string) =>
    new ZooError('CONFIG_INVALID', `--queue: "${raw}" ${why}; expected redis://host:port (e.g. redis://127.0.0.1:6379, redis://:password@host:6379/0, or rediss:// for TLS)`, {
      field: '--queue',
    });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad(`has protocol "${url.protocol}", not redis: or rediss:`);
  if (!url.hostname) throw bad('has no host');
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`has port "${url.port}", not 1–65535`);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw bad(`has database "${dbText}", not an integer ≥ 0`);
  if (url.search || url.hash) throw bad('has a query or fragment');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const options: RedisOptions = {
    host,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's requirement for workers; commands wait for a reconnect instead of failing (Redis restarts).
    maxRetriesPerRequest: null,
  };
  const display = `${url.protocol}//${url.username || url.password ? `${url.username}${url.password ? ':***' : ''}@` : ''}${url.host}${db ? `/${db}` : ''}`;
  return { display, options };
}

/**
 * Checks that Redis answers at `address` (one attempt, `timeoutMs`), so a wrong host or a stopped
 * server is a clear `QUEUE_UNREACHABLE` error instead of endless reconnecting.
 */
export async function checkReachable(address: QueueAddress, timeoutMs = 5000): Promise<void> {
  const r = new Redis({ ...address.options, lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let last: Error | undefined;
  r.on('error', (e: Error) => (last = e));
  try {
    await r.connect();
    const pong = await r.ping();
    if (pong !== 'PONG') throw new Error(`PING answered "${pong}"`);
  } catch (e) {
    const why = (last ?? (e as Error)).message;
    throw new ZooError('QUEUE_UNREACHABLE', `cannot reach Redis at ${address.display} (${why}); start redis-server there (docs/scaling.md), or check the host, port, password and firewall`, {
      field: '--queue',
      cause: e,
    });
  } finally {
    r.disconnect();
  }
}

/** A connection for BullMQ (it reconnects by itself after Redis restarts). */
export function connect(address: QueueAddress): Redis {
  const r = new Redis(address.options);
  r.on('error', () => {}); // reconnects are reported by the callers' own waits; no unhandled 'error'
  return r;
}
