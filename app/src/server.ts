// Entry point: `node app/src/server.ts` (Node 24 runs the TypeScript directly).
import { performance } from 'node:perf_hooks';
import { startServer } from './boot.ts';
import { loadConfig } from './config.ts';
import { installShutdown } from './shutdown.ts';
import { readVersionInfo } from './version.ts';

const config = loadConfig();
const version = readVersionInfo();
const server = await startServer(config, version, { logger: { level: config.logLevel } });
installShutdown({
  app: server.app,
  lifecycle: server.lifecycle,
  timeoutMs: config.shutdownTimeoutMs,
  delayMs: config.shutdownDelayMs,
  release: server.release,
});
try {
  const workers = await server.ready;
  server.app.log.info(
    {
      readyAfterMs: Math.round(performance.now()),
      modelLoadMs: workers.map((worker) => Math.round(worker.loadMs)),
      warmUpMs: workers.map((worker) => Math.round(worker.warmUpMs)),
      version: version.version,
      gitSha: version.gitSha,
    },
    'ready',
  );
} catch (error) {
  server.app.log.fatal({ err: error }, 'the OCR models failed to load');
  process.exit(1);
}
