// One target host: a network namespace behind its own OpenVPN server, with sshd and a Docker engine.
// Parametrised by TargetPlan so a second target (issue 7) is `plannedTargets()` returning two.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './exec.ts';
import { startEngine, type EngineSpec } from './engine.ts';
import { makeDir, note } from './ledger.ts';
import { addNetns, addNetnsRule, addVeth, runInNetns } from './net.ts';
import type { TargetPlan } from './plan.ts';
import { deployUser } from './plan.ts';
import { phase } from './progress.ts';
import { createSshFiles, startSshd } from './sshd.ts';
import type { TargetState } from './state.ts';
import { createVpnPki, startVpnServer } from './vpn.ts';

/** Namespace, veth, default route, and the firewall: from the veth only OpenVPN's UDP port and replies. */
export function createTargetNetwork(t: TargetPlan): void {
  addNetns(t.name);
  addVeth({ netns: t.name, hostName: t.vethHost, nsName: t.vethNs, hostAddress: t.hostAddress, nsAddress: t.nsAddress, prefix: t.vethPrefix });
  // With SO_REUSEPORT listeners, a closing listener's queued connections move to another of its group instead
  // of being reset: what lets a new edge start beside the old one and the old one stop without a drop (issue #18).
  runInNetns(t.name, 'sysctl', ['-q', '-w', 'net.ipv4.tcp_migrate_req=1']);
  // mangle/PREROUTING sees every packet from the veth before nat (Docker's DNAT for published ports) and
  // before the INPUT/FORWARD decision, so this one chain covers sshd, published ports and anything else.
  const from = ['-i', t.vethNs];
  addNetnsRule(t.name, 'mangle', 'PREROUTING', [...from, '-d', t.nsAddress, '-p', 'udp', '--dport', String(t.vpnPort), '-j', 'ACCEPT']);
  addNetnsRule(t.name, 'mangle', 'PREROUTING', [...from, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
  addNetnsRule(t.name, 'mangle', 'PREROUTING', [...from, '-j', 'DROP']);
}

/** How the target's engine is started (the same on `lab:up` and on a restart by the chaos suite). */
export function targetEngineSpec(t: TargetPlan): EngineSpec {
  return {
    name: `${t.name}-dockerd`,
    netns: t.name,
    dataRoot: t.dataRoot,
    execRoot: t.execRoot,
    socket: t.socket,
    cgroupParent: t.cgroupParent,
    configDir: path.join(t.configDir, 'docker'),
    // --ip: published ports bind the VPN address by default; the firewall covers explicit 0.0.0.0 too.
    networkArgs: ['--bip', t.dockerBip, '--default-address-pool', `base=${t.dockerPool},size=24`, '--ip', t.vpnServerAddress],
  };
}

/** The file behind a small data-root (next to the data-roots, so it goes where they go). */
export function dataRootImage(t: TargetPlan): string {
  return `${t.dataRoot}.ext4`;
}

/**
 * A data-root of its own size: a sparse ext4 image mounted through a loop device. Recorded
 * before it is made; `lab:down` unmounts it (the loop device goes with it) and removes the file.
 */
function mountSmallDataRoot(t: TargetPlan, size: string): void {
  const image = dataRootImage(t);
  makeDir(path.dirname(image));
  note((l) => {
    if (!l.paths.includes(image)) l.paths.push(image);
  });
  fs.rmSync(image, { force: true });
  run('truncate', ['-s', size, image]);
  // No reserved blocks: the engine runs as root and would otherwise fill those too.
  run('mkfs.ext4', ['-q', '-F', '-m', '0', '-L', `${t.name}-data`, image]);
  makeDir(t.dataRoot, 0o710);
  note((l) => l.mounts.push(t.dataRoot));
  run('mount', ['-o', 'loop', image, t.dataRoot]);
  fs.chmodSync(t.dataRoot, 0o710);
}

export async function startTargetServices(t: TargetPlan): Promise<TargetState> {
  const vpnFiles = await phase(`${t.name}: VPN PKI`, () => createVpnPki(t));
  const openvpn = await phase(`${t.name}: OpenVPN server on ${t.nsAddress}:${t.vpnPort}/udp (${t.vpnServerAddress})`, () => startVpnServer(t, vpnFiles));
  const ssh = createSshFiles(t);
  const sshd = await phase(`${t.name}: sshd on ${t.vpnServerAddress}:22`, () => startSshd(t, ssh));
  if (t.dataRootSize) {
    const size = t.dataRootSize;
    await phase(`${t.name}: data-root on a ${size} filesystem of its own`, () => mountSmallDataRoot(t, size));
  }
  const dockerd = await phase(`${t.name}: Docker engine`, () => startEngine(targetEngineSpec(t)));
  return {
    name: t.name,
    netns: t.name,
    index: t.index,
    sshHost: t.vpnServerAddress,
    sshPort: 22,
    username: deployUser,
    privateKeyFile: ssh.clientKey,
    knownHosts: ssh.knownHostsLine,
    knownHostsFile: ssh.knownHosts,
    fingerprint: ssh.fingerprint,
    dockerSocket: t.socket,
    dataRoot: t.dataRoot,
    ...(t.dataRootSize ? { dataRootSize: t.dataRootSize } : {}),
    address: t.vpnServerAddress,
    vethAddress: t.nsAddress,
    hostVethAddress: t.hostAddress,
    lanAddress: t.lanAddress,
    dockerBridge: t.dockerBip,
    dockerAddressPool: t.dockerPool,
    vpn: {
      configFile: vpnFiles.clientConfig,
      ca: vpnFiles.ca,
      cert: vpnFiles.cert,
      key: vpnFiles.key,
      tlsCrypt: vpnFiles.tlsCrypt,
      remoteHost: t.nsAddress,
      remotePort: t.vpnPort,
      proto: 'udp',
      network: `${t.vpnNetwork}/24`,
      serverAddress: t.vpnServerAddress,
      duplicateCn: true,
      serverConfigFile: vpnFiles.serverConfig,
      managementSocket: path.join(vpnFiles.dir, 'management.sock'),
      pid: openvpn.pid,
    },
    pids: { dockerd: dockerd.pid, sshd: sshd.pid, openvpn: openvpn.pid },
  };
}
