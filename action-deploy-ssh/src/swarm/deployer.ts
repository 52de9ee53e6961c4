// target: swarm — the app as a Docker Swarm service on a manager: created on the first deploy,
// then `service update` with the current version. Swarm itself does the switch (UpdateConfig:
// one task at a time, rollback on failure) and gates it on the task's HEALTHCHECK; this waits
// for the outcome (wait.ts): `completed` (deployed) or `rollback_completed` (Swarm rolled back
// by itself). The spec is service-spec.ts's.
import { ConfigurationError, errorMessage, formatDuration, registryAuthHeader, registryServerAddress, sleep } from '@gangway/kit';
import type { HostContext } from '../host/context.ts';
import { DeployFailedError, type DeployTarget } from '../host/deployer.ts';
import { confirmDeployLock, pullForDeploy } from '../host/preflight.ts';
import { LABEL } from '../labels.ts';
import { setResult, type HostReport } from '../report.ts';
import { swarmWaitMs } from '../settings/rollout.ts';
import type { SwarmEngine, SwarmService, SwarmServiceSpec } from './engine.ts';
import { currentProxy } from '../container/proxy.ts';
import { swarmTasksName } from '../container/proxy-config.ts';
import { proxyName } from '../container/spec.ts';
import { ensureSwarmProxy } from './front-proxy.ts';
import { SWARM_MONITOR_MS, swarmServiceSpec } from './service-spec.ts';
import { waitForNewService, waitForUpdate, type SwarmOutcome, type SwarmWaitOptions } from './wait.ts';

interface Pulled {
  imageRef: string;
  digest: string;
  hasHealthcheck: boolean;
}

/** The ports a spec publishes in host mode (an earlier Gangway's one-replica services did; Gangway's proxy holds `publish` now). */
function hostPortsOf(spec: SwarmServiceSpec | undefined): number[] {
  return (spec?.EndpointSpec.Ports ?? []).filter((p) => p.PublishMode === 'host').map((p) => p.PublishedPort);
}

/** `spec` to be applied over the service's current `now` so that Swarm replaces every task even when nothing else changed. */
function forceUpdated(spec: SwarmServiceSpec, now: SwarmServiceSpec): SwarmServiceSpec {
  return { ...spec, TaskTemplate: { ...spec.TaskTemplate, ForceUpdate: (now.TaskTemplate.ForceUpdate ?? 0) + 1 } };
}

/** How often the waits look, and when a standing update counts as stalled (tests make them short). */
export interface SwarmTiming {
  intervalMs?: number;
  stallMs?: number;
}

export function swarmTarget(ctx: HostContext, swarm: SwarmEngine, timing: SwarmTiming = {}): DeployTarget {
  const s = ctx.settings;
  const replicas = s.target.kind === 'swarm' ? s.target.replicas : 1;
  const proxied = s.target.kind === 'swarm' && s.target.proxy !== undefined;
  let pulled: Pulled | undefined;
  // Every node pulls the image for itself: Swarm hands them the login with the spec (--with-registry-auth).
  const registryAuth = s.registry && s.image ? registryAuthHeader({ ...s.registry, serveraddress: registryServerAddress(s.image.registry) }) : undefined;
  const auth = registryAuth ? { registryAuth } : {};
  const waitOptions: SwarmWaitOptions = {
    // Swarm: one task at a time, each healthy within readiness-timeout, the last old task's stop, then its monitor window.
    timeoutMs: swarmWaitMs(s),
    ...(timing.intervalMs !== undefined ? { intervalMs: timing.intervalMs } : {}),
    ...(timing.stallMs !== undefined ? { stallMs: timing.stallMs } : {}),
    log: (l: string) => ctx.log.info(l),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
  // A restore runs to its end even when the job is cancelled: it puts the previous version back.
  const { signal: _signal, ...uncancelled } = waitOptions;
  const restoreOptions: SwarmWaitOptions = uncancelled;

  /** Until a task of the service's current spec runs (Swarm's verdict can come before its task listens). */
  const settleService = async (serviceId: string, options: SwarmWaitOptions): Promise<SwarmOutcome> => {
    const service = await swarm.inspectService(serviceId);
    const deployedAt = service?.spec.TaskTemplate.ContainerSpec.Labels[LABEL.deployedAt];
    if (!service || deployedAt === undefined) return { kind: 'timeout', message: 'the service or its deploy label is gone' };
    return waitForNewService(swarm, serviceId, deployedAt, { ...options, replicas: service.spec.Mode.Replicated.Replicas });
  };

  /**
   * The previous version back after an update Swarm did not finish. With `to` (the spec from
   * before this deploy, when the deploy applied its own spec twice and Swarm's previous spec is
   * therefore this deploy's too): `to` applied with ForceUpdate. Otherwise Swarm's rollback when it
   * has not started one; when its rollback is stuck (a restarted task of the failed version holding
   * a host port), the spec it rolled back to is applied again with ForceUpdate, which replaces
   * every task of the slot.
   */
  const restore = async (serviceId: string, options: SwarmWaitOptions, to?: SwarmServiceSpec): Promise<SwarmOutcome> => {
    const now = await swarm.inspectService(serviceId);
    if (!now) return { kind: 'timeout', message: 'the service is gone' };
    const rolling = now.updateStatus?.state.startsWith('rollback') === true;
    if (to) {
      options.log(`applying the spec from before this deploy again (${to.TaskTemplate.ContainerSpec.Image}, ForceUpdate)`);
      await swarm.updateService(now.id, now.version, forceUpdated(to, now.spec), auth);
    } else if (rolling || !now.previousSpec) {
      options.log(`applying ${now.spec.TaskTemplate.ContainerSpec.Image} again (ForceUpdate)`);
      await swarm.updateService(now.id, now.version, forceUpdated(now.spec, now.spec), auth);
    } else {
      options.log('asking Swarm to roll back (rollback=previous)');
      await swarm.updateService(now.id, now.version, now.spec, { rollback: true, ...auth });
    }
    const done = await waitForUpdate(swarm, now.id, now.updateStatus, { ...options, rollback: true });
    if (done.kind !== 'completed') return done;
    return settleService(serviceId, options);
  };

  /**
   * The image `rollback: true` goes back to: the service's previous spec. Refused, before anything
   * changes:
   * - when there is none;
   * - after Swarm has rolled an update back by itself: the service already runs the version before
   *   the failed one, and its previous spec is gone (engine 20.10) or the failed one;
   * - when the previous spec is this very version (a deploy that stalled applied it twice);
   * - when the previous spec publishes a host-mode port that the proxy holds now, or is off the
   *   network the proxy reaches the tasks on: its tasks could not serve.
   */
  const previousImage = (service: SwarmService | undefined): { service: SwarmService; image: string } => {
    if (!service) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: there is no Swarm service of this app.`);
    if (service.updateStatus?.state === 'rollback_completed') {
      throw new Error(
        `Swarm already rolled ${s.app} back on ${ctx.host} (${service.updateStatus.message ?? 'rollback_completed'}): it runs the version before the failed update, and Swarm keeps no earlier spec to go back to. Deploy the image you want instead.`,
      );
    }
    const previous = service.previousSpec;
    if (!previous) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: the service has no previous spec (it was deployed once).`);
    const image = previous.TaskTemplate.ContainerSpec.Image;
    const instead = (what: string | undefined): string => (what ? ` Deploy the previous image instead: image: ${what}.` : ' Deploy the image you want instead.');
    if (image === service.spec.TaskTemplate.ContainerSpec.Image) {
      throw new Error(
        `Swarm's previous spec of ${s.app} on ${ctx.host} runs the version it runs now (${image}: a deploy applied it twice, after Swarm's update stalled), so Swarm's rollback would change nothing. Nothing was changed.${instead(service.spec.Labels[LABEL.previousImage])}`,
      );
    }
    const hostPorts = hostPortsOf(previous);
    if (hostPorts.length > 0 && (service.spec.EndpointSpec.Ports ?? []).length === 0) {
      throw new Error(
        `Swarm's previous spec of ${s.app} on ${ctx.host} publishes port ${hostPorts.join(', ')} in host mode (from before ${s.app} moved behind the proxy ${proxyName(s.app)}), and the proxy holds that port now. Nothing was changed.${instead(image)}`,
      );
    }
    const onNetwork = (spec: SwarmServiceSpec): boolean => (spec.TaskTemplate.Networks ?? []).some((n) => n.Target === s.network);
    if (proxied && !onNetwork(previous) && onNetwork(service.spec)) {
      throw new Error(
        `Swarm's previous spec of ${s.app} on ${ctx.host} is not on the network ${s.network} (it was deployed without publish), so the proxy ${proxyName(s.app)} could not reach its tasks. Nothing was changed.${instead(image)}`,
      );
    }
    return { service, image };
  };

  /**
   * The port the proxy holds: made (or kept) now; or, when the service still publishes host-mode
   * ports (deployed by an earlier Gangway, whose one-replica services did), once its update is
   * done and the old task has let the port go, within its stop-timeout.
   */
  const proxyUp = async (afterHostPorts: boolean): Promise<void> => {
    const started = performance.now();
    for (;;) {
      try {
        const front = await ctx.clock.time('proxy', () => ensureSwarmProxy(ctx));
        if (front.how === 'kept') ctx.log.info(`proxy ${front.name}: running as wanted, forwarding to ${swarmTasksName(s.app)}`);
        return;
      } catch (error) {
        if (!afterHostPorts || performance.now() - started > s.stopTimeoutMs + 10_000) throw error;
        await sleep(500, ctx.signal);
      }
    }
  };

  /** A proxy from an earlier deploy with publish, when this one has none: it keeps the port; say so. */
  const staleProxy = async (): Promise<void> => {
    const front = await currentProxy(ctx.engine, s.app);
    if (front.details) ctx.log.warn(`"publish" is not set, but the managed proxy ${front.details.name} from an earlier deploy still holds its port and forwards to ${swarmTasksName(s.app)}. Remove it (docker rm -f ${front.details.name}) if ${s.app} should no longer be published.`);
  };

  /** rollback: true — Swarm's own rollback to the service's previous spec. */
  const rollBack = async (service: SwarmService | undefined, report: HostReport): Promise<void> => {
    const { service: current, image: back } = previousImage(service);
    ctx.log.info(`rolling back ${s.app}: ${current.spec.TaskTemplate.ContainerSpec.Image} → ${back} (Swarm's rollback to the previous spec)`);
    report.image = back;
    report.imageDigest = back.split('@')[1] ?? '';
    await ctx.clock.time('update', () => swarm.updateService(current.id, current.version, current.spec, { rollback: true, ...auth }));
    const t0 = performance.now();
    let outcome = await ctx.clock.time('readiness', () => ctx.log.group('Swarm rollback', () => waitForUpdate(swarm, current.id, current.updateStatus, { ...waitOptions, rollback: true })));
    outcome = outcome.kind === 'completed' ? await settleService(current.id, waitOptions) : await ctx.clock.time('restore', () => restore(current.id, waitOptions));
    report.readinessMs = Math.round(performance.now() - t0);
    report.container = { id: current.id, name: s.app };
    if (outcome.kind !== 'completed') throw new Error(`Swarm's rollback of ${s.app} did not complete: ${outcome.message}`);
    setResult(report, 'deployed');
  };

  /** The first deploy: the service created, until its first task runs. */
  const create = async (p: Pulled, report: HostReport): Promise<void> => {
    const spec = swarmServiceSpec(s, { imageRef: p.imageRef, digest: p.digest, provenance: ctx.provenance, imageHasHealthcheck: p.hasHealthcheck });
    const t0 = performance.now();
    const id = await ctx.clock.time('create', () => swarm.createService(spec, registryAuth));
    ctx.log.info(`created the Swarm service ${s.app} (${id.slice(0, 12)}, ${replicas} replica${replicas === 1 ? '' : 's'})`);
    report.container = { id, name: s.app };
    const outcome = await ctx.clock.time('readiness', () => ctx.log.group(`readiness of ${s.app}`, () => waitForNewService(swarm, id, ctx.provenance.at, { ...waitOptions, replicas })));
    report.readinessMs = Math.round(performance.now() - t0);
    if (outcome.kind !== 'completed') throw new Error(`${s.app} did not get ready within ${formatDuration(waitOptions.timeoutMs)}: ${outcome.message}. There was no previous version to go back to.`);
    ctx.log.info(`${s.app} is running after ${formatDuration(report.readinessMs)}`);
    setResult(report, 'deployed');
  };

  /** A new version of a running service: Swarm's update, watched; the previous version back when it does not finish. */
  const update = async (p: Pulled, current: SwarmService, report: HostReport, confirmLock: () => Promise<void>): Promise<void> => {
    const spec = swarmServiceSpec(s, {
      imageRef: p.imageRef,
      digest: p.digest,
      provenance: ctx.provenance,
      imageHasHealthcheck: p.hasHealthcheck,
      previous: { image: current.spec.Labels[LABEL.image] ?? current.spec.TaskTemplate.ContainerSpec.Image, deployedAt: current.spec.Labels[LABEL.deployedAt] ?? '' },
    });
    const t0 = performance.now();
    report.container = { id: current.id, name: s.app };
    ctx.log.info(`updating the Swarm service ${s.app} (${replicas} replica${replicas === 1 ? '' : 's'}, one task at a time, start-first, rollback on failure, monitor ${formatDuration(SWARM_MONITOR_MS)})`);
    // Another deploy may have taken the lock over meanwhile: then this one updates nothing.
    await confirmLock();
    const warnings = await ctx.clock.time('update', () => swarm.updateService(current.id, current.version, spec, auth));
    for (const w of warnings) ctx.log.info(`Swarm: ${w}`);
    let outcome = await ctx.clock.time('readiness', () => ctx.log.group(`Swarm update of ${s.app}`, () => waitForUpdate(swarm, current.id, current.updateStatus, waitOptions)));
    let reapplied = false;
    // A node lost during the update can leave Swarm's updater standing still. Once, the new spec again (ForceUpdate:
    // Swarm's updater starts afresh and places the tasks on the nodes that are up).
    if (outcome.kind === 'stalled') {
      ctx.log.warn(`${outcome.message}: applying the update again (ForceUpdate), so that Swarm places the tasks on the nodes that are up`);
      const now = await swarm.inspectService(current.id);
      if (now) {
        await ctx.clock.time('update', () => swarm.updateService(now.id, now.version, forceUpdated(spec, now.spec), auth));
        reapplied = true;
        outcome = await ctx.clock.time('readiness', () => ctx.log.group(`Swarm update of ${s.app}, again`, () => waitForUpdate(swarm, now.id, now.updateStatus, waitOptions)));
      }
    }
    if (outcome.kind === 'completed') {
      const settled = await settleService(current.id, waitOptions);
      report.readinessMs = Math.round(performance.now() - t0);
      if (settled.kind === 'completed') {
        ctx.log.info(`${s.app} runs ${p.imageRef} after ${formatDuration(report.readinessMs)}`);
        setResult(report, 'deployed');
        return;
      }
      outcome = { kind: 'timeout', message: settled.message };
    }
    report.readinessMs = Math.round(performance.now() - t0);
    const failure = outcome.message;
    let restored: boolean;
    if (reapplied) {
      // Swarm's previous spec is now this deploy's own first apply: its rollback (or ours by rollback=previous) would keep the new version.
      ctx.log.warn(`The update did not finish (${failure}); putting the spec from before this deploy back`);
      const back = await ctx.clock.time('restore', () => restore(current.id, restoreOptions, current.spec));
      restored = back.kind === 'completed';
      if (back.kind !== 'completed') outcome = { kind: 'paused', message: `${failure}; the rollback did not complete either: ${back.message}` };
    } else if (outcome.kind !== 'rolled-back') {
      // Swarm did not finish by itself: put the previous version back.
      ctx.log.warn(`The update did not finish (${failure}); rolling back`);
      const back = await ctx.clock.time('restore', () => restore(current.id, restoreOptions));
      restored = back.kind === 'completed';
      if (back.kind !== 'completed') outcome = { kind: 'paused', message: `${failure}; the rollback did not complete either: ${back.message}` };
    } else {
      restored = true;
      const settled = await ctx.clock.time('restore', () => settleService(current.id, restoreOptions));
      if (settled.kind !== 'completed') {
        ctx.log.warn(`Swarm rolled back, but the previous version does not run (${settled.message}); updating it again`);
        const back = await ctx.clock.time('restore', () => restore(current.id, restoreOptions));
        if (back.kind !== 'completed') {
          restored = false;
          outcome = { kind: 'paused', message: `${failure}; the previous version does not run: ${back.message}` };
        }
      }
    }
    setResult(report, restored ? 'rolled-back' : 'failed');
    const tail = restored ? 'Swarm rolled the service back: the previous version serves again.' : 'The service was not rolled back.';
    throw new DeployFailedError(ctx.host, `the Swarm update of ${s.app} to ${p.imageRef} did not succeed (${outcome.message})`, tail);
  };

  return {
    name: 'swarm (start-first)',
    dropsRequests: false,
    whenConnectionLost: `Swarm carries on by itself with what it was given (the update, or its own rollback when the new task fails); the next deploy of ${s.app} starts from the service as Swarm left it.`,

    async prepare(report) {
      const role = await swarm.role();
      if (!role.manager) {
        throw new ConfigurationError(
          `target: swarm needs a Docker Swarm manager, but the engine on ${ctx.host} is ${role.state === 'active' ? 'a Swarm worker' : `not in a swarm (Swarm: ${role.state})`}. Run "docker swarm init" on the server once (or deploy to a manager), or use target: container.`,
          'target',
        );
      }
      if (s.network) {
        // A network of that name that a service cannot join (a bridge left by target: container, whose default is <app>-net too).
        const net = await swarm.network(s.network);
        if (net && !(net.driver === 'overlay' && net.scope === 'swarm' && net.attachable)) {
          throw new ConfigurationError(
            `Network ${s.network} on ${ctx.host} is a ${net.scope || 'local'} ${net.driver || '?'} network${net.driver === 'overlay' ? ' that containers cannot attach to' : ''}: a Swarm service and its proxy need an attachable overlay network. Nothing was changed. Give another name in "network", or remove that network (docker network rm ${s.network}; with target: container's ${s.app} still on it, remove that app first).`,
            'network',
          );
        }
      }
      const existing = await swarm.inspectService(s.app);
      if (s.rollback) {
        return previousImage(existing).service.spec.TaskTemplate.ContainerSpec.Image;
      }
      if (!s.image) throw new ConfigurationError('Input "image" is required unless rollback: true.', 'image');
      // The room check covers the manager's data-root only: the other nodes pull for themselves when Swarm places a task there.
      const image = await pullForDeploy(ctx, s.image);
      pulled = { imageRef: image.ref, digest: image.digest, hasHealthcheck: image.hasHealthcheck };
      report.image = image.ref;
      report.imageDigest = image.digest;
      if (image.hasHealthcheck) ctx.log.info(`Swarm gates the update on the image's own HEALTHCHECK`);
      else if (s.readiness.kind === 'http') ctx.log.info(`the image has no HEALTHCHECK: Swarm gates the update on GET ${s.readiness.path} (node inside the container)`);
      return image.id;
    },

    async apply(lock, report) {
      // Under the lock: another deploy may have finished while we waited.
      const current = await swarm.inspectService(s.app);
      const hostPorts = hostPortsOf(current?.spec);
      if (!proxied) await staleProxy();
      if (s.network && !(await swarm.network(s.network))) {
        ctx.log.info(`creating the overlay network ${s.network}`);
        await swarm.createOverlayNetwork(s.network, { [LABEL.managed]: 'true' });
      }
      // Before the service changes: nginx looks the tasks up per request, so it may come first.
      if (proxied && hostPorts.length === 0) await proxyUp(false);
      if (current) {
        report.previous = { id: current.id, name: `${s.app} (${current.spec.TaskTemplate.ContainerSpec.Image.split('@')[1]?.slice(7, 19) ?? current.spec.TaskTemplate.ContainerSpec.Image})` };
      }
      if (proxied && hostPorts.length > 0 && !s.rollback) {
        ctx.log.warn(
          `The Swarm service ${s.app} publishes port ${hostPorts.join(', ')} in host mode (an earlier Gangway published one replica so, stop-first). This deploy moves it behind the managed proxy ${proxyName(s.app)} on the manager: the proxy takes the port once the update is done and the old task has let it go, and requests to it fail for that moment, once.`,
        );
      }
      if (s.rollback) return rollBack(current, report);
      const p = pulled as Pulled;
      if (!current) return create(p, report);
      await update(p, current, report, () => confirmDeployLock(ctx, lock));
      if (proxied && hostPorts.length > 0) {
        await proxyUp(true).catch((error: unknown) => {
          throw new Error(
            `${s.app} runs the new version, but the proxy ${proxyName(s.app)} could not take port ${s.publish?.hostPort} over from the old task (${errorMessage(error)}). Nothing publishes it now: free the port and deploy again.`,
          );
        });
      }
    },
  };
}
