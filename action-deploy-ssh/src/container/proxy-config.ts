// The managed nginx proxy of a blue-green app, as values: its whole nginx.conf, what a config
// Gangway wrote forwards to, and the proxy container's create options. Pure functions, tested by
// value; container/proxy.ts runs them against the engine.
import { createHash } from 'node:crypto';
import type { ContainerCreateOptions } from '../host/engine.ts';
import { LABEL } from '../labels.ts';
import { proxyName } from './spec.ts';

/** Where Gangway's config lives inside the proxy container. */
export const PROXY_CONF_DIR = '/etc/gangway';
export const PROXY_CONF = `${PROXY_CONF_DIR}/nginx.conf`;
/** The port nginx listens on inside the proxy container (published as `publish`). */
export const PROXY_PORT = 8080;
/** Bumped when the proxy's container settings (not its config) change: older proxies are replaced. */
const PROXY_SPEC_VERSION = 1;

export interface Upstream {
  /** The app container's name: Docker's DNS on the app network resolves it (at load and every reload). */
  name: string;
  port: number;
}

/** The first line of every config Gangway writes, naming the container it forwards to. */
const UPSTREAM_MARK = '# gangway-upstream:';
/** The second line while a new container settles: the previous one, still there as nginx's backup. */
const BACKUP_MARK = '# gangway-backup:';

/** How long a new container that failed once during settle gets no requests before nginx tries it again. */
const SETTLE_FAIL_TIMEOUT = '10s';

/**
 * The proxy's whole config. With `backup` (settle-time after a switch), the new container is the
 * primary server and the previous one nginx's `backup`: a request the new one fails (refused,
 * reset, or no connection within the short connect timeout; a dead container's address may not
 * refuse at all) is passed to the previous one, POSTs included, and one failure takes the new one
 * out for a while. Without `backup`, one server that is never marked down.
 */
export function nginxConfig(app: string, upstream: Upstream, backup?: Upstream): string {
  const servers = backup
    ? `    # Settling: ${upstream.name} is new; one failure takes it out for ${SETTLE_FAIL_TIMEOUT} and its requests go to
    # the previous container, which keeps running until the new one has settled.
    server ${upstream.name}:${upstream.port} max_fails=1 fail_timeout=${SETTLE_FAIL_TIMEOUT};
    server ${backup.name}:${backup.port} backup;`
    : `    # max_fails=0: a single server is never marked down; a failed cached connection is retried.
    server ${upstream.name}:${upstream.port} max_fails=0;`;
  // While settling, a request the new container broke off is retried on the previous one even when
  // it is not idempotent (nginx's non_idempotent): the alternative is a 502 for it.
  const nextUpstream = backup ? 'error timeout non_idempotent' : 'error timeout';
  const head = `${UPSTREAM_MARK} ${upstream.name}\n${backup ? `${BACKUP_MARK} ${backup.name}\n` : ''}`;
  const upstreamBlock = `  upstream gangway_app {
${servers}
    keepalive 32;
    # Below Node's default keep-alive timeout (5 s): nginx drops idle connections before the app does.
    keepalive_timeout 4s;
  }
`;
  return nginxFile({ head, app, http: upstreamBlock, pass: 'proxy_pass http://gangway_app;', connectTimeout: backup ? '1s' : '5s', nextUpstream });
}

/**
 * A whole nginx.conf of a managed proxy: Gangway's marks (`head`), the http block's extra
 * directives (`http`), and one location that passes every request on (`pass`).
 */
function nginxFile(o: { head: string; app: string; http: string; pass: string; connectTimeout: string; nextUpstream: string }): string {
  return `${o.head}# Written by Gangway's action-deploy-ssh for ${o.app} on every switch; edits are overwritten.
worker_processes auto;
pid /tmp/gangway-nginx.pid;
error_log stderr warn;
# Old workers get this long to finish their requests after a reload or SIGQUIT.
worker_shutdown_timeout 60s;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  client_max_body_size 64m;
${o.http}  server {
    listen ${PROXY_PORT};
    location / {
      ${o.pass}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_connect_timeout ${o.connectTimeout};
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      proxy_next_upstream ${o.nextUpstream};
      proxy_next_upstream_tries 3;
      proxy_request_buffering on;
    }
  }
}
`;
}

/**
 * The name a Swarm service's tasks answer to on its overlay network, besides the app's own: a
 * network alias of the service, which Docker's DNS resolves (endpoint mode dnsrr) to every healthy
 * task. Under `.invalid` (RFC 6761) because Docker's DNS passes a name it does not know to the
 * server's own resolvers, as it would `tasks.<app>` while no task runs: `tasks.shop` is a name
 * anyone may own on the internet, a `.invalid` one is not.
 */
export function swarmTasksName(app: string): string {
  return `${app}.gangway.invalid`;
}

/**
 * The config of a Swarm service's proxy (target: swarm with publish): every request goes to one of
 * the healthy tasks that Docker's DNS (127.0.0.11 on the overlay) lists for swarmTasksName, looked
 * up again every second. Swarm lists a task once it is healthy and takes it out before it stops
 * it; a task that refuses or does not connect within 1 s (its node gone) has the request passed to
 * another one. The config never changes between deploys.
 */
export function swarmProxyConfig(app: string, port: number): string {
  const resolver = `  # Docker's DNS on the overlay network; 1 s, so that a task Swarm takes out soon gets no requests.
  resolver 127.0.0.11 valid=1s ipv6=off;
  resolver_timeout 2s;
`;
  const tasks = swarmTasksName(app);
  return nginxFile({
    head: `${UPSTREAM_MARK} ${tasks}\n`,
    app,
    http: resolver,
    // A variable: nginx resolves the name at request time (every task), not once at start.
    pass: `set $gangway_tasks http://${tasks}:${port};\n      proxy_pass $gangway_tasks;`,
    connectTimeout: '1s',
    nextUpstream: 'error timeout http_502 http_503',
  });
}

export function upstreamOf(config: string): string | undefined {
  const first = config.split('\n')[0] ?? '';
  return first.startsWith(UPSTREAM_MARK) ? first.slice(UPSTREAM_MARK.length).trim() : undefined;
}

/** The container (and port) a config Gangway wrote forwards to: its first server line. */
export function primaryServerOf(config: string): Upstream | undefined {
  const m = /^\s*server ([^\s:;]+):(\d+)[\s;]/m.exec(config);
  return m?.[1] && m[2] ? { name: m[1], port: Number(m[2]) } : undefined;
}

export interface ProxyDesign {
  imageId: string;
  imageRef: string;
  network: string;
  hostIp: string;
  hostPort: number;
  /** A proxy whose config is fixed (a Swarm service's): a hash of it, so that a changed config replaces the proxy. */
  configHash?: string;
}

export function proxySpecHash(d: ProxyDesign): string {
  return createHash('sha256').update(JSON.stringify({ v: PROXY_SPEC_VERSION, ...d })).digest('hex').slice(0, 16);
}

export function proxyContainerSpec(app: string, d: ProxyDesign, name = proxyName(app)): ContainerCreateOptions {
  const port = `${PROXY_PORT}/tcp`;
  return {
    name,
    Image: d.imageRef,
    Cmd: ['nginx', '-c', PROXY_CONF, '-g', 'daemon off;'],
    // Graceful: nginx finishes in-flight requests on SIGQUIT.
    StopSignal: 'SIGQUIT',
    Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'proxy', [LABEL.app]: app, [LABEL.proxySpec]: proxySpecHash(d) },
    ExposedPorts: { [port]: {} },
    HostConfig: {
      PortBindings: { [port]: [{ HostIp: d.hostIp, HostPort: String(d.hostPort) }] },
      RestartPolicy: { Name: 'unless-stopped' },
      NetworkMode: d.network,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/** Lists the proxy's nginx worker processes (as /proc/<pid>/cmdline paths) with the image's shell. */
// The pattern is `nginx[:] worker process`: the shell that runs the grep has the command line
// with the pattern in it, and `nginx: worker process` would find that shell (and its subshells) too.
export const WORKERS_COMMAND = ['sh', '-c', "grep -la 'nginx[:] worker process' /proc/[0-9]*/cmdline 2>/dev/null; true"];

/** The worker pids in the output of WORKERS_COMMAND. */
export function workerPidsOf(output: string): Set<number> {
  return new Set([...output.matchAll(/\/proc\/(\d+)\/cmdline/g)].map((m) => Number(m[1])));
}

/** Checks a config without applying it. */
export const TEST_CONFIG = ['nginx', '-t', '-c', PROXY_CONF];
/** A graceful reload: old workers finish their requests, new ones use the new config. */
export const RELOAD = ['nginx', '-c', PROXY_CONF, '-s', 'reload'];

/**
 * The whole switch of a running proxy in one exec with the image's shell (each exec is three
 * Engine calls): note the workers, write the config (argument $1) in place of the file nginx runs
 * with ($2), keeping the previous one, `nginx -t`, a graceful reload, then wait (about 10 s at
 * most, looking every 10 ms for the first second: the switch is on the deploy's path to traffic on
 * the new version) until nginx has started a worker that was not there before. The workers from
 * before are then told to finish (SIGQUIT, nginx's graceful shutdown of a worker): nginx's master
 * tells them itself only 100 ms after it started the new ones, and until then they still take
 * connections to the old upstream. (The master holds its signals through that pause: it still
 * counts them as leaving and starts none in their place. A worker that crashed and was started
 * again just before the reload would count as new here, as it did before.) Exit 0: done, the
 * output lists the workers from before (as WORKERS_COMMAND does, for the drain). Exit 3: nginx refused the
 * config, which was put back (the output is nginx's). Exit 4: the reload failed or started no
 * worker; the previous config was put back and reloaded. 126/127: no shell in the image (the
 * switch then goes call by call). switch-script.test.ts runs it for real.
 */
export const SWITCH_SCRIPT = String.raw`conf=$2
workers() { grep -la 'nginx[:] worker process' /proc/[0-9]*/cmdline 2>/dev/null; true; }
old=$(workers)
cp "$conf" "$conf.previous" || exit 5
{ printf '%s' "$1" > "$conf.next" && mv "$conf.next" "$conf"; } || exit 5
if ! out=$(nginx -t -c "$conf" 2>&1); then mv "$conf.previous" "$conf"; printf '%s\n' "$out"; exit 3; fi
back() { mv "$conf.previous" "$conf"; nginx -c "$conf" -s reload 2>&1; printf '%s\n' "$1"; exit 4; }
quit_old() ( for o in $old; do IFS=/; set -- $o; unset IFS; grep -q 'nginx[:] worker process' "$o" 2>/dev/null && kill -QUIT "$3" 2>/dev/null; done; true )
out=$(nginx -c "$conf" -s reload 2>&1) || back "nginx -s reload failed: $out"
i=0
while [ $i -lt 280 ]; do
  for w in $(workers); do case " $(echo $old) " in *" $w "*) ;; *) quit_old; printf '%s\n' "$old"; exit 0;; esac; done
  if [ $i -lt 100 ]; then sleep 0.01; else sleep 0.05; fi; i=$((i+1))
done
back "nginx did not start new workers within about 10 s of the reload (see the proxy's log)"`;

/** `sh -c SWITCH_SCRIPT` with the config ($1) and the path of the config file nginx runs with ($2). */
export function switchCommand(config: string, path = PROXY_CONF): string[] {
  return ['sh', '-c', SWITCH_SCRIPT, 'gangway-switch', config, path];
}

