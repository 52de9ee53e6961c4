// The web role's side of the Redis queue (BullMQ): enqueue an upload, wait for its outcome, and settle
// finished jobs into the SQLite history. The web role alone writes the history; a result goes in as one
// INSERT (whole or not at all), whichever web instance sees it finish first.
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { QueueConfig } from '../config.ts';
import type { AppMetrics } from '../metrics.ts';
import { QueueFullError } from '../queue.ts';
import type { ResultStore, StoredResult } from '../results-store.ts';
import type { VersionInfo } from '../version.ts';
import { blockingOptions, failFastOptions, redisOptionsFromUrl } from './connection.ts';
import { OCR_JOB_NAME, parseFailure, type OcrQueueJobData, type OcrQueueJobResult } from './protocol.ts';
import { RedisHealth } from './redis-health.ts';

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Redis cannot be reached: the request is refused with 503, never half-accepted. */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

export type QueuedOutcome =
  | { state: 'done'; result: StoredResult }
  | { state: 'pending'; status: 'queued' | 'running' }
  | { state: 'failed'; code: string; message: string }
  | { state: 'unknown' };

export interface QueueCounts {
  waiting: number;
  active: number;
}

export interface SubmitReceipt {
  /** Jobs ahead of this one when it was accepted. */
  ahead: number;
  /** How long this job will likely wait for a worker, from the recent run times. */
  estimatedWaitMs: number;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/**
 * BullMQ waits for its connection before every command: with Redis away, a call would hang until it
 * returns. Calls made for a request are bounded by this, and made only while the last PING answered.
 */
const REDIS_CALL_TIMEOUT_MS = 3000;

function bounded<T>(call: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(`${what}: no answer from Redis within ${REDIS_CALL_TIMEOUT_MS} ms`)), REDIS_CALL_TIMEOUT_MS);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

export interface OcrQueueClientDeps {
  store: ResultStore;
  version: VersionInfo;
  metrics: AppMetrics;
  log: () => FastifyBaseLogger;
  maxWaiting: number;
  /** True once the web drains (SIGTERM): requests still waiting answer 202 at once, their jobs stay safe in Redis. */
  draining?: () => boolean;
}

export class OcrQueueClient {
  readonly #config: QueueConfig;
  readonly #deps: OcrQueueClientDeps;
  readonly #queue: Queue<OcrQueueJobData, OcrQueueJobResult>;
  readonly #events: QueueEvents;
  readonly health: RedisHealth;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** What this instance accepted and has not settled yet: a completion event is then settled without reading the job back. */
  readonly #accepted = new Map<string, Omit<OcrQueueJobData, 'image'>>();
  #counts: QueueCounts = { waiting: 0, active: 0 };
  /** Moving average of job run times, for Retry-After and for answering 202 at once when the queue is deep. */
  #averageRunMs = 500;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(config: QueueConfig, deps: OcrQueueClientDeps) {
    this.#config = config;
    this.#deps = deps;
    const base = redisOptionsFromUrl(config.url);
    this.#queue = new Queue(config.name, { connection: failFastOptions(base) });
    this.#events = new QueueEvents(config.name, { connection: blockingOptions(base) });
    // BullMQ reports connection trouble as 'error' events: an unhandled one would end the process.
    // Redis being away is reported by /readyz (and logged once per change below), not per reconnect attempt.
    this.#queue.on('error', () => undefined);
    this.#events.on('error', () => undefined);
    this.health = new RedisHealth(() => this.#queue.backend.client as unknown as Promise<Redis>);
    this.health.onChange = (status, previous) => {
      if (status === 'ok') deps.log().info({ previous }, 'queue: Redis reachable');
      else deps.log().warn({ status }, 'queue: Redis unreachable; /readyz reports 503 until it is back');
      if (status === 'ok') void this.sweep();
    };
    this.#events.on('completed', ({ jobId, returnvalue }) => void this.#settleCompleted(jobId, returnvalue));
    this.#events.on('failed', ({ jobId }) => void this.#settleQuietly(jobId));
  }

  start(): void {
    this.health.start();
    this.#sweepTimer = setInterval(() => void this.sweep(), 15_000);
    this.#sweepTimer.unref();
  }

  counts(): QueueCounts {
    return this.#counts;
  }

  async #refreshCounts(): Promise<{ waiting: number; active: number }> {
    if (!this.health.ok) throw new QueueUnavailableError(`Redis is ${this.health.status}`);
    const counts = await bounded(this.#queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'), 'counting jobs');
    this.#counts = { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0), active: counts.active ?? 0 };
    return this.#counts;
  }

  /** Queue depth and active jobs for /metrics (cached when Redis is away). */
  async snapshot(): Promise<QueueCounts> {
    if (this.health.ok) await this.#refreshCounts().catch(() => undefined);
    return this.#counts;
  }

  #estimateWaitMs(ahead: number, active: number): number {
    return (ahead * this.#averageRunMs) / Math.max(1, active);
  }

  /** Accepts a job, or throws QueueFullError (too deep) or QueueUnavailableError (Redis away). */
  async submit(token: string, bytes: Uint8Array, meta: Omit<OcrQueueJobData, 'image' | 'acceptedBy'>): Promise<SubmitReceipt> {
    let counts: QueueCounts;
    try {
      counts = await this.#refreshCounts();
    } catch (error) {
      throw new QueueUnavailableError(`the queue cannot be reached: ${(error as Error).message}`);
    }
    if (counts.waiting >= this.#deps.maxWaiting) {
      throw new QueueFullError(Math.max(1, Math.ceil(this.#estimateWaitMs(counts.waiting, counts.active) / 1000)));
    }
    const data: OcrQueueJobData = { image: Buffer.from(bytes).toString('base64'), acceptedBy: this.#deps.version.instance, ...meta };
    try {
      await bounded(this.#queue.add(OCR_JOB_NAME, data, {
        jobId: token,
        // An OCR error may be transient (a worker thread died): run again, N times at most.
        attempts: this.#config.jobRetries + 1,
        backoff: { type: 'fixed', delay: 1000 },
        // Settled jobs are removed by the web once in the history; these bounds are for when no web is up.
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      }), 'adding the job');
    } catch (error) {
      throw new QueueUnavailableError(`the job could not be queued: ${(error as Error).message}`);
    }
    // Entries leave when settled; a job another instance settled would stay, so the map is capped.
    if (this.#accepted.size >= 10_000) this.#accepted.delete(this.#accepted.keys().next().value ?? '');
    this.#accepted.set(token, { imageFormat: meta.imageFormat, imageFile: meta.imageFile, imageBytes: meta.imageBytes, acceptedBy: data.acceptedBy });
    return { ahead: counts.waiting, estimatedWaitMs: this.#estimateWaitMs(counts.waiting, counts.active) };
  }

  /** Waits up to `ms` for the job to finish; `pending` when it has not. */
  async waitForOutcome(token: string, ms: number): Promise<QueuedOutcome> {
    const deadline = Date.now() + ms;
    for (;;) {
      const signal = this.#nextSignal(token);
      let outcome: QueuedOutcome | undefined;
      try {
        outcome = await this.lookup(token);
      } catch {
        // Redis away for a moment: keep waiting until the deadline, the job is safe in Redis.
      }
      if (outcome && outcome.state !== 'pending' && outcome.state !== 'unknown') {
        signal.cancel();
        return outcome;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#deps.draining?.()) {
        signal.cancel();
        return outcome?.state === 'pending' ? outcome : { state: 'pending', status: 'queued' };
      }
      // An event for this job, or a poll a second later (an event missed while Redis reconnected).
      await Promise.race([signal.promise, new Promise((resolve) => setTimeout(resolve, Math.min(left, 1000)))]);
      signal.cancel();
    }
  }

  #nextSignal(token: string): { promise: Promise<void>; cancel: () => void } {
    let set = this.#waiters.get(token);
    if (!set) {
      set = new Set();
      this.#waiters.set(token, set);
    }
    let notify: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => (notify = resolve));
    set.add(notify);
    const waiters = set;
    return {
      promise,
      cancel: () => {
        waiters.delete(notify);
        if (waiters.size === 0 && this.#waiters.get(token) === waiters) this.#waiters.delete(token);
      },
    };
  }

  #notify(token: string): void {
    for (const notify of this.#waiters.get(token) ?? []) notify();
  }

  /**
   * Where a job stands: the history first (done or failed), then Redis. A job Redis says is finished is
   * settled into the history here. Throws QueueUnavailableError when only Redis could tell and it is away.
   */
  async lookup(token: string): Promise<QueuedOutcome> {
    const settled = this.#fromHistory(token);
    if (settled) return settled;
    let state: string;
    try {
      if (!this.health.ok) throw new Error(`Redis is ${this.health.status}`);
      state = await bounded(this.#queue.getJobState(token), 'reading the job state');
    } catch (error) {
      throw new QueueUnavailableError(`the queue cannot be reached: ${(error as Error).message}`);
    }
    if (state === 'completed' || state === 'failed') return (await this.settle(token)) ?? this.#fromHistory(token) ?? { state: 'unknown' };
    if (state === 'active') return { state: 'pending', status: 'running' };
    if (state === 'waiting' || state === 'prioritized' || state === 'delayed' || state === 'waiting-children') return { state: 'pending', status: 'queued' };
    // Gone from Redis: another settle (an event, another web instance) may have written it and removed it just now.
    return this.#fromHistory(token) ?? { state: 'unknown' };
  }

  #fromHistory(token: string): QueuedOutcome | undefined {
    const stored = this.#deps.store.get(token);
    if (stored) return { state: 'done', result: stored };
    const failure = this.#deps.store.getFailure(token);
    return failure ? { state: 'failed', code: failure.code, message: failure.reason } : undefined;
  }

  /** Writes a finished job into the history (one statement) and removes it from Redis. */
  async settle(token: string): Promise<QueuedOutcome | undefined> {
    const job = await bounded(this.#queue.getJob(token), 'reading the job');
    // Another settle (an event, a poll, another web instance) wrote it and removed it in between.
    if (!job) return this.#fromHistory(token);
    const state = await bounded(job.getState(), 'reading the job state');
    let outcome: QueuedOutcome | undefined;
    if (state === 'completed' && job.returnvalue) {
      outcome = { state: 'done', result: this.#persist(token, job.data, job.returnvalue, job) };
    } else if (state === 'failed') {
      const attempts = Math.max(job.attemptsMade, job.stalledCounter + 1);
      const failure = parseFailure(job.failedReason, attempts);
      this.#deps.store.recordFailure({ token, failedAt: job.finishedOn ?? Date.now(), code: failure.code, reason: failure.message, attempts }, this.#deps.version.version, this.#deps.version.instance);
      this.#deps.log().warn({ token: token.slice(0, 4), code: failure.code, attempts }, 'queue: a job failed');
      outcome = { state: 'failed', ...failure };
    }
    if (outcome) {
      this.#accepted.delete(token);
      this.#notify(token);
      // The history has it now; Redis need not keep the image any longer.
      await job.remove().catch(() => undefined);
    }
    // No outcome: the job was removed between the two reads, by a settle that wrote it first.
    return outcome ?? this.#fromHistory(token);
  }

  /**
   * A completion event for a job this instance accepted carries all the history needs: settled with no
   * read from Redis (the per-job overhead of the queue is one event, not three round trips).
   */
  async #settleCompleted(token: string, returnvalue: unknown): Promise<void> {
    const meta = this.#accepted.get(token);
    const output = (typeof returnvalue === 'string' ? safeJson(returnvalue) : returnvalue) as OcrQueueJobResult | undefined;
    if (!meta || !output?.lines || output.acceptedAt === undefined) {
      await this.#settleQuietly(token);
      return;
    }
    try {
      this.#persist(token, meta, output);
    } catch (error) {
      this.#deps.log().warn({ err: error }, 'queue: writing a finished job failed; the next sweep retries');
      return;
    }
    this.#accepted.delete(token);
    this.#notify(token);
    await this.#queue.remove(token).catch(() => undefined);
  }

  #persist(token: string, meta: Omit<OcrQueueJobData, 'image'>, output: OcrQueueJobResult, job?: Job<OcrQueueJobData, OcrQueueJobResult>): StoredResult {
    const acceptedAt = output.acceptedAt ?? job?.timestamp ?? Date.now();
    const startedAt = output.startedAt ?? job?.processedOn ?? acceptedAt;
    const finishedAt = output.finishedAt ?? job?.finishedOn ?? Date.now();
    const waitMs = Math.max(0, startedAt - acceptedAt);
    const runMs = Math.max(0, finishedAt - startedAt);
    const result: StoredResult = {
      token,
      createdAt: finishedAt,
      imageFormat: meta.imageFormat,
      imageFile: meta.imageFile,
      imageBytes: meta.imageBytes,
      width: output.width,
      height: output.height,
      lines: output.lines,
      text: output.lines.map((line) => line.text).join('\n'),
      timings: {
        queueMs: round(waitMs),
        decodeMs: round(output.timings.decodeMs),
        detectMs: round(output.timings.detectMs),
        recognizeMs: round(output.timings.recognizeMs),
        sessionRunMs: round(output.timings.sessionRunMs),
        inferenceMs: round(runMs),
        totalMs: round(finishedAt - acceptedAt),
      },
      appVersion: output.workerVersion,
      instance: output.worker,
    };
    if (this.#deps.store.insertIfAbsent(result)) {
      this.#averageRunMs = this.#averageRunMs * 0.8 + runMs * 0.2;
      this.#deps.metrics.jobWait.observe(waitMs / 1000);
      this.#deps.metrics.jobRun.observe(runMs / 1000);
    }
    return this.#deps.store.get(result.token) ?? result;
  }

  async #settleQuietly(token: string): Promise<void> {
    try {
      await this.settle(token);
    } catch (error) {
      this.#deps.log().warn({ err: error }, 'queue: settling a finished job failed; the next sweep retries');
    }
  }

  /** Settles finished jobs nobody waited for (the web was down when they finished, an event was missed). */
  async sweep(): Promise<number> {
    if (this.#closed || !this.health.ok) return 0;
    let settled = 0;
    try {
      const jobs = await this.#queue.getJobs(['completed', 'failed'], 0, 199);
      for (const job of jobs) {
        if (job.id && (await this.settle(job.id))) settled++;
      }
    } catch (error) {
      this.#deps.log().warn({ err: error }, 'queue: sweeping finished jobs failed');
    }
    return settled;
  }

  /** Ends every wait in progress now (they answer 202 when draining); called when the web starts draining. */
  wakeWaiters(): void {
    for (const token of this.#waiters.keys()) this.#notify(token);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.health.stop();
    // Closing waits for a connection that may never come (Redis away): bounded.
    await Promise.race([Promise.allSettled([this.#events.close(), this.#queue.close()]), new Promise((resolve) => setTimeout(resolve, REDIS_CALL_TIMEOUT_MS).unref())]);
  }
}
