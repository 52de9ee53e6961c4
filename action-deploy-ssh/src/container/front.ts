// What stands in front of a blue-green app and switches its traffic: the app's own nginx proxy on its
// `publish` port (proxy.ts), or the host's shared edge on 80/443 when the app has a `hostname`
// (edge/edge.ts). Blue-green, the serving check and the post step ask the front, not one of them.
import { createHash } from 'node:crypto';
import { ConfigurationError, errorMessage, formatDuration, sleep } from '@gangway/kit';
import type { ContainerDetails, DeployEngine } from '../host/engine.ts';
import type { HostContext } from '../host/context.ts';
import { blueGreenOf } from '../settings/rollout.ts';
import type { DeploySettings } from '../settings/index.ts';
import { EDGE_DEFAULTS, RETRY_WINDOW_MS, type EdgeWide } from '../edge/caddy-config.ts';
import { currentEdge, drainConnections, EdgeRefusedError, ensureEdge, loadRoutes, readRoutes, readRouteTable, readServerCertificate, RoutesChangedError, sockets, waitForEdgeRetries, withEdgeLock, type RouteTable } from '../edge/edge.ts';
import { conflictOf, inEdge, mountsFor, routeOf, type EdgeRoute, type EdgeUpstream, type RouteTls } from '../edge/routes.ts';
import { checkCertificate } from '../settings/edge.ts';
import { presentImage } from '../host/pull.ts';
import type { TarEntry } from '../host/tar.ts';
import { currentProxy, drainOldWorkers, switchProxy, type ProxyHandle } from './proxy.ts';
import { upstreamOf, type Upstream } from './proxy-config.ts';

export interface FrontSwitch {
  /** reloaded/created/replaced: the nginx proxy; loaded: the edge took the whole new config. */
  how: 'reloaded' | 'created' | 'replaced' | 'loaded';
  previousUpstream?: string;
  /** The previous container, kept behind the new one while it settles. */
  backup?: Upstream;
  /** Waits for the requests in flight to what the front no longer sends to: true drained, false timeout/cancel, undefined cannot tell. */
  drain: (timeoutMs: number, signal?: AbortSignal) => Promise<boolean | undefined>;
}

export interface FrontState {
  /** The front is up and its config could be read. */
  readable: boolean;
  running: boolean;
  /** The container it forwards to now. */
  upstream?: string;
  /** The proxy: its container and config as read, which a switch under the same lock starts from. */
  proxy?: ProxyHandle;
}

export interface Front {
  kind: 'proxy' | 'edge';
  /**
   * Before a rollback points the front at the backup alone: lets the front finish sending on to the
   * backup what the failed container dropped, where a config change would cut that short (the edge:
   * Caddy answers such a request 502). None for the proxy: an nginx reload lets the old workers finish
   * every request, retries included. Never throws: the rollback goes on regardless.
   */
  beforeRollback?(ctx: HostContext, failedName: string): Promise<void>;
  /** The maintenance page of this app's route on or off, nothing else changed (edge only). */
  switchMaintenance?(ctx: HostContext): Promise<'on' | 'off'>;
  /** Before the new container is made: what can be checked or set up without touching the app (the edge, conflicts). */
  prepare(ctx: HostContext): Promise<void>;
  /** `seen`: the front as read earlier under the same lock, which the switch may start from. */
  switch(ctx: HostContext, upstream: Upstream, options?: { beforeBind?: () => Promise<void>; keepAsBackup?: string; seen?: FrontState }): Promise<FrontSwitch>;
  state(engine: DeployEngine, settings: DeploySettings): Promise<FrontState>;
}

const proxyFront: Front = {
  kind: 'proxy',
  async prepare() {
    // The proxy is made or replaced at the switch.
  },
  async switch(ctx, upstream, options = {}) {
    const { seen, ...rest } = options;
    const switched = await switchProxy(ctx, upstream, { ...rest, ...(seen?.proxy ? { seen: seen.proxy } : {}) });
    return {
      how: switched.how,
      ...(switched.previousUpstream ? { previousUpstream: switched.previousUpstream } : {}),
      ...(switched.backup ? { backup: switched.backup } : {}),
      // A new proxy container has no old workers: the previous proxy finished its requests when it stopped.
      drain: (timeoutMs, signal) => (switched.how === 'reloaded' ? drainOldWorkers(ctx.engine, switched.proxy.id, switched.oldWorkers, timeoutMs, signal ? { signal } : {}) : Promise.resolve(true)),
    };
  },
  async state(engine, settings) {
    const proxy = await currentProxy(engine, settings.app);
    const upstream = proxy.config ? upstreamOf(proxy.config) : undefined;
    return { running: proxy.details?.running === true, readable: !proxy.details?.running || proxy.config !== undefined, ...(upstream ? { upstream } : {}), proxy };
  },
};

/** The edge settings shared by every app on the host (ports from the app's inputs). */
function wideOf(settings: DeploySettings): EdgeWide {
  const edge = settings.edge;
  return { ...EDGE_DEFAULTS, httpPort: edge?.httpPort ?? 80, httpsPort: edge?.httpsPort ?? 443, renewIntervalMs: edge?.renewIntervalMs ?? EDGE_DEFAULTS.renewIntervalMs };
}

/**
 * Certificates given as inputs go into the edge's volume (the key readable by root only), named by the
 * certificate's hash: a config the edge refuses still points at the files it serves with. The files of
 * older certificates are removed once the new config is kept.
 */
function tlsOf(settings: DeploySettings): { tls: RouteTls; files: TarEntry[]; keepCerts?: { dir: string; prefix: string } } {
  const tls = settings.edge?.tls ?? { mode: 'off' };
  if (tls.mode === 'off') return { tls, files: [] };
  if (tls.mode === 'acme') {
    const file = `acme/${settings.app}-directory-ca.pem`;
    return {
      tls: { mode: 'acme', directory: tls.directory, ...(tls.email ? { email: tls.email } : {}), ...(tls.directoryCa ? { trustedRootsFile: `/etc/gangway-edge/${file}` } : {}) },
      files: tls.directoryCa ? [{ name: 'acme/' }, { name: file, content: `${tls.directoryCa}\n` }] : [],
    };
  }
  const dir = `certs/${settings.app}`;
  if (tls.source === 'server') {
    // Read where they are (mounted at the same path); certificates this app gave as inputs before are removed.
    return { tls: { mode: 'certificate', certificateFile: inEdge(tls.certificatePath), keyFile: inEdge(tls.keyPath), fromServer: true }, files: [], keepCerts: { dir: `/etc/gangway-edge/${dir}`, prefix: NO_FILE } };
  }
  const prefix = createHash('sha256').update(tls.certificate).digest('hex').slice(0, 16);
  return {
    tls: { mode: 'certificate', certificateFile: `/etc/gangway-edge/${dir}/${prefix}.cert.pem`, keyFile: `/etc/gangway-edge/${dir}/${prefix}.key.pem` },
    files: [{ name: 'certs/' }, { name: `${dir}/`, mode: 0o700 }, { name: `${dir}/${prefix}.cert.pem`, content: `${tls.certificate}\n` }, { name: `${dir}/${prefix}.key.pem`, content: `${tls.key}\n`, mode: 0o600 }],
    keepCerts: { dir: `/etc/gangway-edge/${dir}`, prefix },
  };
}

/** A file-name prefix no certificate file has: every file in the app's certificate directory is removed. */
const NO_FILE = '-none-';

/** How often a load is tried again when another app's deploy changed the edge's routes in between. */
const CHANGED_TRIES = 5;

/**
 * Under the host's edge lock: finds the running edge, reads the route table, lets `change` make this
 * app's route from it, and loads the result. When the records changed between the read and the load
 * (a deploy that does not take the lock), reads and tries again: its record must be in what this one
 * loads. Returns the edge and what `change` returned for the table that was loaded.
 */
async function changeRoutes<T extends { route: EdgeRoute }>(
  ctx: HostContext,
  change: (table: RouteTable) => T,
  load: (edgeId: string, table: RouteTable, made: T) => Promise<void>,
): Promise<{ edge: ContainerDetails; made: T }> {
  const seen = await currentEdge(ctx.engine);
  if (!seen) throw new Error(`there is no edge on this host: deploy ${ctx.settings.app} with its hostname (an image) first`);
  return withEdgeLock(ctx, seen.createOptions.Image, async () => {
    for (let attempt = 1; ; attempt++) {
      // Looked up again under the lock: another app's deploy may have just upgraded the edge.
      const edge = await currentEdge(ctx.engine);
      if (!edge) throw new Error('the edge stopped while this deploy was switching');
      const table = await readRouteTable(ctx.engine, edge.id);
      const made = change(table);
      try {
        await load(edge.id, table, made);
        return { edge, made };
      } catch (error) {
        if (!(error instanceof RoutesChangedError) || attempt >= CHANGED_TRIES) throw error;
        ctx.log.info(`the edge's routes changed meanwhile (another app's deploy): reading them again (try ${attempt + 1} of ${CHANGED_TRIES})`);
      }
    }
  });
}

async function upstreamAt(ctx: HostContext, upstream: Upstream): Promise<EdgeUpstream> {
  const d = await ctx.engine.inspectContainer(upstream.name);
  const network = ctx.settings.network ?? '';
  const address = d?.addresses[network];
  if (!address) throw new Error(`${upstream.name} has no address on ${network}: the edge cannot reach it`);
  return { name: upstream.name, address, port: upstream.port };
}

const edgeFront: Front = {
  kind: 'edge',
  async beforeRollback(ctx, failedName) {
    const { engine, log } = ctx;
    try {
      const edge = await currentEdge(engine);
      const own = edge ? (await readRoutes(engine, edge.id)).find((r) => r.app === ctx.settings.app) : undefined;
      if (!edge || own?.upstream.name !== failedName) {
        await sleep(RETRY_WINDOW_MS);
        return;
      }
      const waited = await waitForEdgeRetries(() => sockets(engine, edge.id), own.upstream);
      const dials = waited.dials > 0 ? `, after ${waited.dials} connection(s) to it still opening` : '';
      log.info(`gave the edge ${formatDuration(waited.ms)} to send on to the previous container anything ${failedName} dropped${dials}`);
    } catch (error) {
      log.warn(`Could not read the edge's connections to ${failedName} (${errorMessage(error)}): giving it ${formatDuration(RETRY_WINDOW_MS)} to send on anything it dropped`);
      await sleep(RETRY_WINDOW_MS);
    }
  },
  async switchMaintenance(ctx) {
    const { engine, log } = ctx;
    const s = ctx.settings;
    if (!s.edge?.maintenance) throw new Error('a maintenance switch needs hostname and maintenance');
    const on = s.edge.maintenance.on;
    const message = s.edge.maintenance.message;
    const { edge, made } = await changeRoutes(
      ctx,
      ({ routes }) => {
        const own = routes.find((r) => r.app === s.app);
        if (!own) throw new Error(`${s.app} has no route on this host's edge: deploy it with its hostname first`);
        const { maintenance: _before, ...rest } = own;
        return { own, route: on ? { ...rest, maintenance: message ? { message } : {} } : rest };
      },
      (edgeId, { routes, sum }, { route }) => loadRoutes(engine, edgeId, [...routes.filter((r) => r.app !== s.app), route], { app: s.app, route, expectedSum: sum }, wideOf(s)),
    );
    const own = made.own;
    log.info(`edge ${edge.name}: maintenance page ${on ? 'on' : 'off'} for ${own.hostnames.join(', ')}${own.pathPrefix === '/' ? '' : own.pathPrefix}${on && message ? ` ("${message}")` : ''}`);
    return on ? 'on' : 'off';
  },
  async prepare(ctx) {
    const s = ctx.settings;
    if (!s.edge) throw new Error('the edge front needs hostname');
    const tls = s.edge.tls;
    const files = tls.mode === 'certificate' && tls.source === 'server' ? { certificate: tls.certificatePath, key: tls.keyPath } : undefined;
    if (files) {
      // Checked as the edge will read them, before the edge or the app changes.
      const { ref } = await presentImage(ctx.engine, s.edgeImage, 'edge', (line) => ctx.log.info(line));
      const pem = await ctx.clock.time('certificate files', () => readServerCertificate(ctx.engine, ref, files));
      try {
        const notAfter = checkCertificate(pem, undefined, s.edge.hostnames);
        ctx.log.info(`certificate ${files.certificate} on the server: valid until ${notAfter.toISOString()}, covers ${s.edge.hostnames.join(', ')}; the edge reloads it when it changes`);
      } catch (error) {
        if (error instanceof ConfigurationError) throw new EdgeRefusedError(`${error.message.replace('Input "tls-certificate"', `Input "tls-certificate-path" (${files.certificate} on the server)`)} Nothing was changed.`, 'tls-certificate-path');
        throw error;
      }
    }
    const mounts = files ? mountsFor([files.certificate, files.key]) : [];
    const edge = await ctx.clock.time('edge', () => ensureEdge(ctx, s.edgeImage, wideOf(s), mounts));
    const others = (await readRoutes(ctx.engine, edge.id)).filter((r) => r.app !== s.app);
    // The new route's shape (its upstream does not matter here): refused before anything of the app changes.
    const probe = routeOf(s.app, s.edge, { name: '', address: '', port: 0 }, tlsOf(s).tls);
    const conflict = conflictOf(others, probe);
    if (conflict) throw new EdgeRefusedError(`Input "${conflict.input}": ${conflict.message}`, conflict.input);
  },
  async switch(ctx, upstream, options = {}) {
    const { engine, log } = ctx;
    const s = ctx.settings;
    if (!s.edge) throw new Error('the edge front needs hostname');
    const to = await upstreamAt(ctx, upstream);
    const { tls, files, keepCerts } = tlsOf(s);
    const edgeSettings = s.edge;
    const { edge, made } = await changeRoutes(
      ctx,
      ({ routes }) => {
        const own = routes.find((r) => r.app === s.app);
        const backup = options.keepAsBackup !== undefined && own?.upstream.name === options.keepAsBackup && own.upstream.name !== upstream.name ? own.upstream : undefined;
        const fresh = routeOf(s.app, edgeSettings, to, tls, backup);
        // Maintenance stays as it is until a run says otherwise: a deploy that does not name it keeps the page up.
        const route: EdgeRoute = edgeSettings.maintenance === undefined && own?.maintenance ? { ...fresh, maintenance: own.maintenance } : fresh;
        const conflict = conflictOf(routes, route);
        if (conflict) throw new EdgeRefusedError(`Input "${conflict.input}": ${conflict.message}`, conflict.input);
        return { own, backup, route };
      },
      (edgeId, { routes, sum }, { route }) => loadRoutes(engine, edgeId, [...routes.filter((r) => r.app !== s.app), route], { app: s.app, route, files, expectedSum: sum, ...(keepCerts ? { keepCerts } : {}) }, wideOf(s)),
    );
    const { own, backup, route } = made;
    log.info(`edge ${edge.name}: ${s.edge.hostnames.join(', ')}${s.edge.pathPrefix === '/' ? '' : s.edge.pathPrefix} → ${to.name} (${to.address}:${to.port})${backup ? `, ${backup.name} as backup` : ''}${route.maintenance ? ', in maintenance' : ''}`);
    // What the edge no longer sends to: the previous upstream and backup, unless it is the new one.
    const left = [own?.upstream, own?.backup].filter((u): u is EdgeUpstream => u !== undefined && u.name !== to.name && u.name !== backup?.name);
    return {
      how: 'loaded',
      ...(own ? { previousUpstream: own.upstream.name } : {}),
      ...(backup ? { backup: { name: backup.name, port: backup.port } } : {}),
      drain: async (timeoutMs, signal) => {
        let drained = true;
        const started = performance.now();
        for (const u of left) {
          const rest = Math.max(0, timeoutMs - (performance.now() - started));
          drained = (await drainConnections(engine, edge.id, u.address, u.port, rest, signal).catch((e: unknown) => {
            log.warn(`Could not tell the edge's connections to ${u.name}: ${errorMessage(e)}`);
            return false;
          })) && drained;
        }
        return drained;
      },
    };
  },
  async state(engine, settings) {
    const edge = await currentEdge(engine);
    if (!edge) return { running: false, readable: true };
    try {
      const own = (await readRoutes(engine, edge.id)).find((r) => r.app === settings.app);
      return { running: true, readable: true, ...(own ? { upstream: own.upstream.name } : {}) };
    } catch {
      return { running: true, readable: false };
    }
  },
};

/** The front of a blue-green app: the shared edge with `hostname`, its own proxy with `publish`; none otherwise. */
export function frontOf(settings: DeploySettings): Front | undefined {
  if (!blueGreenOf(settings)) return undefined;
  if (settings.edge) return edgeFront;
  if (settings.publish) return proxyFront;
  return undefined;
}
