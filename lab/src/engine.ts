// Docker engines (dockerd from Debian's docker.io): started with their own roots, socket and pidfile,
// torn down by pid after their containers, networks, shims, mounts and cgroups are gone.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { run, waitFor } from './exec.ts';
import { makeDir, note } from './ledger.ts';
import type { RecordedProcess } from './ledger.ts';
import { inNetns } from './net.ts';
import { assertRunning, processesNaming, startDaemon, stopAll, stopProcess, processStartTime } from './processes.ts';
import { pidDir } from './plan.ts';
import { cgroupDirsEverywhere, cgroupPids, removeCgroupTree } from './cgroups.ts';

export interface EngineSpec {
  name: string;
  /** Start inside this network namespace (nsenter --net, never `ip netns exec`: see LAB.md). */
  netns?: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  cgroupParent: string;
  configDir: string;
  /** Network flags: --bip or --bridge, --default-address-pool, --iptables, --ip. */
  networkArgs: string[];
}

export interface EngineResponse {
  status: number;
  body: string;
}

/** One Engine API request over the unix socket (used for readiness and teardown; no CLI needed). */
export function engineRequest(socket: string, method: string, urlPath: string, timeoutMs = 5000): Promise<EngineResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function enginePing(socket: string): Promise<boolean> {
  try {
    const r = await engineRequest(socket, 'GET', '/_ping', 2000);
    return r.status === 200 && r.body === 'OK';
  } catch {
    return false;
  }
}

export async function startEngine(spec: EngineSpec): Promise<RecordedProcess> {
  makeDir(spec.dataRoot, 0o710);
  makeDir(spec.execRoot, 0o700);
  makeDir(path.dirname(spec.socket));
  makeDir(spec.configDir);
  note((l) => { if (!l.cgroupParents.includes(spec.cgroupParent)) l.cgroupParents.push(spec.cgroupParent); });
  // The lab's own config file: a host /etc/docker/daemon.json must not leak into the lab's engines, and
  // dockerd 20.10 would otherwise write /etc/docker/key.json (this key exists only in the config file).
  const configFile = path.join(spec.configDir, 'daemon.json');
  fs.writeFileSync(configFile, `${JSON.stringify({ 'deprecated-key-path': path.join(spec.configDir, 'key.json') }, null, 2)}\n`);
  const pidFile = path.join(pidDir, `${spec.name}.pid`);
  fs.mkdirSync(pidDir, { recursive: true });
  const args = [
    '--data-root', spec.dataRoot,
    '--exec-root', spec.execRoot,
    '-H', `unix://${spec.socket}`,
    '--pidfile', pidFile,
    '--config-file', configFile,
    '--cgroup-parent', spec.cgroupParent,
    '--group', 'docker',
    '--storage-driver', 'overlay2',
    '--shutdown-timeout', '5',
    ...spec.networkArgs,
  ];
  const command = spec.netns ? inNetns(spec.netns, 'dockerd', args) : { cmd: 'dockerd', args };
  const proc = startDaemon({ name: spec.name, cmd: command.cmd, args: command.args, pidFile, dockerSocket: spec.socket, execRoot: spec.execRoot });
  await waitFor(`${spec.name} to answer on ${spec.socket}`, 60_000, async () => {
    assertRunning(proc);
    return (await enginePing(spec.socket)) ? true : undefined;
  });
  return proc;
}

interface ContainerSummary {
  Id: string;
}

/** Remove every container and user network of a running engine (they are all the lab's). */
async function emptyEngine(socket: string): Promise<void> {
  if (!(await enginePing(socket))) return;
  const list = await engineRequest(socket, 'GET', '/containers/json?all=1');
  const containers = list.status === 200 ? (JSON.parse(list.body) as ContainerSummary[]) : [];
  await Promise.all(containers.map((c) => engineRequest(socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`, 30_000).catch(() => undefined)));
  await engineRequest(socket, 'POST', '/networks/prune', 30_000).catch(() => undefined);
}

/** Kill what is left in the engine's cgroup parent (only its containers live there) and remove the dirs. */
export async function removeCgroupParent(parent: string): Promise<void> {
  const dirs = cgroupDirsEverywhere(parent);
  const pids = [...new Set(dirs.flatMap(cgroupPids))];
  await stopAll(pids.flatMap((pid) => { const startTime = processStartTime(pid); return startTime ? [{ pid, startTime }] : []; }), 3000);
  for (const d of dirs) removeCgroupTree(d);
}

/** Mount points at or below `dir` (overlay layers, netns bind mounts, shm), deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) run('umount', ['-l', m], { allowFailure: true });
}

export async function stopEngine(p: RecordedProcess): Promise<void> {
  if (p.dockerSocket && processStartTime(p.pid) === p.startTime) await emptyEngine(p.dockerSocket);
  await stopProcess(p, 20_000);
  // Shims re-parent to init, so they are not descendants of dockerd any more; each names its engine's
  // exec-root (a lab-only path) on its command line.
  if (p.execRoot) await stopAll(processesNaming(p.execRoot), 3000);
}
