// Benchmark of the two edge candidates of issue #18 (not a test): nginx (Debian nginx-light 1.22, the lab's
// nginx:stable, switched by `nginx -t` then `nginx -s reload`) against Caddy (Debian caddy 2.6.2, the lab's
// caddy:2.6, switched by its admin API's `POST /load`, which swaps the whole JSON config at once). Both run as
// an edge would on a server: host network mode, on ports of the lab target, in front of small app containers
// (the lab's node:24-bookworm-slim with a one-line HTTP server answering {"version": ...}). In one run, in
// interleaved rounds, under the same bounded steady load (RATE req/s from CLIENTS clients, half keep-alive):
//   1. latency: p50 and p99 straight to the app container, through nginx and through Caddy (same container);
//   2. memory of each edge container (cgroup, as `docker stats` counts it), idle and under that load;
//   3. an upstream switch v(n) → v(n+1) under load (new container ready, switch, old container stopped):
//      failed and reset requests, how long the switch command took, when the last old answer came;
//   4. the edge upgrade: a second edge container started beside the first on the same port (SO_REUSEPORT:
//      nginx `listen … reuseport`, Caddy 2.6 always), the old one stopped gracefully (nginx SIGQUIT, Caddy
//      SIGTERM with a grace period), with net.ipv4.tcp_migrate_req 1 and 0; and the naive way (stop the old,
//      then start the new) for contrast.
// The load comes from inside the target's network namespace (this script runs itself again under nsenter):
// the app containers' addresses are only routed there, and the VPN's user-space tunnel would add milliseconds
// of its own jitter to a sub-millisecond difference and its own drops to the upgrade's. Everything talks only to
// the target's own addresses (198.18.0.0/15). Prints tables and writes bench/results/edge.json.
//   Run: flock /tmp/gangway-lab.lock npm run bench -- edge   (the lab must be up)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { CADDY_IMAGE, ensureCaddyImage } from '../../lab/src/caddy-image.ts';
import { runAsync, sleep, waitFor } from '../../lab/src/exec.ts';
import { inNetns } from '../../lab/src/net.ts';
import { readLabState, type TargetState } from '../../lab/src/state.ts';
import { percentile, startLoad, summarize, type LoadSample } from '../../lab/src/testing/load.ts';

const RATE = Number(process.env['BENCH_RATE'] ?? 200);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 8);
/** Latency: rounds, and requests per path per round (each path in turn, order rotated every round). */
const LATENCY_ROUNDS = Number(process.env['BENCH_LATENCY_ROUNDS'] ?? 8);
const LATENCY_REQUESTS = Number(process.env['BENCH_LATENCY_REQUESTS'] ?? 600);
const SWITCH_ROUNDS = Number(process.env['BENCH_SWITCH_ROUNDS'] ?? 3);
const UPGRADE_ROUNDS = Number(process.env['BENCH_UPGRADE_ROUNDS'] ?? 4);
/**
 * The upgrade again under connection churn: every request on a new connection, many at once, so that connections
 * sit in the old edge's accept queues when it closes them (what tcp_migrate_req is for).
 */
const CHURN_RATE = Number(process.env['BENCH_CHURN_RATE'] ?? 600);
const CHURN_CLIENTS = Number(process.env['BENCH_CHURN_CLIENTS'] ?? 16);
/** Ports on the target (80/443 in production; these collide with no other lab test). */
const NGINX_PORT = Number(process.env['BENCH_NGINX_PORT'] ?? 17080);
const CADDY_PORT = Number(process.env['BENCH_CADDY_PORT'] ?? 17081);
/** Caddy's admin API, one per edge generation (two Caddies run side by side during an upgrade). */
const CADDY_ADMIN_PORTS = [17019, 17020];
/** Load before and after each measured step; a window is the step plus SETTLE_MS. */
const SETTLE_MS = 1500;
/** Every load is bounded: at most this long, whatever happens. */
const LOAD_MAX_MS = 60_000;
const NGINX_IMAGE = 'nginx:stable';
const APP_IMAGE = 'node:24-bookworm-slim';
const RESULTS = path.resolve(import.meta.dirname, '../results/edge.json');
const LABEL = 'org.gangway.bench';

type Edge = 'nginx' | 'caddy';
const EDGES: Edge[] = ['nginx', 'caddy'];

// ── Outside: the image, then this script again inside the target's network namespace ────────────────────────
if (!process.argv.includes('--inside')) {
  const lab = readLabState();
  const name = process.env['BENCH_TARGET'] ?? lab.target.name;
  const target = lab.targets.find((t) => t.name === name);
  if (!target) throw new Error(`no lab target named ${name}: there are ${lab.targets.map((t) => t.name).join(', ')}`);
  const started = performance.now();
  const caddy = await ensureCaddyImage(target.dockerSocket);
  const imageMs = Math.round(performance.now() - started);
  console.log(`${caddy.tag} on ${target.name}: ${caddy.built ? 'imported' : 'already there'} (recipe ${caddy.key}, ${imageMs} ms)`);
  const inside = inNetns(target.netns, process.execPath, [import.meta.filename, '--inside', target.name]);
  const result = spawnSync(inside.cmd, inside.args, { stdio: 'inherit', env: { ...process.env, BENCH_EDGE_IMAGE_MS: String(imageMs) } });
  process.exit(result.status ?? 1);
}

// ── Inside the target's network namespace ───────────────────────────────────────────────────────────────────
const lab = readLabState();
const target: TargetState = lab.targets.find((t) => t.name === process.argv.at(-1)) ?? lab.target;
const docker = new Docker({ socketPath: target.dockerSocket });
const suffix = randomBytes(3).toString('hex');
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-bench-edge-'));
const created = new Set<string>();
const phasesMs: Record<string, number> = { 'caddy image (outside the namespace)': Number(process.env['BENCH_EDGE_IMAGE_MS'] ?? 0) };
let phaseStarted = performance.now();
const endPhase = (name: string): void => {
  phasesMs[name] = Math.round(performance.now() - phaseStarted);
  phaseStarted = performance.now();
};
const round1 = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

// ── Apps ──
const APP_JS = [
  "const http = require('node:http');",
  'const version = process.env.VERSION;',
  "const server = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ version })); });",
  'server.keepAliveTimeout = 5000;',
  'server.listen(8080);',
  // Graceful like the real app: no new connections, idle ones closed, in-flight requests finished.
  "process.on('SIGTERM', () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 8000).unref(); });",
].join(' ');

interface App {
  id: string;
  version: string;
  ip: string;
}

/** One GET on a connection of its own: the status and the `version` it answered with. */
function probe(host: string, port: number, urlPath = '/'): Promise<{ status: number; version?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const version = (JSON.parse(body) as { version?: string }).version;
          resolve({ status: res.statusCode ?? 0, ...(version ? { version } : {}) });
        } catch {
          resolve({ status: res.statusCode ?? 0 });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitForVersion(host: string, port: number, version: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${version} at ${host}:${port}`, timeoutMs, async () => ((await probe(host, port)).version === version ? true : undefined), 50);
}

async function remove(id: string): Promise<void> {
  await docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
  created.delete(id);
}

async function startApp(version: string): Promise<App> {
  const c = await docker.createContainer({
    name: `bench-edge-${suffix}-app-${version}`,
    Image: APP_IMAGE,
    Cmd: ['node', '-e', APP_JS],
    Env: [`VERSION=${version}`],
    Labels: { [LABEL]: 'edge' },
  });
  created.add(c.id);
  await c.start();
  // The default bridge: the engine's own address in its Networks map.
  const ip = (await c.inspect()).NetworkSettings.Networks['bridge']?.IPAddress;
  if (!ip) throw new Error(`app ${version} has no address on the default bridge`);
  await waitForVersion(ip, 8080, version);
  return { id: c.id, version, ip };
}

// ── Edges ──
function nginxConfig(app: App): string {
  return `# bench-edge: nginx as the server's edge, in host network mode.
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;
worker_shutdown_timeout 10s;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  upstream app {
    server ${app.ip}:8080 max_fails=0;
    keepalive 32;
    # Below Node's keep-alive timeout (5 s), as in action-deploy-ssh's proxy.
    keepalive_timeout 4s;
  }
  server {
    # reuseport: a second nginx can bind this port beside this one (the edge upgrade).
    listen ${NGINX_PORT} reuseport;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

function caddyConfig(app: App, adminPort: number): object {
  return {
    admin: { listen: `127.0.0.1:${adminPort}` },
    logging: { logs: { default: { level: 'WARN' } } },
    apps: {
      http: {
        // How long a stopping server (config swap or SIGTERM) waits for requests in flight.
        grace_period: '10s',
        servers: {
          edge: {
            listen: [`:${CADDY_PORT}`],
            // No HTTP/3: Caddy 2.6 binds UDP 443 without SO_REUSEPORT (no second Caddy beside it).
            protocols: ['h1', 'h2'],
            automatic_https: { disable: true },
            routes: [
              {
                handle: [
                  {
                    handler: 'reverse_proxy',
                    upstreams: [{ dial: `${app.ip}:8080` }],
                    // Below Node's keep-alive timeout (5 s), like nginx's keepalive_timeout above.
                    transport: { protocol: 'http', keep_alive: { idle_timeout: '4s' } },
                  },
                ],
              },
            ],
          },
        },
      },
    },
  };
}

interface EdgeContainer {
  edge: Edge;
  id: string;
  generation: number;
  /** Caddy only: its admin API port. */
  adminPort?: number;
}

const generations: Record<Edge, number> = { nginx: 0, caddy: 0 };

function writeAtomically(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

/** Listening TCP sockets on `port` in this namespace (with SO_REUSEPORT, one per socket of the group). */
async function listeners(port: number): Promise<number> {
  const out = await runAsync('ss', ['-Hltn', 'sport', '=', `:${port}`]);
  return out.stdout.split('\n').filter((l) => l.trim()).length;
}

async function logsOf(id: string): Promise<string> {
  const r = await runAsync('docker', ['-H', `unix://${target.dockerSocket}`, 'logs', '--tail', '30', id], { allowFailure: true });
  return `${r.stdout}${r.stderr}`.trim();
}

/** Creates and starts the next generation of an edge, serving `app`; resolves once its sockets listen. */
async function startEdge(edge: Edge, app: App): Promise<EdgeContainer> {
  const generation = ++generations[edge];
  const port = edge === 'nginx' ? NGINX_PORT : CADDY_PORT;
  const before = await listeners(port);
  const adminPort = CADDY_ADMIN_PORTS[generation % 2] ?? 17019;
  let cmd: string[];
  if (edge === 'nginx') {
    writeAtomically(path.join(configDir, 'nginx.conf'), nginxConfig(app));
    cmd = ['nginx', '-c', '/etc/gangway-edge/nginx.conf', '-g', 'daemon off;'];
  } else {
    writeAtomically(path.join(configDir, `caddy-g${generation}.json`), JSON.stringify(caddyConfig(app, adminPort), null, 2));
    cmd = ['caddy', 'run', '--config', `/etc/gangway-edge/caddy-g${generation}.json`];
  }
  const c = await docker.createContainer({
    name: `bench-edge-${suffix}-${edge}-g${generation}`,
    Image: edge === 'nginx' ? NGINX_IMAGE : CADDY_IMAGE,
    Cmd: cmd,
    // Graceful stops: nginx finishes requests in flight on SIGQUIT, Caddy on SIGTERM (grace_period).
    StopSignal: edge === 'nginx' ? 'SIGQUIT' : 'SIGTERM',
    Labels: { [LABEL]: 'edge' },
    HostConfig: { NetworkMode: 'host', Binds: [`${configDir}:/etc/gangway-edge:ro`] },
  });
  created.add(c.id);
  await c.start();
  try {
    await waitFor(`${edge} generation ${generation} listening on ${port}`, 20_000, async () => ((await listeners(port)) > before ? true : undefined), 20);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${await logsOf(c.id)}`, { cause: error });
  }
  return { edge, id: c.id, generation, ...(edge === 'caddy' ? { adminPort } : {}) };
}

/**
 * Points an edge at `app`: nginx `-t` then `-s reload` (two docker execs); Caddy `POST /load` with the whole
 * config (validated and applied in one call). Returns how long validating and applying took.
 */
async function switchEdge(e: EdgeContainer, app: App): Promise<{ validateMs: number; applyMs: number }> {
  const started = performance.now();
  if (e.edge === 'nginx') {
    writeAtomically(path.join(configDir, 'nginx.conf'), nginxConfig(app));
    const exec = ['-H', `unix://${target.dockerSocket}`, 'exec', e.id, 'nginx', '-c', '/etc/gangway-edge/nginx.conf'];
    await runAsync('docker', [...exec, '-t', '-q']);
    const validated = performance.now();
    await runAsync('docker', [...exec, '-s', 'reload']);
    return { validateMs: validated - started, applyMs: performance.now() - validated };
  }
  const config = JSON.stringify(caddyConfig(app, e.adminPort ?? 0));
  writeAtomically(path.join(configDir, `caddy-g${e.generation}.json`), config);
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: e.adminPort, path: '/load', method: 'POST', agent: false, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(config);
  });
  if (status !== 200) throw new Error(`caddy POST /load answered ${status}`);
  return { validateMs: 0, applyMs: performance.now() - started };
}

async function stopContainer(id: string, graceSeconds: number): Promise<void> {
  await docker.getContainer(id).stop({ t: graceSeconds }).catch((e: unknown) => {
    // 304: already stopped.
    if ((e as { statusCode?: number }).statusCode !== 304) throw e;
  });
}

interface Memory {
  /** usage minus inactive file pages: the figure `docker stats` shows on cgroup v1. */
  usageMiB: number;
  rssMiB: number;
}

async function memoryOf(id: string): Promise<Memory> {
  const s = await docker.getContainer(id).stats({ stream: false, 'one-shot': true });
  const m = s.memory_stats;
  const mib = (b: number): number => round1(b / 1024 / 1024);
  return { usageMiB: mib(m.usage - (m.stats.total_inactive_file ?? 0)), rssMiB: mib(m.stats.total_rss ?? m.stats.rss ?? 0) };
}

/** CPU time the container has used so far, in ms (cgroup cpuacct). */
async function cpuMsOf(id: string): Promise<number> {
  const s = await docker.getContainer(id).stats({ stream: false, 'one-shot': true });
  return s.cpu_stats.cpu_usage.total_usage / 1e6;
}

// ── Load ──
function classify(samples: LoadSample[]): { failed: number; resets: number; refused: number; http5xx: number; timeouts: number; resent: number } {
  const failed = samples.filter((s) => s.error);
  return {
    failed: failed.length,
    resets: failed.filter((s) => /ECONNRESET|EPIPE|socket hang up/.test(s.error ?? '')).length,
    refused: failed.filter((s) => (s.error ?? '').includes('ECONNREFUSED')).length,
    http5xx: failed.filter((s) => /^HTTP 5/.test(s.error ?? '')).length,
    timeouts: failed.filter((s) => (s.error ?? '').includes('timeout')).length,
    resent: samples.filter((s) => s.resent).length,
  };
}

/** A bounded load of `requests` requests; `during` runs once it is half-way (a memory sample). */
async function boundedLoad<T>(host: string, port: number, requests: number, during: () => Promise<T>): Promise<{ samples: LoadSample[]; during: T }> {
  const load = startLoad({ host, port, path: '/', rate: RATE, clients: CLIENTS, maxRequests: requests, maxMs: LOAD_MAX_MS });
  await waitFor('half the requests', LOAD_MAX_MS, () => (load.samples.length >= requests / 2 || load.now() > LOAD_MAX_MS ? true : undefined), 20);
  const value = await during();
  await waitFor('every request', LOAD_MAX_MS + 10_000, () => (load.samples.length >= requests || load.now() > LOAD_MAX_MS ? true : undefined), 20);
  return { samples: await load.stop(), during: value };
}

/** Runs `step` under the steady load on `port` (SETTLE_MS of load before and after); the window is the step + SETTLE_MS. */
interface LoadShape {
  rate: number;
  clients: number;
  /** Share of clients on kept-alive connections; by default half. */
  keepAliveShare?: number;
}
const steady: LoadShape = { rate: RATE, clients: CLIENTS };
const churn: LoadShape = { rate: CHURN_RATE, clients: CHURN_CLIENTS, keepAliveShare: 0 };
const churnNote = `churn ${CHURN_RATE}/s`;

async function underLoad(port: number, step: (mark: () => number) => Promise<Record<string, number>>, shape = steady): Promise<{ samples: LoadSample[]; from: number; to: number; marks: Record<string, number> }> {
  const load = startLoad({ host: target.address, port, path: '/', rate: shape.rate, clients: shape.clients, maxMs: LOAD_MAX_MS, ...(shape.keepAliveShare === undefined ? {} : { keepAliveShare: shape.keepAliveShare }) });
  try {
    await sleep(SETTLE_MS);
    const from = load.now();
    const marks = await step(() => load.now() - from);
    const to = load.now();
    await sleep(SETTLE_MS);
    const samples = (await load.stop()).filter((s) => s.at >= from && s.at < to + SETTLE_MS);
    return { samples, from, to, marks };
  } finally {
    await load.stop();
  }
}

// ── The run ──
const results: Record<string, unknown> = {};
const migrateReqFile = '/proc/sys/net/ipv4/tcp_migrate_req';
const migrateReqBefore = fs.readFileSync(migrateReqFile, 'utf8').trim();
const edges: Partial<Record<Edge, EdgeContainer>> = {};
const edgeOf = (edge: Edge): EdgeContainer => {
  const e = edges[edge];
  if (!e) throw new Error(`no ${edge} edge running`);
  return e;
};
const portOf = (edge: Edge): number => (edge === 'nginx' ? NGINX_PORT : CADDY_PORT);

try {
  // 0. Preflight: our ports are free in the target's namespace, the images are there.
  for (const port of [NGINX_PORT, CADDY_PORT, ...CADDY_ADMIN_PORTS]) {
    if ((await listeners(port)) > 0) throw new Error(`port ${port} is already taken in ${target.netns} (ss -ltn): set BENCH_NGINX_PORT / BENCH_CADDY_PORT`);
  }
  for (const image of [NGINX_IMAGE, CADDY_IMAGE, APP_IMAGE]) await docker.getImage(image).inspect();
  const versions = { nginx: (await runAsync('docker', ['-H', `unix://${target.dockerSocket}`, 'run', '--rm', NGINX_IMAGE, 'nginx', '-v'])).stderr.trim(), caddy: (await runAsync('docker', ['-H', `unix://${target.dockerSocket}`, 'run', '--rm', CADDY_IMAGE, 'caddy', 'version'])).stdout.trim() };
  console.log(`target ${target.name} (${target.address}), load from inside its namespace: ${RATE} req/s from ${CLIENTS} clients (half keep-alive); ${versions.nginx}, caddy ${versions.caddy}; tcp_migrate_req=${migrateReqBefore}`);
  results['versions'] = versions;

  // 1. One app, both edges in front of it; idle memory.
  const shared = await startApp('v1');
  edges.nginx = await startEdge('nginx', shared);
  edges.caddy = await startEdge('caddy', shared);
  for (const edge of EDGES) await waitForVersion(target.address, portOf(edge), 'v1');
  await sleep(5000);
  const memory: Record<Edge | 'app', { idle: Memory; underLoad: Memory[] }> = {
    nginx: { idle: await memoryOf(edgeOf('nginx').id), underLoad: [] },
    caddy: { idle: await memoryOf(edgeOf('caddy').id), underLoad: [] },
    app: { idle: await memoryOf(shared.id), underLoad: [] },
  };
  endPhase('setup: app, both edges, idle memory');

  // 2. Latency rounds: direct, nginx, caddy in turn (order rotated each round), same container behind all three.
  //    Kept-alive and new-connection clients apart: through an edge, the app sees the edge's kept-alive upstream
  //    connections only, so a client's new connection costs the edge, not the app.
  type Path = 'direct' | Edge;
  type Conn = 'kept-alive' | 'new connection';
  const paths: Path[] = ['direct', 'nginx', 'caddy'];
  const conns: Conn[] = ['kept-alive', 'new connection'];
  interface LatencyRound {
    p50: Record<Conn, number>;
    p99: Record<Conn, number>;
    /** CPU per 1000 requests: the edge container's and the app container's. */
    edgeCpuMs: number;
    appCpuMs: number;
  }
  const latency: Record<Path, { samples: LoadSample[]; rounds: LatencyRound[] }> = {
    direct: { samples: [], rounds: [] },
    nginx: { samples: [], rounds: [] },
    caddy: { samples: [], rounds: [] },
  };
  const ofConn = (samples: LoadSample[], c: Conn): LoadSample[] => samples.filter((x) => x.keepAlive === (c === 'kept-alive'));
  // Warm-up, not counted: the load generator's JIT, the edges' upstream connections, the app's.
  for (const p of paths) await boundedLoad(p === 'direct' ? shared.ip : target.address, p === 'direct' ? 8080 : portOf(p), 300, () => Promise.resolve());
  for (let r = 0; r < LATENCY_ROUNDS; r++) {
    for (let i = 0; i < paths.length; i++) {
      const p = paths[(i + r) % paths.length] as Path;
      const host = p === 'direct' ? shared.ip : target.address;
      const port = p === 'direct' ? 8080 : portOf(p);
      const id = p === 'direct' ? shared.id : edgeOf(p).id;
      const [edgeBefore, appBefore] = [p === 'direct' ? 0 : await cpuMsOf(id), await cpuMsOf(shared.id)];
      const { samples, during } = await boundedLoad(host, port, LATENCY_REQUESTS, () => memoryOf(id));
      const per1000 = (ms: number): number => round1(ms * (1000 / samples.length));
      const edgeCpuMs = p === 'direct' ? 0 : per1000((await cpuMsOf(id)) - edgeBefore);
      const appCpuMs = per1000((await cpuMsOf(shared.id)) - appBefore);
      memory[p === 'direct' ? 'app' : p].underLoad.push(during);
      const kept = summarize(ofConn(samples, 'kept-alive'));
      const fresh = summarize(ofConn(samples, 'new connection'));
      latency[p].samples.push(...samples);
      latency[p].rounds.push({ p50: { 'kept-alive': kept.p50, 'new connection': fresh.p50 }, p99: { 'kept-alive': kept.p99, 'new connection': fresh.p99 }, edgeCpuMs, appCpuMs });
      const failed = kept.failed + fresh.failed;
      if (failed > 0) console.log(`  latency round ${r + 1} ${p}: ${failed} failed (${Object.keys({ ...kept.errors, ...fresh.errors }).join(', ')})`);
    }
  }
  const latencyRows = paths.flatMap((p) =>
    conns.map((c) => {
      const s = summarize(ofConn(latency[p].samples, c));
      const direct = latency.direct.rounds;
      // Median over rounds of (this path − direct) in the same round: the machine's drift cancels out.
      const overhead = (k: 'p50' | 'p99'): number => round1(median(latency[p].rounds.map((x, i) => x[k][c] - (direct[i]?.[k][c] ?? 0))));
      return {
        path: p,
        connections: c,
        requests: s.total,
        failed: s.failed,
        p50: s.p50,
        p99: s.p99,
        max: s.max,
        p50OverheadMs: overhead('p50'),
        p99OverheadMs: overhead('p99'),
        rounds: latency[p].rounds.map((x) => ({ p50: x.p50[c], p99: x.p99[c] })),
      };
    }),
  );
  const cpuRows = paths.map((p) => ({
    path: p,
    edgeCpuMsPer1000: median(latency[p].rounds.map((x) => x.edgeCpuMs)),
    appCpuMsPer1000: median(latency[p].rounds.map((x) => x.appCpuMs)),
    rounds: latency[p].rounds.map((x) => ({ edge: x.edgeCpuMs, app: x.appCpuMs })),
  }));
  results['cpu'] = cpuRows;
  results['latency'] = latencyRows;
  const memoryRows = (['nginx', 'caddy', 'app'] as const).map((k) => ({
    container: k === 'app' ? 'app (node, for scale)' : k,
    idle: memory[k].idle,
    underLoadMax: { usageMiB: Math.max(...memory[k].underLoad.map((m) => m.usageMiB)), rssMiB: Math.max(...memory[k].underLoad.map((m) => m.rssMiB)) },
    underLoad: memory[k].underLoad,
  }));
  results['memory'] = memoryRows;
  endPhase(`latency: ${LATENCY_ROUNDS} rounds × ${paths.length} paths × ${LATENCY_REQUESTS} requests`);

  // 3. Upstream switch under load: each edge gets an app of its own, then v(n) → v(n+1) in interleaved rounds.
  const current: Record<Edge, App> = { nginx: await startApp('n1'), caddy: await startApp('c1') };
  for (const edge of EDGES) {
    await switchEdge(edgeOf(edge), current[edge]);
    await waitForVersion(target.address, portOf(edge), current[edge].version);
  }
  await remove(shared.id);
  const switches: Array<Record<string, unknown>> = [];
  for (let r = 0; r < SWITCH_ROUNDS; r++) {
    for (const edge of r % 2 === 0 ? EDGES : [...EDGES].reverse()) {
      const old = current[edge];
      const next = await startApp(`${edge[0]}${r + 2}`);
      const w = await underLoad(portOf(edge), async (mark) => {
        const { validateMs, applyMs } = await switchEdge(edgeOf(edge), next);
        const switched = mark();
        // Blue-green: the old container keeps running until the switch has settled, then stops gracefully.
        await sleep(1000);
        const stopFrom = mark();
        await stopContainer(old.id, 10);
        return { validateMs, applyMs, switched, stopFrom, stopped: mark() };
      });
      await remove(old.id);
      current[edge] = next;
      const answered = (s: LoadSample): number => s.at + s.ms - w.from;
      const oldAnswers = w.samples.filter((s) => s.version === old.version).map(answered);
      const newAnswers = w.samples.filter((s) => s.version === next.version).map(answered);
      const s = summarize(w.samples);
      switches.push({
        edge,
        round: r + 1,
        from: old.version,
        to: next.version,
        total: s.total,
        ...classify(w.samples),
        p99: s.p99,
        max: s.max,
        switchCommandMs: Math.round(w.marks['switched'] ?? 0),
        validateMs: Math.round(w.marks['validateMs'] ?? 0),
        applyMs: Math.round(w.marks['applyMs'] ?? 0),
        // From the start of the switch command; AfterApply: from the start of the apply step (reload / POST /load).
        firstNewAnswerMs: newAnswers.length > 0 ? Math.round(Math.min(...newAnswers)) : null,
        lastOldAnswerMs: oldAnswers.length > 0 ? Math.round(Math.max(...oldAnswers)) : 0,
        lastOldAnswerAfterApplyMs: oldAnswers.length > 0 ? Math.round(Math.max(0, Math.max(...oldAnswers) - (w.marks['validateMs'] ?? 0))) : 0,
        oldStopMs: Math.round((w.marks['stopped'] ?? 0) - (w.marks['stopFrom'] ?? 0)),
        errors: s.errors,
        versions: s.versions,
      });
    }
  }
  results['switch'] = switches;
  endPhase(`upstream switch: ${SWITCH_ROUNDS} rounds × 2 edges`);

  // 4. Edge upgrade under load, in interleaved rounds: reuseport (+ tcp_migrate_req 1 / 0), the naive way, and
  //    reuseport again under connection churn.
  const modes = [
    { mode: 'reuseport, tcp_migrate_req=1', migrateReq: '1', naive: false, shape: steady },
    { mode: 'reuseport, tcp_migrate_req=0', migrateReq: '0', naive: false, shape: steady },
    { mode: 'naive: stop, then start', migrateReq: '1', naive: true, shape: steady },
    { mode: `reuseport, migrate_req=1, ${churnNote}`, migrateReq: '1', naive: false, shape: churn },
    { mode: `reuseport, migrate_req=0, ${churnNote}`, migrateReq: '0', naive: false, shape: churn },
  ];
  const upgrades: Array<Record<string, unknown>> = [];
  for (let r = 0; r < UPGRADE_ROUNDS; r++) {
    for (const { mode, migrateReq, naive, shape } of modes) {
      for (const edge of r % 2 === 0 ? EDGES : [...EDGES].reverse()) {
        fs.writeFileSync(migrateReqFile, migrateReq);
        const old = edgeOf(edge);
        const port = portOf(edge);
        let replacement: EdgeContainer | undefined;
        const w = await underLoad(port, async (mark): Promise<Record<string, number>> => {
          if (naive) {
            await stopContainer(old.id, 20);
            const stopped = mark();
            replacement = await startEdge(edge, current[edge]);
            await waitFor(`the new ${edge} answering`, 20_000, async () => ((await probe(target.address, port)).status === 200 ? true : undefined), 10);
            // gapMs: from the old edge gone until the new one answered (nothing listens for most of it).
            return { oldStopMs: stopped, gapMs: mark() - stopped };
          }
          replacement = await startEdge(edge, current[edge]);
          const up = mark();
          // Both listen now; the kernel spreads new connections over both groups' sockets.
          await sleep(1000);
          const stopFrom = mark();
          await stopContainer(old.id, 20);
          return { newUpMs: up, oldStopMs: mark() - stopFrom };
        }, shape);
        await remove(old.id);
        if (!replacement) throw new Error(`no new ${edge} edge`);
        edges[edge] = replacement;
        const s = summarize(w.samples);
        upgrades.push({ edge, mode, round: r + 1, rate: shape.rate, clients: shape.clients, keepAliveShare: shape.keepAliveShare ?? 0.5, achievedRate: s.rate, total: s.total, ...classify(w.samples), p99: s.p99, max: s.max, stepMs: Math.round(w.to - w.from), ...Object.fromEntries(Object.entries(w.marks).map(([k, v]) => [k, Math.round(v)])), errors: s.errors, firstFailures: s.firstFailures });
        console.log(`  upgrade ${edge.padEnd(5)} ${mode.padEnd(40)} round ${r + 1}: ${s.failed} failed of ${s.total}${s.failed > 0 ? ` (${Object.entries(s.errors).map(([k, v]) => `${v}× ${k}`).join(', ')})` : ''}`);
      }
    }
  }
  results['upgrade'] = upgrades;
  endPhase(`edge upgrade: ${UPGRADE_ROUNDS} rounds × ${modes.length} ways × 2 edges`);
} finally {
  fs.writeFileSync(migrateReqFile, migrateReqBefore);
  for (const id of [...created]) await remove(id);
  fs.rmSync(configDir, { recursive: true, force: true });
}

// ── Report ──
const pad = (s: unknown, n: number): string => String(s).padEnd(n);
const table = (head: string[], widths: number[], rows: unknown[][]): void => {
  console.log(`| ${head.map((h, i) => pad(h, widths[i] ?? 8)).join(' | ')} |`);
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.map((c, i) => pad(c, widths[i] ?? 8)).join(' | ')} |`);
};
type Lat = { path: string; connections: string; requests: number; failed: number; p50: number; p99: number; p50OverheadMs: number; p99OverheadMs: number };
type Cpu = { path: string; edgeCpuMsPer1000: number; appCpuMsPer1000: number };
type Mem = { container: string; idle: Memory; underLoadMax: Memory };
type Sw = { edge: Edge; total: number; failed: number; resets: number; resent: number; p99: number; switchCommandMs: number; validateMs: number; applyMs: number; lastOldAnswerMs: number; lastOldAnswerAfterApplyMs: number };
type Up = { edge: Edge; mode: string; total: number; failed: number; resets: number; refused: number; resent: number; p99: number; max: number; stepMs: number; gapMs?: number };
const sum = <T>(xs: T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);

console.log(`\nphases`);
table(['phase', 'took'], [58, 8], Object.entries(phasesMs).map(([k, v]) => [k, `${(v / 1000).toFixed(1)} s`]));

console.log(`\nlatency (${LATENCY_ROUNDS} rounds × ${LATENCY_REQUESTS} requests per path, ${RATE} req/s, ${CLIENTS} clients, half keep-alive; overhead = median over rounds of edge − direct in the same round)`);
table(['path', 'client connections', 'requests', 'failed', 'p50 ms', 'p99 ms', 'p50 overhead', 'p99 overhead'], [8, 18, 8, 6, 6, 6, 12, 12], (results['latency'] as Lat[]).map((l) => [l.path, l.connections, l.requests, l.failed, l.p50, l.p99, l.path === 'direct' ? '' : `${l.p50OverheadMs} ms`, l.path === 'direct' ? '' : `${l.p99OverheadMs} ms`]));
console.log('\nCPU per 1000 requests of that load (cgroup cpuacct, median over rounds): the edge container, the app container behind it');
table(['path', 'edge CPU ms', 'app CPU ms', 'together'], [8, 11, 10, 8], (results['cpu'] as Cpu[]).map((c) => [c.path, c.path === 'direct' ? '' : c.edgeCpuMsPer1000, c.appCpuMsPer1000, round1(c.edgeCpuMsPer1000 + c.appCpuMsPer1000)]));

console.log(`\nmemory (cgroup: usage − inactive file, as docker stats; and RSS), idle after start and the highest sample under the latency load`);
table(['container', 'idle MiB', 'idle RSS', 'load MiB', 'load RSS'], [22, 8, 8, 8, 8], (results['memory'] as Mem[]).map((m) => [m.container, m.idle.usageMiB, m.idle.rssMiB, m.underLoadMax.usageMiB, m.underLoadMax.rssMiB]));

const sw = results['switch'] as Sw[];
console.log(`\nupstream switch v(n) → v(n+1) under load (${SWITCH_ROUNDS} rounds each; window = switch + 1 s + graceful stop of the old app + ${SETTLE_MS / 1000} s)`);
console.log('(validate: nginx -t through docker exec; apply: nginx -s reload through docker exec, or Caddy POST /load, which validates too; last old answer: the last answer from the old app, counted from the start of apply)');
table(['edge', 'failed / total', 'resets', 'resent', 'p99 ms', 'validate ms', 'apply ms', 'last old answer ms (max)'], [5, 14, 6, 6, 6, 11, 8, 24], EDGES.map((e) => {
  const rows = sw.filter((x) => x.edge === e);
  return [e, `${sum(rows, (x) => x.failed)} / ${sum(rows, (x) => x.total)}`, sum(rows, (x) => x.resets), sum(rows, (x) => x.resent), Math.max(...rows.map((x) => x.p99)), median(rows.map((x) => x.validateMs)), median(rows.map((x) => x.applyMs)), Math.max(...rows.map((x) => x.lastOldAnswerAfterApplyMs))];
}));

const up = results['upgrade'] as Up[];
console.log(`\nedge upgrade under load (${UPGRADE_ROUNDS} rounds each; window = the step + ${SETTLE_MS / 1000} s; steady: ${RATE}/s from ${CLIENTS} clients, half keep-alive; ${churnNote}: ${CHURN_CLIENTS} clients, a new connection per request; resent = a kept-alive connection closed under a request, sent again once as clients do)`);
table(['edge', 'way', 'failed / total', 'resets', 'refused', 'resent', 'p99 ms', 'max ms', 'step s (median)', 'gap ms (max)'], [5, 40, 14, 6, 7, 6, 6, 6, 15, 12], EDGES.flatMap((e) =>
  [...new Set(up.map((u) => u.mode))].map((mode) => {
    const rows = up.filter((u) => u.edge === e && u.mode === mode);
    const gaps = rows.flatMap((x) => (x.gapMs === undefined ? [] : [x.gapMs]));
    return [e, mode, `${sum(rows, (x) => x.failed)} / ${sum(rows, (x) => x.total)}`, sum(rows, (x) => x.resets), sum(rows, (x) => x.refused), sum(rows, (x) => x.resent), Math.max(...rows.map((x) => x.p99)), Math.max(...rows.map((x) => x.max)), (median(rows.map((x) => x.stepMs)) / 1000).toFixed(1), gaps.length > 0 ? Math.max(...gaps) : ''];
  }),
));

fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
fs.writeFileSync(RESULTS, `${JSON.stringify({ benchmark: 'edge: nginx vs Caddy (issue #18)', at: new Date().toISOString(), target: target.name, loadFrom: `inside ${target.netns}`, rate: RATE, clients: CLIENTS, ports: { nginx: NGINX_PORT, caddy: CADDY_PORT, caddyAdmin: CADDY_ADMIN_PORTS }, tcpMigrateReqBefore: migrateReqBefore, phasesMs, ...results }, null, 2)}\n`);
console.log(`\nwrote ${RESULTS}`);
process.exit(0);
