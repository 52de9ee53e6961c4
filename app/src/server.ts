// Entry point: `node app/src/server.ts` (Node 24 runs the TypeScript directly).
// The OCR worker threads start first, so loading ONNX Runtime and the models overlaps loading the HTTP stack.
import { performance } from 'node:perf_hooks';
import { ConfigError, loadConfig, type AppConfig } from './config.ts';
import { ProviderUnavailableError } from './ocr/execution-provider.ts';
import { startOcrWorkers } from './ocr/worker-pool.ts';

const cpuMsSinceStart = () => {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
};

let config: AppConfig;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // A setting that cannot work is refused before anything starts: one clear line, exit code 2.
  process.stderr.write(`gangway-app: configuration error: ${error.message}\n`);
  process.exit(2);
}
// APP_ROLE=web loads no model: its jobs run on the workers.
const workers = config.role === 'web' ? undefined : startOcrWorkers(config);
workers?.catch(() => undefined); // reported below, through server.ready

const [{ startServer }, { startWorkerRole }, { installShutdown }, { readVersionInfo }] = await Promise.all([
  import('./boot.ts'),
  import('./worker-role.ts'),
  import('./shutdown.ts'),
  import('./version.ts'),
]);
const version = readVersionInfo();
const logger = { level: config.logLevel };
const server =
  config.role === 'worker'
    ? await startWorkerRole(config, version, { logger, ...(workers ? { workers } : {}) })
    : await startServer(config, version, { logger, ...(workers ? { workers } : {}) });
installShutdown({
  app: server.app,
  lifecycle: server.lifecycle,
  timeoutMs: config.shutdownTimeoutMs,
  delayMs: config.shutdownDelayMs,
  release: server.release,
});
try {
  const ready = await server.ready;
  const providerNote = ready.find((worker) => worker.providerNote)?.providerNote;
  if (providerNote) server.app.log.warn(providerNote);
  server.app.log.info(
    {
      readyAfterMs: Math.round(performance.now()),
      cpuMsToReady: cpuMsSinceStart(),
      modelLoadMs: ready.map((worker) => Math.round(worker.loadMs)),
      warmUpMs: ready.map((worker) => Math.round(worker.warmUpMs)),
      provider: ready[0]?.provider,
      version: version.version,
      gitSha: version.gitSha,
    },
    'ready',
  );
} catch (error) {
  if (error instanceof ProviderUnavailableError) server.app.log.fatal(error.message);
  else server.app.log.fatal({ err: error }, 'the OCR models failed to load');
  process.exit(1);
}
