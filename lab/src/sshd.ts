// The target's sshd: its own host key, config and pidfile, listening on the VPN address only;
// one non-root user, `deploy`, in the docker group, key login only.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run, waitFor } from './exec.ts';
import { makeDir } from './ledger.ts';
import type { RecordedProcess } from './ledger.ts';
import { inNetns, runInNetns } from './net.ts';
import { assertRunning, startDaemon } from './processes.ts';
import { deployUser, pidDir, targetPlan } from './plan.ts';
import type { TargetPlan } from './plan.ts';

export interface SshFiles {
  dir: string;
  config: string;
  hostKey: string;
  clientKey: string;
  authorizedKeys: string;
  knownHosts: string;
  knownHostsLine: string;
  fingerprint: string;
}

/** Create `deploy` (docker group, no usable password, not locked: sshd without PAM refuses `!` accounts). */
export function ensureDeployUser(): { created: boolean } {
  const exists = run('id', ['-u', deployUser], { allowFailure: true }).status === 0;
  if (!exists) {
    run('useradd', ['--create-home', '--shell', '/bin/bash', '--groups', 'docker', deployUser]);
    run('usermod', ['-p', '*', deployUser]);
    return { created: true };
  }
  const groups = run('id', ['-nG', deployUser]).stdout.split(/\s+/);
  if (!groups.includes('docker')) run('usermod', ['-aG', 'docker', deployUser]);
  const shadow = run('getent', ['shadow', deployUser], { allowFailure: true }).stdout.split(':')[1] ?? '';
  if (shadow.startsWith('!')) run('usermod', ['-p', '*', deployUser]);
  return { created: false };
}

/** SHA256 fingerprint as OpenSSH prints it, from a public key line (`type base64 comment`). */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error('malformed public key');
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

function keygen(file: string, comment: string): string {
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  fs.chmodSync(file, 0o600);
  return fs.readFileSync(`${file}.pub`, 'utf8').trim();
}

/** The public deploy key of target 1 (made before any other target's files). */
function firstTargetDeployKey(): string | undefined {
  const file = path.join(targetPlan(1).configDir, 'ssh', 'deploy_ed25519.pub');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
}

export function createSshFiles(t: TargetPlan): SshFiles {
  const dir = path.join(t.configDir, 'ssh');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const hostPub = keygen(hostKey, `${t.name}-host`);
  const clientKey = path.join(dir, 'deploy_ed25519');
  const clientPub = keygen(clientKey, `gangway-lab-${deployUser}`);

  // StrictModes checks the file and every parent: keep it under a root-owned 0755 path, not the repo.
  makeDir(t.sshRunDir);
  const authorizedKeys = path.join(t.sshRunDir, 'authorized_keys');
  // One deploy key for the fleet, as a multi-host deploy (one private-key input) needs: every
  // target also accepts the first target's deploy key.
  const fleetPub = t.index > 1 ? firstTargetDeployKey() : undefined;
  fs.writeFileSync(authorizedKeys, `${clientPub}\n${fleetPub ? `${fleetPub}\n` : ''}`, { mode: 0o644 });

  const knownHostsLine = `${t.vpnServerAddress} ${hostPub.split(/\s+/).slice(0, 2).join(' ')}`;
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `${knownHostsLine}\n`);

  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `# Gangway lab sshd for ${t.name} (generated): reachable only through the VPN.`,
      `ListenAddress ${t.vpnServerAddress}:22`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(pidDir, `${t.name}-sshd.pid`)}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${deployUser}`,
      'PermitRootLogin no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitEmptyPasswords no',
      'UsePAM no',
      'StrictModes yes',
      'AllowStreamLocalForwarding yes',
      'AllowTcpForwarding yes',
      'X11Forwarding no',
      'PrintMotd no',
      // Sessions whose client vanished (e.g. the VPN went down first) end within ~30 s.
      'ClientAliveInterval 10',
      'ClientAliveCountMax 3',
      'MaxStartups 50:30:100',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  return { dir, config, hostKey, clientKey, authorizedKeys, knownHosts, knownHostsLine, fingerprint: fingerprintOf(hostPub) };
}

function listening(t: TargetPlan): boolean {
  const out = runInNetns(t.name, 'ss', ['-H', '-l', '-t', '-n'], true);
  return out.split('\n').some((l) => l.includes(`${t.vpnServerAddress}:22 `));
}

export async function startSshd(t: TargetPlan, files: SshFiles): Promise<RecordedProcess> {
  makeDir('/run/sshd');
  run('/usr/sbin/sshd', ['-t', '-f', files.config]);
  const name = `${t.name}-sshd`;
  // -D: no fork, so the recorded pid is sshd's; -e: log to the lab's log file. sshd needs an absolute path.
  const c = inNetns(t.name, '/usr/sbin/sshd', ['-D', '-e', '-f', files.config]);
  const proc = startDaemon({ name, cmd: c.cmd, args: c.args, pidFile: path.join(pidDir, `${name}.pid`) });
  await waitFor(`${name} to listen on ${t.vpnServerAddress}:22`, 15_000, () => {
    assertRunning(proc);
    return listening(t) ? true : undefined;
  });
  return proc;
}
