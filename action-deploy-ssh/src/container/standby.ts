// standby (blue-green): after a deploy the old container stays running, out of the proxy, for the
// standby window, so that `rollback: true` within it is a switch to a container that is already
// up (no start, no readiness wait). Nothing on the server watches the clock: the next run of the
// action for the app stops a standby whose window has passed, and a deploy that puts a new
// container on standby stops the one before it. The window counts from the serving container's
// creation (the deploy that replaced the standby). Workers never stand by: they would take jobs.
import { errorMessage } from '@gangway/kit';
import type { ContainerSummary } from '../host/engine.ts';
import type { HostContext } from '../host/context.ts';
import { LABEL } from '../labels.ts';
import { stopKept } from './stop.ts';

/** Whether `c` is the container `serving` replaced (as recorded on it): the only one that may stand by. */
export function replacedBy(c: ContainerSummary, serving: ContainerSummary): boolean {
  const image = serving.labels[LABEL.previousImage];
  const at = serving.labels[LABEL.previousDeployedAt];
  return image !== undefined && (c.labels[LABEL.image] ?? c.image) === image && (at === undefined || c.labels[LABEL.deployedAt] === at);
}

/** When the standby of `serving`'s predecessor ends, for a window of `standbyMs`. */
export function standbyEnds(serving: Pick<ContainerSummary, 'created'>, standbyMs: number): Date {
  return new Date(serving.created * 1000 + standbyMs);
}

/**
 * Whether the running `c`, older than `serving`, is on standby now: it is what `serving` replaced
 * and the window (this run's `standby`) has not passed.
 */
export function onStandby(c: ContainerSummary, serving: ContainerSummary, standbyMs: number, now = Date.now()): boolean {
  return standbyMs > 0 && replacedBy(c, serving) && now < standbyEnds(serving, standbyMs).getTime();
}

/** Stops (kept for rollback) every running container of the app but `keep`: the standbys before this deploy's. */
export async function endOtherStandbys(ctx: HostContext, containers: ContainerSummary[], keep: string[]): Promise<string[]> {
  const stopped: string[] = [];
  for (const c of containers.filter((x) => x.state === 'running' && !keep.includes(x.id))) {
    ctx.log.info(`${c.name} was on standby before this deploy: stopping it (kept for rollback)`);
    try {
      await stopKept(ctx, { id: c.id, name: c.name });
      stopped.push(c.name);
    } catch (error) {
      ctx.log.warn(`Could not stop ${c.name}: ${errorMessage(error)}`);
    }
  }
  return stopped;
}
