// blue-green: the new container starts next to the old one on the app's private network, must
// pass the readiness gate there, and only then does the managed nginx proxy switch to it (a
// graceful reload). The old container finishes its in-flight requests (drain), then stops and
// is kept for an instant rollback. A new container that fails is removed before the proxy is
// touched: the old version never stopped serving.
import { errorMessage, formatDuration } from '@gangway/kit';
import { LABEL } from '../container-spec.ts';
import { execHooks } from '../hooks.ts';
import type { HostContext } from '../host-context.ts';
import { drainOldWorkers, switchProxy, type ProxySwitch } from '../proxy.ts';
import { diagnostics, type ReadinessResult } from '../readiness.ts';
import { asError, prepareNew, readinessOf } from './prepare.ts';
import type { ContainerRef, Strategy, SwapOutcome, SwapPlan } from './strategy.ts';

/**
 * Running containers of this app that publish the proxy's port themselves (left by
 * `strategy: recreate`): they must stop right before the proxy binds.
 */
async function publishersOfPort(ctx: HostContext): Promise<ContainerRef[]> {
  const s = ctx.settings;
  const port = String(s.publish?.hostPort ?? '');
  const list = await ctx.engine.listContainers({ [LABEL.managed]: 'true', [LABEL.app]: s.app, [LABEL.role]: 'app' });
  const found: ContainerRef[] = [];
  for (const c of list.filter((x) => x.state === 'running')) {
    const details = await ctx.engine.inspectContainer(c.id);
    const portBindings = (details?.createOptions.HostConfig?.PortBindings ?? {}) as Record<string, Array<{ HostPort?: string }> | null>;
    const bindings = Object.values(portBindings);
    if (bindings.some((b) => (b ?? []).some((x) => x.HostPort === port))) found.push({ id: c.id, name: c.name });
  }
  return found;
}

export const blueGreen: Strategy = {
  name: 'blue-green',
  dropsRequests: false,

  async swap(ctx: HostContext, plan: SwapPlan): Promise<SwapOutcome> {
    const { engine, clock, log, signal } = ctx;
    const s = ctx.settings;
    const port = s.containerPort;
    if (port === undefined) throw new Error('blue-green needs container-port');

    const prepared = await prepareNew(ctx, plan, ` on ${s.network ?? ''}, next to ${plan.from?.name ?? 'nothing'}`);
    if ('failed' in prepared) return prepared.failed;
    const { to, created } = prepared;

    let readiness: ReadinessResult | undefined;
    let switched: ProxySwitch | undefined;
    try {
      signal?.throwIfAborted();
      if (plan.to.kind === 'existing') await engine.updateRestartPolicy(to.id, s.restartPolicy);
      await clock.time('start new', () => engine.startContainer(to.id));
      log.info(`started ${to.name}`);
      readiness = await clock.time('readiness', () => log.group(`readiness of ${to.name}`, () => readinessOf(ctx, to.id, signal)));
      if (!readiness.ready) {
        throw new Error(`${to.name} did not get ready within ${formatDuration(s.readinessTimeoutMs)} (${readiness.reason ?? 'timeout'}: ${readiness.last})`);
      }
      log.info(`${to.name} is ready after ${formatDuration(readiness.ms)}`);
      if (plan.postDeploy.length > 0) {
        await clock.time('post-deploy', () => log.group('post-deploy', () => execHooks(engine, to.id, 'post-deploy', plan.postDeploy, { log: (l) => log.info(l), ...(signal ? { signal } : {}) })));
      }
      signal?.throwIfAborted();
      switched = await clock.time('switch', () =>
        switchProxy(ctx, { name: to.name, port }, {
          beforeBind: async () => {
            for (const c of await publishersOfPort(ctx)) {
              if (c.id === to.id) continue;
              log.warn(`${c.name} publishes port ${s.publish?.hostPort ?? ''} itself (deployed with recreate): stopping it so the proxy can bind`);
              await engine.stopContainer(c.id, Math.ceil(s.stopTimeoutMs / 1000));
            }
          },
        }),
      );
    } catch (error) {
      // The proxy was not switched: the old container never stopped serving.
      const failure = asError(error);
      log.warn(`${to.name} does not get the traffic: ${failure.message}`);
      const diag = await diagnostics(engine, to.id).catch((e: unknown) => `(no diagnostics: ${errorMessage(e)})`);
      log.info(`What ${to.name} said before it was ${created ? 'removed' : 'stopped'}:`);
      for (const line of diag.split('\n')) log.info(`  ${line}`);
      if (created) await engine.removeContainer(to.id, { force: true }).catch((e: unknown) => log.warn(`Could not remove ${to.name}: ${errorMessage(e)}`));
      else {
        await engine.stopContainer(to.id, Math.ceil(s.stopTimeoutMs / 1000)).catch((e: unknown) => log.warn(`Could not stop ${to.name}: ${errorMessage(e)}`));
        await engine.updateRestartPolicy(to.id, 'no').catch(() => undefined);
      }
      return { ok: false, rolledBack: plan.from !== undefined, switched: false, container: to, ...(readiness ? { readiness } : {}), error: failure, downtimeMs: 0 };
    }

    // Switched: from here on the deploy has succeeded; the rest only tidies up, even on cancel.
    if (plan.from) {
      const from = plan.from;
      if (switched.how === 'reloaded') {
        const drained = await clock.time('drain', () => drainOldWorkers(engine, switched.proxy.id, switched.oldWorkers, s.drainTimeoutMs));
        if (drained === false) log.warn(`nginx's old workers still had requests to ${from.name} after drain-timeout ${formatDuration(s.drainTimeoutMs)}; stopping it anyway`);
        else if (drained === undefined) log.info(`waited drain-timeout ${formatDuration(s.drainTimeoutMs)} (the proxy image has no shell to tell when the old workers are done)`);
      }
      await clock.time('stop old', async () => {
        log.info(`stopping ${from.name} (kept for rollback)`);
        await engine.stopContainer(from.id, Math.ceil(s.stopTimeoutMs / 1000)).catch((e: unknown) => log.warn(`Could not stop ${from.name}: ${errorMessage(e)}`));
        await engine.updateRestartPolicy(from.id, 'no').catch((e: unknown) => log.warn(`Could not reset the restart policy of ${from.name}: ${errorMessage(e)}`));
      });
    }
    return { ok: true, rolledBack: false, switched: true, container: to, readiness, downtimeMs: 0 };
  },
};
