import * as core from '@actions/core';
import { errorMessage, isConfigurationError } from './errors.ts';

const IS_POST = 'isPost';

export interface ActionHandlers {
  /** The main step. `signal` aborts when the runner cancels the job (SIGINT, then SIGTERM). */
  main: (signal: AbortSignal) => Promise<void>;
  /** The post step: cleanup only. Its failures become warnings and never fail the job. */
  post?: (signal: AbortSignal) => Promise<void>;
}

/** Cancellation as the runner does it: SIGINT first, SIGTERM 7.5 s later, then a kill. */
function cancellationSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      core.warning(`Received ${name}: cancelling and cleaning up.`);
      controller.abort(new Error(`The job was cancelled (${name}).`));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * The entry of every action bundle: main and post live in one file (as in
 * actions/checkout); `action.yml` points `main` and `post` at the same `dist/index.js`,
 * and the state saved by main tells the second run that it is the post step.
 */
export async function runAction(handlers: ActionHandlers): Promise<void> {
  const isPost = core.getState(IS_POST) === 'true';
  const { signal, dispose } = cancellationSignal();
  try {
    if (isPost) {
      if (!handlers.post) return;
      try {
        await handlers.post(signal);
      } catch (error) {
        core.warning(`Cleanup failed: ${errorMessage(error)}`);
        if (error instanceof Error && error.stack) core.debug(error.stack);
      }
      return;
    }
    if (handlers.post) core.saveState(IS_POST, 'true');
    try {
      await handlers.main(signal);
      // The runner counts a cancelled step as cancelled whatever it did: never exit 0 after one.
      if (signal.aborted) reportFailure(new Error(`${errorMessage(signal.reason).replace(/\.$/, '')}; the step finished what it had started, and undid nothing.`));
    } catch (error) {
      reportFailure(error);
    }
  } finally {
    dispose();
  }
}

/** A user mistake shows its message; anything else also leaves its stack in the debug log. */
export function reportFailure(error: unknown): void {
  if (isConfigurationError(error)) {
    core.setFailed(errorMessage(error));
    return;
  }
  core.setFailed(errorMessage(error));
  if (error instanceof Error && error.stack) core.debug(error.stack);
}
