// The shared edge on a server, through the Engine API: the one `gangway-edge` container (Caddy, host
// network) that owns the edge's ports for every app on the host. An app's deploy reads every app's
// route record from the edge's config volume, renders the whole config with its own route changed, and
// has Caddy load it: `caddy reload` (run in the edge with docker exec, against the admin socket that only
// exists inside the container) swaps the whole config at once or refuses it, leaving the previous one
// serving. Only then are the new config and the app's record kept. Nothing of another app is written.
import { randomBytes } from 'node:crypto';
import { errorMessage, sleep, type ImageReference } from '@gangway/kit';
import { mustExec, type ContainerDetails, type DeployEngine } from '../host/engine.ts';
import { acquireLock, lockHeartbeatMs, releaseLock, startLockHeartbeat } from '../host/lock.ts';
import { pendingToLedger } from '../host/lock-state.ts';
import { presentImage } from '../host/pull.ts';
import type { HostContext } from '../host/context.ts';
import { tarArchive, type TarEntry } from '../host/tar.ts';
import { LABEL } from '../labels.ts';
import { caddyConfig, CERTS_DIR, DIAL_TIMEOUT_MS, EDGE_CONFIG, EDGE_DEFAULTS, EDGE_DIR, LOAD_LOCK, RETRY_INTERVAL_MS, RETRY_WINDOW_MS, ROUTES_DIR, WATCH_FILE, type EdgeWide } from './caddy-config.ts';
import { connectionsTo, dialsTo, EDGE_NAME, edgeContainerSpec, edgeSpecHash, listenersOn, parseProcNetTcp, SOCKETS_COMMAND, type EdgeDesign, type TcpSocket } from './edge-spec.ts';
import { inEdge, mountsFor, serverMounts, watchedFiles, type EdgeRoute } from './routes.ts';

const NEXT_CONFIG = `${EDGE_DIR}/caddy.next.json`;
/** How long a new edge gets to bind its ports. */
const EDGE_START_TIMEOUT_MS = 15_000;

/** The edge refused a config, or a port it needs is taken: nothing changed. */
export class EdgeRefusedError extends Error {
  readonly input: string | undefined;
  constructor(message: string, input?: string) {
    super(message);
    this.name = 'EdgeRefusedError';
    this.input = input;
  }
}

/** The host-wide lock of the edge (a marker container, as an app's deploy lock is): see withEdgeLock. */
export const EDGE_LOCK_NAME = 'gangway-edge.lock';
/** With no heartbeat for this long, the lock is a killed run's: the next deploy takes it over. */
const EDGE_LOCK_TTL_MS = 2 * 60_000;

/**
 * Runs `fn` holding the host's edge lock. Deploys of different apps on one host each hold their own
 * deploy lock, and meet only at the edge: whoever changes the edge container (create, upgrade) or its
 * routes holds this one, so two upgrades never race to stop the same old edge, and a route is never
 * loaded into an edge that is being replaced. `image`: one present on the server, for the marker.
 * `signal`: only for work that may be given up (making or upgrading the edge); a switch, and above all
 * the switch back of a rollback, waits for the lock even when the job is cancelled. While held, the
 * lock's heartbeat keeps it from being taken for stale however long the work takes.
 */
export async function withEdgeLock<T>(ctx: HostContext, image: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const lock = await acquireLock(ctx.engine, {
    app: EDGE_NAME,
    name: EDGE_LOCK_NAME,
    image,
    provenance: ctx.provenance,
    timeoutMs: ctx.settings.lockTimeoutMs,
    ttlMs: EDGE_LOCK_TTL_MS,
    // Taken at every switch: only a wait is worth a line.
    log: (line) => (line.startsWith('waiting') ? ctx.log.info(line) : ctx.log.debug?.(line)),
    warn: (line) => ctx.log.warn(line),
    pending: pendingToLedger(ctx.host, ctx.locks),
    ...(signal ? { signal } : {}),
  });
  // In the step's state too: if this run dies holding it (a lost connection), its post step releases it.
  ctx.locks?.acquired(ctx.host, lock);
  const heartbeat = startLockHeartbeat(ctx.engine, EDGE_NAME, lock, { intervalMs: lockHeartbeatMs(EDGE_LOCK_TTL_MS), warn: (line) => ctx.log.warn(line) });
  try {
    return await fn();
  } finally {
    await heartbeat.stop();
    const released = await releaseLock(ctx.engine, lock).then(
      () => true,
      (error: unknown) => {
        ctx.log.warn(`Could not release the edge lock ${EDGE_LOCK_NAME} (${errorMessage(error)}); the post step tries again, and the next deploy takes it over after ${EDGE_LOCK_TTL_MS / 1000} s.`);
        return false;
      },
    );
    if (released) ctx.locks?.released(ctx.host, lock);
  }
}

/** The running edge of this host, if any (the newest, when an interrupted upgrade left two). */
export async function currentEdge(engine: DeployEngine): Promise<ContainerDetails | undefined> {
  const edges = (await engine.listContainers({ [LABEL.managed]: 'true', [LABEL.role]: 'edge' })).filter((c) => c.state === 'running').sort((a, b) => b.created - a.created);
  const newest = edges[0];
  return newest ? await engine.inspectContainer(newest.id) : undefined;
}

/** Marks each record in the one exec that prints them all (a JSON text never holds a raw newline and this). */
const RECORD_MARK = '--gangway-route-record';
/** Marks the checksum of all records, as read: a load checks it again so that it never drops another app's newer record. */
const SUM_MARK = '--gangway-routes-sum';
/** The checksum of every record in the current directory (POSIX cksum: Debian's and busybox's agree). */
const SUM = 'cat *.json 2>/dev/null | cksum';

/** Prints every route record in `dir`, each after a mark line with its file name, then their checksum: one exec, however many apps. */
export function printRoutesScript(dir: string = ROUTES_DIR): string {
  return `cd '${dir}' 2>/dev/null || exit 0; for f in *.json; do [ -f "$f" ] || continue; printf '\\n${RECORD_MARK} %s\\n' "$f"; cat "$f"; done; printf '\\n${SUM_MARK} %s\\n' "$(${SUM})"`;
}

/** The records (and their checksum) in the output of printRoutesScript. */
export function parseRouteRecords(output: string): { records: Array<{ file: string; text: string }>; sum: string } {
  const records: Array<{ file: string; text: string }> = [];
  let sum = '';
  for (const line of output.split('\n')) {
    if (line.startsWith(`${SUM_MARK} `)) sum = line.slice(SUM_MARK.length + 1).trim();
    else if (line.startsWith(`${RECORD_MARK} `)) records.push({ file: line.slice(RECORD_MARK.length + 1).trim(), text: '' });
    else if (records.length > 0 && !sum) records[records.length - 1]!.text += `${line}\n`;
  }
  return { records, sum };
}

export interface RouteTable {
  routes: EdgeRoute[];
  /** The records' checksum as read: loadRoutes refuses to load over records that changed since. */
  sum: string;
}

/** Every app's route record on the edge. A record that cannot be read is an error: it is another app's. */
export async function readRouteTable(engine: DeployEngine, edgeId: string): Promise<RouteTable> {
  const output = await mustExec(engine, edgeId, ['sh', '-c', printRoutesScript()], 'reading the edge\'s route records');
  const { records, sum } = parseRouteRecords(output);
  const routes = records.map(({ file, text }) => {
    try {
      return JSON.parse(text) as EdgeRoute;
    } catch (error) {
      throw new Error(`the edge's route record ${file} is not valid JSON (${errorMessage(error)}); it belongs to app ${file.replace(/\.json$/, '')}: deploy that app again to rewrite it`, { cause: error });
    }
  });
  return { routes, sum };
}

export async function readRoutes(engine: DeployEngine, edgeId: string): Promise<EdgeRoute[]> {
  return (await readRouteTable(engine, edgeId)).routes;
}

/** The host's TCP sockets, as the edge (host network) sees them. */
export async function sockets(engine: DeployEngine, containerId: string): Promise<TcpSocket[]> {
  return parseProcNetTcp(await mustExec(engine, containerId, SOCKETS_COMMAND, 'reading the host\'s TCP sockets'));
}

/** The load lock and the watch list, by name: they sit beside the kept config ($2 of LOAD). */
const LOAD_LOCK_NAME = LOAD_LOCK.slice(EDGE_DIR.length + 1);
const WATCH_NAME = WATCH_FILE.slice(EDGE_DIR.length + 1);

/** Exit code of LOAD when Caddy refused the config (its message is in the output). */
export const REFUSED = 3;
/** Exit code of LOAD when another app's deploy changed the records since they were read: read them again. */
export const CHANGED = 5;

/** Another app's deploy changed the edge's route records meanwhile: nothing was loaded; read and try again. */
export class RoutesChangedError extends Error {
  override name = 'RoutesChangedError';
}
/**
 * Loads $1 (Caddy swaps the whole config, or refuses it and serves the previous one), then keeps it as
 * $2 and the app's record $3 as $4, or (no $3) removes the app's record and files ($4, $5). With $6, the
 * app's certificate directory, files there not starting with $7 (the certificate in use) are removed.
 * With $9, the checksum of the records in $8 as read: when they changed since, nothing is loaded (exit
 * CHANGED). Arguments, not text in the script: nothing of an input is ever parsed by the shell. (A window
 * of milliseconds remains between that check and the load; deploys of two apps on one host meet in it
 * only when they switch at the same instant.)
 */
export const LOAD = [
  // One load at a time, and never beside the edge's own reload of changed certificate files.
  // (The lock and the watch list sit beside the kept config, $2: LOAD_LOCK and WATCH_FILE in the edge.)
  `if command -v flock >/dev/null; then exec 9>"\${2%/*}/${LOAD_LOCK_NAME}"; flock 9; fi`,
  `if [ -n "$9" ]; then [ "$(cd "$8" 2>/dev/null && ${SUM})" = "$9" ] || { rm -f "$1" "$3" "\${2%/*}/${WATCH_NAME}.next"; exit ${CHANGED}; }; fi`,
  `caddy reload --config "$1" --force || { rm -f "$1" "$3" "\${2%/*}/${WATCH_NAME}.next"; exit ${REFUSED}; }`,
  'mv -f "$1" "$2" || exit 4',
  `if [ -f "\${2%/*}/${WATCH_NAME}.next" ]; then mv -f "\${2%/*}/${WATCH_NAME}.next" "\${2%/*}/${WATCH_NAME}" || exit 4; fi`,
  'if [ -n "$3" ]; then mv -f "$3" "$4" || exit 4; else rm -rf "$4" "$5" || exit 4; fi',
  'if [ -n "$6" ] && [ -d "$6" ]; then for f in "$6"/*; do case "$f" in "$6/$7"*) ;; *) rm -f "$f" ;; esac; done; fi',
  'exit 0',
].join('\n');

/**
 * Loads `routes` into the running edge with one put-archive and one exec: the whole config, this app's
 * record and its certificate files are written beside what serves now; Caddy loads the config (or refuses
 * it, and the previous one keeps serving); only then are the config and the record kept. `keepCerts`: the
 * app's certificate directory and the file-name prefix of the certificate in use (older ones are removed).
 */
export async function loadRoutes(
  engine: DeployEngine,
  edgeId: string,
  routes: EdgeRoute[],
  change: { app: string; route?: EdgeRoute; files?: TarEntry[]; keepCerts?: { dir: string; prefix: string }; expectedSum?: string },
  wide: EdgeWide = EDGE_DEFAULTS,
): Promise<void> {
  const config = JSON.stringify(caddyConfig(routes, wide), null, 2);
  const record = `${ROUTES_DIR}/${change.app}.json`;
  const watch = [String(Math.max(1, Math.round(wide.renewIntervalMs / 1000))), ...watchedFiles(routes)].join('\n');
  const entries: TarEntry[] = [...(change.files ?? []), { name: 'caddy.next.json', content: config }, { name: `${WATCH_NAME}.next`, content: `${watch}\n` }];
  if (change.route) entries.push({ name: 'routes/' }, { name: `routes/${change.app}.json.next`, content: `${JSON.stringify(change.route, null, 2)}\n` });
  await engine.putArchive(edgeId, EDGE_DIR, await tarArchive(entries));
  const args = change.route ? [NEXT_CONFIG, EDGE_CONFIG, `${record}.next`, record, ''] : [NEXT_CONFIG, EDGE_CONFIG, '', record, `${CERTS_DIR}/${change.app}`];
  const keep = change.keepCerts ? [change.keepCerts.dir, change.keepCerts.prefix] : ['', ''];
  const loaded = await engine.exec(edgeId, ['sh', '-c', LOAD, 'sh', ...args, ...keep, ROUTES_DIR, change.expectedSum ?? '']);
  if (loaded.exitCode === CHANGED) throw new RoutesChangedError('another app\'s deploy changed the edge\'s routes meanwhile');
  if (loaded.exitCode === REFUSED) {
    const reason = loaded.output.trim().split('\n').filter((l) => l.trim()).slice(-3).join(' ');
    throw new EdgeRefusedError(`the edge refused the new config, and keeps serving the previous one: ${reason}`);
  }
  if (loaded.exitCode !== 0) throw new Error(`the edge loaded the new config but could not keep it (exit ${loaded.exitCode}): ${loaded.output.trim()}`);
}

/** Waits until `id` listens on both ports (or has exited: its log says why). */
async function waitListening(engine: DeployEngine, id: string, ports: number[], before: number[]): Promise<void> {
  const started = performance.now();
  for (;;) {
    const d = await engine.inspectContainer(id);
    if (!d?.running) {
      const logs = await engine.logs(id, 20).catch(() => '');
      const taken = /address already in use/i.test(logs);
      throw new EdgeRefusedError(
        taken
          ? `port ${ports.join(' or ')} is already held on the server by something other than Gangway's edge (a host nginx or Apache left from a hand-run setup?). Stop it, or give the edge other ports with edge-http-port and edge-https-port. The edge said: ${logs.trim().split('\n').slice(-2).join(' ')}`
          : `the edge did not stay up (${d?.state ?? 'gone'}): ${logs.trim().split('\n').slice(-3).join(' ')}`,
        taken ? 'edge-http-port' : undefined,
      );
    }
    const now = await sockets(engine, id);
    if (ports.every((port, i) => listenersOn(now, port) > (before[i] ?? 0))) return;
    if (performance.now() - started > EDGE_START_TIMEOUT_MS) throw new Error(`the edge did not bind ${ports.join(' and ')} within ${EDGE_START_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }
}

/**
 * Runs `cmd` in a throwaway container of the edge image, on the host's network (to see its sockets) or
 * none, with `mounts` (server directories, read-only under SERVER_FILES_ROOT, as the edge has them), and
 * returns its exit code and output; nothing is left behind. What an edge will see, asked before
 * anything changes.
 */
async function probe(engine: DeployEngine, imageRef: string, cmd: string[], options: { network: 'host' | 'none'; mounts?: string[] }): Promise<{ code: number; output: string }> {
  const id = await engine.createContainer({
    name: `gangway-edge-probe-${randomBytes(3).toString('hex')}`,
    Image: imageRef,
    Entrypoint: [],
    Cmd: cmd,
    Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'edge-probe' },
    HostConfig: { NetworkMode: options.network, AutoRemove: false, Mounts: (options.mounts ?? []).map((dir) => ({ Type: 'bind' as const, Source: dir, Target: inEdge(dir), ReadOnly: true })) },
  });
  try {
    await engine.startContainer(id);
    const code = await engine.waitContainer(id);
    return { code, output: await engine.logs(id, 100_000) };
  } finally {
    await engine.removeContainer(id, { force: true }).catch(() => undefined);
  }
}

/**
 * Which of `ports` something on the host already listens on, seen by a probe of the edge image (it reads
 * the host's socket table). Asked before a first edge is made: a host nginx left from a hand-run setup
 * may even share a port with SO_REUSEPORT, where binding beside it would not fail.
 */
export async function portsHeld(engine: DeployEngine, imageRef: string, ports: number[]): Promise<number[]> {
  const { code, output } = await probe(engine, imageRef, SOCKETS_COMMAND, { network: 'host' });
  if (code !== 0) throw new Error(`reading the host's sockets with the edge image failed (exit ${code}): ${output.trim().slice(0, 300)}`);
  const sockets = parseProcNetTcp(output);
  return ports.filter((port) => listenersOn(sockets, port) > 0);
}

/** Marks where the probe's certificate text ends and Caddy's verdict on the pair begins. */
const PAIR_MARK = '--gangway-pair-verdict';

/**
 * The certificate and key files on the server (tls-certificate-path, tls-key-path), as the edge will
 * read them: a probe with their directories mounted prints the certificate blocks of the first file
 * (public: nothing else of it, should it hold a key too) and has Caddy load the pair (`caddy validate`,
 * which fails on a key that does not match). The key never leaves the server. Returns the certificate's
 * PEM text, or throws EdgeRefusedError naming the input.
 */
export async function readServerCertificate(engine: DeployEngine, imageRef: string, files: { certificate: string; key: string }): Promise<string> {
  const [certificate, key] = [inEdge(files.certificate), inEdge(files.key)];
  const config = JSON.stringify({ admin: { disabled: true }, apps: { tls: { certificates: { load_files: [{ certificate, key }] } } } });
  const script = [
    '[ -r "$1" ] || { echo "cannot read it" >&2; exit 7; }',
    '[ -r "$2" ] || { echo "cannot read it" >&2; exit 8; }',
    "sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' \"$1\"",
    `printf '\\n%s\\n' '${PAIR_MARK}'`,
    'printf \'%s\' "$3" > /tmp/pair.json',
    'caddy validate --config /tmp/pair.json 2>&1 | tail -n 1',
    'exit 0',
  ].join('\n');
  let result: { code: number; output: string };
  try {
    result = await probe(engine, imageRef, ['sh', '-c', script, 'sh', certificate, key, config], { network: 'none', mounts: mountsFor([files.certificate, files.key]) });
  } catch (error) {
    const missing = /bind source path does not exist:\s*(\S+)/.exec(errorMessage(error));
    if (!missing) throw error;
    const input = files.certificate.startsWith(`${missing[1]}/`) ? 'tls-certificate-path' : 'tls-key-path';
    throw new EdgeRefusedError(`Input "${input}": the directory ${missing[1]} does not exist on the server. Give the path of the file there (certbot keeps them in /etc/letsencrypt/live/NAME/). Nothing was changed.`, input);
  }
  if (result.code === 7) throw new EdgeRefusedError(`Input "tls-certificate-path": ${files.certificate} cannot be read on the server. Nothing was changed.`, 'tls-certificate-path');
  if (result.code === 8) throw new EdgeRefusedError(`Input "tls-key-path": ${files.key} cannot be read on the server. Nothing was changed.`, 'tls-key-path');
  if (result.code !== 0) throw new Error(`reading the certificate files on the server failed (exit ${result.code})`);
  const [pem = '', verdict = ''] = result.output.split(`\n${PAIR_MARK}\n`);
  if (!/Valid configuration/i.test(verdict)) {
    const why = verdict.trim().replace(/^Error:\s*/, '').split(': ').slice(-2).join(': ');
    throw new EdgeRefusedError(`Input "tls-key-path": the edge cannot load ${files.certificate} with ${files.key} (${why}). Give the key the certificate was issued for. Nothing was changed.`, 'tls-key-path');
  }
  return pem;
}

export interface EdgeHandle {
  id: string;
  name: string;
  how: 'running' | 'created' | 'upgraded';
}

/**
 * The host's edge, up to date: created when there is none, upgraded when its image or settings changed.
 * An upgrade starts the new edge beside the old one on the same ports (both listen, SO_REUSEPORT), with
 * the same config volume, then stops the old one gracefully: it finishes its requests in flight while the
 * new one takes every new connection.
 */
export async function ensureEdge(ctx: HostContext, image: ImageReference, wide: EdgeWide, mounts: string[] = []): Promise<EdgeHandle> {
  const { engine, log } = ctx;
  const { id: imageId, ref } = await presentImage(engine, image, 'edge', (line) => log.info(line));
  return withEdgeLock(
    ctx,
    ref,
    async () => {
      let current = await currentEdge(engine);
      if (!current) current = await restartStoppedEdge(ctx, wide);
      const routes = current ? await readRoutes(engine, current.id) : [];
      // The directories the edge mounts now (another deploy may have just added one, for a route not
      // loaded yet), every app's, and this one's: a new one means a new edge beside the old.
      const mounted = (current?.labels['gangway.edge.mounts'] ?? '').split(',').filter(Boolean);
      const design: EdgeDesign = {
        imageId,
        imageRef: ref,
        httpPort: wide.httpPort,
        httpsPort: wide.httpsPort,
        stopTimeoutS: Math.ceil(wide.gracePeriodMs / 1000) + 5,
        mounts: [...new Set([...mounted, ...serverMounts(routes), ...mounts])].sort(),
      };
      // The edge is the host's, not the app's: one app's deploy never moves it to other ports under the others.
      const ports = `${wide.httpPort},${wide.httpsPort}`;
      const currentPorts = current?.labels['gangway.edge.ports'];
      if (current && currentPorts !== undefined && currentPorts !== ports) {
        throw new EdgeRefusedError(
          `Input "edge-http-port": the edge on this host serves ports ${currentPorts.replace(',', ' and ')}, and this deploy asks for ${ports.replace(',', ' and ')}. Every app on a host shares the edge: give the same edge-http-port and edge-https-port as the other apps there.`,
          'edge-http-port',
        );
      }
      if (current && current.labels[LABEL.proxySpec] === edgeSpecHash(design)) return { id: current.id, name: current.name, how: 'running' as const };

      if (!current) {
        const held = await portsHeld(engine, ref, [wide.httpPort, wide.httpsPort]);
        if (held.length > 0) {
          throw new EdgeRefusedError(
            `Input "edge-http-port": port ${held.join(' and ')} is already held on the server by something other than Gangway's edge (a host nginx or Apache left from a hand-run setup?). Stop it, or give the edge other ports with edge-http-port and edge-https-port. Nothing was changed.`,
            held.includes(wide.httpPort) ? 'edge-http-port' : 'edge-https-port',
          );
        }
      }
      const name = current ? `${EDGE_NAME}-${randomBytes(3).toString('hex')}` : EDGE_NAME;
      const before = current ? await sockets(engine, current.id) : [];
      const added = design.mounts.filter((dir) => !mounted.includes(dir));
      const why = current ? [current.imageId !== imageId ? `image ${ref}` : '', added.length > 0 ? `certificate directories ${added.join(', ')} mounted read-only` : ''].filter(Boolean).join('; ') || 'new edge settings' : '';
      log.info(current ? `upgrading the edge (${why}): ${current.name} → ${name}, side by side on ${wide.httpPort} and ${wide.httpsPort}` : `creating the edge ${name} (${ref}) on ports ${wide.httpPort} and ${wide.httpsPort}${design.mounts.length > 0 ? `, certificate directories ${design.mounts.join(', ')} mounted read-only` : ''}`);
      const id = await createEdge(ctx, design, name, routes, mounts);
      try {
        // A first edge starts with a config of no routes, unless its volume kept one; an upgrade with the current one.
        if (!current && (await engine.readFile(id, EDGE_CONFIG)) === undefined) {
          await engine.putArchive(id, EDGE_DIR, await tarArchive([{ name: 'routes/' }, { name: 'caddy.json', content: JSON.stringify(caddyConfig([], wide), null, 2) }]));
        }
        await engine.startContainer(id);
        // The HTTPS port is bound only once a route has TLS: a first edge waits for the HTTP port alone.
        const needHttps = routes.some((r) => r.tls.mode !== 'off');
        const waitFor = needHttps ? [wide.httpPort, wide.httpsPort] : [wide.httpPort];
        await waitListening(engine, id, waitFor, waitFor.map((p) => listenersOn(before, p)));
      } catch (error) {
        await engine.removeContainer(id, { force: true }).catch(() => undefined);
        throw error;
      }
      if (current) {
        log.info(`stopping the old edge ${current.name} gracefully (it finishes its requests in flight)`);
        await engine.stopContainer(current.id, design.stopTimeoutS);
        await engine.removeContainer(current.id, { force: true });
        await engine.renameContainer(id, EDGE_NAME).catch((e: unknown) => log.warn(`Could not rename ${name} to ${EDGE_NAME}: ${errorMessage(e)}`));
      }
      return { id, name: current ? EDGE_NAME : name, how: current ? ('upgraded' as const) : ('created' as const) };
    },
    ctx.signal,
  );
}

/**
 * With no running edge: the newest stopped one (stopped by hand, or by a host that came back without
 * it) is started again as it was, with its config, routes and mounts; stopped leftovers of an upgrade
 * are removed. Undefined when there is none, or it does not stay up (then it is removed, volumes kept).
 */
async function restartStoppedEdge(ctx: HostContext, wide: EdgeWide): Promise<ContainerDetails | undefined> {
  const { engine, log } = ctx;
  const [newest, ...older] = (await engine.listContainers({ [LABEL.managed]: 'true', [LABEL.role]: 'edge' })).sort((a, b) => b.created - a.created);
  for (const leftover of older) {
    log.info(`removing the stopped edge ${leftover.name} (${leftover.state}), left by an earlier upgrade`);
    await engine.removeContainer(leftover.id, { force: true });
  }
  if (!newest) return undefined;
  log.info(`starting the stopped edge ${newest.name} again (${newest.state}): its config and every app's route are in its volume`);
  try {
    await engine.startContainer(newest.id);
    await waitListening(engine, newest.id, [wide.httpPort], [0]);
    return await engine.inspectContainer(newest.id);
  } catch (error) {
    log.warn(`The stopped edge ${newest.name} did not come back (${errorMessage(error)}): a new one takes its place, with the same volumes.`);
    await engine.removeContainer(newest.id, { force: true }).catch(() => undefined);
    return undefined;
  }
}

/**
 * Creates the edge container. A mounted directory that no longer exists on the server fails the
 * create: when no route needs it any more it is left out (once); when an app's route still does,
 * the error names that app, and nothing changed.
 */
async function createEdge(ctx: HostContext, design: EdgeDesign, name: string, routes: EdgeRoute[], own: string[]): Promise<string> {
  try {
    return await ctx.engine.createContainer(edgeContainerSpec(design, name));
  } catch (error) {
    const missing = /bind source path does not exist:\s*(\S+)/.exec(errorMessage(error))?.[1];
    if (!missing || !design.mounts.includes(missing)) throw error;
    if (own.includes(missing)) throw new EdgeRefusedError(`Input "tls-certificate-path": the directory ${missing} does not exist on the server. Nothing was changed.`, 'tls-certificate-path');
    const needing = routes.filter((r) => serverMounts([r]).includes(missing)).map((r) => r.app);
    if (needing.length > 0) {
      throw new Error(`the certificate directory ${missing} of app ${needing.join(', ')} (tls-certificate-path) no longer exists on the server, so the edge cannot be made again. Restore it, or deploy ${needing.join(', ')} with its certificate where it is now; the edge keeps serving as it is. Nothing was changed.`, { cause: error });
    }
    ctx.log.info(`the certificate directory ${missing} no longer exists on the server and no route needs it: the new edge does not mount it`);
    return ctx.engine.createContainer(edgeContainerSpec({ ...design, mounts: design.mounts.filter((d) => d !== missing) }, name));
  }
}

/**
 * Reads the edge's sockets every `pollMs` until `count` of them is 0 (none: true), or `timeoutMs` passed
 * or `signal` fired (none: false). `most`: the largest count it saw. The one loop of drainConnections
 * and waitForEdgeRetries.
 */
async function untilNone(read: () => Promise<TcpSocket[]>, count: (sockets: TcpSocket[]) => number, timeoutMs: number, pollMs: number, signal?: AbortSignal): Promise<{ none: boolean; most: number }> {
  const started = performance.now();
  let most = 0;
  for (;;) {
    if (signal?.aborted) return { none: false, most };
    const n = count(await read());
    most = Math.max(most, n);
    if (n === 0) return { none: true, most };
    if (performance.now() - started >= timeoutMs) return { none: false, most };
    const ok = await sleep(pollMs, signal).then(() => true, () => false);
    if (!ok) return { none: false, most };
  }
}

/**
 * Waits until the edge has no connection left to `address:port` (the requests still in flight to an old
 * container), or `timeoutMs`. True when drained, false on timeout or cancel.
 */
export async function drainConnections(engine: DeployEngine, edgeId: string, address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const { none } = await untilNone(() => sockets(engine, edgeId), (s) => connectionsTo(s, address, port), timeoutMs, 200, signal);
  return none;
}

/**
 * Lets the edge finish sending on to the backup what a failed container dropped, before a config load
 * cuts that short (RETRY_WINDOW_MS): first the connections the edge is still opening to that container
 * (to an address that no longer answers, a dial lasts until DIAL_TIMEOUT_MS), then one retry window.
 * At most DIAL_TIMEOUT_MS + a retry interval of polling. How long it took, and the most dials it saw.
 */
export async function waitForEdgeRetries(
  read: () => Promise<TcpSocket[]>,
  failed: { address: string; port: number },
  timing: { pollMs: number; capMs: number; windowMs: number } = { pollMs: RETRY_INTERVAL_MS, capMs: DIAL_TIMEOUT_MS + RETRY_INTERVAL_MS, windowMs: RETRY_WINDOW_MS },
): Promise<{ ms: number; dials: number }> {
  const started = performance.now();
  const { most } = await untilNone(read, (s) => dialsTo(s, failed.address, failed.port), timing.capMs, timing.pollMs);
  await sleep(timing.windowMs);
  return { ms: performance.now() - started, dials: most };
}
