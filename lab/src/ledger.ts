// The ledger: everything the lab has made, written down BEFORE (or right after) making it, so that
// `lab:down` undoes exactly that, even after a crash half-way through `lab:up`.
import fs from 'node:fs';
import path from 'node:path';
import { ledgerFile } from './plan.ts';

export interface RecordedProcess {
  /** e.g. `runner-dockerd`, `gw-target1-sshd`. */
  name: string;
  pid: number;
  /** /proc/PID/stat start time: guards against a recycled pid. */
  startTime: string;
  pidFile: string;
  logFile: string;
  /** For engines: the socket, so down can remove containers and networks first. */
  dockerSocket?: string;
  /** For engines: the exec-root, whose path every shim of this engine names on its command line. */
  execRoot?: string;
  /** The daemon's own cgroup: it and everything it forks stay there, even when re-parented. */
  cgroup?: string;
}

export interface RecordedRule {
  /** Network namespace the rule lives in; absent = host. */
  netns?: string;
  table: string;
  chain: string;
  spec: string[];
}

export interface Ledger {
  version: 1;
  startedAt: string;
  processes: RecordedProcess[];
  netns: string[];
  /** Host-side links the lab created (bridge, veth host ends). */
  links: string[];
  /** Host iptables rules (rules inside namespaces vanish with them). */
  rules: RecordedRule[];
  /** Directories (or files) the lab created and removes on down. */
  paths: string[];
  /** cgroup parents of the engines (cgroup v1 dirs under every controller). */
  cgroupParents: string[];
  /** Host sysctls changed, with their value before the lab. */
  sysctls: Record<string, string>;
  /** Host routes the lab added (`ip route add` arguments). */
  routes: string[][];
  /** Filesystems the lab mounted (the tmpfs under the engines' data-roots). */
  mounts: string[];
}

export function emptyLedger(): Ledger {
  return { version: 1, startedAt: new Date().toISOString(), processes: [], netns: [], links: [], rules: [], paths: [], cgroupParents: [], sysctls: {}, routes: [], mounts: [] };
}

export function readLedger(): Ledger | undefined {
  if (!fs.existsSync(ledgerFile)) return undefined;
  return JSON.parse(fs.readFileSync(ledgerFile, 'utf8')) as Ledger;
}

let current: Ledger | undefined;

export function openLedger(ledger: Ledger): Ledger {
  current = ledger;
  saveLedger();
  return ledger;
}

export function ledger(): Ledger {
  if (!current) throw new Error('no lab ledger is open');
  return current;
}

export function saveLedger(): void {
  if (!current) return;
  fs.mkdirSync(path.dirname(ledgerFile), { recursive: true });
  const tmp = `${ledgerFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(current, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, ledgerFile);
}

/** Record, then persist at once. */
export function note(update: (l: Ledger) => void): void {
  update(ledger());
  saveLedger();
}

/** Create a directory and record it only if it did not exist (so down never removes what it did not make). */
export function makeDir(dir: string, mode = 0o755): void {
  // Find the top-most missing ancestor: that is what the lab made.
  let top: string | undefined;
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) top = d;
  if (top) note((l) => { if (!l.paths.includes(top)) l.paths.push(top); });
  // Parents get 0755 (sshd's StrictModes and the deploy user walk them); only the leaf gets `mode`.
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { mode });
}

export function closeLedger(): void {
  current = undefined;
}
