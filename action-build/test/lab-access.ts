// What the build integration test and the cache benchmark need from the lab: its facts, the
// registry's tag list, and the target's Docker API (OpenVPN client, then SSH, then the socket).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import type { LabState } from '../../lab/src/state.ts';
import { listContext } from '../src/context.ts';

export const ACTION_DIR = path.resolve(import.meta.dirname, '..');
export const REPO_ROOT = path.resolve(ACTION_DIR, '..');

/**
 * A frozen copy of the repository's build context for app/Dockerfile (what .dockerignore keeps):
 * other people edit the checkout while tests run, and an "unchanged rebuild" must be unchanged.
 */
export function snapshotAppContext(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-build-app-'));
  for (const entry of listContext(REPO_ROOT, ['app/Dockerfile', '.dockerignore'])) {
    const target = path.join(dir, entry.name);
    if (entry.stats.isDirectory()) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(path.dirname(target), { recursive: true });
    if (entry.stats.isSymbolicLink()) symlinkSync(readlinkSync(entry.absolute), target);
    else {
      copyFileSync(entry.absolute, target);
      chmodSync(target, entry.stats.mode & 0o7777);
      utimesSync(target, entry.stats.atime, entry.stats.mtime);
    }
  }
  for (const extra of ['app/Dockerfile', '.dockerignore']) {
    mkdirSync(path.dirname(path.join(dir, extra)), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, extra), path.join(dir, extra));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** GET /v2/<repo>/tags/list on the lab registry (TLS with the lab CA, basic auth); [] when the repo does not exist. */
export function registryTags(lab: LabState, repository: string): Promise<string[]> {
  const auth = Buffer.from(`${lab.registry.username}:${lab.registry.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: lab.registry.address, port: lab.registry.port, path: `/v2/${repository}/tags/list`, ca: readFileSync(lab.registry.caFile), headers: { Authorization: `Basic ${auth}` }, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode === 404) return resolve([]);
          if (res.statusCode !== 200) return reject(new Error(`registry tags/list ${repository}: HTTP ${res.statusCode} ${body}`));
          resolve((JSON.parse(body) as { tags: string[] | null }).tags ?? []);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('registry timeout')));
    req.on('error', reject);
    req.end();
  });
}

export interface TargetDocker {
  docker: Docker;
  close(): Promise<void>;
}

/** The OpenVPN client with the lab's config (the server allows duplicate certificates), then SSH, then Docker. */
export async function openTargetDocker(lab: LabState): Promise<TargetDocker> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-build-vpn-'));
  const log = path.join(dir, 'openvpn.log');
  const vpn: ChildProcess = spawn('openvpn', ['--config', lab.vpn.configFile, '--log', log, '--writepid', path.join(dir, 'openvpn.pid')], { stdio: 'ignore' });
  const stopVpn = async (): Promise<void> => {
    if (vpn.pid !== undefined && vpn.exitCode === null) {
      const exited = new Promise((r) => vpn.once('exit', r));
      vpn.kill('SIGTERM');
      const timer = setTimeout(() => vpn.exitCode === null && vpn.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    if (text.includes('Initialization Sequence Completed')) break;
    if (vpn.exitCode !== null || Date.now() > deadline) {
      await stopVpn();
      throw new Error(`the OpenVPN client did not connect:\n${text.split('\n').slice(-15).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let session: SshSession | undefined;
  try {
    session = await openSsh(
      { host: lab.target.sshHost, port: lab.target.sshPort, username: lab.target.username, privateKey: readFileSync(lab.target.privateKeyFile, 'utf8'), trust: { kind: 'fingerprint', fingerprint: lab.target.fingerprint } },
      // A pull of a big image keeps the machine busy: tolerate slow keepalive answers.
      { connectTimeoutMs: 10_000, keepaliveIntervalMs: 30_000 },
    );
    // A late keepalive failure must not become an uncaught exception in the test process.
    session.client.on('error', () => undefined);
    const { docker } = await openDockerOverSsh(session.client, lab.target.dockerSocket);
    const opened = session;
    return {
      docker,
      async close() {
        opened.close();
        await stopVpn();
      },
    };
  } catch (error) {
    session?.close();
    await stopVpn();
    throw error;
  }
}
