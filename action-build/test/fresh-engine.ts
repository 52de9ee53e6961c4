// A "fresh runner engine" for cache tests and the cache benchmark: a second dockerd with an empty
// data root, its own exec-root, socket and pidfile under a temp dir, addresses in 198.18.0.0/15,
// stopped by the pid this process started. By default it has no bridge (a cached rebuild runs no
// container); `network: true` gives it its own bridge and a NAT rule (tagged, removed on stop) so that
// RUN steps can reach package registries: a truly cold build.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Docker from 'dockerode';

export interface FreshEngine {
  dockerHost: string;
  socket: string;
  docker: Docker;
  root: string;
  pid: number;
  stop(): Promise<void>;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

const BRIDGE = 'gw-bld0';
const BRIDGE_CIDR = '198.18.204.1/24';
const BRIDGE_SUBNET = '198.18.204.0/24';
const NAT_RULE = ['POSTROUTING', '-s', BRIDGE_SUBNET, '!', '-d', '198.18.0.0/15', '-m', 'comment', '--comment', 'gangway-build-fresh-engine', '-j', 'MASQUERADE'];

function addNetwork(): () => void {
  execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  try {
    execFileSync('ip', ['addr', 'add', BRIDGE_CIDR, 'dev', BRIDGE]);
    execFileSync('ip', ['link', 'set', BRIDGE, 'up']);
    execFileSync('iptables', ['-t', 'nat', '-A', ...NAT_RULE]);
  } catch (error) {
    execFileSync('ip', ['link', 'del', BRIDGE]);
    throw error;
  }
  return () => {
    try {
      execFileSync('iptables', ['-t', 'nat', '-D', ...NAT_RULE]);
    } finally {
      execFileSync('ip', ['link', 'del', BRIDGE]);
    }
  };
}

/** Starts an empty dockerd. `pool` is a /24-sized base inside 198.18.0.0/15 for any user network. */
export async function startFreshEngine(options: { pool?: string; network?: boolean } = {}): Promise<FreshEngine> {
  const removeNetwork = options.network ? addNetwork() : undefined;
  const root = mkdtempSync('/tmp/gw-build-engine-');
  const socket = path.join(root, 'docker.sock');
  const pidFile = path.join(root, 'docker.pid');
  const configFile = path.join(root, 'daemon.json');
  mkdirSync(path.join(root, 'data'), { recursive: true });
  mkdirSync(path.join(root, 'exec'), { recursive: true });
  writeFileSync(configFile, '{}\n');
  const log = openSync(path.join(root, 'dockerd.log'), 'a');
  const args = [
    '--data-root', path.join(root, 'data'),
    '--exec-root', path.join(root, 'exec'),
    '-H', `unix://${socket}`,
    '--pidfile', pidFile,
    '--config-file', configFile,
    '--storage-driver', 'overlay2',
    '--bridge', options.network ? BRIDGE : 'none',
    '--iptables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--default-address-pool', `base=${options.pool ?? '198.18.200.0/22'},size=24`,
    '--shutdown-timeout', '5',
  ];
  const child: ChildProcess = spawn('dockerd', args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error('dockerd did not start');
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!(await ping(socket))) {
    if (!alive(pid) || Date.now() > deadline) {
      const tail = existsSync(path.join(root, 'dockerd.log')) ? readFileSync(path.join(root, 'dockerd.log'), 'utf8').split('\n').slice(-20).join('\n') : '';
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      removeNetwork?.();
      throw new Error(`the fresh dockerd did not answer on ${socket}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const docker = new Docker({ socketPath: socket });
  return {
    dockerHost: `unix://${socket}`,
    socket,
    docker,
    root,
    pid,
    async stop() {
      if (alive(pid)) {
        process.kill(pid, 'SIGTERM');
        const until = Date.now() + 30_000;
        while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      for (const m of mountsUnder(root)) spawn('umount', ['-l', m], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 200));
      rmSync(root, { recursive: true, force: true });
      removeNetwork?.();
    },
  };
}

/** `docker save | docker load` between two engines, through the API. */
export async function copyImage(from: Docker, to: Docker, name: string): Promise<void> {
  const tar = await from.getImage(name).get();
  const loaded = await to.loadImage(tar);
  await new Promise<void>((resolve, reject) => {
    to.modem.followProgress(loaded, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}
