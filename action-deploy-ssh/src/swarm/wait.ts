// Waiting for Swarm's verdict: a new service's first task running, or an update (or a
// rollback) completed, rolled back, paused, stuck on a host port, or out of time.
import { sleep } from '@gangway/kit';
import { LABEL } from '../labels.ts';
import type { SwarmEngine, SwarmTask, SwarmUpdateStatus } from './engine.ts';

export interface SwarmWaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** How long an update may show no task in progress while a node it ran tasks on is down before it counts as stalled. */
  stallMs?: number;
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
  | { kind: 'stuck'; message: string }
  /**
   * An update that stopped moving while a node that ran tasks of the service is down: no task is
   * being started, and Swarm still says updating. Seen on engine 20.10 when a worker's engine
   * stopped in the middle of a task's start: Swarm never finished that slot by itself.
   */
  | { kind: 'stalled'; message: string };

/** How long a task may wait for a host port before the update counts as stuck. */
export const SWARM_STUCK_MS = 6000;
/** How long an update may stand still while a node is down (stalled), by default. */
export const SWARM_STALL_MS = 15_000;
/** Task states on the way to running: a task in one of them is progress. */
const STARTING = new Set(['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);

function describeTasks(tasks: SwarmTask[]): string {
  return tasks
    .slice(0, 4)
    .map((t) => `${t.id.slice(0, 12)} ${t.state}${t.message ? ` (${t.message})` : ''}`)
    .join('; ');
}

/**
 * A new service (or a spec Swarm reports done): until `replicas` of its tasks run that deploy's
 * image (with a HEALTHCHECK Swarm reports running only once it is healthy).
 */
export async function waitForNewService(swarm: SwarmEngine, serviceId: string, deployedAt: string, options: SwarmWaitOptions & { replicas?: number }): Promise<SwarmOutcome> {
  const wanted = options.replicas ?? 1;
  const pause = options.sleep ?? sleep;
  const started = performance.now();
  let last = '';
  const image = `the deploy of ${deployedAt}`;
  for (;;) {
    options.signal?.throwIfAborted();
    const tasks = (await swarm.listTasks(serviceId)).filter((t) => t.labels[LABEL.deployedAt] === deployedAt);
    const running = tasks.filter((t) => t.state === 'running' && t.desiredState === 'running').length;
    if (running >= wanted) return { kind: 'completed' };
    const now = `${wanted > 1 ? `${running} of ${wanted} running; ` : ''}${describeTasks(tasks.filter((t) => !(t.state === 'running' && t.desiredState === 'running')))}`;
    if (now !== last) options.log(`tasks: ${now || '(none yet)'}`);
    last = now;
    if (performance.now() - started > options.timeoutMs) {
      return { kind: 'timeout', message: wanted > 1 ? `${running} of ${wanted} tasks of ${image} are running and healthy: ${now}` : `no task of ${image} is running and healthy: ${now || 'no task'}` };
    }
    await pause(options.intervalMs ?? 500, options.signal);
  }
}

/** An update (or a rollback) Swarm started after `before`: until it completes, rolls back or pauses. */
export async function waitForUpdate(swarm: SwarmEngine, serviceId: string, before: SwarmUpdateStatus | undefined, options: SwarmWaitOptions & { rollback?: boolean }): Promise<SwarmOutcome> {
  const pause = options.sleep ?? sleep;
  const started = performance.now();
  let lastState = '';
  let blockedSince: number | undefined;
  let quietSince: number | undefined;
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
    // A service that still publishes a host-mode port (an earlier Gangway's, stop-first): pending on the port while an old task
    // still stops (its stop-timeout) is normal; stuck is when none does.
    const stopping = tasks.some((t) => t.desiredState !== 'running' && ['running', 'starting'].includes(t.state));
    const blocked = !stopping && tasks.find((t) => t.state === 'pending' && t.desiredState === 'running' && /host-mode port/.test(t.message));
    if (!blocked) blockedSince = undefined;
    else if (blockedSince === undefined) blockedSince = performance.now();
    else if (performance.now() - blockedSince > SWARM_STUCK_MS) return { kind: 'stuck', message: `Swarm's ${status?.state ?? 'update'} is stuck: ${describeTasks(tasks)}` };
    // Stalled: Swarm still updating, nothing on its way to running, and a node that ran tasks of the service is down.
    const moving = tasks.some((t) => t.desiredState === 'running' && STARTING.has(t.state));
    if (options.rollback || status?.state !== 'updating' || !fresh || moving) quietSince = undefined;
    else quietSince ??= performance.now();
    if (quietSince !== undefined && performance.now() - quietSince > (options.stallMs ?? SWARM_STALL_MS)) {
      // A task last seen running (or starting) on a node that is down: Swarm cannot see it stop. Long-gone tasks of a dead node do not count.
      const down = await swarm.downNodes().catch((): Set<string> => new Set());
      const stranded = new Set(tasks.filter((t) => t.nodeId !== undefined && down.has(t.nodeId) && (t.state === 'running' || STARTING.has(t.state))).map((t) => t.nodeId as string));
      if (stranded.size > 0) {
        const nodes = [...stranded].map((id) => id.slice(0, 12)).join(', ');
        return { kind: 'stalled', message: `Swarm's update has not moved for ${Math.round((performance.now() - quietSince) / 1000)} s while ${stranded.size === 1 ? 'a node' : `${stranded.size} nodes`} that ran its tasks ${stranded.size === 1 ? 'is' : 'are'} down (${nodes})` };
      }
      quietSince = performance.now();
    }
    if (performance.now() - started > options.timeoutMs) {
      const tasks = describeTasks(await swarm.listTasks(serviceId).catch(() => []));
      return { kind: 'timeout', message: `Swarm's update is still ${status?.state ?? 'pending'} (${tasks})` };
    }
    await pause(options.intervalMs ?? 500, options.signal);
  }
}

