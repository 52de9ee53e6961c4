// Where every part of the lab lives: names, paths and addresses, all derived here so that
// nothing else hard-codes them. Every address sits inside 198.18.0.0/15 (RFC 2544).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** lab/ in the repository. */
export const labDir = fileURLToPath(new URL('..', import.meta.url));
/** Small files: configs, keys, pidfiles, logs, lab.json (gitignored). */
export const stateDir = process.env['GANGWAY_LAB_STATE_DIR'] ?? path.join(labDir, '.state');
/** Sockets and engine exec-roots (short paths: unix sockets are limited to 108 bytes). */
export const runDir = '/run/gangway-lab';
/** Engine data-roots: big, kept out of the repository so no tool walks them. */
export const dataDir = '/var/lib/gangway-lab';
/**
 * Engines' data-roots and the registry's storage go on a tmpfs when the machine has the memory for it:
 * imports are faster and `lab:down` does not spend half a minute in rm -rf. GANGWAY_LAB_TMPFS=0 turns it off.
 */
export const dataTmpfsSize = process.env['GANGWAY_LAB_TMPFS_SIZE'] ?? '12g';
export function dataOnTmpfs(): boolean {
  const flag = process.env['GANGWAY_LAB_TMPFS'];
  if (flag === '0' || flag === 'false') return false;
  if (flag === '1' || flag === 'true') return true;
  const total = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return Number(total ?? 0) >= 16 * 1024 * 1024;
}
/** Base-image rootfs tarballs keyed by recipe; survives `lab:down`. */
export const cacheDir = process.env['GANGWAY_LAB_CACHE_DIR'] ?? '/var/cache/gangway-lab';

export const labStateFile = path.join(stateDir, 'lab.json');
export const ledgerFile = path.join(stateDir, 'ledger.json');
export const pidDir = path.join(stateDir, 'pids');
export const logDir = path.join(stateDir, 'logs');
export const caDir = path.join(stateDir, 'ca');

export const registryPort = 5000;
export const registryUser = 'gangway';
export const vpnPort = 1194;
export const deployUser = 'deploy';

export interface RunnerPlan {
  bridge: string;
  bridgeCidr: string;
  bridgeSubnet: string;
  addressPool: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  cgroupParent: string;
  configDir: string;
}

export const runnerPlan: RunnerPlan = {
  bridge: 'gw-run0',
  bridgeCidr: '198.18.1.1/24',
  bridgeSubnet: '198.18.1.0/24',
  addressPool: '198.18.16.0/20',
  dataRoot: path.join(dataDir, 'runner'),
  execRoot: path.join(runDir, 'runner', 'exec'),
  socket: path.join(runDir, 'runner', 'docker.sock'),
  cgroupParent: 'gangway-lab-runner',
  configDir: path.join(stateDir, 'runner'),
};

/**
 * The lab LAN: the private network real servers share (workers on a GPU host reach Redis on the web host
 * over it). A bridge in the root namespace with NO address of its own, and a second veth per target whose
 * namespace end has `198.18.100.(index+1)/24`. The root namespace gets `unreachable 198.18.100.0/24`: the
 * runner still reaches the targets only through their VPNs. 198.18.100.0/24 sits in a gap no other part of
 * the lab uses (veths 198.18.0.0/24, runner 198.18.1.0/24 + 198.18.16.0/20, target N's engine
 * 198.18.(32N).0/24 + 198.18.(32N+16).0/20, VPNs 198.19.0.0/16).
 */
export interface LanPlan {
  bridge: string;
  /** First three octets of the /24. */
  prefix: string;
  subnet: string;
  prefixLength: number;
}

export const lanPlan: LanPlan = {
  bridge: 'gw-lan',
  prefix: '198.18.100',
  subnet: '198.18.100.0/24',
  prefixLength: 24,
};

/** One target host: a network namespace behind its own OpenVPN server. */
export interface TargetPlan {
  index: number;
  /** Network namespace name, also the target's name in lab.json. */
  name: string;
  vethHost: string;
  vethNs: string;
  /** Host side of the veth (the target's view of "the internet"; also the registry's address). */
  hostAddress: string;
  /** Namespace side of the veth: where OpenVPN listens, nothing else is accepted there. */
  nsAddress: string;
  vethPrefix: number;
  vpnNetwork: string;
  vpnNetmask: string;
  /** The VPN server's tun address: sshd and published ports live here. */
  vpnServerAddress: string;
  vpnPort: number;
  dockerBip: string;
  dockerPool: string;
  dataRoot: string;
  execRoot: string;
  socket: string;
  cgroupParent: string;
  configDir: string;
  /** Root-owned directory for sshd's authorized_keys (StrictModes checks every parent). */
  sshRunDir: string;
  /** The lab LAN (see `lanPlan`): the host end of this target's second veth, a port of the LAN bridge (no address). */
  lanHost: string;
  /** ...and its end in the namespace, the target's second NIC (like a real server's private interface). */
  lanNs: string;
  /** The target's address on the lab LAN (`lanPlan.subnet`): other targets reach it here, the root namespace never. */
  lanAddress: string;
  /**
   * When set, the engine's data-root is a filesystem of its own this size (an ext4 image on a
   * loop device), so a test can fill the target's disk without touching the machine's.
   */
  dataRootSize?: string;
}

/** The small disk of the target the chaos suite fills (issue #10: disk nearly full). */
export const SMALL_DISK_TARGET = 3;
export const smallDiskSize = process.env['GANGWAY_LAB_SMALL_DISK'] ?? '3G';

/** Addresses for target `index` (1-based, up to 7): veth /30s in 198.18.0.0/24, a VPN /24 each, docker ranges apart. */
export function targetPlan(index: number): TargetPlan {
  if (!Number.isInteger(index) || index < 1 || index > 7) throw new Error(`target index ${index} is out of range 1..7`);
  const name = `gw-target${index}`;
  const base = 4 * (index - 1);
  const vpnNet = index - 1;
  const dockerBase = 32 * index;
  return {
    index,
    name,
    vethHost: `gw-t${index}-host`,
    vethNs: `gw-t${index}-ns`,
    hostAddress: `198.18.0.${base + 1}`,
    nsAddress: `198.18.0.${base + 2}`,
    vethPrefix: 30,
    vpnNetwork: `198.19.${vpnNet}.0`,
    vpnNetmask: '255.255.255.0',
    vpnServerAddress: `198.19.${vpnNet}.1`,
    vpnPort,
    dockerBip: `198.18.${dockerBase}.1/24`,
    dockerPool: `198.18.${dockerBase + 16}.0/20`,
    dataRoot: path.join(dataDir, name),
    execRoot: path.join(runDir, name, 'exec'),
    socket: path.join(runDir, name, 'docker.sock'),
    cgroupParent: `gangway-lab-${name}`,
    configDir: path.join(stateDir, 'targets', name),
    sshRunDir: path.join(runDir, name, 'ssh'),
    lanHost: `gw-t${index}-lan`,
    lanNs: 'lan0',
    lanAddress: `${lanPlan.prefix}.${index + 1}`,
    ...(index === SMALL_DISK_TARGET ? { dataRootSize: smallDiskSize } : {}),
  };
}

/**
 * The targets `lab:up` builds: three unless GANGWAY_LAB_TARGETS says otherwise (the second is
 * for multi-host deploys and Swarm, the third, with a small disk of its own, for the chaos
 * suite's faults; `target` in lab.json stays targets[0]).
 */
export function plannedTargets(): TargetPlan[] {
  const count = Number(process.env['GANGWAY_LAB_TARGETS'] ?? '3');
  if (!Number.isInteger(count) || count < 1 || count > 7) throw new Error(`GANGWAY_LAB_TARGETS=${process.env['GANGWAY_LAB_TARGETS']} is not a count from 1 to 7`);
  return Array.from({ length: count }, (_, i) => targetPlan(i + 1));
}

/** The registry listens on the first target's host-side veth address; every target routes to it. */
export function registryAddress(): string {
  return targetPlan(1).hostAddress;
}

export function registryHost(): string {
  return `${registryAddress()}:${registryPort}`;
}

export function dockerCertsDir(): string {
  return path.join('/etc/docker/certs.d', registryHost());
}
