// One target host: a network namespace behind its own OpenVPN server, with sshd and a Docker engine.
// Parametrised by TargetPlan so a second target (issue 7) is `plannedTargets()` returning two.
import path from 'node:path';
import { startEngine } from './engine.ts';
import { addNetns, addNetnsRule, addVeth } from './net.ts';
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
  // mangle/PREROUTING sees every packet from the veth before nat (Docker's DNAT for published ports) and
  // before the INPUT/FORWARD decision, so this one chain covers sshd, published ports and anything else.
  const from = ['-i', t.vethNs];
  addNetnsRule(t.name, 'mangle', 'PREROUTING', [...from, '-d', t.nsAddress, '-p', 'udp', '--dport', String(t.vpnPort), '-j', 'ACCEPT']);
  addNetnsRule(t.name, 'mangle', 'PREROUTING', [...from, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
  addNetnsRule(t.name, 'mangle', 'PREROUTING', [...from, '-j', 'DROP']);
}

export async function startTargetServices(t: TargetPlan): Promise<TargetState> {
  const vpnFiles = await phase(`${t.name}: VPN PKI`, () => createVpnPki(t));
  const openvpn = await phase(`${t.name}: OpenVPN server on ${t.nsAddress}:${t.vpnPort}/udp (${t.vpnServerAddress})`, () => startVpnServer(t, vpnFiles));
  const ssh = createSshFiles(t);
  const sshd = await phase(`${t.name}: sshd on ${t.vpnServerAddress}:22`, () => startSshd(t, ssh));
  const dockerd = await phase(`${t.name}: Docker engine`, () =>
    startEngine({
      name: `${t.name}-dockerd`,
      netns: t.name,
      dataRoot: t.dataRoot,
      execRoot: t.execRoot,
      socket: t.socket,
      cgroupParent: t.cgroupParent,
      configDir: path.join(t.configDir, 'docker'),
      // --ip: published ports bind the VPN address by default; the firewall covers explicit 0.0.0.0 too.
      networkArgs: ['--bip', t.dockerBip, '--default-address-pool', `base=${t.dockerPool},size=24`, '--ip', t.vpnServerAddress],
    }),
  );
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
    address: t.vpnServerAddress,
    vethAddress: t.nsAddress,
    hostVethAddress: t.hostAddress,
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
