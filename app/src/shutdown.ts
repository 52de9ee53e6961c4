// Graceful shutdown: on SIGTERM/SIGINT turn /readyz to 503, stop accepting, answer what is in flight
// (bounded by SHUTDOWN_TIMEOUT), close the workers and the database, then exit.
import type { FastifyInstance } from 'fastify';
import type { Lifecycle } from './lifecycle.ts';

export interface ShutdownSteps {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  timeoutMs: number;
  /** Time to keep serving (with /readyz already 503) before the listener closes, for proxies that poll readiness. */
  delayMs?: number;
  /** Releases what the server holds beyond its sockets (workers, database), after the last response. */
  release: () => Promise<void>;
  exit?: (code: number) => void;
}

export function installShutdown(steps: ShutdownSteps, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): { shutdown: (signal: string) => Promise<void> } {
  const exit = steps.exit ?? ((code: number) => process.exit(code));
  let started: Promise<void> | undefined;

  const shutdown = (signal: string): Promise<void> => {
    started ??= (async () => {
      const log = steps.app.log;
      steps.lifecycle.startDraining();
      log.info({ signal, inFlight: steps.lifecycle.inFlight }, 'draining: readiness is now 503, no new connections');
      if (steps.delayMs) await new Promise((resolve) => setTimeout(resolve, steps.delayMs));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        log.error({ inFlight: steps.lifecycle.inFlight, timeoutMs: steps.timeoutMs }, 'shutdown timeout: closing open connections');
        steps.app.server.closeAllConnections();
      }, steps.timeoutMs);
      timer.unref();
      let code = 0;
      try {
        await steps.app.close();
      } catch (error) {
        log.error({ err: error }, 'closing the HTTP server failed');
        code = 1;
      }
      clearTimeout(timer);
      try {
        await steps.release();
      } catch (error) {
        log.error({ err: error }, 'releasing resources failed');
        code = 1;
      }
      if (timedOut) code = 1;
      log.info({ code }, 'shutdown complete');
      exit(code);
    })();
    return started;
  };

  for (const signal of signals) process.on(signal, () => void shutdown(signal));
  return { shutdown };
}
