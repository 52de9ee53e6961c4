// The target's OpenVPN server: a fresh PKI per lab (plain openssl), tls-crypt, and an inline client config.
import fs from 'node:fs';
import path from 'node:path';
import { run, waitFor } from './exec.ts';
import type { RecordedProcess } from './ledger.ts';
import { inNetns } from './net.ts';
import { createCa, createLeaf } from './pki.ts';
import { assertRunning, startDaemon } from './processes.ts';
import { pidDir } from './plan.ts';
import type { TargetPlan } from './plan.ts';

export interface VpnFiles {
  dir: string;
  serverConfig: string;
  /** The complete inline client config (.ovpn) a runner uses as-is. */
  clientConfig: string;
  ca: string;
  cert: string;
  key: string;
  tlsCrypt: string;
}

function serverName(t: TargetPlan): string {
  return `${t.name}-vpn-server`;
}

export function createVpnPki(t: TargetPlan): VpnFiles {
  const dir = path.join(t.configDir, 'vpn');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCa(dir, `Gangway lab ${t.name} VPN CA`);
  createLeaf({ dir, name: 'server', commonName: serverName(t), ca, usage: 'serverAuth' });
  const client = createLeaf({ dir, name: 'client', commonName: 'gangway-runner', ca, usage: 'clientAuth' });
  const tlsCrypt = path.join(dir, 'tls-crypt.key');
  run('openvpn', ['--genkey', 'tls-crypt', tlsCrypt]);
  fs.chmodSync(tlsCrypt, 0o600);

  const serverConfig = path.join(dir, 'server.conf');
  fs.writeFileSync(
    serverConfig,
    [
      '# Gangway lab VPN server (generated). Paths are relative to --cd.',
      `local ${t.nsAddress}`,
      `port ${t.vpnPort}`,
      'proto udp',
      'dev tun',
      'topology subnet',
      `server ${t.vpnNetwork} ${t.vpnNetmask}`,
      'ca ca.crt',
      'cert server.crt',
      'key server.key',
      'dh none',
      'tls-crypt tls-crypt.key',
      'tls-version-min 1.2',
      '# Several runners (the lab itself, tests, the action) may connect with the one client certificate.',
      'duplicate-cn',
      'keepalive 10 60',
      'persist-key',
      'persist-tun',
      'management management.sock unix',
      'verb 3',
      '',
    ].join('\n'),
  );

  const pem = (file: string): string => fs.readFileSync(file, 'utf8').trim();
  const clientConfig = path.join(dir, 'client.ovpn');
  fs.writeFileSync(
    clientConfig,
    [
      `# Gangway lab: client config for ${t.name} (inline; use as-is).`,
      'client',
      'dev tun',
      'proto udp',
      `remote ${t.nsAddress} ${t.vpnPort}`,
      'nobind',
      'remote-cert-tls server',
      `verify-x509-name ${serverName(t)} name`,
      'tls-version-min 1.2',
      'connect-retry 1',
      'verb 3',
      `<ca>\n${pem(ca.cert)}\n</ca>`,
      `<cert>\n${pem(client.cert)}\n</cert>`,
      `<key>\n${pem(client.key)}\n</key>`,
      `<tls-crypt>\n${pem(tlsCrypt)}\n</tls-crypt>`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { dir, serverConfig, clientConfig, ca: ca.cert, cert: client.cert, key: client.key, tlsCrypt };
}

/** The server's tun address is up inside the namespace. */
function tunAddressUp(t: TargetPlan): boolean {
  const r = run('ip', ['-n', t.name, '-4', '-o', 'addr', 'show'], { allowFailure: true });
  return r.stdout.includes(` ${t.vpnServerAddress}/`);
}

export async function startVpnServer(t: TargetPlan, files: VpnFiles): Promise<RecordedProcess> {
  const name = `${t.name}-openvpn`;
  const pidFile = path.join(pidDir, `${name}.pid`);
  fs.mkdirSync(pidDir, { recursive: true });
  // Runs in the foreground of its own session (the lab records the pid); --writepid as well for humans.
  const c = inNetns(t.name, 'openvpn', ['--cd', files.dir, '--config', files.serverConfig, '--writepid', pidFile]);
  const proc = startDaemon({ name, cmd: c.cmd, args: c.args, pidFile });
  await waitFor(`${name} to bring up ${t.vpnServerAddress}`, 20_000, () => {
    assertRunning(proc);
    return tunAddressUp(t) ? true : undefined;
  });
  return proc;
}
