// Stopping a container that is kept for rollback (the old web, the old workers), within the
// runner's grace period once the job is cancelled.
import { errorMessage, formatDuration } from '@gangway/kit';
import type { HostContext } from '../host/context.ts';
import type { ContainerRef } from '../host/engine.ts';

/** After a cancel, how long a stop request is given to reach the engine before the step goes on without its answer. */
const CANCELLED_STOP_WAIT_MS = 1000;

/** Resolves `afterMs` after `signal` aborts (never without a signal). */
function afterAbort(signal: AbortSignal | undefined, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    const later = (): void => void setTimeout(resolve, afterMs).unref();
    if (signal.aborted) later();
    else signal.addEventListener('abort', later, { once: true });
  });
}

/**
 * Stops a container that is kept for rollback: restart policy `no` (it must not come back by
 * itself), then SIGTERM and SIGKILL after stop-timeout. Once the job is cancelled the stop is
 * sent but not waited out: the engine finishes it by itself, and the step must end within the
 * runner's grace period (SIGTERM 7.5 s, SIGKILL 10 s after the cancel), not after stop-timeout.
 */
export async function stopKept(ctx: HostContext, c: ContainerRef, stopTimeoutMs = ctx.settings.stopTimeoutMs): Promise<void> {
  const { engine, log, signal } = ctx;
  await engine.updateRestartPolicy(c.id, 'no').catch((e: unknown) => log.warn(`Could not reset the restart policy of ${c.name}: ${errorMessage(e)}`));
  const stopped = engine.stopContainer(c.id, Math.ceil(stopTimeoutMs / 1000)).then(
    () => true,
    (e: unknown) => {
      log.warn(`Could not stop ${c.name}: ${errorMessage(e)}`);
      return true;
    },
  );
  const done = await Promise.race([stopped, afterAbort(signal, CANCELLED_STOP_WAIT_MS).then(() => false)]);
  if (!done) log.info(`cancelled: ${c.name} was sent its stop; the engine finishes it by itself (SIGKILL after stop-timeout ${formatDuration(stopTimeoutMs)}), not waiting for it`);
}

