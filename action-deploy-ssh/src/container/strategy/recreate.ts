// recreate: pre-deploy hooks in a one-off container → create the new container → stop the
// old one (SIGTERM, stop-timeout) → start the new → readiness gate → post-deploy hooks.
// Requests fail between the stop and the new container being ready; any failure after the
// stop removes the new container and starts the old one again.
import { errorMessage, formatDuration, toError } from '@gangway/kit';
import { execHooks } from '../../host/hooks.ts';
import type { HostContext } from '../../host/context.ts';
import { diagnostics, type ReadinessResult } from '../../host/readiness.ts';
import { prepareNew, readinessOf } from './prepare.ts';
import type { Strategy, SwapOutcome, SwapPlan } from './strategy.ts';
import type { ContainerRef } from '../../host/engine.ts';

/**
 * Puts the old container back after a failed switch. Runs without the job's abort signal:
 * a cancelled deploy must still leave the old version serving.
 */
async function restore(ctx: HostContext, plan: SwapPlan, tried: ContainerRef | undefined, created: boolean, fromPolicy: string | undefined): Promise<boolean> {
  const { engine, log } = ctx;
  if (tried) {
    if (created) await engine.removeContainer(tried.id, { force: true, anonymousVolumes: true }).catch((e: unknown) => log.warn(`Could not remove ${tried.name}: ${errorMessage(e)}`));
    else {
      await engine.stopContainer(tried.id, Math.ceil(ctx.settings.stopTimeoutMs / 1000)).catch((e: unknown) => log.warn(`Could not stop ${tried.name}: ${errorMessage(e)}`));
      await engine.updateRestartPolicy(tried.id, 'no').catch((e: unknown) => log.warn(`Could not reset the restart policy of ${tried.name}: ${errorMessage(e)}`));
    }
  }
  if (!plan.from) return false;
  const from = plan.from;
  return ctx.clock.time('restore', async () => {
    log.info(`starting the previous container ${from.name} again`);
    if (fromPolicy) await engine.updateRestartPolicy(from.id, fromPolicy);
    await engine.startContainer(from.id);
    // Without the job's signal: a cancelled job must still leave the old version serving. The
    // check is bounded tighter then, to end before the runner's SIGKILL (10 s after SIGINT).
    const cancelled = ctx.signal?.aborted === true;
    const again = await readinessOf(ctx, from.id, undefined, Math.min(ctx.settings.readinessTimeoutMs, cancelled ? 5000 : 30_000));
    if (again.ready) log.info(`${from.name} is ready again after ${formatDuration(again.ms)}`);
    else log.warn(`${from.name} was started again but is not ready: ${again.last}`);
    return true;
  });
}

export const recreate: Strategy = {
  name: 'recreate',
  dropsRequests: true,

  async swap(ctx: HostContext, plan: SwapPlan): Promise<SwapOutcome> {
    const { engine, clock, log, signal } = ctx;
    const s = ctx.settings;
    // Before the switch: a failure here leaves the old version untouched.
    const prepared = await prepareNew(ctx, plan);
    if ('failed' in prepared) return prepared.failed;
    const { to, created } = prepared;

    let stoppedAt: number | undefined;
    let readiness: ReadinessResult | undefined;
    let fromPolicy: string | undefined;
    try {
      signal?.throwIfAborted();
      if (plan.to.kind === 'existing') await engine.updateRestartPolicy(to.id, s.restartPolicy);
      if (plan.from) {
        const from = plan.from;
        // Another deploy may have taken the lock over meanwhile: then this one stops nothing.
        await plan.confirmLock?.();
        fromPolicy = (await engine.inspectContainer(from.id))?.createOptions.HostConfig?.RestartPolicy?.Name || 'no';
        await clock.time('stop old', async () => {
          log.info(`stopping ${from.name} (SIGTERM, up to ${formatDuration(s.stopTimeoutMs)})`);
          stoppedAt = performance.now();
          await engine.stopContainer(from.id, Math.ceil(s.stopTimeoutMs / 1000));
          // Kept for rollback, but it must not come back by itself when dockerd restarts.
          await engine.updateRestartPolicy(from.id, 'no');
        });
      }
      await clock.time('start new', () => engine.startContainer(to.id));
      log.info(`started ${to.name}`);
      readiness = await clock.time('readiness', () => log.group(`readiness of ${to.name}`, () => readinessOf(ctx, to.id, signal)));
      if (!readiness.ready) {
        throw new Error(`${to.name} did not get ready within ${formatDuration(s.readinessTimeoutMs)} (${readiness.reason ?? 'timeout'}: ${readiness.last})`);
      }
      log.info(`${to.name} is ready after ${formatDuration(readiness.ms)}`);
      const downtimeMs = stoppedAt === undefined ? 0 : Math.round(performance.now() - stoppedAt);
      if (plan.postDeploy.length > 0) {
        await clock.time('post-deploy', () => log.group('post-deploy', () => execHooks(engine, to.id, 'post-deploy', plan.postDeploy, { log: (l) => log.info(l), ...(signal ? { signal } : {}) })));
      }
      if (plan.roles) {
        await plan.roles.start();
        await plan.roles.commit();
      }
      return { ok: true, rolledBack: false, switched: true, container: to, readiness, downtimeMs };
    } catch (error) {
      const failure = toError(error);
      log.warn(`The switch to ${to.name} failed: ${failure.message}`);
      const diag = await diagnostics(engine, to.id).catch((e: unknown) => `(no diagnostics: ${errorMessage(e)})`);
      log.info(`What ${to.name} said before it was removed:`);
      for (const line of diag.split('\n')) log.info(`  ${line}`);
      await plan.roles?.discard();
      const rolledBack = await restore(ctx, plan, to, created, fromPolicy).catch((e: unknown) => {
        log.warn(`Restoring the previous container failed: ${errorMessage(e)}`);
        return false;
      });
      return { ok: false, rolledBack, switched: stoppedAt !== undefined, container: to, ...(readiness ? { readiness } : {}), error: failure };
    }
  },
};
