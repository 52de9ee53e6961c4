// Wires one running app from its config: database, image store, OCR workers, queue, metrics, HTTP server.
// The server listens before the models are loaded (/healthz answers, /readyz says 503), then turns ready.
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { OcrRunner } from './app-context.ts';
import { buildApp } from './app.ts';
import type { AppConfig } from './config.ts';
import { openDatabase, type OpenedDatabase } from './db.ts';
import { HttpError } from './http-errors.ts';
import { ImageStore } from './image-store.ts';
import { Lifecycle } from './lifecycle.ts';
import { createMetrics } from './metrics.ts';
import { resolveModelPaths } from './ocr/model-paths.ts';
import { startOcrWorkers, type OcrWorkerPool, type StartedOcrWorkerPool, type WorkerReadyInfo } from './ocr/worker-pool.ts';
import { OcrQueueConsumer } from './ocr-queue/consumer.ts';
import { OcrQueueClient } from './ocr-queue/web-client.ts';
import { InferenceQueue } from './queue.ts';
import { ResultStore } from './results-store.ts';
import type { VersionInfo } from './version.ts';

export interface BootOptions {
  logger?: FastifyServerOptions['logger'];
  /** Replaces the worker pool (tests that need a slow or failing OCR). */
  ocr?: OcrRunner;
  /** A pool already starting (server.ts starts it before loading the HTTP stack, to shorten cold start). */
  workers?: Promise<StartedOcrWorkerPool>;
  collectDefaultMetrics?: boolean;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  lifecycle: Lifecycle;
  database: OpenedDatabase;
  /** Resolves once the models are loaded and warmed up and /readyz turned 200. */
  ready: Promise<WorkerReadyInfo[]>;
  /** Workers and database: what to release after the HTTP server closed. */
  release: () => Promise<void>;
}

const noop = () => undefined;
/** Logs nothing: what the queue's parts log through before the app's logger exists. */
export const silentLogger: FastifyBaseLogger = {
  level: 'silent',
  fatal: noop,
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  trace: noop,
  silent: noop,
  child: () => silentLogger,
};

/** Holds the pool once it has started, so routes can be registered before the models are loaded. */
class DeferredOcr implements OcrRunner {
  pool: OcrWorkerPool | undefined;
  get healthy(): boolean {
    return this.pool?.healthy ?? false;
  }
  recognize(bytes: Uint8Array) {
    if (!this.pool) return Promise.reject(new HttpError(503, 'not_ready', 'the OCR models are still loading', { 'retry-after': '2' }));
    return this.pool.recognize(bytes);
  }
}

export async function startServer(config: AppConfig, version: VersionInfo, options: BootOptions = {}): Promise<RunningServer> {
  const lifecycle = new Lifecycle();
  const metrics = createMetrics({ ...version, role: config.role }, options.collectDefaultMetrics ?? true);
  const database = openDatabase(config.dataDir);
  const store = new ResultStore(database.db);
  const images = new ImageStore(config.dataDir);
  const queue = new InferenceQueue(config.ocrWorkers, config.queueMaxWaiting);
  const deferred = new DeferredOcr();
  const ocr = options.ocr ?? deferred;
  // APP_ROLE=web runs no model: its jobs go to the workers through Redis.
  const runsModels = config.role !== 'web';
  // The queue's parts are made before the Fastify instance (the routes need them); they log through it once it exists.
  const logRef: { current: FastifyBaseLogger } = { current: silentLogger };
  const getLog = () => logRef.current;
  const remote = config.queue ? new OcrQueueClient(config.queue, { store, version, metrics, log: getLog, maxWaiting: config.queueMaxWaiting, draining: () => lifecycle.draining }) : undefined;
  // APP_ROLE=all with QUEUE_URL: this process also works for the queue (and any other worker may too).
  const consumer =
    config.queue && runsModels
      ? new OcrQueueConsumer(config.queue, { ocr, concurrency: config.ocrWorkers, version, metrics, log: getLog, provider: config.ocrProvider, recordMetrics: false })
      : undefined;

  // Model loading runs in the worker threads while the HTTP side is built and starts listening.
  const modelPaths = resolveModelPaths(config.modelsDir);
  let reportWorkerDeath: (error: Error) => void = () => undefined;
  const starting: Promise<WorkerReadyInfo[]> = options.ocr || !runsModels
    ? Promise.resolve([])
    : (options.workers ?? startOcrWorkers(config)).then(({ pool, ready }) => {
        deferred.pool = pool;
        pool.onWorkerDeath = (error) => reportWorkerDeath(error);
        return ready;
      });
  // Seen by nobody until the failure path in server.ts; keeps an early failure from being "unhandled".
  starting.catch(() => undefined);

  const app = await buildApp({ config, version, store, images, ocr, queue, metrics, lifecycle, ...(remote ? { remote } : {}) }, { logger: options.logger ?? false });
  logRef.current = app.log;
  remote?.start();
  // Requests waiting for a queued result answer 202 with its URL at once: the web drains in a second, not OCR_RESULT_WAIT.
  lifecycle.onDraining(() => remote?.wakeWaiters());
  reportWorkerDeath = (error) => {
    app.log.error({ err: error }, 'an OCR worker died; /readyz now reports 503');
    consumer?.stopTaking('an OCR thread died');
  };

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  app.log.info(
    { dataDir: config.dataDir, schemaVersion: database.schemaVersion, migrationsApplied: database.applied, models: modelPaths.source },
    runsModels ? 'listening; loading models' : 'listening; OCR jobs go to the workers through the queue',
  );

  const ready = starting.then((info) => {
    lifecycle.markReady();
    consumer?.start();
    return info;
  });
  // Callers that never await `ready` must not see an unhandled rejection; server.ts awaits it and exits on failure.
  ready.catch(() => undefined);

  return {
    app,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    lifecycle,
    database,
    ready,
    release: async () => {
      // Jobs whose clients went away still run to the end; stopping a worker mid-inference could abort the process.
      await Promise.race([queue.drained(), new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref())]);
      if (consumer && !(await consumer.close(config.shutdownTimeoutMs))) {
        app.log.warn('queue: jobs still running at the shutdown timeout; they go back to the queue once their lock expires');
      }
      await remote?.close();
      await deferred.pool?.close();
      database.db.close();
    },
  };
}
