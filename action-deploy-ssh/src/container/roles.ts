// Worker roles on a host: the containers of a release beside its web container. The strategy
// starts the new release's workers once the new web container is ready and before the switch,
// and then either commits (the old workers get SIGTERM with stop-timeout, so a job in hand
// finishes, and are kept stopped for rollback) or discards them (stopped the same way and
// removed; the old workers never stopped). A release is atomic across roles: whatever fails,
// every role is left on one release.
import { errorMessage, formatDuration, sleep } from '@gangway/kit';
import type { HostContext } from '../host/context.ts';
import type { ContainerCreateOptions, ContainerRef, ContainerSummary } from '../host/engine.ts';
import { crashed, diagnostics, waitUntilReady } from '../host/readiness.ts';
import { LABEL, provenanceLabels, type ProvenanceLabelsOf } from '../labels.ts';
import type { RoleReport } from '../report.ts';
import type { DeploySettings, RoleSettings } from '../settings/index.ts';
import { gpuDeviceRequest, workerLabels } from './spec.ts';
import { stopKept } from './stop.ts';

/** `<release>-<role>-<n>`: the release is the name of its web container. */
export function workerName(release: string, role: string, replica: number): string {
  return `${release}-${role}-${replica}`;
}

/** The create options of one worker: the app's image, env and network with the role's own keys; no port, no alias. */
export function workerSpec(settings: DeploySettings, role: RoleSettings, replica: number, release: string, next: ProvenanceLabelsOf): ContainerCreateOptions {
  const env = new Map([...settings.env, ...role.env]);
  const binds = role.volumes.map((v) => `${v.source}:${v.target}:${v.readOnly ? 'ro' : 'rw'}`);
  const command = role.command ?? settings.command;
  return {
    name: workerName(release, role.name, replica),
    Image: next.imageRef,
    Env: [...env].map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...Object.fromEntries(settings.labels),
      ...workerLabels(settings.app),
      [LABEL.workerRole]: role.name,
      [LABEL.release]: release,
      [LABEL.replica]: String(replica),
      ...provenanceLabels(next),
    },
    ...(command ? { Cmd: command } : {}),
    HostConfig: {
      RestartPolicy: { Name: settings.restartPolicy, ...(settings.restartPolicy === 'on-failure' ? { MaximumRetryCount: 5 } : {}) },
      ...(binds.length > 0 ? { Binds: binds } : {}),
      ...(settings.network ? { NetworkMode: settings.network } : {}),
      ...(role.gpus ? { DeviceRequests: [gpuDeviceRequest(role.gpus)] } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/** A worker of the release being switched to: created here, or kept from before (a rollback) and started again. */
export type NewWorker = { role: string; spec: ContainerCreateOptions } | { role: string; existing: ContainerSummary };

export interface RoleRelease {
  /** Creates (or starts the kept) workers of the new release and waits until each is ready; throws naming the one that failed. The old workers keep running. */
  start(): Promise<void>;
  /** After settle: why a new worker is not fine any more (gone, stopped, restarted), or undefined. */
  check(): Promise<string | undefined>;
  /** The new release stands: the old workers get SIGTERM (their stop-timeout) and are kept stopped for rollback. */
  commit(): Promise<void>;
  /** The new release failed: its workers are stopped (SIGTERM, so a job in hand finishes) and removed, or kept stopped when they were kept ones. */
  discard(): Promise<void>;
  /** What runs per role after the run, for the report. */
  report(ok: boolean): RoleReport[];
}

interface Started {
  ref: ContainerRef;
  role: string;
  created: boolean;
  startedAt?: string;
  restartCount?: number;
}

/**
 * `workers`: the new release's workers (specs to create, or kept containers to start again);
 * `running`: the app's workers running now (the old release's, to stop on commit).
 */
export function roleRelease(ctx: HostContext, workers: NewWorker[], running: ContainerSummary[]): RoleRelease {
  const { engine, log, clock, signal } = ctx;
  const s = ctx.settings;
  const roleOf = (name: string): RoleSettings | undefined => s.roles.find((r) => r.name === name);
  const stopTimeout = (role: string | undefined): number => (role ? roleOf(role)?.stopTimeoutMs : undefined) ?? s.stopTimeoutMs;
  const started: Started[] = [];
  const old = running.filter((c) => !workers.some((w) => 'existing' in w && w.existing.id === c.id));
  let committed = false;

  async function readyOne(w: Started): Promise<void> {
    const role = roleOf(w.role);
    let readiness = role?.readiness ?? { kind: 'auto' as const };
    if (readiness.kind === 'auto') {
      const details = await engine.inspectContainer(w.ref.id);
      const image = details ? await engine.inspectImage(details.imageId) : undefined;
      readiness = image?.hasHealthcheck ? { kind: 'docker' } : { kind: 'none' };
    }
    if (readiness.kind === 'http' || readiness.kind === 'docker') {
      const result = await waitUntilReady(engine, ctx.prober, w.ref.id, {
        readiness,
        ...(s.containerPort === undefined ? {} : { containerPort: s.containerPort }),
        ...(s.network ? { network: s.network } : {}),
        timeoutMs: s.readinessTimeoutMs,
        log: () => undefined,
        ...(signal ? { signal } : {}),
      });
      if (!result.ready) {
        throw new Error(`worker ${w.ref.name} ${result.reason === 'exited' ? 'stopped before it got ready' : `did not get ready within ${formatDuration(s.readinessTimeoutMs)}`} (${result.reason ?? 'timeout'}: ${result.last})`);
      }
    }
    // Staying up: running, not restarted, for grace (readiness none), or a moment after its readiness.
    const graceMs = readiness.kind === 'none' ? (role?.graceMs ?? 5000) : 0;
    const base = await engine.inspectContainer(w.ref.id);
    if (!base?.running || base.state === 'restarting') throw new Error(`worker ${w.ref.name} ${base ? `died: ${crashed(base)}` : 'is gone'}`);
    if (graceMs > 0) {
      const until = performance.now() + graceMs;
      while (performance.now() < until) {
        await sleep(Math.min(250, until - performance.now()), signal);
        const d = await engine.inspectContainer(w.ref.id);
        if (!d?.running || d.state === 'restarting' || d.restartCount !== base.restartCount || d.startedAt !== base.startedAt) {
          throw new Error(`worker ${w.ref.name} did not stay up for grace ${formatDuration(graceMs)}: ${d ? crashed(d) : 'it is gone'}`);
        }
      }
    }
    if (base.startedAt) w.startedAt = base.startedAt;
    if (base.restartCount !== undefined) w.restartCount = base.restartCount;
  }

  return {
    async start() {
      if (workers.length === 0) return;
      await clock.time('start workers', async () => {
        for (const w of workers) {
          signal?.throwIfAborted();
          if ('existing' in w) {
            await engine.updateRestartPolicy(w.existing.id, s.restartPolicy);
            started.push({ ref: { id: w.existing.id, name: w.existing.name }, role: w.role, created: false });
          } else {
            const id = await engine.createContainer(w.spec);
            started.push({ ref: { id, name: w.spec.name }, role: w.role, created: true });
          }
        }
        await Promise.all(started.map((w) => engine.startContainer(w.ref.id)));
        log.info(`started ${started.length} worker(s): ${started.map((w) => w.ref.name).join(', ')}`);
      });
      await clock.time('workers ready', async () => {
        const results = await Promise.allSettled(started.map((w) => readyOne(w)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) {
          const error = failed.reason as Error;
          const bad = started.find((w) => error.message.includes(w.ref.name));
          if (bad) {
            const diag = await diagnostics(engine, bad.ref.id).catch((e: unknown) => `(no diagnostics: ${errorMessage(e)})`);
            log.info(`What ${bad.ref.name} said:`);
            for (const line of diag.split('\n')) log.info(`  ${line}`);
          }
          throw error;
        }
      });
      log.info(`every worker of the new release is up: ${started.map((w) => w.ref.name).join(', ')}`);
    },

    async check() {
      for (const w of started) {
        const d = await engine.inspectContainer(w.ref.id);
        if (!d) return `worker ${w.ref.name} is gone`;
        if (!d.running || d.state === 'restarting' || (w.restartCount !== undefined && d.restartCount !== w.restartCount) || (w.startedAt !== undefined && d.startedAt !== w.startedAt)) {
          return `worker ${w.ref.name} died after it was up: ${crashed(d)}`;
        }
      }
      return undefined;
    },

    async commit() {
      committed = true;
      if (old.length === 0) return;
      await clock.time('stop old workers', async () => {
        log.info(`stopping the previous workers (SIGTERM, kept for rollback): ${old.map((c) => c.name).join(', ')}`);
        await Promise.all(old.map((c) => stopKept(ctx, c, stopTimeout(c.labels[LABEL.workerRole]))));
      });
    },

    async discard() {
      if (started.length === 0) return;
      await clock.time('remove new workers', async () => {
        log.info(`stopping the new release's workers (SIGTERM, so a job in hand finishes): ${started.map((w) => w.ref.name).join(', ')}`);
        await Promise.all(
          started.map(async (w) => {
            await stopKept(ctx, w.ref, stopTimeout(w.role));
            // Cancelled: the stop was sent, not waited out; removing it now would kill the job in hand. Retention removes it later.
            if (w.created && !signal?.aborted) await engine.removeContainer(w.ref.id, { force: true, anonymousVolumes: true }).catch((e: unknown) => log.warn(`Could not remove ${w.ref.name}: ${errorMessage(e)}`));
          }),
        );
      });
      started.length = 0;
    },

    report(ok) {
      const names = [...new Set([...workers.map((w) => w.role), ...running.map((c) => c.labels[LABEL.workerRole] ?? 'worker')])];
      return names.map((role) => {
        const now = ok ? started.filter((w) => w.role === role).map((w) => w.ref) : running.filter((c) => (c.labels[LABEL.workerRole] ?? 'worker') === role).map((c) => ({ id: c.id, name: c.name }));
        const image = ok
          ? (workers.find((w) => w.role === role && 'spec' in w) as { spec: ContainerCreateOptions } | undefined)?.spec.Labels?.[LABEL.image] ?? (workers.find((w) => w.role === role && 'existing' in w) as { existing: ContainerSummary } | undefined)?.existing.labels[LABEL.image] ?? ''
          : running.find((c) => (c.labels[LABEL.workerRole] ?? 'worker') === role)?.labels[LABEL.image] ?? '';
        const previous = ok && committed ? old.filter((c) => (c.labels[LABEL.workerRole] ?? 'worker') === role).map((c) => ({ id: c.id, name: c.name })) : [];
        return { role, image, containers: now, previous };
      });
    },
  };
}

/** The app's workers, newest deploy first. */
export async function appWorkers(ctx: HostContext): Promise<ContainerSummary[]> {
  const list = await ctx.engine.listContainers(workerLabels(ctx.settings.app));
  return list.filter((c) => c.labels[LABEL.app] === ctx.settings.app && c.labels[LABEL.role] === 'worker');
}

/** The roles that run on `host`: the ones that name it, and on a server of the web (`web`) the ones that name no hosts. */
export function rolesOn(settings: DeploySettings, host: string, web: boolean): RoleSettings[] {
  return settings.roles.filter((r) => (r.hosts ? r.hosts.includes(host) : web));
}

/** A deploy: one worker per replica of every role in `roles`, of the pulled image, in release `release`. */
export function deployWorkers(settings: DeploySettings, roles: RoleSettings[], release: string, next: ProvenanceLabelsOf): NewWorker[] {
  return roles.flatMap((role) => Array.from({ length: role.replicas }, (_, i) => ({ role: role.name, spec: workerSpec(settings, role, i + 1, release, next) })));
}

/**
 * A rollback to release `target` (the name of the web container gone back to): its kept workers,
 * started again; when retention removed them, the workers running now re-created on `image`
 * (their settings, the older image). `release` is the name the re-created ones belong to.
 */
export async function rollbackWorkers(ctx: HostContext, all: ContainerSummary[], target: string, image: string, release: string): Promise<NewWorker[]> {
  // In any state: a run cut off between starting them and stopping the others left them running.
  const kept = all.filter((c) => c.labels[LABEL.release] === target);
  if (kept.length > 0) return kept.map((c) => ({ role: c.labels[LABEL.workerRole] ?? 'worker', existing: c }));
  const running = all.filter((c) => c.state === 'running');
  if (running.length > 0) ctx.log.info(`the workers of ${target} are gone: re-creating ${running.length} from the running ones on ${image}`);
  const out: NewWorker[] = [];
  for (const c of running) {
    const details = await ctx.engine.inspectContainer(c.id);
    if (!details) continue;
    const role = c.labels[LABEL.workerRole] ?? 'worker';
    const labels: Record<string, string> = { ...(details.createOptions.Labels ?? {}), [LABEL.release]: release, [LABEL.image]: image, [LABEL.digest]: image.split('@')[1] ?? 'unknown' };
    delete labels[LABEL.previousImage];
    delete labels[LABEL.previousDeployedAt];
    out.push({ role, spec: { ...details.createOptions, name: workerName(release, role, Number(c.labels[LABEL.replica] ?? '1')), Image: image, Labels: labels } });
  }
  return out;
}
