// Issue #16, items 8 and 9 on the lab's real parts: through the VPN and the target's sshd, the
// deploy lock's heartbeat is written into the never-started marker and read back by a taker
// (put-archive, get-archive on the target's Docker 20.10 engine), and the dial-stdio fallback
// (`docker -H unix://<docker-socket> system dial-stdio` run by the server's login shell)
// reaches the engine at docker-socket.
import fs from 'node:fs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerThrough, openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { lockName } from '../src/container/spec.ts';
import { dockerEngine, type DeployEngine } from '../src/host/engine.ts';
import { acquireLock, LOCK_HEARTBEAT_FILE, releaseLock, startLockHeartbeat } from '../src/host/lock.ts';

const app = `gtest-lock-${Math.random().toString(16).slice(2, 8)}`;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const provenance = (actor: string) => ({ gitSha: 'a'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${actor}`, actor, at: new Date().toISOString() });

let lab: LabState;
let vpn: VpnTunnel | undefined;
let session: SshSession | undefined;
let docker: Docker;
let engine: DeployEngine;
let image = '';

describe('the deploy lock and the Engine API on the lab target', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    vpn = await connectLabVpn(lab.vpn.configFile);
    session = await openSsh(
      { host: lab.target.sshHost, port: lab.target.sshPort, username: lab.target.username, privateKey: fs.readFileSync(lab.target.privateKeyFile, 'utf8'), trust: { kind: 'fingerprint', fingerprint: lab.target.fingerprint } },
      { connectTimeoutMs: 10_000 },
    );
    docker = (await openDockerOverSsh(session.client, lab.target.dockerSocket)).docker;
    engine = dockerEngine(docker);
    // The lab's base images are on every target; the marker is created from one and never started.
    image = (await engine.inspectImage('nginx:stable'))?.id ?? '';
    expect(image).not.toBe('');
  }, 120_000);

  afterAll(async () => {
    await docker?.getContainer(lockName(app)).remove({ force: true }).catch(() => undefined);
    session?.close();
    await vpn?.stop();
  });

  it('a held lock is refreshed while its holder deploys, and taken over only once the beats stop', async () => {
    const held = await acquireLock(engine, { app, image, provenance: provenance('alice'), timeoutMs: 5000, ttlMs: 2500, log: () => undefined, warn: () => undefined });
    expect(await engine.readFile(held.containerId, LOCK_HEARTBEAT_FILE)).toBeUndefined();
    const warnings: string[] = [];
    const beat = startLockHeartbeat(engine, app, held, { intervalMs: 500, warn: (l) => warnings.push(l) });
    let stopped = false;
    try {
      // Longer than lock-ttl (2.5 s): without the heartbeat bob would take the lock over.
      await pause(3500);
      const written = await engine.readFile(held.containerId, LOCK_HEARTBEAT_FILE);
      expect(Date.now() - Date.parse((written ?? '').trim())).toBeLessThan(2000);
      const taken: string[] = [];
      const bob = await acquireLock(engine, { app, image, provenance: provenance('bob'), timeoutMs: 1500, ttlMs: 2500, pollMs: 200, log: () => undefined, warn: (l) => taken.push(l) }).catch((e: unknown) => e);
      expect(bob).toBeInstanceOf(Error);
      expect((bob as Error).message).toMatch(/still held .* by alice/);
      expect(taken).toEqual([]);
      expect(warnings).toEqual([]);
      // The holder dies: no more beats; after lock-ttl the lock is stale.
      await beat.stop();
      stopped = true;
      const warned: string[] = [];
      const carol = await acquireLock(engine, { app, image, provenance: provenance('carol'), timeoutMs: 8000, ttlMs: 2500, pollMs: 200, log: () => undefined, warn: (l) => warned.push(l) });
      expect(warned[0]).toMatch(/stale \(held for \S+ since its last heartbeat, lock-ttl 2.5s\) by alice/);
      expect(await releaseLock(engine, carol)).toBe(true);
      expect(await releaseLock(engine, held)).toBe(false);
    } finally {
      if (!stopped) await beat.stop();
    }
  }, 60_000);

  it('dial-stdio reaches the engine at docker-socket', async () => {
    const direct = (await docker.info()) as { ID: string; Name: string };
    const viaExec = dockerThrough(session?.client as NonNullable<typeof session>['client'], 'dial-stdio', lab.target.dockerSocket);
    const info = (await viaExec.info()) as { ID: string; Name: string };
    expect(info.ID).toBe(direct.ID);
  }, 60_000);
});
