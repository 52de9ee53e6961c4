// Extra VPN scenarios for action-vpn-connect's tests, on a running lab, without touching the
// main OpenVPN server:
// - an OpenVPN server with auth-user-pass-verify (username/password checked by a script) on
//   another UDP port of the first target, with its own VPN subnet;
// - a client certificate signed by a CA the servers do not trust ("wrong certificate").
// `ensureVpnExtras` is idempotent: it (re)starts what is missing and records it in lab.json.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run, waitFor } from './exec.ts';
import { closeLedger, openLedger, readLedger } from './ledger.ts';
import { inNetns } from './net.ts';
import { createCa, createLeaf } from './pki.ts';
import { pidDir } from './plan.ts';
import { assertRunning, isAlive, startDaemon } from './processes.ts';
import { say } from './progress.ts';
import { writeLabState } from './state.ts';
import type { LabState, TargetState, VpnAuthState, VpnWrongCertState } from './state.ts';

/** The auth server's port and VPN subnet: apart from every planned target (198.19.0-6.0/24, port 1194). */
export const authVpnPort = 1195;
export const authVpnNetwork = '198.19.64.0';
export const authVpnServerAddress = '198.19.64.1';

function authServerName(t: TargetState): string {
  return `${t.name}-openvpn-auth`;
}

function tunAddressUp(netns: string, address: string): boolean {
  return run('ip', ['-n', netns, '-4', '-o', 'addr', 'show'], { allowFailure: true }).stdout.includes(` ${address}/`);
}

/** The auth server's files, beside the main server's (same CA, server certificate and tls-crypt key). */
function writeAuthFiles(t: TargetState): { dir: string; serverConfig: string; clientConfig: string; username: string; password: string } {
  const dir = path.dirname(t.vpn.serverConfigFile);
  const username = 'gangway-ci';
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const expected = path.join(dir, 'auth-expected');
  fs.writeFileSync(expected, `${username}\n${password}\n`, { mode: 0o600 });
  const verify = path.join(dir, 'auth-verify.sh');
  // via-file: $1 is a file holding the username and the password, one a line; exit 0 accepts.
  fs.writeFileSync(
    verify,
    ['#!/bin/sh', `exp=${expected}`, '[ "$(sed -n 1p "$1")" = "$(sed -n 1p "$exp")" ] && [ "$(sed -n 2p "$1")" = "$(sed -n 2p "$exp")" ]', ''].join('\n'),
    { mode: 0o700 },
  );
  const serverConfig = path.join(dir, 'server-auth.conf');
  const main = fs.readFileSync(t.vpn.serverConfigFile, 'utf8');
  const keep = (name: string): string => main.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  fs.writeFileSync(
    serverConfig,
    [
      '# Gangway lab: OpenVPN server with username/password (auth-user-pass-verify), for action-vpn-connect tests.',
      keep('local'),
      `port ${authVpnPort}`,
      'proto udp',
      'dev tun',
      'topology subnet',
      `server ${authVpnNetwork} 255.255.255.0`,
      'ca ca.crt',
      'cert server.crt',
      'key server.key',
      'dh none',
      'tls-crypt tls-crypt.key',
      'tls-version-min 1.2',
      'duplicate-cn',
      'keepalive 10 60',
      'script-security 2',
      `auth-user-pass-verify ${verify} via-file`,
      'management management-auth.sock unix',
      'verb 3',
      '',
    ].join('\n'),
  );
  const client = fs.readFileSync(t.vpn.configFile, 'utf8');
  const clientConfig = path.join(dir, 'client-auth.ovpn');
  fs.writeFileSync(
    clientConfig,
    client.replace(/^remote (\S+) \d+$/m, `remote $1 ${authVpnPort}`).replace(/^verb 3$/m, 'verb 3\nauth-user-pass'),
    { mode: 0o600 },
  );
  return { dir, serverConfig, clientConfig, username, password };
}

async function startAuthServer(t: TargetState): Promise<VpnAuthState> {
  const files = writeAuthFiles(t);
  // The target's firewall accepts only the main server's port from the veth: open this one too (it goes with the namespace).
  const rule = ['-t', 'mangle', '-I', 'PREROUTING', '1', '-d', t.vethAddress, '-p', 'udp', '--dport', String(authVpnPort), '-m', 'comment', '--comment', 'gangway-lab', '-j', 'ACCEPT'];
  const check = ['-t', 'mangle', '-C', 'PREROUTING', ...rule.slice(5)];
  const c = inNetns(t.netns, 'iptables', ['-w', ...check]);
  if (run(c.cmd, c.args, { allowFailure: true }).status !== 0) {
    const i = inNetns(t.netns, 'iptables', ['-w', ...rule]);
    run(i.cmd, i.args);
  }
  const name = authServerName(t);
  const pidFile = path.join(pidDir, `${name}.pid`);
  const ledger = readLedger();
  if (!ledger) throw new Error('the lab has no ledger: bring it up first');
  openLedger(ledger);
  let proc;
  try {
    const cmd = inNetns(t.netns, 'openvpn', ['--cd', files.dir, '--config', files.serverConfig, '--writepid', pidFile]);
    proc = startDaemon({ name, cmd: cmd.cmd, args: cmd.args, pidFile });
  } finally {
    closeLedger();
  }
  const started = proc;
  await waitFor(`${name} to bring up ${authVpnServerAddress}`, 20_000, () => {
    assertRunning(started);
    return tunAddressUp(t.netns, authVpnServerAddress) ? true : undefined;
  });
  return {
    port: authVpnPort,
    network: `${authVpnNetwork}/24`,
    serverAddress: authVpnServerAddress,
    username: files.username,
    password: files.password,
    configFile: files.clientConfig,
    serverConfigFile: files.serverConfig,
    pid: started.pid,
    startTime: started.startTime,
  };
}

function createWrongCert(t: TargetState): VpnWrongCertState {
  const dir = path.join(path.dirname(t.vpn.serverConfigFile), 'wrong-cert');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rogue = createCa(dir, 'Gangway lab rogue CA (trusted by no server)', 'rogue-');
  const leaf = createLeaf({ dir, name: 'client', commonName: 'gangway-runner', ca: rogue, usage: 'clientAuth' });
  return { cert: leaf.cert, key: leaf.key, ca: rogue.cert };
}

/** Brings the extra VPN scenarios up on a running lab when missing; returns the updated state. */
export async function ensureVpnExtras(state: LabState): Promise<LabState> {
  const t = state.targets[0];
  if (!t) return state;
  let changed = false;
  let auth = t.vpn.auth;
  if (!auth || !isAlive({ pid: auth.pid, startTime: auth.startTime }) || !fs.existsSync(auth.configFile)) {
    say(`vpn extras: OpenVPN server with username/password on ${t.vethAddress}:${authVpnPort}/udp (${authVpnServerAddress})`);
    auth = await startAuthServer(t);
    changed = true;
  }
  let wrongCert = t.vpn.wrongCert;
  if (!wrongCert || !fs.existsSync(wrongCert.cert) || !fs.existsSync(wrongCert.key)) {
    say('vpn extras: a client certificate signed by a CA no server trusts');
    wrongCert = createWrongCert(t);
    changed = true;
  }
  if (!changed) return state;
  const vpn = { ...t.vpn, auth, wrongCert };
  const targets = state.targets.map((x, i) => (i === 0 ? { ...x, vpn } : x));
  const next: LabState = { ...state, targets, target: targets[0] as TargetState, vpn, pids: { ...state.pids, [authServerName(t)]: auth.pid } };
  writeLabState(next);
  return next;
}
