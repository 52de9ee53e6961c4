// Reads and writes OCR results and usage statistics; every write is one short autocommit statement.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { OcrLine } from './ocr/engine.ts';

export interface ResultTimings {
  queueMs: number;
  decodeMs: number;
  detectMs: number;
  recognizeMs: number;
  sessionRunMs: number;
  inferenceMs: number;
  totalMs: number;
}

export interface NewResult {
  token: string;
  createdAt: number;
  imageFormat: string;
  imageFile: string | null;
  imageBytes: number;
  width: number;
  height: number;
  lines: OcrLine[];
  timings: ResultTimings;
  appVersion: string;
  instance: string;
}

export interface StoredResult extends NewResult {
  text: string;
}

/**
 * What the public dashboard shows: aggregates only. Nothing here may reach a result or its text
 * (no token, no text, no image name): a share token is the only key to a result.
 */
export interface UsageStats {
  total: number;
  perDay: { day: string; count: number; meanMs: number }[];
  latency: { buckets: { leMs: number; count: number }[]; p50Ms: number | null; p95Ms: number | null; samples: number };
}

/** The most recent results, for the operator only (they carry each result's share token). */
export interface RecentResult {
  token: string;
  createdAt: string;
  text: string;
  lines: number;
  totalMs: number;
}

interface ResultRow {
  token: string;
  created_at: number;
  image_format: string;
  image_file: string | null;
  image_bytes: number;
  width: number;
  height: number;
  text: string;
  lines_json: string;
  timings_json: string;
  app_version: string;
  instance: string;
}

/** A job the queue gave up on: what the result page says instead of a result. */
export interface FailedJob {
  token: string;
  failedAt: number;
  code: string;
  reason: string;
  attempts: number;
}

export const LATENCY_BUCKETS_MS = [100, 200, 300, 500, 750, 1000, 1500, 2500, 5000, 10_000, Infinity];

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? null;
}

export class ResultStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #byToken: StatementSync;
  readonly #heartbeat: StatementSync;
  readonly #insertIfAbsent: StatementSync;
  readonly #insertFailure: StatementSync;
  readonly #failureByToken: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(`
      INSERT INTO results (token, created_at, image_format, image_file, image_bytes, width, height, text,
        lines_json, timings_json, total_ms, inference_ms, app_version, instance)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#insertIfAbsent = db.prepare(`
      INSERT INTO results (token, created_at, image_format, image_file, image_bytes, width, height, text,
        lines_json, timings_json, total_ms, inference_ms, app_version, instance)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING`);
    this.#insertFailure = db.prepare(`
      INSERT INTO failed_jobs (token, failed_at, code, reason, attempts, app_version, instance)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING`);
    this.#failureByToken = db.prepare('SELECT token, failed_at, code, reason, attempts FROM failed_jobs WHERE token = ?');
    this.#byToken = db.prepare('SELECT * FROM results WHERE token = ?');
    this.#heartbeat = db.prepare(`
      INSERT INTO instance_heartbeats (instance, app_version, seen_at) VALUES (?, ?, ?)
      ON CONFLICT (instance) DO UPDATE SET app_version = excluded.app_version, seen_at = excluded.seen_at`);
  }

  insert(result: NewResult): void {
    this.#run(this.#insert, result);
  }

  /**
   * One statement, so a result is in the history whole or not at all; a second web instance settling the
   * same queued job finds the row there and changes nothing. True when this call wrote it.
   */
  insertIfAbsent(result: NewResult): boolean {
    return Number(this.#run(this.#insertIfAbsent, result).changes) > 0;
  }

  recordFailure(failure: FailedJob, appVersion: string, instance: string): void {
    this.#insertFailure.run(failure.token, failure.failedAt, failure.code, failure.reason, failure.attempts, appVersion, instance);
  }

  getFailure(token: string): FailedJob | undefined {
    const row = this.#failureByToken.get(token) as { token: string; failed_at: number; code: string; reason: string; attempts: number } | undefined;
    return row ? { token: row.token, failedAt: row.failed_at, code: row.code, reason: row.reason, attempts: row.attempts } : undefined;
  }

  #run(statement: StatementSync, result: NewResult) {
    return statement.run(
      result.token,
      result.createdAt,
      result.imageFormat,
      result.imageFile,
      result.imageBytes,
      result.width,
      result.height,
      result.lines.map((line) => line.text).join('\n'),
      JSON.stringify(result.lines),
      JSON.stringify(result.timings),
      result.timings.totalMs,
      result.timings.inferenceMs,
      result.appVersion,
      result.instance,
    );
  }

  get(token: string): StoredResult | undefined {
    const row = this.#byToken.get(token) as ResultRow | undefined;
    if (!row) return undefined;
    return {
      token: row.token,
      createdAt: row.created_at,
      imageFormat: row.image_format,
      imageFile: row.image_file,
      imageBytes: row.image_bytes,
      width: row.width,
      height: row.height,
      text: row.text,
      lines: JSON.parse(row.lines_json) as OcrLine[],
      timings: JSON.parse(row.timings_json) as ResultTimings,
      appVersion: row.app_version,
      instance: row.instance,
    };
  }

  /** Proves the database file accepts writes (a full or read-only volume fails here). */
  writeHeartbeat(instance: string, appVersion: string, now = Date.now()): void {
    this.#heartbeat.run(instance, appVersion, now);
  }

  stats(now = Date.now(), days = 30, latencySamples = 5000): UsageStats {
    const since = now - days * 86_400_000;
    const total = (this.#db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n;
    const perDay = (
      this.#db
        .prepare(`
          SELECT strftime('%Y-%m-%d', created_at / 1000, 'unixepoch') AS day, COUNT(*) AS count, AVG(total_ms) AS meanMs
          FROM results WHERE created_at >= ? GROUP BY day ORDER BY day`)
        .all(since) as { day: string; count: number; meanMs: number }[]
    ).map((row) => ({ day: row.day, count: row.count, meanMs: Math.round(row.meanMs) }));
    const latencies = (
      this.#db.prepare('SELECT total_ms AS ms FROM results ORDER BY id DESC LIMIT ?').all(latencySamples) as { ms: number }[]
    )
      .map((row) => row.ms)
      .sort((a, b) => a - b);
    const buckets = LATENCY_BUCKETS_MS.map((leMs) => ({ leMs, count: 0 }));
    for (const ms of latencies) {
      const bucket = buckets.find((candidate) => ms <= candidate.leMs);
      if (bucket) bucket.count++;
    }
    return {
      total,
      perDay,
      latency: {
        buckets: buckets.map((bucket) => ({ leMs: bucket.leMs === Infinity ? -1 : bucket.leMs, count: bucket.count })),
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        samples: latencies.length,
      },
    };
  }

  /** The `limit` most recent results, newest first, text cut to 120 characters. Operator only: each carries its token. */
  recent(limit = 10): RecentResult[] {
    return (
      this.#db
        .prepare('SELECT token, created_at, text, lines_json, total_ms FROM results ORDER BY id DESC LIMIT ?')
        .all(limit) as { token: string; created_at: number; text: string; lines_json: string; total_ms: number }[]
    ).map((row) => ({
      token: row.token,
      createdAt: new Date(row.created_at).toISOString(),
      text: row.text.length > 120 ? `${row.text.slice(0, 117)}...` : row.text,
      lines: (JSON.parse(row.lines_json) as unknown[]).length,
      totalMs: Math.round(row.total_ms),
    }));
  }
}
