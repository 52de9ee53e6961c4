// Entry point: `node app/src/server.ts`. Opens the database, starts the OCR workers (models loaded and warmed up),
// then listens; /readyz answers 200 only from then on.
import { performance } from 'node:perf_hooks';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { openDatabase } from './db.ts';
import { ImageStore } from './image-store.ts';
import { Lifecycle } from './lifecycle.ts';
import { createMetrics } from './metrics.ts';
import { resolveModelPaths } from './ocr/model-paths.ts';
import { OcrWorkerPool } from './ocr/worker-pool.ts';
import { InferenceQueue } from './queue.ts';
import { ResultStore } from './results-store.ts';
import { installShutdown } from './shutdown.ts';
import { readVersionInfo } from './version.ts';

const bootStarted = performance.now();
const config = loadConfig();
const version = readVersionInfo();
const lifecycle = new Lifecycle();
const metrics = createMetrics(version);
const opened = openDatabase(config.dataDir);
const store = new ResultStore(opened.db);
const images = new ImageStore(config.dataDir);
const queue = new InferenceQueue(config.ocrWorkers, config.queueMaxWaiting);
const modelPaths = resolveModelPaths(config.modelsDir);

// Workers load the models while the HTTP server comes up; /healthz answers meanwhile, /readyz says 503.
const poolStarting = OcrWorkerPool.start(
  config.ocrWorkers,
  { paths: modelPaths, engine: { detMaxSide: config.detMaxSide }, maxImagePixels: config.maxImagePixels },
  (error) => app.log.error({ err: error }, 'an OCR worker died; /readyz now reports 503'),
);
let pool: OcrWorkerPool | undefined;
const ocr = {
  get healthy() {
    return pool?.healthy ?? false;
  },
  recognize(bytes: Uint8Array) {
    if (!pool) return Promise.reject(new Error('the OCR models are still loading'));
    return pool.recognize(bytes);
  },
};

const app = await buildApp(
  { config, version, store, images, ocr, queue, metrics, lifecycle },
  { logger: { level: config.logLevel } },
);
installShutdown({
  app,
  lifecycle,
  timeoutMs: config.shutdownTimeoutMs,
  delayMs: config.shutdownDelayMs,
  release: async () => {
    await pool?.close();
    opened.db.close();
  },
});

await app.listen({ host: config.host, port: config.port });
app.log.info(
  { dataDir: config.dataDir, schemaVersion: opened.schemaVersion, migrationsApplied: opened.applied, models: modelPaths.source },
  'listening; loading models',
);
try {
  const started = await poolStarting;
  pool = started.pool;
} catch (error) {
  app.log.fatal({ err: error }, 'the OCR models failed to load');
  process.exit(1);
}
lifecycle.markReady();
app.log.info({ coldStartMs: Math.round(performance.now() - bootStarted), version: version.version, gitSha: version.gitSha }, 'ready');
