// APP_ROLE=worker: the OCR models on worker threads, fed by the Redis queue. It keeps no state (no
// database, no disk), so it can run on another host (a GPU host). Its HTTP port serves only the probes,
// /version and /metrics.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from './config.ts';
import { Lifecycle } from './lifecycle.ts';
import { createMetrics } from './metrics.ts';
import { startOcrWorkers, type OcrWorkerPool, type StartedOcrWorkerPool, type WorkerReadyInfo } from './ocr/worker-pool.ts';
import { OcrQueueConsumer } from './ocr-queue/consumer.ts';
import { registerOpsEndpoints } from './routes/ops.ts';
import type { VersionInfo } from './version.ts';
import { HttpError } from './http-errors.ts';

export interface RunningWorker {
  app: FastifyInstance;
  url: string;
  lifecycle: Lifecycle;
  ready: Promise<WorkerReadyInfo[]>;
  release: () => Promise<void>;
}

export async function startWorkerRole(
  config: AppConfig,
  version: VersionInfo,
  options: { logger?: FastifyServerOptions['logger']; workers?: Promise<StartedOcrWorkerPool>; collectDefaultMetrics?: boolean } = {},
): Promise<RunningWorker> {
  const queueConfig = config.queue;
  if (!queueConfig) throw new Error('APP_ROLE=worker needs QUEUE_URL');
  const lifecycle = new Lifecycle();
  const metrics = createMetrics({ ...version, role: 'worker' }, options.collectDefaultMetrics ?? true);
  let pool: OcrWorkerPool | undefined;
  const ocr = {
    get healthy() {
      return pool?.healthy ?? false;
    },
    recognize(bytes: Uint8Array) {
      if (!pool) return Promise.reject(new HttpError(503, 'not_ready', 'the OCR models are still loading'));
      return pool.recognize(bytes);
    },
  };
  const app = Fastify({ logger: options.logger ?? false, return503OnClosing: true, forceCloseConnections: true });
  const consumer = new OcrQueueConsumer(queueConfig, {
    ocr,
    concurrency: config.ocrWorkers,
    version,
    metrics,
    log: () => app.log,
    provider: config.ocrProvider,
  });

  registerOpsEndpoints(app, {
    role: 'worker',
    version,
    metrics,
    readiness: () => {
      const checks = {
        started: lifecycle.draining || lifecycle.ready ? 'ok' : 'starting',
        draining: lifecycle.draining ? 'draining' : 'ok',
        model: ocr.healthy ? 'ok' : 'not loaded',
        queue: consumer.health.status,
      };
      const ready = lifecycle.ready && ocr.healthy && consumer.health.ok;
      return { ready, checks, details: { activeJobs: consumer.activeJobs, concurrency: config.ocrWorkers } };
    },
    refreshMetrics: () => {
      metrics.activeJobs.set(consumer.activeJobs);
      metrics.draining.set(lifecycle.draining ? 1 : 0);
    },
  });

  const starting = (options.workers ?? startOcrWorkers(config)).then(({ pool: started, ready }) => {
    pool = started;
    started.onWorkerDeath = (error) => {
      app.log.error({ err: error }, 'an OCR worker died; /readyz now reports 503');
      consumer.stopTaking('an OCR thread died');
    };
    return ready;
  });
  starting.catch(() => undefined);

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  app.log.info({ queue: queueConfig.name, concurrency: config.ocrWorkers, provider: config.ocrProvider }, 'worker listening (probes only); loading models');

  const ready = starting.then((info) => {
    lifecycle.markReady();
    consumer.start();
    return info;
  });
  ready.catch(() => undefined);

  return {
    app,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    lifecycle,
    ready,
    release: async () => {
      // No new job from now on; the ones in hand finish (or go back to the queue when their lock expires).
      const finished = await consumer.close(config.shutdownTimeoutMs);
      if (!finished) app.log.warn('queue: jobs still running at the shutdown timeout; they go back to the queue once their lock expires');
      await pool?.close();
    },
  };
}
