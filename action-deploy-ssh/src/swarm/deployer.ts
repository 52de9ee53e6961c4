// target: swarm — the app as a Docker Swarm service on a manager: created on the first deploy,
// then `service update` with the current version. Swarm itself does the switch (UpdateConfig:
// one task at a time, rollback on failure) and gates it on the task's HEALTHCHECK; this waits
// for the outcome: `completed` (deployed) or `rollback_completed` (Swarm rolled back by itself).
//
// Publishing: there is no IPVS in the lab's kernel (and not in every server's), so the routing
// mesh is not used: the endpoint is `dnsrr` and a published port is `PublishMode: host`. A host
// port is held by exactly one task on a node, so with a published port the update is
// stop-first (the new task cannot bind the port while the old one runs: start-first would wait
// for a port that never frees); without a published port it is start-first.
import { ConfigurationError, errorMessage, formatDuration, sleep } from '@gangway/kit';
import { LABEL, type Provenance } from '../container/spec.ts';
import type { HostReport } from '../host/deployer.ts';
import type { HostContext } from '../host/context.ts';
import type { HeldLock } from '../host/lock.ts';
import { confirmDeployLock, pullForDeploy, releaseDeployLock, takeDeployLock } from '../host/preflight.ts';
import type { DeploySettings } from '../settings/index.ts';
import type { SwarmEngine, SwarmServiceSpec, SwarmTask, SwarmUpdateStatus } from './engine.ts';
import type { LockEvents } from '../host/preflight.ts';
import type { Strategy } from '../container/strategy/index.ts';

const NS = 1_000_000;
/** How long Swarm watches a new task for a failure before it counts the update as done. */
export const SWARM_MONITOR_MS = 5000;

export function swarmOrder(settings: Pick<DeploySettings, 'publish'>): 'start-first' | 'stop-first' {
  return settings.publish ? 'stop-first' : 'start-first';
}

/** Stands in for a container strategy in the rollout's report (name, whether requests drop). */
export function swarmStrategy(settings: Pick<DeploySettings, 'publish'>): Strategy {
  const order = swarmOrder(settings);
  return {
    name: `swarm (${order})`,
    dropsRequests: order === 'stop-first',
    swap: () => Promise.reject(new Error('target: swarm does not swap containers')),
  };
}

export interface NewService {
  imageRef: string;
  digest: string;
  provenance: Provenance;
  /** The image has its own HEALTHCHECK: Swarm uses it as it is. */
  imageHasHealthcheck: boolean;
  previous?: { image: string; deployedAt: string };
}

/** The Swarm service spec of a deploy. Env values go into the spec (the Engine API), never into labels or logs. */
export function swarmServiceSpec(settings: DeploySettings, next: NewService): SwarmServiceSpec {
  const p = next.provenance;
  const labels: Record<string, string> = {
    ...Object.fromEntries(settings.labels),
    [LABEL.managed]: 'true',
    [LABEL.role]: 'swarm-service',
    [LABEL.app]: settings.app,
    [LABEL.image]: next.imageRef,
    [LABEL.digest]: next.digest,
    [LABEL.gitSha]: p.gitSha,
    [LABEL.runUrl]: p.runUrl,
    [LABEL.actor]: p.actor,
    [LABEL.deployedAt]: p.at,
    ...(next.previous ? { [LABEL.previousImage]: next.previous.image, [LABEL.previousDeployedAt]: next.previous.deployedAt } : {}),
  };
  const readiness = settings.readiness;
  // The image's own HEALTHCHECK is preferred (left as it is); without one, an HTTP readiness path
  // becomes a healthcheck run by node inside the container (the app image has node).
  const healthcheck =
    !next.imageHasHealthcheck && readiness.kind === 'http' && settings.containerPort !== undefined
      ? {
          Test: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${settings.containerPort}${readiness.path}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
          Interval: 1000 * NS,
          Timeout: 2000 * NS,
          Retries: 3,
          StartPeriod: settings.readinessTimeoutMs * NS,
        }
      : undefined;
  const order = swarmOrder(settings);
  const restart = settings.restartPolicy === 'no' ? 'none' : settings.restartPolicy === 'on-failure' ? 'on-failure' : 'any';
  return {
    Name: settings.app,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: next.imageRef,
        Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'swarm-task', [LABEL.app]: settings.app, [LABEL.deployedAt]: p.at },
        Env: [...settings.env].map(([k, v]) => `${k}=${v}`),
        ...(settings.command ? { Args: settings.command } : {}),
        ...(settings.volumes.length > 0 ? { Mounts: settings.volumes.map((v) => ({ Type: v.kind, Source: v.source, Target: v.target, ReadOnly: v.readOnly })) } : {}),
        StopGracePeriod: settings.stopTimeoutMs * NS,
        ...(healthcheck ? { Healthcheck: healthcheck } : {}),
      },
      RestartPolicy: { Condition: restart, ...(restart === 'on-failure' ? { MaxAttempts: 5 } : {}) },
      ...(settings.network ? { Networks: [{ Target: settings.network, Aliases: [settings.app] }] } : {}),
    },
    Mode: { Replicated: { Replicas: 1 } },
    UpdateConfig: { Parallelism: 1, Order: order, FailureAction: 'rollback', Monitor: SWARM_MONITOR_MS * NS, MaxFailureRatio: 0 },
    RollbackConfig: { Parallelism: 1, Order: order, FailureAction: 'pause', Monitor: SWARM_MONITOR_MS * NS, MaxFailureRatio: 0 },
    EndpointSpec: {
      Mode: 'dnsrr',
      ...(settings.publish && settings.containerPort !== undefined
        ? { Ports: [{ Protocol: 'tcp', TargetPort: settings.containerPort, PublishedPort: settings.publish.hostPort, PublishMode: 'host' }] }
        : {}),
    },
  };
}

export interface SwarmWaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
  log: (line: string) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type SwarmOutcome =
  | { kind: 'completed' }
  | { kind: 'rolled-back'; message: string }
  | { kind: 'paused'; message: string }
  | { kind: 'timeout'; message: string }
  /** A task pending on a host port another task of the slot holds (Swarm's restart of a failed task racing its rollback). */
  | { kind: 'stuck'; message: string };

/** How long a task may wait for a host port before the update counts as stuck. */
export const SWARM_STUCK_MS = 6000;

function describeTasks(tasks: SwarmTask[]): string {
  return tasks
    .slice(0, 4)
    .map((t) => `${t.id.slice(0, 12)} ${t.state}${t.message ? ` (${t.message})` : ''}`)
    .join('; ');
}

/** A new service: until one of its tasks runs the image (with a HEALTHCHECK Swarm reports running only once it is healthy). */
export async function waitForNewService(swarm: SwarmEngine, serviceId: string, deployedAt: string, options: SwarmWaitOptions): Promise<SwarmOutcome> {
  const pause = options.sleep ?? sleep;
  const started = performance.now();
  let last = '';
  const image = `the deploy of ${deployedAt}`;
  for (;;) {
    options.signal?.throwIfAborted();
    const tasks = (await swarm.listTasks(serviceId)).filter((t) => t.labels[LABEL.deployedAt] === deployedAt);
    if (tasks.some((t) => t.state === 'running' && t.desiredState === 'running')) return { kind: 'completed' };
    const now = describeTasks(tasks);
    if (now !== last) options.log(`tasks: ${now || '(none yet)'}`);
    last = now;
    if (performance.now() - started > options.timeoutMs) return { kind: 'timeout', message: `no task of ${image} is running and healthy: ${now || 'no task'}` };
    await pause(options.intervalMs ?? 500, options.signal);
  }
}

/** An update (or a rollback) Swarm started after `before`: until it completes, rolls back or pauses. */
export async function waitForUpdate(swarm: SwarmEngine, serviceId: string, before: SwarmUpdateStatus | undefined, options: SwarmWaitOptions & { rollback?: boolean }): Promise<SwarmOutcome> {
  const pause = options.sleep ?? sleep;
  const started = performance.now();
  let lastState = '';
  let blockedSince: number | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const service = await swarm.inspectService(serviceId);
    if (!service) throw new Error('the service is gone');
    const status = service.updateStatus;
    // The status of an earlier update stays until Swarm's orchestrator picks the new one up.
    const fresh = status && (before === undefined || status.startedAt !== before.startedAt || status.state !== before.state);
    if (status && fresh) {
      if (status.state !== lastState) options.log(`Swarm update: ${status.state}${status.message ? ` (${status.message})` : ''}`);
      lastState = status.state;
      const message = status.message ?? status.state;
      if (status.state === 'completed') return { kind: 'completed' };
      if (status.state === 'rollback_completed') return options.rollback ? { kind: 'completed' } : { kind: 'rolled-back', message };
      if (status.state === 'paused' || status.state === 'rollback_paused') return { kind: 'paused', message };
    }
    const tasks = await swarm.listTasks(serviceId).catch((): SwarmTask[] => []);
    // Pending on the port while an old task still stops (its stop-timeout) is normal for stop-first; stuck is when none does.
    const stopping = tasks.some((t) => t.desiredState !== 'running' && ['running', 'starting'].includes(t.state));
    const blocked = !stopping && tasks.find((t) => t.state === 'pending' && t.desiredState === 'running' && /host-mode port/.test(t.message));
    if (!blocked) blockedSince = undefined;
    else if (blockedSince === undefined) blockedSince = performance.now();
    else if (performance.now() - blockedSince > SWARM_STUCK_MS) return { kind: 'stuck', message: `Swarm's ${status?.state ?? 'update'} is stuck: ${describeTasks(tasks)}` };
    if (performance.now() - started > options.timeoutMs) {
      const tasks = describeTasks(await swarm.listTasks(serviceId).catch(() => []));
      return { kind: 'timeout', message: `Swarm's update is still ${status?.state ?? 'pending'} (${tasks})` };
    }
    await pause(options.intervalMs ?? 500, options.signal);
  }
}

export class SwarmDeployer {
  readonly #ctx: HostContext;
  readonly #swarm: SwarmEngine;
  readonly #provenance: Provenance;
  readonly #locks: LockEvents;
  readonly #strategy: Strategy;

  constructor(ctx: HostContext, swarm: SwarmEngine, provenance: Provenance, locks: LockEvents) {
    this.#ctx = ctx;
    this.#swarm = swarm;
    this.#provenance = provenance;
    this.#locks = locks;
    this.#strategy = swarmStrategy(ctx.settings);
  }

  /** Never throws: the report says what happened; `error` is set on failure. */
  async run(): Promise<{ report: HostReport; error?: Error }> {
    const ctx = this.#ctx;
    const s = ctx.settings;
    const swarm = this.#swarm;
    const started = performance.now();
    const report: HostReport = {
      host: ctx.host,
      app: s.app,
      strategy: this.#strategy.name,
      mode: s.rollback ? 'rollback' : 'deploy',
      result: 'failed',
      rolledBack: false,
      dropsRequests: this.#strategy.dropsRequests,
      phases: ctx.clock.phases,
      totalMs: 0,
    };
    let lock: HeldLock | undefined;
    try {
      const role = await swarm.role();
      if (!role.manager) {
        throw new ConfigurationError(
          `target: swarm needs a Docker Swarm manager, but the engine on ${ctx.host} is ${role.state === 'active' ? 'a Swarm worker' : `not in a swarm (Swarm: ${role.state})`}. Run "docker swarm init" on the server once (or deploy to a manager), or use target: container.`,
          'target',
        );
      }
      const existing = await swarm.inspectService(s.app);
      let lockImage: string;
      let imageRef = '';
      let digest = '';
      let hasHealthcheck = false;
      if (s.rollback) {
        if (!existing?.previousSpec) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: ${existing ? 'the service has no previous spec' : 'there is no Swarm service of this app'}.`);
        lockImage = existing.spec.TaskTemplate.ContainerSpec.Image;
      } else {
        const image = s.image;
        if (!image) throw new ConfigurationError('Input "image" is required unless rollback: true.', 'image');
        // The room check covers the manager's data-root only: the other nodes pull for themselves when Swarm places a task there.
        const pulled = await pullForDeploy(ctx, image);
        imageRef = pulled.ref;
        digest = pulled.digest;
        hasHealthcheck = pulled.hasHealthcheck;
        report.image = pulled.ref;
        report.imageDigest = pulled.digest;
        if (hasHealthcheck) ctx.log.info(`Swarm gates the update on the image's own HEALTHCHECK`);
        else if (s.readiness.kind === 'http') ctx.log.info(`the image has no HEALTHCHECK: Swarm gates the update on GET ${s.readiness.path} (node inside the container)`);
        lockImage = pulled.id;
      }

      lock = await takeDeployLock(ctx, lockImage, this.#provenance, this.#locks);

      if (s.network && !(await swarm.networkExists(s.network))) {
        ctx.log.info(`creating the overlay network ${s.network}`);
        await swarm.createOverlayNetwork(s.network, { [LABEL.managed]: 'true' });
      }
      // Again under the lock: another deploy may have finished while we waited.
      const current = await swarm.inspectService(s.app);
      const waitOptions = {
        // Swarm: the old task's stop, the new one's healthcheck, then its monitor window.
        timeoutMs: s.readinessTimeoutMs + s.stopTimeoutMs + SWARM_MONITOR_MS + 15_000,
        log: (l: string) => ctx.log.info(l),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      };
      if (current) {
        report.previous = { id: current.id, name: `${s.app} (${current.spec.TaskTemplate.ContainerSpec.Image.split('@')[1]?.slice(7, 19) ?? current.spec.TaskTemplate.ContainerSpec.Image})` };
      }

      if (s.rollback) {
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
        outcome = outcome.kind === 'completed' ? await this.#settle(current.id, waitOptions) : await ctx.clock.time('restore', () => this.#restore(current.id, waitOptions));
        report.readinessMs = Math.round(performance.now() - t0);
        report.container = { id: current.id, name: s.app };
        if (outcome.kind !== 'completed') throw new Error(`Swarm's rollback of ${s.app} did not complete: ${outcome.message}`);
        report.result = 'rolled-back-on-request';
        return { report };
      }

      const spec = swarmServiceSpec(s, {
        imageRef,
        digest,
        provenance: this.#provenance,
        imageHasHealthcheck: hasHealthcheck,
        ...(current ? { previous: { image: current.spec.Labels[LABEL.image] ?? current.spec.TaskTemplate.ContainerSpec.Image, deployedAt: current.spec.Labels[LABEL.deployedAt] ?? '' } } : {}),
      });
      const t0 = performance.now();
      if (!current) {
        const id = await ctx.clock.time('create', () => swarm.createService(spec));
        ctx.log.info(`created the Swarm service ${s.app} (${id.slice(0, 12)})`);
        report.container = { id, name: s.app };
        const outcome = await ctx.clock.time('readiness', () => ctx.log.group(`readiness of ${s.app}`, () => waitForNewService(swarm, id, this.#provenance.at, waitOptions)));
        report.readinessMs = Math.round(performance.now() - t0);
        if (outcome.kind !== 'completed') throw new Error(`${s.app} did not get ready within ${formatDuration(s.readinessTimeoutMs)}: ${outcome.message}. There was no previous version to go back to.`);
        ctx.log.info(`${s.app} is running after ${formatDuration(report.readinessMs)}`);
        report.result = 'deployed';
        return { report };
      }

      report.container = { id: current.id, name: s.app };
      ctx.log.info(`updating the Swarm service ${s.app} (${swarmOrder(s)}, rollback on failure, monitor ${formatDuration(SWARM_MONITOR_MS)})`);
      // Another deploy may have taken the lock over meanwhile: then this one updates nothing.
      await confirmDeployLock(ctx, lock);
      const warnings = await ctx.clock.time('update', () => swarm.updateService(current.id, current.version, spec));
      for (const w of warnings) ctx.log.info(`Swarm: ${w}`);
      let outcome = await ctx.clock.time('readiness', () => ctx.log.group(`Swarm update of ${s.app}`, () => waitForUpdate(swarm, current.id, current.updateStatus, waitOptions)));
      if (outcome.kind === 'completed') {
        const settled = await this.#settle(current.id, waitOptions);
        report.readinessMs = Math.round(performance.now() - t0);
        if (settled.kind === 'completed') {
          ctx.log.info(`${s.app} runs ${imageRef} after ${formatDuration(report.readinessMs)}`);
          report.result = 'deployed';
          return { report };
        }
        outcome = { kind: 'timeout', message: settled.message };
      }
      report.readinessMs = Math.round(performance.now() - t0);
      if (outcome.kind !== 'rolled-back') {
        // Swarm did not finish by itself: put the previous version back.
        ctx.log.warn(`The update did not finish (${outcome.message}); rolling back`);
        const failure = outcome.message;
        const back = await ctx.clock.time('restore', () => this.#restore(current.id, { timeoutMs: waitOptions.timeoutMs, log: waitOptions.log }));
        outcome = back.kind === 'completed' ? { kind: 'rolled-back', message: failure } : { kind: 'paused', message: `${failure}; the rollback did not complete either: ${back.message}` };
      } else {
        const settled = await ctx.clock.time('restore', () => this.#settle(current.id, { timeoutMs: waitOptions.timeoutMs, log: waitOptions.log }));
        if (settled.kind !== 'completed') {
          ctx.log.warn(`Swarm rolled back, but the previous version does not run (${settled.message}); updating it again`);
          const back = await ctx.clock.time('restore', () => this.#restore(current.id, { timeoutMs: waitOptions.timeoutMs, log: waitOptions.log }));
          if (back.kind !== 'completed') outcome = { kind: 'paused', message: `${outcome.message}; the previous version does not run: ${back.message}` };
        }
      }
      report.rolledBack = outcome.kind === 'rolled-back';
      report.result = report.rolledBack ? 'rolled-back' : 'failed';
      const tail = report.rolledBack ? 'Swarm rolled the service back: the previous version serves again.' : 'The service was not rolled back.';
      throw new SwarmDeployError(`Deploy on ${ctx.host} failed: the Swarm update of ${s.app} to ${imageRef} did not succeed (${(outcome as { message?: string }).message ?? 'failed'}). ${tail}`);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(errorMessage(error));
      report.error = failure.message;
      return { report, error: failure };
    } finally {
      if (lock) await releaseDeployLock(ctx, lock, this.#locks);
      report.totalMs = Math.round(performance.now() - started);
    }
  }

  /** Until a task of the service's current spec runs (Swarm's verdict can come before its task listens). */
  async #settle(serviceId: string, options: SwarmWaitOptions): Promise<SwarmOutcome> {
    const service = await this.#swarm.inspectService(serviceId);
    const deployedAt = service?.spec.TaskTemplate.ContainerSpec.Labels[LABEL.deployedAt];
    if (!service || deployedAt === undefined) return { kind: 'timeout', message: 'the service or its deploy label is gone' };
    return waitForNewService(this.#swarm, serviceId, deployedAt, options);
  }

  /**
   * The previous version back after an update Swarm did not finish: Swarm's rollback when it has
   * not started one; when its rollback is stuck (a restarted task of the failed version holding the
   * host port), the spec it rolled back to is applied again with ForceUpdate, which replaces every
   * task of the slot.
   */
  async #restore(serviceId: string, options: SwarmWaitOptions): Promise<SwarmOutcome> {
    const swarm = this.#swarm;
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
    return this.#settle(serviceId, options);
  }
}

export class SwarmDeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SwarmDeployError';
  }
}
