// What every container strategy does before its switch: pre-deploy hooks in a one-off
// container of the new version (a failure keeps the old version untouched), then the new
// container created, or the kept one chosen for a rollback; and the readiness gate.
import { toError } from '@gangway/kit';
import { blueGreenOf } from '../../settings/rollout.ts';
import { oneOffHooks } from '../../host/hooks.ts';
import type { HostContext } from '../../host/context.ts';
import { waitUntilReady, type ReadinessResult } from '../../host/readiness.ts';
import type { SwapOutcome, SwapPlan } from './strategy.ts';
import type { ContainerRef } from '../../host/engine.ts';

export type Prepared = { to: ContainerRef; created: boolean } | { failed: SwapOutcome };

/** Runs the pre-deploy hooks and creates the new container; `where` ends the log line. */
export async function prepareNew(ctx: HostContext, plan: SwapPlan, where = ''): Promise<Prepared> {
  const { engine, clock, log, signal } = ctx;
  if (plan.to.kind === 'existing') return { to: { id: plan.to.container.id, name: plan.to.container.name }, created: false };
  const spec = plan.to.spec;
  if (plan.preDeploy.length > 0) {
    try {
      await clock.time('pre-deploy', () => log.group('pre-deploy', () => oneOffHooks(engine, spec, 'pre-deploy', plan.preDeploy, { log: (l) => log.info(l), ...(signal ? { signal } : {}) })));
    } catch (error) {
      return { failed: { ok: false, rolledBack: false, switched: false, error: toError(error) } };
    }
  }
  const id = await clock.time('create', () => engine.createContainer(spec));
  log.info(`created ${spec.name} (${id.slice(0, 12)})${where}`);
  return { to: { id, name: spec.name }, created: true };
}

export async function readinessOf(ctx: HostContext, id: string, signal: AbortSignal | undefined, timeoutMs = ctx.settings.readinessTimeoutMs): Promise<ReadinessResult> {
  const s = ctx.settings;
  return waitUntilReady(ctx.engine, ctx.prober, id, {
    readiness: s.readiness,
    ...(s.containerPort === undefined ? {} : { containerPort: s.containerPort }),
    ...(s.network ? { network: s.network } : {}),
    // Under blue-green the published port is the proxy's (the old version): never a fallback there.
    ...(s.publish && !blueGreenOf(s) ? { publishedPort: s.publish.hostPort } : {}),
    timeoutMs,
    log: (line) => ctx.log.info(line),
    ...(signal ? { signal } : {}),
  });
}
