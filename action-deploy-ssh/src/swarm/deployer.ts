// target: swarm — the app as a Docker Swarm service on a manager: created on the first deploy,
// then `service update` with the current version. Swarm itself does the switch (UpdateConfig:
// one task at a time, rollback on failure) and gates it on the task's HEALTHCHECK; this waits
// for the outcome (wait.ts): `completed` (deployed) or `rollback_completed` (Swarm rolled back
// by itself). The spec is service-spec.ts's.
import { ConfigurationError, formatDuration } from '@gangway/kit';
import type { HostContext } from '../host/context.ts';
import { DeployFailedError, type DeployTarget } from '../host/deployer.ts';
import { confirmDeployLock, pullForDeploy } from '../host/preflight.ts';
import { LABEL } from '../labels.ts';
import { setResult, type HostReport } from '../report.ts';
import type { SwarmOrder } from '../settings/rollout.ts';
import type { SwarmEngine, SwarmService } from './engine.ts';
import { SWARM_MONITOR_MS, swarmServiceSpec } from './service-spec.ts';
import { waitForNewService, waitForUpdate, type SwarmOutcome, type SwarmWaitOptions } from './wait.ts';

interface Pulled {
  imageRef: string;
  digest: string;
  hasHealthcheck: boolean;
}

export function swarmTarget(ctx: HostContext, swarm: SwarmEngine, order: SwarmOrder): DeployTarget {
  const s = ctx.settings;
  let pulled: Pulled | undefined;
  const waitOptions: SwarmWaitOptions = {
    // Swarm: the old task's stop, the new one's healthcheck, then its monitor window.
    timeoutMs: s.readinessTimeoutMs + s.stopTimeoutMs + SWARM_MONITOR_MS + 15_000,
    log: (l: string) => ctx.log.info(l),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
  // A restore runs to its end even when the job is cancelled: it puts the previous version back.
  const restoreOptions: SwarmWaitOptions = { timeoutMs: waitOptions.timeoutMs, log: waitOptions.log };

  /** Until a task of the service's current spec runs (Swarm's verdict can come before its task listens). */
  const settleService = async (serviceId: string, options: SwarmWaitOptions): Promise<SwarmOutcome> => {
    const service = await swarm.inspectService(serviceId);
    const deployedAt = service?.spec.TaskTemplate.ContainerSpec.Labels[LABEL.deployedAt];
    if (!service || deployedAt === undefined) return { kind: 'timeout', message: 'the service or its deploy label is gone' };
    return waitForNewService(swarm, serviceId, deployedAt, options);
  };

  /**
   * The previous version back after an update Swarm did not finish: Swarm's rollback when it has
   * not started one; when its rollback is stuck (a restarted task of the failed version holding the
   * host port), the spec it rolled back to is applied again with ForceUpdate, which replaces every
   * task of the slot.
   */
  const restore = async (serviceId: string, options: SwarmWaitOptions): Promise<SwarmOutcome> => {
    const now = await swarm.inspectService(serviceId);
    if (!now) return { kind: 'timeout', message: 'the service is gone' };
    const rolling = now.updateStatus?.state.startsWith('rollback') === true;
    if (rolling || !now.previousSpec) {
      const spec = { ...now.spec, TaskTemplate: { ...now.spec.TaskTemplate, ForceUpdate: (now.spec.TaskTemplate.ForceUpdate ?? 0) + 1 } };
      options.log(`applying ${now.spec.TaskTemplate.ContainerSpec.Image} again (ForceUpdate)`);
      await swarm.updateService(now.id, now.version, spec);
    } else {
      options.log('asking Swarm to roll back (rollback=previous)');
      await swarm.updateService(now.id, now.version, now.spec, { rollback: true });
    }
    const done = await waitForUpdate(swarm, now.id, now.updateStatus, { ...options, rollback: true });
    if (done.kind !== 'completed') return done;
    return settleService(serviceId, options);
  };

  /** rollback: true — Swarm's own rollback to the service's previous spec. */
  const rollBack = async (current: SwarmService | undefined, report: HostReport): Promise<void> => {
    if (!current?.previousSpec) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: the service has no previous spec.`);
    if (current.updateStatus?.state === 'rollback_completed') {
      // After a rollback Swarm's previous spec is the version that failed: going "back" would re-apply it.
      throw new Error(
        `Swarm already rolled ${s.app} back on ${ctx.host} (${current.updateStatus.message ?? 'rollback_completed'}): it runs the version before the failed update, and Swarm's previous spec is the failed one. Deploy the image you want instead.`,
      );
    }
    const back = current.previousSpec.TaskTemplate.ContainerSpec.Image;
    ctx.log.info(`rolling back ${s.app}: ${current.spec.TaskTemplate.ContainerSpec.Image} → ${back} (Swarm's rollback to the previous spec)`);
    report.image = back;
    report.imageDigest = back.split('@')[1] ?? '';
    await ctx.clock.time('update', () => swarm.updateService(current.id, current.version, current.spec, { rollback: true }));
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
    const id = await ctx.clock.time('create', () => swarm.createService(spec));
    ctx.log.info(`created the Swarm service ${s.app} (${id.slice(0, 12)})`);
    report.container = { id, name: s.app };
    const outcome = await ctx.clock.time('readiness', () => ctx.log.group(`readiness of ${s.app}`, () => waitForNewService(swarm, id, ctx.provenance.at, waitOptions)));
    report.readinessMs = Math.round(performance.now() - t0);
    if (outcome.kind !== 'completed') throw new Error(`${s.app} did not get ready within ${formatDuration(s.readinessTimeoutMs)}: ${outcome.message}. There was no previous version to go back to.`);
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
    ctx.log.info(`updating the Swarm service ${s.app} (${order}, rollback on failure, monitor ${formatDuration(SWARM_MONITOR_MS)})`);
    // Another deploy may have taken the lock over meanwhile: then this one updates nothing.
    await confirmLock();
    const warnings = await ctx.clock.time('update', () => swarm.updateService(current.id, current.version, spec));
    for (const w of warnings) ctx.log.info(`Swarm: ${w}`);
    let outcome = await ctx.clock.time('readiness', () => ctx.log.group(`Swarm update of ${s.app}`, () => waitForUpdate(swarm, current.id, current.updateStatus, waitOptions)));
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
    if (outcome.kind !== 'rolled-back') {
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
    name: `swarm (${order})`,
    dropsRequests: order === 'stop-first',
    whenConnectionLost: `Swarm carries on by itself with what it was given (the update, or its own rollback when the new task fails); the next deploy of ${s.app} starts from the service as Swarm left it.`,

    async prepare(report) {
      const role = await swarm.role();
      if (!role.manager) {
        throw new ConfigurationError(
          `target: swarm needs a Docker Swarm manager, but the engine on ${ctx.host} is ${role.state === 'active' ? 'a Swarm worker' : `not in a swarm (Swarm: ${role.state})`}. Run "docker swarm init" on the server once (or deploy to a manager), or use target: container.`,
          'target',
        );
      }
      const existing = await swarm.inspectService(s.app);
      if (s.rollback) {
        if (!existing?.previousSpec) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: ${existing ? 'the service has no previous spec' : 'there is no Swarm service of this app'}.`);
        return existing.spec.TaskTemplate.ContainerSpec.Image;
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
      if (s.network && !(await swarm.networkExists(s.network))) {
        ctx.log.info(`creating the overlay network ${s.network}`);
        await swarm.createOverlayNetwork(s.network, { [LABEL.managed]: 'true' });
      }
      // Again under the lock: another deploy may have finished while we waited.
      const current = await swarm.inspectService(s.app);
      if (current) {
        report.previous = { id: current.id, name: `${s.app} (${current.spec.TaskTemplate.ContainerSpec.Image.split('@')[1]?.slice(7, 19) ?? current.spec.TaskTemplate.ContainerSpec.Image})` };
      }
      if (s.rollback) return rollBack(current, report);
      const p = pulled as Pulled;
      if (!current) return create(p, report);
      return update(p, current, report, () => confirmDeployLock(ctx, lock));
    },
  };
}
