// blue-green: the new container starts next to the old one on the app's private network, must
// pass the readiness gate there, and only then does the managed nginx proxy switch to it (a
// graceful reload). For settle-time the old container keeps running as nginx's backup while the
// new one is watched: one that dies, restarts, turns unhealthy or stops answering its readiness
// path meanwhile is rolled back (the proxy points at the old one alone again, the new one is
// removed). Once settled, the proxy drops the old one, it finishes its in-flight requests
// (drain), then stops and is kept for an instant rollback; with a standby window it stays running
// instead, out of the proxy, for a warm rollback (standby.ts). A new container that fails its
// readiness gate is removed before the proxy is touched: the old version never stopped serving.
import { errorMessage, formatDuration, sleep, toError } from '@gangway/kit';
import { LABEL } from '../../labels.ts';
import type { ContainerDetails } from '../../host/engine.ts';
import { execHooks } from '../../host/hooks.ts';
import type { HostContext } from '../../host/context.ts';
import { frontOf, type Front, type FrontSwitch } from '../front.ts';
import type { Upstream } from '../proxy-config.ts';
import { blueGreenOf, type BlueGreenSettings } from '../../settings/rollout.ts';
import { crashed, diagnostics, probeReadiness, probeTarget, type ReadinessResult } from '../../host/readiness.ts';
import { prepareNew, readinessOf } from './prepare.ts';
import { stopKept } from '../stop.ts';
import type { Strategy, SwapOutcome, SwapPlan } from './strategy.ts';
import type { ContainerRef } from '../../host/engine.ts';

/** How often a settling container is looked at (engine state, then its readiness path). */
const SETTLE_INTERVAL_MS = 250;
/** Readiness probes in a row that may fail during settle before the new container is rolled back. */
const SETTLE_PROBE_FAILURES = 3;

/**
 * Watches the new container for `ms` after the switch. Undefined when it settled; otherwise what
 * went wrong: it is gone, stopped, crashed (restarting, or restarted since `baseline`), turned
 * unhealthy, or failed its readiness path SETTLE_PROBE_FAILURES times in a row.
 */
export async function watchSettle(ctx: HostContext, to: ContainerRef, baseline: ContainerDetails | undefined, ms: number, signal?: AbortSignal): Promise<string | undefined> {
  const { engine, prober } = ctx;
  const s = ctx.settings;
  const started = performance.now();
  const interval = Math.max(10, Math.min(SETTLE_INTERVAL_MS, Math.floor(ms / 4)));
  let failedProbes = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    const when = `${formatDuration(elapsed)} into settle-time ${formatDuration(ms)}`;
    const d = await engine.inspectContainer(to.id);
    if (!d) return `is gone, ${when}`;
    const restarted =
      (d.restartCount !== undefined && baseline?.restartCount !== undefined && d.restartCount > baseline.restartCount) ||
      (d.startedAt !== undefined && baseline?.startedAt !== undefined && d.startedAt !== baseline.startedAt);
    if (!d.running || d.state === 'restarting' || restarted) return `died ${when}: ${crashed(d)}`;
    if (d.health?.status === 'unhealthy') return `turned unhealthy ${when}: ${d.health.log.at(-1)?.output.trim() ?? 'no health log'}`;
    if (s.readiness.kind === 'http') {
      const target = probeTarget(d, { ...(s.network ? { network: s.network } : {}), ...(s.containerPort === undefined ? {} : { containerPort: s.containerPort }) });
      const answer = await probeReadiness(prober, target ?? { host: '', port: 0 }, s.readiness.path, 2000, signal);
      if (!answer.ok) signal?.throwIfAborted();
      const last = answer.ok ? '' : answer.said;
      failedProbes = last === '' ? 0 : failedProbes + 1;
      if (failedProbes >= SETTLE_PROBE_FAILURES) return `stopped answering its readiness path ${when} (${failedProbes} probes in a row; last: ${last})`;
    }
    const now = performance.now() - started;
    if (now >= ms) return undefined;
    await sleep(Math.min(interval, ms - now), signal);
  }
}

/** A new container that does not get the traffic (any more): its logs printed, then removed (created) or stopped (kept). */
async function discard(ctx: HostContext, to: ContainerRef, created: boolean): Promise<void> {
  const { engine, log } = ctx;
  const diag = await diagnostics(engine, to.id).catch((e: unknown) => `(no diagnostics: ${errorMessage(e)})`);
  log.info(`What ${to.name} said before it was ${created ? 'removed' : 'stopped'}:`);
  for (const line of diag.split('\n')) log.info(`  ${line}`);
  if (created) await engine.removeContainer(to.id, { force: true, anonymousVolumes: true }).catch((e: unknown) => log.warn(`Could not remove ${to.name}: ${errorMessage(e)}`));
  else await stopKept(ctx, to);
}

/** Waits for the requests the front still had in flight to what it no longer sends to (`what`). */
async function drain(ctx: HostContext, switched: FrontSwitch, what: string): Promise<void> {
  const bg = blueGreenSettings(ctx);
  const drained = await ctx.clock.time('drain', () => switched.drain(bg.drainTimeoutMs, ctx.signal));
  if (ctx.signal?.aborted) ctx.log.info(`cancelled: not waiting for the requests in flight to ${what} (the front finishes them by itself)`);
  else if (drained === false) ctx.log.warn(`the front still had requests to ${what} after drain-timeout ${formatDuration(bg.drainTimeoutMs)}; going on anyway`);
  else if (drained === undefined) ctx.log.info(`waited drain-timeout ${formatDuration(bg.drainTimeoutMs)} (the proxy image has no shell to tell when the old workers are done)`);
}

/**
 * The new container failed during settle (`trouble`). With the old one as the proxy's backup:
 * the proxy points at the old one alone again (graceful reload), the workers that still knew
 * the new one finish, and the new one is removed with its logs printed. The old container was
 * never stopped. Without a backup (a first deploy) there is nothing to go back to: the step fails.
 */
export async function rollBackSettle(ctx: HostContext, front: Front, f: { to: ContainerRef; created: boolean; backup: Upstream | undefined; trouble: string; readiness?: ReadinessResult }): Promise<SwapOutcome> {
  const { log, clock } = ctx;
  const error = new Error(`${f.to.name} ${f.trouble}`);
  const failed = { ok: false, switched: true, container: f.to, ...(f.readiness ? { readiness: f.readiness } : {}), downtimeMs: 0 };
  if (!f.backup) {
    log.warn(`${error.message}; there is no previous container behind the proxy to go back to`);
    return { ...failed, error, rolledBack: false };
  }
  const backup = f.backup;
  log.warn(`${error.message}: rolling back to ${backup.name}`);
  try {
    const back = await clock.time('roll back', async () => {
      // The front may still be sending on to the backup what the new container dropped: a config change now could cut that short.
      await front.beforeRollback?.(ctx, f.to.name);
      return front.switch(ctx, backup);
    });
    await drain(ctx, back, f.to.name);
  } catch (e) {
    // The settle config (new one first, old one as backup) stays, both containers running: requests keep failing over.
    const stuck = `${error.message}, and the proxy could not be pointed back at ${backup.name} alone (${errorMessage(e)}): it still forwards to ${f.to.name} with ${backup.name}, still running, as its backup`;
    log.warn(stuck);
    return { ...failed, error: new Error(stuck), rolledBack: false };
  }
  await clock.time('remove new', () => discard(ctx, f.to, f.created));
  return { ...failed, error, rolledBack: true };
}

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

function frontFor(ctx: HostContext): Front {
  const front = frontOf(ctx.settings);
  if (!front) throw new Error('blue-green needs a front: publish (its own proxy) or hostname (the shared edge)');
  return front;
}

function blueGreenSettings(ctx: HostContext): BlueGreenSettings {
  const bg = blueGreenOf(ctx.settings);
  if (!bg) throw new Error('the blue-green strategy runs only with blue-green settings');
  return bg;
}

export const blueGreen: Strategy = {
  name: 'blue-green',
  dropsRequests: false,

  async swap(ctx: HostContext, plan: SwapPlan): Promise<SwapOutcome> {
    const { engine, clock, log, signal } = ctx;
    const s = ctx.settings;
    const bg = blueGreenSettings(ctx);
    const port = s.containerPort;
    if (port === undefined) throw new Error('blue-green needs container-port');
    const front = frontFor(ctx);
    // The edge is set up, and the app's route checked against the others, before the new container exists.
    await front.prepare(ctx);

    const prepared = await prepareNew(ctx, plan, ` on ${s.network ?? ''}, next to ${plan.from?.name ?? 'nothing'}`);
    if ('failed' in prepared) return prepared.failed;
    const { to, created } = prepared;

    let readiness: ReadinessResult | undefined;
    let switched: FrontSwitch | undefined;
    let baseline: ContainerDetails | undefined;
    try {
      signal?.throwIfAborted();
      if (plan.to.kind === 'existing') {
        await engine.updateRestartPolicy(to.id, s.restartPolicy);
        // A container back from standby answers to the app's name on its network again.
        const network = s.network;
        const aliases = network ? ((await engine.inspectContainer(to.id))?.createOptions.NetworkingConfig?.EndpointsConfig?.[network]?.Aliases ?? []) : [];
        if (network && !aliases.includes(s.app)) await engine.setNetworkAliases(to.id, network, [s.app]);
      }
      if (plan.to.kind === 'existing' && plan.to.container.state === 'running') {
        log.info(`${to.name} is running already (standby): no start`);
      } else {
        await clock.time('start new', () => engine.startContainer(to.id));
        log.info(`started ${to.name}`);
      }
      readiness = await clock.time('readiness', () => log.group(`readiness of ${to.name}`, () => readinessOf(ctx, to.id, signal)));
      if (!readiness.ready) {
        const last = `${readiness.reason ?? 'timeout'}: ${readiness.last}`;
        throw new Error(
          readiness.reason === 'exited'
            ? `${to.name} stopped before it got ready (${last})`
            : `${to.name} did not get ready within ${formatDuration(s.readinessTimeoutMs)} (${last})`,
        );
      }
      log.info(`${to.name} is ready after ${formatDuration(readiness.ms)}`);
      // Its restart count and start time now: a crash during settle changes one of them.
      baseline = await engine.inspectContainer(to.id);
      if (plan.postDeploy.length > 0) {
        await clock.time('post-deploy', () => log.group('post-deploy', () => execHooks(engine, to.id, 'post-deploy', plan.postDeploy, { log: (l) => log.info(l), ...(signal ? { signal } : {}) })));
      }
      // Every role of the new release is up before any traffic moves (an atomic release).
      if (plan.roles) await plan.roles.start();
      signal?.throwIfAborted();
      // Another deploy may have taken the lock over meanwhile: then this one switches nothing.
      await plan.confirmLock?.();
      switched = await clock.time('switch', () =>
        front.switch(ctx, { name: to.name, port }, {
          // While the new one settles, the old one stays in the config as nginx's backup.
          ...(plan.from && bg.settleMs > 0 ? { keepAsBackup: plan.from.name } : {}),
          // The front as read under the lock: the switch starts with its write.
          ...(plan.frontState ? { seen: plan.frontState } : {}),
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
      const failure = toError(error);
      log.warn(`${to.name} does not get the traffic: ${failure.message}`);
      await plan.roles?.discard();
      await discard(ctx, to, created);
      return { ok: false, rolledBack: plan.from !== undefined, switched: false, container: to, ...(readiness ? { readiness } : {}), error: failure, downtimeMs: 0 };
    }

    // Switched. The deploy has succeeded once the new container has settled (settle-time): until
    // then the old one keeps running, as nginx's backup when the proxy forwarded to it.
    let last: FrontSwitch = switched;
    if (bg.settleMs > 0) {
      const backup = switched.backup;
      let trouble = await clock.time('settle', () =>
        log.group(`settle: watching ${to.name} for ${formatDuration(bg.settleMs)}${backup ? `, ${backup.name} as the proxy's backup` : ''}`, () =>
          watchSettle(ctx, to, baseline, bg.settleMs, signal).catch((error: unknown) => (signal?.aborted ? 'was cancelled while settling' : `could not be watched while settling (${errorMessage(error)})`)),
        ),
      );
      // A worker of the new release that died meanwhile fails the release as a web container would.
      if (trouble === undefined && plan.roles) trouble = await plan.roles.check();
      if (trouble === undefined && backup) {
        // nginx resolves every server it lists at each reload: the old one leaves the config before it stops.
        log.info(`${to.name} settled; dropping ${backup.name} from the proxy`);
        try {
          last = await clock.time('drop backup', () => front.switch(ctx, { name: to.name, port }));
        } catch (error) {
          trouble = `settled, but the proxy could not drop ${backup.name} (${errorMessage(error)})`;
        }
      }
      if (trouble !== undefined) {
        const back = await rollBackSettle(ctx, front, { to, created, backup, trouble, ...(readiness ? { readiness } : {}) });
        // The old workers never stopped: the new ones go, whether or not the web could go back.
        await plan.roles?.discard();
        return back;
      }
      log.info(`${to.name} settled: still running, not restarted${s.readiness.kind === 'http' ? ', answering its readiness path' : ''} for ${formatDuration(bg.settleMs)} after the switch`);
    }

    // The new release stands: the old workers finish their jobs (SIGTERM, stop-timeout), then the old web drains.
    await plan.roles?.commit();
    if (plan.from && bg.standbyMs > 0 && !s.rollback) {
      // Standby: the old web keeps running out of the proxy (its requests in flight finish there), ready for a warm rollback.
      const from = { id: plan.from.id, name: plan.from.name };
      // It must not come back by itself after a restart of the engine: the next run would find two of them.
      await engine.updateRestartPolicy(from.id, 'no').catch((e: unknown) => log.warn(`Could not reset the restart policy of ${from.name}: ${errorMessage(e)}`));
      // Nor answer to the app's name on its network (workers, other apps): only the serving container does.
      if (s.network) {
        const network = s.network;
        await engine.setNetworkAliases(from.id, network, []).catch((e: unknown) => log.warn(`Could not take the alias ${s.app} from ${from.name} on ${network}: ${errorMessage(e)}`));
      }
      log.info(`${from.name} stays running on standby, out of the ${front.kind}, for ${formatDuration(bg.standbyMs)}: rollback: true within it switches back without a start; the next run after it stops ${from.name}`);
      return { ok: true, rolledBack: false, switched: true, container: to, readiness, downtimeMs: 0, standby: from };
    }
    if (plan.from) {
      const from = plan.from;
      await drain(ctx, last, from.name);
      await clock.time('stop old', async () => {
        log.info(`stopping ${from.name} (kept for rollback)`);
        await stopKept(ctx, from);
      });
    }
    return { ok: true, rolledBack: false, switched: true, container: to, readiness, downtimeMs: 0 };
  },
};
