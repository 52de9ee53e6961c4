// A server that runs only worker roles (a GPU host beside the web's server): no web container, no
// proxy, no accessories. A release there is its workers alone, named and labelled as on the web's
// server (the release is the name the web container of the same deploy has). The rollout reaches
// it after the web's servers; a failure here rolls back the web's servers already switched, and a
// rollback here goes back to the release before the running one.
import { ConfigurationError, formatDuration, sleep } from '@gangway/kit';
import { DeployFailedError, type DeployTarget } from '../host/deployer.ts';
import type { HostContext } from '../host/context.ts';
import type { ContainerSummary } from '../host/engine.ts';
import { confirmDeployLock, ensureGpuRuntime, pullForDeploy } from '../host/preflight.ts';
import type { PulledImage } from '../host/pull.ts';
import { LABEL } from '../labels.ts';
import { setResult } from '../report.ts';
import { blueGreenOf } from '../settings/rollout.ts';
import { applyRetention, byDeployTime } from './retention.ts';
import { NothingToRollBackError } from './rollback.ts';
import { appWorkers, deployWorkers, roleRelease, rolesOn, rollbackWorkers, type NewWorker } from './roles.ts';
import { containerName } from './spec.ts';

/** The releases of these workers, newest deploy first. */
function releasesOf(workers: ContainerSummary[]): string[] {
  return [...new Set([...workers].sort(byDeployTime).map((c) => c.labels[LABEL.release] ?? ''))].filter((r) => r !== '');
}

export function workersTarget(ctx: HostContext): DeployTarget {
  const s = ctx.settings;
  const roles = rolesOn(s, ctx.host, false);
  let pulled: PulledImage | undefined;
  const nothingToDo = s.maintenanceOnly || s.accessoryOnly;

  return {
    name: 'workers',
    dropsRequests: false,
    whenConnectionLost: `The workers of ${s.app} on this server are as the connection left them; the next deploy stops any left running beside the release it starts.`,

    async prepare(report) {
      if (nothingToDo) {
        ctx.log.info(`nothing to do on ${ctx.host}: it runs only workers of ${s.app}`);
        return undefined;
      }
      if (s.rollback) {
        const any = (await appWorkers(ctx))[0];
        if (any) return any.imageId;
        throw new NothingToRollBackError(s.app, ctx.host, 'no worker of this app exists on the server');
      }
      if (!s.image) throw new ConfigurationError('Input "image" is required unless rollback: true.', 'image');
      if (roles.some((r) => r.gpus)) await ensureGpuRuntime(ctx);
      pulled = await pullForDeploy(ctx, s.image);
      report.image = pulled.ref;
      report.imageDigest = pulled.digest;
      return pulled.id;
    },

    async apply(lock, report) {
      if (s.network && !(await ctx.engine.networkExists(s.network))) {
        ctx.log.info(`creating network ${s.network}`);
        await ctx.engine.createNetwork(s.network, { [LABEL.managed]: 'true' });
      }
      const all = await appWorkers(ctx);
      const running = all.filter((c) => c.state === 'running');
      let next: NewWorker[];
      if (s.rollback) {
        // The release the web's servers went back to (the rollout says which); alone, the release before the running one.
        const releases = releasesOf(all);
        const current = releasesOf(running)[0];
        const target = s.rollbackTo?.release ?? (current ? releases[releases.indexOf(current) + 1] : releases[0]);
        const kept = target ? all.find((c) => c.labels[LABEL.release] === target) : undefined;
        const image = s.rollbackTo?.image ?? (kept ? (kept.labels[LABEL.image] ?? kept.image) : undefined);
        if (!target || !image) throw new NothingToRollBackError(s.app, ctx.host, `${current ?? 'the running release'} is the only release of workers this server has`);
        ctx.log.info(`rolling the workers back ${current ?? '(none running)'} → ${target}`);
        // Its kept workers; when retention removed them, the running ones re-created on its image.
        next = await rollbackWorkers(ctx, all, target, image, target);
        report.image = image;
        report.imageDigest = image.split('@')[1] ?? '';
      } else {
        const p = pulled as PulledImage;
        const release = containerName(s.app, p.digest, ctx.provenance.at);
        next = deployWorkers(s, roles, release, { imageRef: p.ref, digest: p.digest, provenance: ctx.provenance });
        if (next.length === 0) ctx.log.warn(`no role names ${ctx.host} any more: its running workers (${running.map((c) => c.name).join(', ')}) are stopped`);
      }
      const release = roleRelease(ctx, next, running);
      await confirmDeployLock(ctx, lock);
      let trouble: string | undefined;
      try {
        await release.start();
        const settleMs = blueGreenOf(s)?.settleMs ?? 0;
        if (settleMs > 0) {
          await ctx.clock.time('settle', () => sleep(settleMs, ctx.signal));
          trouble = await release.check();
        }
      } catch (error) {
        trouble = error instanceof Error ? error.message : String(error);
      }
      if (trouble !== undefined) {
        await release.discard();
        report.roles = release.report(false);
        setResult(report, running.length > 0 ? 'rolled-back' : 'failed');
        throw new DeployFailedError(ctx.host, trouble, running.length > 0 ? 'The previous workers kept running (rolled back).' : 'There were no previous workers.');
      }
      await release.commit();
      report.roles = release.report(true);
      setResult(report, 'deployed');
      if (ctx.signal?.aborted) return;
      report.retention = await ctx.clock.time('retention', () =>
        applyRetention(ctx.engine, s.app, s.keep, { protect: [], log: (l) => ctx.log.info(l), warn: (l) => ctx.log.warn(l) }),
      );
      ctx.log.info(`workers of ${s.app} on ${ctx.host}: ${report.roles.map((r) => `${r.role} × ${r.containers.length}`).join(', ')}${blueGreenOf(s)?.settleMs ? ` (settled ${formatDuration(blueGreenOf(s)?.settleMs ?? 0)})` : ''}`);
    },
  };
}
