// rollback: true — back to the previous container of this app (kept stopped by retention), or,
// when that container is gone, a new container of the image it ran (recorded on the current
// container as gangway.previous-image), with the current container's settings.
import { parseImageReference } from '@gangway/kit';
import { containerName } from './spec.ts';
import { LABEL } from '../labels.ts';
import type { ContainerSummary } from '../host/engine.ts';
import type { HostContext } from '../host/context.ts';
import { digestFor, pullImage } from '../host/pull.ts';
import type { SwapPlan } from './strategy/strategy.ts';

export class NothingToRollBackError extends Error {
  constructor(app: string, host: string, why: string) {
    super(`Nothing to roll back to for ${app} on ${host}: ${why}. Deploy a known-good image instead (image: repo@sha256:...).`);
    this.name = 'NothingToRollBackError';
  }
}

export interface RollbackChoice {
  plan: SwapPlan;
  /** What is rolled back to, for the log and the report. */
  target: string;
  targetImage: string;
}

/**
 * `containers` are this app's, newest deploy first. The current one is `serving` (the proxy's
 * upstream under blue-green), else the running one, else the newest; the target is the container
 * the current one replaced (recorded on it), or that container's image re-created when it is
 * gone; without a record, the next older container.
 */
export async function chooseRollback(ctx: HostContext, containers: ContainerSummary[], serving?: ContainerSummary): Promise<RollbackChoice> {
  const { settings, engine, provenance } = ctx;
  const app = settings.app;
  const current = serving ?? containers.find((c) => c.state === 'running') ?? containers[0];
  if (!current) throw new NothingToRollBackError(app, ctx.host, 'no container of this app exists on the server');
  const from = current.state === 'running' ? current : undefined;
  const older = containers.slice(containers.findIndex((c) => c.id === current.id) + 1);
  // The container the current one replaced, as recorded on it (image and deploy time); only
  // without a record the next older one. After v2 was rolled back to v1 and v3 then replaced v1,
  // the next older container is v2 — the release that was rolled back from — not v1.
  const recordedImage = current.labels[LABEL.previousImage];
  const recordedAt = current.labels[LABEL.previousDeployedAt];
  const previous = recordedImage
    ? older.find((c) => (c.labels[LABEL.image] ?? c.image) === recordedImage && (!recordedAt || c.labels[LABEL.deployedAt] === recordedAt))
    : older[0];
  if (previous) {
    return {
      plan: { ...(from ? { from } : {}), to: { kind: 'existing', container: previous }, preDeploy: [], postDeploy: [] },
      target: previous.name,
      targetImage: previous.labels[LABEL.image] ?? previous.image,
    };
  }
  const previousImage = current.labels[LABEL.previousImage];
  if (!previousImage) throw new NothingToRollBackError(app, ctx.host, `${current.name} is the only version this server has seen`);
  const details = await engine.inspectContainer(current.id);
  if (!details) throw new NothingToRollBackError(app, ctx.host, `${current.name} disappeared`);
  const image = parseImageReference(previousImage, 'image');
  const present = await engine.inspectImage(previousImage);
  if (!present) {
    ctx.log.info(`${previousImage} is no longer on the server: pulling it`);
    await ctx.clock.time('pull', () => pullImage(engine, image, { ...(settings.registry ? { registry: settings.registry } : {}), log: (l) => ctx.log.info(l) }));
  }
  const digest = image.digest ?? digestFor(image.repository, present?.repoDigests ?? []) ?? 'unknown';
  const deployedAt = current.labels[LABEL.previousDeployedAt] ?? provenance.at;
  const labels = { ...(details.createOptions.Labels ?? {}) };
  delete labels[LABEL.previousImage];
  delete labels[LABEL.previousDeployedAt];
  const spec = {
    ...details.createOptions,
    name: containerName(app, digest, provenance.at),
    Image: previousImage,
    Labels: {
      ...labels,
      [LABEL.image]: previousImage,
      [LABEL.digest]: digest,
      [LABEL.gitSha]: 'unknown',
      [LABEL.runUrl]: provenance.runUrl,
      [LABEL.actor]: provenance.actor,
      // The original deploy time: the next rollback steps further back, not forward to `current`.
      [LABEL.deployedAt]: deployedAt,
    },
  };
  return {
    plan: { ...(from ? { from } : {}), to: { kind: 'create', spec }, preDeploy: [], postDeploy: [] },
    target: `${spec.name} (re-created from ${previousImage})`,
    targetImage: previousImage,
  };
}
