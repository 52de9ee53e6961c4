// target: container — the app as Docker containers on the host, swapped by a strategy
// (blue-green behind the managed proxy, or recreate). Before the lock: the pull (a rollback
// needs a container of the app to go back to). Under it: the network, the container that
// serves now (and what an interrupted deploy left), the plan (a new container, or the one to
// go back to), the strategy's swap, and retention.
import { ConfigurationError } from '@gangway/kit';
import type { DeployTarget } from '../host/deployer.ts';
import { DeployFailedError } from '../host/deployer.ts';
import type { HostContext } from '../host/context.ts';
import type { ContainerSummary } from '../host/engine.ts';
import { confirmDeployLock, ensureGpuRuntime, pullForDeploy } from '../host/preflight.ts';
import type { PulledImage } from '../host/pull.ts';
import { LABEL } from '../labels.ts';
import { setResult, type HostReport } from '../report.ts';
import { AccessoryUpgradeError, ensureAccessories, upgradeAccessory } from './accessories.ts';
import { applyRetention, byDeployTime } from './retention.ts';
import { appWorkers, deployWorkers, roleRelease, rollbackWorkers, rolesOn } from './roles.ts';
import { chooseRollback } from './rollback.ts';
import { frontOf } from './front.ts';
import { endOtherStandbys, standbyEnds } from './standby.ts';
import { blueGreenOf } from '../settings/rollout.ts';
import { servingContainer, tidyInterrupted } from './serving.ts';
import { appContainerSpec, appLabels } from './spec.ts';
import type { Strategy, SwapOutcome, SwapPlan } from './strategy/strategy.ts';

/** Where a swap that failed left the host, said after the failure. */
function afterFailedSwap(outcome: SwapOutcome): string {
  return outcome.rolledBack
    ? 'The previous container serves again (rolled back).'
    : outcome.switched
      ? 'There was no previous container to go back to.'
      : 'Nothing was switched: the previous version keeps serving.';
}

export function containerTarget(ctx: HostContext, strategy: Strategy): DeployTarget {
  const s = ctx.settings;
  let pulled: PulledImage | undefined;

  const appContainers = async (): Promise<ContainerSummary[]> => {
    const list = await ctx.engine.listContainers(appLabels(s.app));
    return list.filter((c) => c.labels[LABEL.app] === s.app && c.labels[LABEL.role] === 'app').sort(byDeployTime);
  };

  return {
    name: strategy.name,
    dropsRequests: strategy.dropsRequests,
    whenConnectionLost: `The server is as the connection left it: the proxy still forwards to the container it served unless the switch had happened; the next deploy of ${s.app} finds the container that serves and tidies what this one left.`,

    async prepare(report) {
      if (s.accessoryOnly) {
        // The lock container runs on an image the server has: the app's, or an accessory's.
        const any = (await appContainers())[0] ?? (await ctx.engine.listContainers({ [LABEL.managed]: 'true', [LABEL.app]: s.app, [LABEL.role]: 'accessory' }))[0];
        if (!any) throw new Error(`Nothing of ${s.app} runs on ${ctx.host} yet: deploy it (with its image and accessories) before upgrading an accessory.`);
        return any.imageId;
      }
      if (s.maintenanceOnly) {
        // The lock container runs on an image of this app that the server has.
        const any = (await appContainers())[0];
        if (!any) throw new Error(`Nothing to switch for ${s.app} on ${ctx.host}: no container of this app exists on the server (deploy it with its hostname first).`);
        return any.imageId;
      }
      if (s.rollback) {
        const any = (await appContainers())[0];
        if (!any) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: no container of this app exists on the server.`);
        return any.imageId;
      }
      if (!s.image) throw new ConfigurationError('Input "image" is required unless rollback: true.', 'image');
      if (s.gpus || rolesOn(s, ctx.host, true).some((r) => r.gpus)) await ensureGpuRuntime(ctx);
      pulled = await pullForDeploy(ctx, s.image);
      report.image = pulled.ref;
      report.imageDigest = pulled.digest;
      return pulled.id;
    },

    async apply(lock, report: HostReport) {
      if (s.maintenanceOnly) {
        const front = frontOf(s);
        if (!front?.switchMaintenance) throw new Error('maintenance is switched on the shared edge: give the app\'s hostname');
        await confirmDeployLock(ctx, lock);
        report.maintenance = await ctx.clock.time('maintenance', () => front.switchMaintenance!(ctx));
        setResult(report, 'deployed');
        return;
      }
      if (s.network && !(await ctx.engine.networkExists(s.network))) {
        ctx.log.info(`creating network ${s.network}`);
        await ctx.engine.createNetwork(s.network, { [LABEL.managed]: 'true' });
      }
      // The app's services first: created when missing (never restarted), upgraded only when named.
      if (s.accessories.length > 0) {
        report.accessories = await ensureAccessories(ctx, s.upgradeAccessories);
        for (const name of s.upgradeAccessories) {
          const a = s.accessories.find((x) => x.name === name);
          if (!a) continue;
          try {
            report.accessories.push(await ctx.clock.time('upgrade accessory', () => upgradeAccessory(ctx, a)));
          } catch (error) {
            if (!(error instanceof AccessoryUpgradeError)) throw error;
            setResult(report, 'rolled-back');
            throw new DeployFailedError(ctx.host, error.message, s.accessoryOnly ? 'Nothing else changed.' : 'The app was not deployed: its containers are as they were.');
          }
        }
      }
      if (s.accessoryOnly) {
        setResult(report, 'deployed');
        return;
      }
      // Listed under the lock: another deploy may have finished while we waited. The front's
      // state (a file read from its container) and the workers are read beside the list.
      const [listed, frontState, workers] = await Promise.all([appContainers(), frontOf(s)?.state(ctx.engine, s), appWorkers(ctx)]);
      let containers = listed;
      const serving = await servingContainer(ctx, containers, frontState);
      const tidied = await tidyInterrupted(ctx, containers, serving);
      if (tidied.removed.length + tidied.stopped.length > 0) containers = await appContainers();
      const current = serving ? containers.find((c) => c.id === serving.id) : undefined;
      // A container on standby runs on purpose: not one too many.
      const running = containers.filter((c) => c.state === 'running' && c.name !== tidied.standby);
      if (running.length > 1) ctx.log.warn(`${running.length} containers of ${s.app} are running (${running.map((c) => c.name).join(', ')}); replacing ${current?.name ?? 'the newest'}.`);

      const runningWorkers = workers.filter((c) => c.state === 'running');
      let plan: SwapPlan;
      if (s.rollback) {
        const choice = await chooseRollback(ctx, containers, current);
        ctx.log.info(`rolling back ${choice.plan.from?.name ?? '(nothing running)'} → ${choice.target}`);
        plan = choice.plan;
        report.image = choice.targetImage;
        report.imageDigest = choice.targetImage.split('@')[1] ?? '';
        // Every role goes back with the web: to the workers of the release gone back to.
        const release = plan.to.kind === 'existing' ? plan.to.container.name : plan.to.spec.name;
        // A release records its roles on its web container: one that had none goes back without workers.
        const hadRoles = plan.to.kind === 'existing' ? plan.to.container.labels[LABEL.roles] !== undefined && plan.to.container.labels[LABEL.roles] !== '' : true;
        const back = hadRoles ? await rollbackWorkers(ctx, workers, release, choice.targetImage, release) : [];
        if (back.length > 0 || runningWorkers.length > 0) plan.roles = roleRelease(ctx, back, runningWorkers);
      } else {
        const p = pulled as PulledImage;
        const here = rolesOn(s, ctx.host, true);
        const spec = appContainerSpec(s, {
          imageRef: p.ref,
          digest: p.digest,
          provenance: ctx.provenance,
          ...(current ? { previous: { image: current.labels[LABEL.image] ?? current.image, deployedAt: current.labels[LABEL.deployedAt] ?? new Date(current.created * 1000).toISOString() } } : {}),
        });
        spec.Labels = { ...spec.Labels, [LABEL.roles]: here.map((r) => r.name).join(',') };
        plan = { ...(current ? { from: current } : {}), to: { kind: 'create', spec }, preDeploy: s.preDeploy, postDeploy: s.postDeploy };
        const next = deployWorkers(s, here, spec.name, { imageRef: p.ref, digest: p.digest, provenance: ctx.provenance });
        if (next.length === 0 && runningWorkers.length > 0) ctx.log.warn(`roles is empty: the running workers (${runningWorkers.map((c) => c.name).join(', ')}) are stopped once this release stands`);
        if (next.length > 0 || runningWorkers.length > 0) plan.roles = roleRelease(ctx, next, runningWorkers);
      }
      if (plan.from) {
        report.previous = { id: plan.from.id, name: plan.from.name };
        report.previousImage = plan.from.labels[LABEL.image] ?? plan.from.image;
      }
      plan.confirmLock = () => confirmDeployLock(ctx, lock);
      if (frontState) plan.frontState = frontState;

      const outcome = await strategy.swap(ctx, plan);
      if (plan.roles) report.roles = plan.roles.report(outcome.ok);
      if (outcome.container) report.container = outcome.container;
      // The release that serves now: the new one, or after a failure the one that still serves.
      const serves = outcome.ok ? outcome.container : plan.from;
      if (serves) report.release = serves.name;
      if (outcome.readiness) report.readinessMs = outcome.readiness.ms;
      if (outcome.downtimeMs !== undefined) report.downtimeMs = outcome.downtimeMs;
      if (s.edge?.maintenance) report.maintenance = s.edge.maintenance.on ? 'on' : 'off';
      if (!outcome.ok) {
        setResult(report, outcome.rolledBack ? 'rolled-back' : 'failed');
        throw new DeployFailedError(ctx.host, outcome.error?.message ?? 'unknown error', afterFailedSwap(outcome));
      }
      setResult(report, 'deployed');

      // Cancelled: the switch stands, and the step must end within the runner's grace period.
      if (ctx.signal?.aborted) {
        ctx.log.info('cancelled: retention is left to the next deploy');
        return;
      }
      if (outcome.standby) {
        const standby = outcome.standby;
        const serving = outcome.container;
        // The standby before this one (what plan.from replaced) goes: one warm previous version at a time.
        const now = await appContainers();
        await endOtherStandbys(ctx, now, [serving?.id ?? '', standby.id]);
        const created = now.find((c) => c.id === serving?.id)?.created ?? Date.now() / 1000;
        report.standby = { name: standby.name, until: standbyEnds({ created }, blueGreenOf(s)?.standbyMs ?? 0).toISOString() };
      }
      const protect = [outcome.container?.id, plan.from?.id].filter((id): id is string => !!id);
      report.retention = await ctx.clock.time('retention', () =>
        applyRetention(ctx.engine, s.app, s.keep, { protect, log: (l) => ctx.log.info(l), warn: (l) => ctx.log.warn(l) }),
      );
    },
  };
}
