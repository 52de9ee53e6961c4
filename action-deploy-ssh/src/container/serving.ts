// Which container of an app serves now, and what an interrupted deploy left behind. Under
// blue-green the answer is the proxy's upstream, not "the newest running container": a deploy
// cut off after starting its new container (SSH gone, job cancelled) leaves that container
// running without traffic, and a deploy cut off after the switch leaves the old one running.
// The next deploy finds both from the proxy's config and tidies them before it starts: a
// never-switched newer container is removed, an older one still running is stopped (kept for
// rollback like any previous version) unless it is on standby (standby.ts).
import { errorMessage, formatDuration } from '@gangway/kit';
import type { ContainerSummary } from '../host/engine.ts';
import type { HostContext } from '../host/context.ts';
import { frontOf, type FrontState } from './front.ts';
import { byDeployTime } from './retention.ts';
import { onStandby, replacedBy, standbyEnds } from './standby.ts';
import { blueGreenOf } from '../settings/rollout.ts';

/**
 * `containers`: this app's, newest deploy first. The one that gets the traffic now, if any.
 * `frontState`: the front's state, when it was read already (beside the container list).
 */
export async function servingContainer(ctx: HostContext, containers: ContainerSummary[], frontState?: FrontState): Promise<ContainerSummary | undefined> {
  const running = containers.filter((c) => c.state === 'running');
  const front = frontOf(ctx.settings);
  if (front) {
    const state = frontState ?? (await front.state(ctx.engine, ctx.settings));
    const upstream = state.running ? state.upstream : undefined;
    const serving = upstream ? running.find((c) => c.name === upstream) : undefined;
    if (serving) return serving;
  }
  return running[0];
}

/**
 * Under blue-green with a proxy: every running container of the app other than `serving` was
 * left by an interrupted deploy, or stands by. Newer ones never got traffic (removed, with their
 * state in the log); the one `serving` replaced stays while its standby window lasts; other older
 * ones did get traffic and are stopped as a finished deploy would have. Returns what was done.
 */
export async function tidyInterrupted(ctx: HostContext, containers: ContainerSummary[], serving: ContainerSummary | undefined): Promise<{ removed: string[]; stopped: string[]; standby?: string }> {
  const done: { removed: string[]; stopped: string[]; standby?: string } = { removed: [], stopped: [] };
  if (!serving || !frontOf(ctx.settings)) return done;
  const { engine, log, settings } = ctx;
  const standbyMs = blueGreenOf(settings)?.standbyMs ?? 0;
  // The engine's clock, as the containers' creation times are (the runner's may be off).
  const now = standbyMs > 0 ? (await engine.now()).getTime() : Date.now();
  for (const c of containers.filter((x) => x.state === 'running' && x.id !== serving.id)) {
    const newer = byDeployTime(c, serving) < 0;
    if (!newer && onStandby(c, serving, standbyMs, now)) {
      log.info(`${c.name} is on standby until ${standbyEnds(serving, standbyMs).toISOString()} (standby ${formatDuration(standbyMs)}): left running`);
      done.standby = c.name;
      continue;
    }
    // A rollback goes back to what `serving` replaced: running, it is a warm rollback, whatever this run's standby says.
    if (!newer && settings.rollback && replacedBy(c, serving)) {
      log.info(`${c.name} is still running (on standby): the rollback switches back to it without a start`);
      done.standby = c.name;
      continue;
    }
    try {
      if (newer) {
        log.warn(`${c.name} is running but never got traffic (the ${frontOf(settings)?.kind ?? 'proxy'} forwards to ${serving.name}): left by an interrupted deploy, removing it`);
        await engine.removeContainer(c.id, { force: true, anonymousVolumes: true });
        done.removed.push(c.name);
      } else {
        if (standbyMs > 0 && replacedBy(c, serving)) {
          log.info(`${c.name}'s standby ended at ${standbyEnds(serving, standbyMs).toISOString()}: stopping it (kept for rollback)`);
        } else {
          const why = replacedBy(c, serving) ? 'an interrupted deploy did not stop it, or an earlier run left it on standby (this run has no standby)' : 'an interrupted deploy did not stop it';
          log.warn(`${c.name} is still running although the ${frontOf(settings)?.kind ?? 'proxy'} forwards to ${serving.name}: ${why}; stopping it now (kept for rollback)`);
        }
        await engine.stopContainer(c.id, Math.ceil(settings.stopTimeoutMs / 1000));
        await engine.updateRestartPolicy(c.id, 'no');
        done.stopped.push(c.name);
      }
    } catch (error) {
      log.warn(`Could not tidy ${c.name}: ${errorMessage(error)}`);
    }
  }
  return done;
}
