// The managed nginx proxy of a blue-green app, on the server: a container `<app>-proxy` that
// holds the public port and forwards to one app container on the app's private network, by
// container name. Its whole nginx.conf is Gangway's (its own path, `-c`; see proxy-config.ts),
// so the image's default site, if any, plays no part. A switch of the running proxy is one exec:
// its shell writes the config, checks it with `nginx -t`, reloads gracefully (old workers finish
// their requests, new ones use the new upstream) and waits for the new workers (SWITCH_SCRIPT);
// an image without a shell gets the same call by call (put-archive, exec, exec). A missing or
// outdated proxy is replaced (startNewProxy, which swarm/front-proxy.ts uses for a Swarm
// service's proxy too); the port is free only between the old proxy's exit and the new one's bind.
import { randomBytes } from 'node:crypto';
import { errorMessage, registryAuthHeader, registryServerAddress, sleep, type ImageReference } from '@gangway/kit';
import { LABEL } from '../labels.ts';
import { blueGreenOf } from '../settings/rollout.ts';
import { proxyName } from './spec.ts';
import { mustExec, type ContainerDetails, type DeployEngine } from '../host/engine.ts';
import { presentImage } from '../host/pull.ts';
import type { HostContext } from '../host/context.ts';
import { tarArchive } from '../host/tar.ts';
import { nginxConfig, primaryServerOf, proxyContainerSpec, proxySpecHash, PROXY_CONF, RELOAD, switchCommand, TEST_CONFIG, upstreamOf, workerPidsOf, WORKERS_COMMAND, type ProxyDesign, type Upstream } from './proxy-config.ts';

/** `/etc/gangway/nginx.conf`, as a tar extracted into /etc (put-archive needs an existing directory). */
async function writeConfig(engine: DeployEngine, id: string, config: string): Promise<void> {
  await engine.putArchive(id, '/etc', await tarArchive([{ name: 'gangway/' }, { name: 'gangway/nginx.conf', content: config }]));
}

/** The proxy image, present on the server (pulled when missing: nginx:stable from Docker Hub by default; with the app's registry login when it is in the app's registry). */
export function proxyImageId(ctx: HostContext, proxyImage: ImageReference): Promise<{ id: string; ref: string }> {
  const s = ctx.settings;
  return presentImage(ctx.engine, proxyImage, 'proxy', (line) => ctx.log.info(line), () => {
    const sameRegistry = s.image && s.registry && s.image.registry === proxyImage.registry;
    return sameRegistry && s.registry ? registryAuthHeader({ ...s.registry, serveraddress: registryServerAddress(proxyImage.registry) }) : undefined;
  });
}

export interface ProxySwitch {
  /** reloaded: the running proxy took the new config; created/replaced: a new proxy container. */
  how: 'reloaded' | 'created' | 'replaced';
  /** reloaded: the workers from before the reload, which still finish their requests to the old upstream. */
  oldWorkers?: Set<number>;
  /** The upstream before the switch (from the running proxy's config), if any. */
  previousUpstream?: string;
  /** The previous container, kept in the config as nginx's backup (`keepAsBackup`). */
  backup?: Upstream;
  proxy: { id: string; name: string };
}

export interface ProxyHandle {
  details?: ContainerDetails;
  config?: string;
}

/** The running proxy of this app and its current config, if there is one. */
export async function currentProxy(engine: DeployEngine, app: string): Promise<ProxyHandle> {
  const details = await engine.inspectContainer(proxyName(app));
  if (!details || details.labels[LABEL.role] !== 'proxy' || details.labels[LABEL.app] !== app) return {};
  if (!details.running) return { details };
  // One Engine call (get-archive), where `cat` by exec would be three.
  const config = await engine.readFile(details.id, PROXY_CONF).catch(() => undefined);
  return { details, ...(config !== undefined ? { config } : {}) };
}

/**
 * The running proxy as `seen` earlier under this deploy's lock, when it is still the same container
 * in the same state (one Engine call); otherwise read again. Its config changes only under the app's
 * deploy lock, so a switch starts from that read instead of reading the file once more.
 */
async function proxyNow(engine: DeployEngine, app: string, seen: ProxyHandle | undefined): Promise<ProxyHandle> {
  // A running proxy whose config could not be read then gets another try: without it the switch would replace the proxy.
  if (!seen || (seen.details?.running && seen.config === undefined)) return currentProxy(engine, app);
  const now = await engine.inspectContainer(proxyName(app));
  const before = seen.details;
  if (!now && !before) return seen;
  if (!now || !before || now.id !== before.id || now.running !== before.running) return currentProxy(engine, app);
  return { ...seen, details: now };
}

/**
 * Points the proxy at `upstream`. A running, up-to-date proxy gets the config and a graceful
 * reload (a config nginx refuses is put back, and nothing changes); otherwise a new proxy is
 * created with the config, the old one (if any) stops gracefully, and the new one starts.
 * `beforeBind` runs right before the new proxy starts (to free the port from a container that
 * published it under recreate). `keepAsBackup` names the previous container: when the running
 * proxy forwards to it now, it stays in the config as nginx's backup (settle-time). `seen`: the
 * proxy as read earlier under this deploy's lock (proxyNow).
 */
export async function switchProxy(ctx: HostContext, upstream: Upstream, options: { beforeBind?: () => Promise<void>; keepAsBackup?: string; seen?: ProxyHandle } = {}): Promise<ProxySwitch> {
  const { engine, log } = ctx;
  const s = ctx.settings;
  const app = s.app;
  const bg = blueGreenOf(s);
  if (!bg || !s.publish || !s.network) throw new Error('the proxy is blue-green\'s, which needs publish and the app network');
  const [image, current] = await Promise.all([proxyImageId(ctx, bg.proxyImage), proxyNow(engine, app, options.seen)]);
  const design: ProxyDesign = { imageId: image.id, imageRef: image.ref, network: s.network, hostIp: s.publish.hostIp ?? '', hostPort: s.publish.hostPort };
  const wanted = proxySpecHash(design);
  const previousUpstream = current.config ? upstreamOf(current.config) : undefined;
  const serving = current.config ? primaryServerOf(current.config) : undefined;
  const backup = options.keepAsBackup !== undefined && serving?.name === options.keepAsBackup && serving.name !== upstream.name ? serving : undefined;
  const config = nginxConfig(app, upstream, backup);

  if (current.details?.running && current.details.labels[LABEL.proxySpec] === wanted && current.config !== undefined) {
    const id = current.details.id;
    const oldWorkers = await reloadWith(ctx, id, config, current.config);
    log.info(`proxy ${current.details.name}: upstream ${previousUpstream ?? '(none)'} → ${upstream.name}${backup ? ` (${backup.name} as backup)` : ''}, reloaded gracefully`);
    return { how: 'reloaded', ...(oldWorkers ? { oldWorkers } : {}), ...(previousUpstream ? { previousUpstream } : {}), ...(backup ? { backup } : {}), proxy: { id, name: current.details.name } };
  }

  const why = !current.details ? 'no proxy yet' : !current.details.running ? `${current.details.name} is ${current.details.state}` : 'its image or port changed';
  log.info(`creating the proxy ${proxyName(app)} (${image.ref}) on ${design.hostIp || '*'}:${design.hostPort}: ${why}`);
  const id = await startNewProxy(ctx, design, config, current.details, options.beforeBind);
  return { how: current.details ? 'replaced' : 'created', ...(previousUpstream ? { previousUpstream } : {}), ...(backup ? { backup } : {}), proxy: { id, name: proxyName(app) } };
}


/**
 * A new proxy container `<app>-proxy` from `design` with `config`, in place of `current` (when
 * there is one): created under a temporary name, the old one stopped gracefully (SIGQUIT),
 * `beforeBind`, the new one started and checked to stay up, then the old one removed and the new
 * one renamed. When the new one does not come up, it is removed and the old one started again.
 * The port is free only between the old proxy's exit and the new one's bind. Returns its id.
 */
export async function startNewProxy(ctx: HostContext, design: ProxyDesign, config: string, current: ContainerDetails | undefined, beforeBind?: () => Promise<void>): Promise<string> {
  const { engine, log } = ctx;
  const app = ctx.settings.app;
  const tempName = current ? `${proxyName(app)}-${randomBytes(3).toString('hex')}` : proxyName(app);
  const id = await engine.createContainer(proxyContainerSpec(app, design, tempName));
  try {
    await writeConfig(engine, id, config);
    if (current?.running) {
      log.info(`stopping the old proxy ${current.name} gracefully (SIGQUIT)`);
      await engine.stopContainer(current.id, 30);
    }
    await beforeBind?.();
    await engine.startContainer(id);
    // nginx exits at once on a bad config or a port it cannot bind.
    await sleep(300);
    const started = await engine.inspectContainer(id);
    if (!started?.running) {
      const logs = await engine.logs(id, 30).catch(() => '');
      throw new Error(`the new proxy did not stay up (${started?.state ?? 'gone'}): ${logs.trim()}`);
    }
  } catch (error) {
    await engine.removeContainer(id, { force: true }).catch(() => undefined);
    if (current?.running) await engine.startContainer(current.id).catch((e: unknown) => log.warn(`Could not restart the old proxy: ${errorMessage(e)}`));
    throw error;
  }
  if (current) {
    await engine.removeContainer(current.id, { force: true });
    await engine.renameContainer(id, proxyName(app));
  }
  return id;
}

/**
 * Puts `config` into the running proxy and reloads it gracefully; returns the workers from before
 * the reload (undefined when the image has no shell to list them). One exec with the image's
 * shell (SWITCH_SCRIPT); without a shell, call by call. Either way a config nginx refuses, or a
 * reload that starts no workers, leaves the previous config in place.
 */
async function reloadWith(ctx: HostContext, id: string, config: string, previous: string): Promise<Set<number> | undefined> {
  const r = await ctx.engine.exec(id, switchCommand(config));
  if (r.exitCode === 0) return workerPidsOf(r.output);
  if (r.exitCode === 3) throw new Error(`nginx refused the new config (nothing was switched): ${r.output.trim()}`);
  if (r.exitCode === 4) throw new Error(`${r.output.trim()} (the previous config was put back)`);
  if (r.exitCode !== 126 && r.exitCode !== 127) throw new Error(`the proxy switch failed (exit code ${r.exitCode}): ${r.output.trim()} (nothing was switched)`);
  return reloadCallByCall(ctx, id, config, previous);
}

/** reloadWith for a proxy image without a shell: put-archive, nginx -t, nginx -s reload. */
async function reloadCallByCall(ctx: HostContext, id: string, config: string, previous: string): Promise<Set<number> | undefined> {
  const { engine, log } = ctx;
  await writeConfig(engine, id, config);
  const test = await engine.exec(id, TEST_CONFIG);
  if (test.exitCode !== 0) {
    await writeConfig(engine, id, previous).catch((e: unknown) => log.warn(`Could not put the previous proxy config back: ${errorMessage(e)}`));
    throw new Error(`nginx refused the new config (nothing was switched): ${test.output.trim()}`);
  }
  const oldWorkers = await workerPids(engine, id);
  try {
    await mustExec(engine, id, RELOAD, 'nginx -s reload');
    if (oldWorkers) await newWorkersStarted(engine, id, oldWorkers);
  } catch (error) {
    await writeConfig(engine, id, previous)
      .then(() => engine.exec(id, RELOAD))
      .catch((e: unknown) => log.warn(`Could not put the previous proxy config back: ${errorMessage(e)}`));
    throw error;
  }
  return oldWorkers;
}

/** The pids of the proxy's nginx workers; undefined when the proxy cannot tell (no shell in its image). */
export async function workerPids(engine: DeployEngine, proxyId: string): Promise<Set<number> | undefined> {
  const r = await engine.exec(proxyId, WORKERS_COMMAND).catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  return workerPidsOf(r.output);
}

/** `nginx -s reload` only signals the master: wait until it has started workers with the new config. */
async function newWorkersStarted(engine: DeployEngine, proxyId: string, before: Set<number>, timeoutMs = 10_000): Promise<void> {
  const started = performance.now();
  for (;;) {
    const now = await workerPids(engine, proxyId);
    if (!now || [...now].some((pid) => !before.has(pid))) return;
    if (performance.now() - started >= timeoutMs) throw new Error(`nginx did not start new workers within ${timeoutMs / 1000} s of the reload (see the proxy's log)`);
    await sleep(50);
  }
}

/**
 * Waits until the workers that ran before the reload (`before`) have finished their in-flight
 * requests and exited, or `timeoutMs`. True when they are all gone, false on timeout; undefined
 * when the proxy cannot tell: then the whole timeout is waited.
 */
export async function drainOldWorkers(engine: DeployEngine, proxyId: string, before: Set<number> | undefined, timeoutMs: number, options: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<boolean | undefined> {
  const started = performance.now();
  // A cancelled job stops waiting (false): nginx's old workers finish their requests by themselves.
  const pause = (ms: number): Promise<boolean> => sleep(ms, options.signal).then(() => true, () => false);
  for (;;) {
    if (options.signal?.aborted) return false;
    const now = before ? await workerPids(engine, proxyId) : undefined;
    if (!before || !now) {
      return (await pause(Math.max(0, timeoutMs - (performance.now() - started)))) ? undefined : false;
    }
    if (![...before].some((pid) => now.has(pid))) return true;
    if (performance.now() - started >= timeoutMs) return false;
    if (!(await pause(options.intervalMs ?? 200))) return false;
  }
}
