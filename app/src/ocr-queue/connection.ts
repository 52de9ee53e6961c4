// Redis connection settings for the OCR queue, from QUEUE_URL: reconnect forever with a capped backoff,
// so an unreachable Redis at start (or a Redis restart) means "not ready" and a retry, never a crash loop.
import type { RedisOptions } from 'bullmq';

/** Delay before reconnect attempt `times` (1, 2, …): 100 ms doubling, capped at 5 s. */
export function reconnectDelayMs(times: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(10, Math.max(0, times - 1)));
}

/** ioredis options for QUEUE_URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    connectTimeout: 3000,
    retryStrategy: reconnectDelayMs,
    // A restarted Redis is reconnected to; a READONLY replica after a failover is left for the next reconnect.
    reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
  };
}

/**
 * For connections the web role answers requests with: fail at once while Redis is away (the caller
 * answers 503), instead of queueing commands in memory until the request's deadline.
 */
export function failFastOptions(base: RedisOptions): RedisOptions {
  return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
}

/** For BullMQ's blocking connections (Worker, QueueEvents): BullMQ requires maxRetriesPerRequest null there. */
export function blockingOptions(base: RedisOptions): RedisOptions {
  return { ...base, maxRetriesPerRequest: null };
}
