// Waiting for Swarm's verdict: a new service's first task running, or an update (or a
// rollback) completed, rolled back, paused, stuck on a host port, or out of time.
import { sleep } from '@gangway/kit';
import { LABEL } from '../labels.ts';
import type { SwarmEngine, SwarmTask, SwarmUpdateStatus } from './engine.ts';

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

