// The worker role's side of the Redis queue: a BullMQ Worker that runs each job on the OCR worker threads
// and sends the result back through the queue. Stateless: no disk, no database.
//
// Lock and stall settings (see app/README.md):
// - lockDuration (QUEUE_LOCK_DURATION, 15 s): BullMQ renews the lock every lockDuration/2 while the job runs.
//   Inference runs in worker threads, so the event loop is free to renew it; a lock that expires means the
//   process is gone (crash, SIGKILL, stop timeout passed).
// - stalledInterval (QUEUE_STALLED_INTERVAL, 5 s): how often every worker looks for jobs whose lock expired
//   and puts them back in the queue. A lost job runs again within lockDuration + stalledInterval (≤ 20 s).
// - maxStalledCount (QUEUE_JOB_RETRIES, 2): a job whose worker vanished this many times more is failed
//   ("worker_lost"), so one image that kills workers cannot kill them all forever.
// - On SIGTERM the worker takes no new job and finishes the ones it has (Worker.close() waits for them);
//   a job still running when SHUTDOWN_TIMEOUT passes is left to expire and comes back through the stall check.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { OcrRunner } from '../app-context.ts';
import type { QueueConfig } from '../config.ts';
import type { AppMetrics } from '../metrics.ts';
import { ImageDecodeError } from '../ocr/worker-pool.ts';
import type { VersionInfo } from '../version.ts';
import { blockingOptions, redisOptionsFromUrl } from './connection.ts';
import { FAILURE_CODES, failureReason, type OcrQueueJobData, type OcrQueueJobResult } from './protocol.ts';
import { RedisHealth } from './redis-health.ts';

export interface OcrQueueConsumerDeps {
  ocr: OcrRunner;
  concurrency: number;
  version: VersionInfo;
  metrics: AppMetrics;
  log: () => FastifyBaseLogger;
  provider: string;
  /**
   * Whether this consumer records job wait and run time and active jobs. Off in APP_ROLE=all, where the web
   * side of the same process records every job of the queue into the same series.
   */
  recordMetrics?: boolean;
}

export class OcrQueueConsumer {
  readonly #worker: Worker<OcrQueueJobData, OcrQueueJobResult>;
  readonly #deps: OcrQueueConsumerDeps;
  readonly health: RedisHealth;
  #active = 0;
  #running: Promise<void> | undefined;

  constructor(config: QueueConfig, deps: OcrQueueConsumerDeps) {
    this.#deps = deps;
    this.#worker = new Worker<OcrQueueJobData, OcrQueueJobResult>(config.name, (job) => this.#process(job), {
      connection: blockingOptions(redisOptionsFromUrl(config.url)),
      autorun: false,
      concurrency: deps.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: config.jobRetries,
    });
    this.#worker.on('error', () => undefined); // connection trouble: /readyz says it, RedisHealth logs it once
    this.#worker.on('failed', (job, error) => {
      if (job) deps.log().warn({ job: job.id?.slice(0, 4), attempt: job.attemptsMade, err: error.message }, 'queue: job failed');
    });
    this.health = new RedisHealth(() => this.#worker.backend.client as unknown as Promise<Redis>);
    this.health.onChange = (status, previous) => {
      if (status === 'ok') deps.log().info({ previous }, 'queue: Redis reachable');
      else deps.log().warn({ status }, 'queue: Redis unreachable; /readyz reports 503 until it is back');
    };
  }

  get activeJobs(): number {
    return this.#active;
  }

  /** Starts taking jobs (call once the models are loaded). */
  start(): void {
    this.health.start();
    this.#running = this.#worker.run().catch((error: unknown) => {
      this.#deps.log().error({ err: error }, 'queue: the worker loop ended');
    });
  }

  async #process(job: Job<OcrQueueJobData, OcrQueueJobResult>): Promise<OcrQueueJobResult> {
    const { version, ocr } = this.#deps;
    const metrics = this.#deps.recordMetrics === false ? undefined : this.#deps.metrics;
    const started = Date.now();
    metrics?.jobWait.observe(Math.max(0, started - job.timestamp) / 1000);
    this.#active++;
    metrics?.activeJobs.set(this.#active);
    try {
      const output = await ocr.recognize(Buffer.from(job.data.image, 'base64'));
      return {
        width: output.width,
        height: output.height,
        lines: output.lines,
        timings: output.timings,
        worker: version.instance,
        workerVersion: version.version,
        provider: this.#deps.provider,
        acceptedAt: job.timestamp,
        startedAt: started,
        finishedAt: Date.now(),
      };
    } catch (error) {
      // A picture that cannot be decoded will not decode on a retry either.
      if (error instanceof ImageDecodeError) throw new UnrecoverableError(failureReason(FAILURE_CODES.undecodable, error.message));
      throw new Error(failureReason(FAILURE_CODES.internal, (error as Error).message), { cause: error });
    } finally {
      this.#active--;
      metrics?.activeJobs.set(this.#active);
      metrics?.jobRun.observe((Date.now() - started) / 1000);
    }
  }

  /**
   * Takes no new job from now on (an OCR thread died: /readyz says 503), while the jobs in hand finish.
   * The queue's other workers take the rest; restarting this one is the orchestrator's call.
   */
  stopTaking(reason: string): void {
    this.#deps.log().error({ reason }, 'queue: this worker takes no new job');
    void this.#worker.pause(true).catch(() => undefined);
  }

  /**
   * Takes no new job and waits for the running ones, up to `timeoutMs`. False when some were still running:
   * their locks expire and the stall check gives them to another worker.
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.health.stop();
    const closed = this.#worker.close().then(() => true);
    const finished = await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())]);
    if (finished) await this.#running;
    return finished;
  }
}
