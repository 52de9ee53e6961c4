// Accessories: the app's long-lived services (Redis, Postgres), one container each, named
// `<app>-<name>` and reachable as `<name>` on the app's network. A deploy creates one that is
// missing and otherwise leaves it alone: never restarted, never re-created, whatever its image.
// Only `upgrade-accessories` moves it to its declared image, after its named data volumes are
// checked to exist: the old container stops, the new one starts on the same volumes, and the old
// one comes back if the new one does not stay up. No Gangway code removes a volume.
import { errorMessage, formatDuration, formatImageReference, sleep } from '@gangway/kit';
import type { HostContext } from '../host/context.ts';
import type { ContainerCreateOptions, ContainerDetails, ContainerRef } from '../host/engine.ts';
import { crashed, diagnostics, waitUntilReady } from '../host/readiness.ts';
import { pullImage } from '../host/pull.ts';
import { LABEL } from '../labels.ts';
import type { AccessoryReport } from '../report.ts';
import type { AccessorySettings, DeploySettings } from '../settings/index.ts';
import { compactTime } from './spec.ts';

/** An upgrade that did not work, with the old container running again on its volumes. */
export class AccessoryUpgradeError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'AccessoryUpgradeError';
  }
}

/** How long a new accessory without a HEALTHCHECK must stay up before it counts as started. */
const ACCESSORY_GRACE_MS = 2000;

export function accessoryContainerName(app: string, name: string): string {
  return `${app}-${name}`;
}

export function accessoryLabels(app: string, name: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.role]: 'accessory', [LABEL.app]: app, [LABEL.accessory]: name };
}

/** The create options of an accessory: its own image, env, volumes and command; on the app's network under its name. */
export function accessorySpec(settings: DeploySettings, a: AccessorySettings): ContainerCreateOptions {
  const image = formatImageReference(a.image);
  const binds = a.volumes.map((v) => `${v.source}:${v.target}:${v.readOnly ? 'ro' : 'rw'}`);
  const port = a.publish ? `${a.publish.containerPort}/tcp` : undefined;
  return {
    name: accessoryContainerName(settings.app, a.name),
    Image: image,
    Env: [...a.env].map(([k, v]) => `${k}=${v}`),
    Labels: { ...accessoryLabels(settings.app, a.name), [LABEL.image]: image },
    ...(a.command ? { Cmd: a.command } : {}),
    ...(port ? { ExposedPorts: { [port]: {} } } : {}),
    HostConfig: {
      RestartPolicy: { Name: 'unless-stopped' },
      ...(binds.length > 0 ? { Binds: binds } : {}),
      ...(port && a.publish ? { PortBindings: { [port]: [{ HostIp: a.publish.hostIp, HostPort: String(a.publish.hostPort) }] } } : {}),
      ...(settings.network ? { NetworkMode: settings.network } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
    ...(settings.network ? { NetworkingConfig: { EndpointsConfig: { [settings.network]: { Aliases: [a.name] } } } } : {}),
  };
}

/** The declared image on the server: used as it is when the engine has it, pulled otherwise. */
async function presentImage(ctx: HostContext, a: AccessorySettings): Promise<void> {
  const ref = formatImageReference(a.image);
  if (await ctx.engine.inspectImage(ref)) return;
  const s = ctx.settings;
  // The app's registry login goes only to the app's registry.
  const registry = s.registry && s.image && s.image.registry === a.image.registry ? { registry: s.registry } : {};
  await ctx.clock.time('pull accessory', () => ctx.log.group(`pull ${ref}`, () => pullImage(ctx.engine, a.image, { ...registry, log: (l) => ctx.log.info(l) })));
}

/** Up: its HEALTHCHECK healthy when the image has one, else running and not restarted for a grace period. */
async function waitUp(ctx: HostContext, ref: ContainerRef): Promise<void> {
  const { engine } = ctx;
  const details = await engine.inspectContainer(ref.id);
  const image = details ? await engine.inspectImage(details.imageId) : undefined;
  if (image?.hasHealthcheck) {
    const result = await waitUntilReady(engine, ctx.prober, ref.id, { readiness: { kind: 'docker' }, timeoutMs: ctx.settings.readinessTimeoutMs, log: () => undefined, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (!result.ready) throw new Error(`accessory ${ref.name} did not get healthy (${result.reason ?? 'timeout'}: ${result.last})`);
    return;
  }
  const base = await engine.inspectContainer(ref.id);
  const until = performance.now() + ACCESSORY_GRACE_MS;
  for (;;) {
    const d: ContainerDetails | undefined = await engine.inspectContainer(ref.id);
    if (!d?.running || d.state === 'restarting' || d.restartCount !== base?.restartCount || d.startedAt !== base?.startedAt) {
      throw new Error(`accessory ${ref.name} did not stay up for ${formatDuration(ACCESSORY_GRACE_MS)}: ${d ? crashed(d) : 'it is gone'}`);
    }
    if (performance.now() >= until) return;
    await sleep(Math.min(250, until - performance.now()));
  }
}

async function printDiagnostics(ctx: HostContext, ref: ContainerRef): Promise<void> {
  const diag = await diagnostics(ctx.engine, ref.id).catch((e: unknown) => `(no diagnostics: ${errorMessage(e)})`);
  ctx.log.info(`What ${ref.name} said:`);
  for (const line of diag.split('\n')) ctx.log.info(`  ${line}`);
}

async function create(ctx: HostContext, a: AccessorySettings): Promise<ContainerRef> {
  const spec = accessorySpec(ctx.settings, a);
  await presentImage(ctx, a);
  const id = await ctx.engine.createContainer(spec);
  const ref = { id, name: spec.name };
  try {
    await ctx.engine.startContainer(id);
    await waitUp(ctx, ref);
  } catch (error) {
    // One that never came up is not kept: the next run creates it again from the input as it is then.
    await printDiagnostics(ctx, ref);
    await ctx.engine.removeContainer(id, { force: true }).catch((e: unknown) => ctx.log.warn(`Could not remove ${spec.name}: ${errorMessage(e)}`));
    throw error;
  }
  return ref;
}

/**
 * Every declared accessory on the host, created when missing; one that exists is left as it is
 * (started if it was stopped). The ones named in `skip` are the upgrade's to handle.
 */
export async function ensureAccessories(ctx: HostContext, skip: string[] = []): Promise<AccessoryReport[]> {
  const { engine, log } = ctx;
  const s = ctx.settings;
  const out: AccessoryReport[] = [];
  for (const a of s.accessories.filter((x) => !skip.includes(x.name))) {
    const name = accessoryContainerName(s.app, a.name);
    const declared = formatImageReference(a.image);
    const existing = await engine.inspectContainer(name);
    if (existing && (existing.labels[LABEL.app] !== s.app || existing.labels[LABEL.accessory] !== a.name)) {
      throw new Error(`A container named ${name} exists on ${ctx.host} that is not the accessory ${a.name} of ${s.app} (Gangway did not create it). Rename or remove it, or rename the accessory.`);
    }
    if (!existing) {
      // An upgrade cut off between the old container's stop and the new one's start left the old one aside: it comes back.
      const aside = (await engine.listContainers(accessoryLabels(s.app, a.name))).find((c) => c.name.startsWith(`${name}-replaced-`));
      if (aside) {
        log.warn(`accessory ${a.name}: an interrupted upgrade left ${aside.name} aside; putting it back as ${name} and starting it (upgrade it again with upgrade-accessories: ${a.name})`);
        const ref = { id: aside.id, name };
        await ctx.clock.time('accessories', async () => {
          await engine.renameContainer(aside.id, name);
          await engine.updateRestartPolicy(aside.id, 'unless-stopped');
          await engine.startContainer(aside.id);
          await waitUp(ctx, ref);
        });
        out.push({ name: a.name, container: ref, image: aside.labels[LABEL.image] ?? aside.image, action: 'started' });
        continue;
      }
      log.info(`accessory ${a.name}: creating ${name} (${declared})`);
      const ref = await ctx.clock.time('accessories', () => create(ctx, a));
      out.push({ name: a.name, container: ref, image: declared, action: 'created' });
      continue;
    }
    const ref = { id: existing.id, name: existing.name };
    const runs = existing.labels[LABEL.image] ?? existing.image;
    const drift = runs === declared ? undefined : `runs ${runs}, declared ${declared}: upgrade it with upgrade-accessories: ${a.name}`;
    if (drift) log.warn(`accessory ${a.name}: ${drift}`);
    if (existing.running) {
      out.push({ name: a.name, container: ref, image: runs, action: 'kept', ...(drift ? { drift } : {}) });
      continue;
    }
    log.warn(`accessory ${a.name}: ${name} is ${existing.state}; starting it (the app needs it)`);
    await ctx.clock.time('accessories', async () => {
      await engine.startContainer(existing.id);
      await waitUp(ctx, ref);
    });
    out.push({ name: a.name, container: ref, image: runs, action: 'started', ...(drift ? { drift } : {}) });
  }
  return out;
}

/**
 * An upgrade must never start on empty data: every named volume declared exists on the host, and
 * every place the old container keeps data (its volumes, an anonymous one its image declares, its
 * bind mounts) is mounted in the new one from the same source.
 */
async function checkVolumes(ctx: HostContext, a: AccessorySettings, old: ContainerDetails): Promise<void> {
  const refuse = (why: string): never => {
    throw new Error(`Refusing to upgrade accessory ${a.name} on ${ctx.host}: ${why}. Nothing was changed.`);
  };
  for (const v of a.volumes.filter((x) => x.kind === 'volume')) {
    if (!(await ctx.engine.volumeExists(v.source))) {
      refuse(`its data volume ${v.source} does not exist there, so the new container would start on empty data. Check the volumes of ${a.name} (docker volume ls), or deploy without upgrade-accessories to create it first`);
    }
  }
  for (const m of (old.mounts ?? []).filter((x) => x.type === 'volume' || x.type === 'bind')) {
    const declared = a.volumes.find((v) => v.target === m.destination);
    if (!declared) {
      refuse(`the running ${old.name} keeps data at ${m.destination} (${m.type} ${m.source}), which its volumes do not carry over. Declare it in accessories (volumes: [NAME:${m.destination}]) with the volume that holds the data now, then upgrade`);
    } else if (declared.source !== m.source) {
      refuse(`the running ${old.name} keeps ${m.destination} in ${m.source}, but the accessory declares ${declared.source} there: the new container would not see the data. Declare ${m.source}:${m.destination}`);
    }
  }
}

/**
 * Moves the accessory to its declared image. The old container is stopped (SIGTERM, stop-timeout)
 * and renamed aside; the new one is created under the name on the same volumes; if it does not
 * stay up, it is removed and the old one renamed back and started. The gap is from the stop to
 * the new one being up.
 */
export async function upgradeAccessory(ctx: HostContext, a: AccessorySettings): Promise<AccessoryReport> {
  const { engine, log } = ctx;
  const s = ctx.settings;
  const name = accessoryContainerName(s.app, a.name);
  const declared = formatImageReference(a.image);
  const existing = await engine.inspectContainer(name);
  if (existing && (existing.labels[LABEL.app] !== s.app || existing.labels[LABEL.accessory] !== a.name)) {
    throw new Error(`A container named ${name} exists on ${ctx.host} that is not the accessory ${a.name} of ${s.app}. Rename or remove it first.`);
  }
  if (!existing) {
    log.info(`accessory ${a.name}: nothing to upgrade, creating ${name} (${declared})`);
    const ref = await ctx.clock.time('accessories', () => create(ctx, a));
    return { name: a.name, container: ref, image: declared, action: 'created' };
  }
  await checkVolumes(ctx, a, existing);
  // Pulled while the old one still serves.
  await presentImage(ctx, a);
  const previousImage = existing.labels[LABEL.image] ?? existing.image;
  const old = { id: existing.id, name: existing.name };
  const aside = `${name}-replaced-${compactTime(new Date().toISOString()).toLowerCase()}`;
  log.info(`accessory ${a.name}: upgrading ${name} from ${previousImage} to ${declared} (volumes ${a.volumes.map((v) => v.source).join(', ') || 'none'} kept)`);
  const stoppedAt = performance.now();
  await ctx.clock.time('stop accessory', async () => {
    await engine.updateRestartPolicy(old.id, 'no');
    await engine.stopContainer(old.id, Math.ceil(s.stopTimeoutMs / 1000));
    await engine.renameContainer(old.id, aside);
  });
  let created: ContainerRef | undefined;
  try {
    await ctx.clock.time('start accessory', async () => {
      const spec = accessorySpec(s, a);
      const id = await engine.createContainer(spec);
      created = { id, name: spec.name };
      await engine.startContainer(id);
      await waitUp(ctx, created);
    });
  } catch (error) {
    log.warn(`accessory ${a.name}: the new container did not come up (${errorMessage(error)}); bringing ${previousImage} back`);
    if (created) {
      const failed = created;
      await printDiagnostics(ctx, failed);
      // Out of the name's way whatever happens: removed, or renamed aside when it cannot be.
      await engine.removeContainer(failed.id, { force: true }).catch(async (e: unknown) => {
        log.warn(`Could not remove the new ${name}: ${errorMessage(e)}; renaming it aside`);
        await engine.stopContainer(failed.id, 1).catch(() => undefined);
        await engine.renameContainer(failed.id, `${name}-failed-${compactTime(new Date().toISOString()).toLowerCase()}`);
      });
    }
    await engine.renameContainer(old.id, name);
    await engine.updateRestartPolicy(old.id, 'unless-stopped');
    await engine.startContainer(old.id);
    await waitUp(ctx, { id: old.id, name });
    throw new AccessoryUpgradeError(`The upgrade of accessory ${a.name} to ${declared} failed (${errorMessage(error)}); ${name} runs ${previousImage} again on its volumes.`, { cause: error });
  }
  const gapMs = Math.round(performance.now() - stoppedAt);
  log.info(`accessory ${a.name}: ${name} runs ${declared} after a gap of ${formatDuration(gapMs)}; removing the old container (its volumes stay)`);
  await engine.removeContainer(old.id).catch((e: unknown) => log.warn(`Could not remove the old ${aside}: ${errorMessage(e)}`));
  return { name: a.name, container: created as ContainerRef, image: declared, action: 'upgraded', gapMs, previousImage };
}
