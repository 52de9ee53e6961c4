// Network plumbing: namespaces, veths, the runner's bridge, iptables rules. Every step is recorded first.
import fs from 'node:fs';
import { run } from './exec.ts';
import { note } from './ledger.ts';
import { processStartTime } from './processes.ts';
import type { RecordedRule } from './ledger.ts';

export function netnsPath(name: string): string {
  return `/var/run/netns/${name}`;
}

export function netnsExists(name: string): boolean {
  return fs.existsSync(netnsPath(name));
}

export function linkExists(name: string, netns?: string): boolean {
  const args = netns ? ['-n', netns, 'link', 'show', name] : ['link', 'show', name];
  return run('ip', args, { allowFailure: true }).status === 0;
}

/** Run a command inside a namespace, the way LAB.md says works for every daemon: nsenter --net. */
export function inNetns(netns: string, cmd: string, args: readonly string[]): { cmd: string; args: string[] } {
  return { cmd: 'nsenter', args: [`--net=${netnsPath(netns)}`, '--', cmd, ...args] };
}

export function runInNetns(netns: string, cmd: string, args: readonly string[], allowFailure = false): string {
  const c = inNetns(netns, cmd, args);
  return run(c.cmd, c.args, { allowFailure }).stdout;
}

export function addNetns(name: string): void {
  if (netnsExists(name)) throw new Error(`network namespace ${name} already exists but the lab has no record of it; remove it (ip netns del ${name}) or run lab:down`);
  note((l) => l.netns.push(name));
  run('ip', ['netns', 'add', name]);
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

export interface VethOptions {
  netns: string;
  hostName: string;
  nsName: string;
  hostAddress: string;
  nsAddress: string;
  prefix: number;
}

export function addVeth(o: VethOptions): void {
  if (linkExists(o.hostName)) throw new Error(`link ${o.hostName} already exists but the lab has no record of it`);
  note((l) => l.links.push(o.hostName));
  run('ip', ['link', 'add', o.hostName, 'type', 'veth', 'peer', 'name', o.nsName, 'netns', o.netns]);
  run('ip', ['addr', 'add', `${o.hostAddress}/${o.prefix}`, 'dev', o.hostName]);
  run('ip', ['link', 'set', o.hostName, 'up']);
  run('ip', ['-n', o.netns, 'addr', 'add', `${o.nsAddress}/${o.prefix}`, 'dev', o.nsName]);
  run('ip', ['-n', o.netns, 'link', 'set', o.nsName, 'up']);
  run('ip', ['-n', o.netns, 'route', 'add', 'default', 'via', o.hostAddress]);
  // The namespace speaks IPv4 only on its veth: nothing can sneak past the IPv4 firewall over IPv6.
  runInNetns(o.netns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${o.nsName}.disable_ipv6=1`]);
}

/** A bridge on the host; without `cidr` it has no address (a switch the host itself is not on). */
export function addBridge(name: string, cidr?: string): void {
  if (linkExists(name)) throw new Error(`link ${name} already exists but the lab has no record of it`);
  note((l) => l.links.push(name));
  run('ip', ['link', 'add', name, 'type', 'bridge']);
  if (cidr) run('ip', ['addr', 'add', cidr, 'dev', name]);
  else disableHostIpv6(name);
  run('ip', ['link', 'set', name, 'up']);
}

/**
 * No IPv6 (not even link-local) on a host link the lab made, so the host has no way onto it at all. The
 * setting goes with the link: nothing to restore.
 */
export function disableHostIpv6(link: string): void {
  fs.writeFileSync(`/proc/sys/net/ipv6/conf/${link}/disable_ipv6`, '1');
}

export interface BridgePortOptions {
  netns: string;
  bridge: string;
  hostName: string;
  nsName: string;
  nsAddress: string;
  prefix: number;
}

/**
 * A second veth into a namespace whose host end is a port of `bridge` (no address on the host side):
 * a NIC on a switch. No default route through it; IPv4 only on both ends.
 */
export function addBridgePort(o: BridgePortOptions): void {
  if (linkExists(o.hostName)) throw new Error(`link ${o.hostName} already exists but the lab has no record of it`);
  note((l) => { if (!l.links.includes(o.hostName)) l.links.push(o.hostName); });
  run('ip', ['link', 'add', o.hostName, 'type', 'veth', 'peer', 'name', o.nsName, 'netns', o.netns]);
  disableHostIpv6(o.hostName);
  run('ip', ['link', 'set', o.hostName, 'master', o.bridge]);
  run('ip', ['link', 'set', o.hostName, 'up']);
  runInNetns(o.netns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${o.nsName}.disable_ipv6=1`]);
  run('ip', ['-n', o.netns, 'addr', 'add', `${o.nsAddress}/${o.prefix}`, 'dev', o.nsName]);
  run('ip', ['-n', o.netns, 'link', 'set', o.nsName, 'up']);
}

export function deleteLink(name: string): void {
  if (linkExists(name)) run('ip', ['link', 'del', name], { allowFailure: true });
}

/** Every process whose network namespace is `name` (compared by nsfs inode), with start times. */
export function processesInNetns(name: string): Array<{ pid: number; startTime: string }> {
  let inode: number;
  try {
    inode = fs.statSync(netnsPath(name)).ino;
  } catch {
    return [];
  }
  const out: Array<{ pid: number; startTime: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (fs.statSync(`/proc/${pid}/ns/net`).ino !== inode) continue;
    } catch {
      continue;
    }
    const startTime = processStartTime(pid);
    if (startTime !== undefined) out.push({ pid, startTime });
  }
  return out;
}

export function deleteNetns(name: string): void {
  if (netnsExists(name)) run('ip', ['netns', 'del', name], { allowFailure: true });
}

const ruleComment = ['-m', 'comment', '--comment', 'gangway-lab'];

function iptablesArgs(r: RecordedRule, op: '-A' | '-I' | '-D' | '-C'): { cmd: string; args: string[] } {
  const args = ['-w', '-t', r.table, op, r.chain, ...r.spec];
  return r.netns ? inNetns(r.netns, 'iptables', args) : { cmd: 'iptables', args };
}

/** Append a host rule, tagged with a comment, recorded so down deletes exactly it. */
export function addHostRule(table: string, chain: string, spec: string[]): void {
  const rule: RecordedRule = { table, chain, spec: [...spec, ...ruleComment] };
  note((l) => l.rules.push(rule));
  const c = iptablesArgs(rule, '-A');
  run(c.cmd, c.args);
}

/** Rules inside a namespace: they vanish with it, so they are not recorded. */
export function addNetnsRule(netns: string, table: string, chain: string, spec: string[]): void {
  const c = iptablesArgs({ netns, table, chain, spec: [...spec, ...ruleComment] }, '-A');
  run(c.cmd, c.args);
}

export function deleteRule(r: RecordedRule): void {
  // Delete every copy (a crash may have appended twice); stop when the check fails.
  for (let i = 0; i < 10; i++) {
    const check = iptablesArgs(r, '-C');
    if (run(check.cmd, check.args, { allowFailure: true }).status !== 0) return;
    const del = iptablesArgs(r, '-D');
    run(del.cmd, del.args, { allowFailure: true });
  }
}

export function readSysctl(key: string): string {
  return fs.readFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8').trim();
}

/** Set a host sysctl, remembering the value it had before the lab (restored on down). */
export function setHostSysctl(key: string, value: string): void {
  const before = readSysctl(key);
  if (before === value) return;
  note((l) => { if (!(key in l.sysctls)) l.sysctls[key] = before; });
  fs.writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value);
}

export function restoreSysctl(key: string, value: string): void {
  try {
    fs.writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value);
  } catch {
    // best effort
  }
}
