// action-deploy-ssh's dist bundle, run as the runner runs it, against the lab: through a real
// OpenVPN tunnel to the target's sshd, Docker API over that SSH connection, images pulled from
// the lab's TLS registry with credentials.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { DeployRuns, type DeployRun } from './lab-runs.ts';
import { buildAndPush, type PushedImage } from './lab-images.ts';
import { startLoad, summarize } from '../../lab/src/testing/load.ts';

const suffix = randomBytes(3).toString('hex');
const apps: string[] = [];
function appName(what: string): string {
  const name = `gtest-deploy-${what}-${suffix}`;
  apps.push(name);
  return name;
}

let lab: LabState;
let vpn: VpnTunnel | undefined;
let session: SshSession | undefined;
let target: Docker;
let privateKey: string;
const images: Record<string, PushedImage> = {};
const deployRuns = new DeployRuns();
const ENV_SECRET = `env-secret-${randomBytes(8).toString('hex')}`;
const figures: Record<string, unknown> = {};
const PASSPHRASE = `pp-${randomBytes(8).toString('hex')}`;
let encryptedKey = '';

function baseInputs(app: string, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    host: lab.target.sshHost,
    port: String(lab.target.sshPort),
    username: lab.target.username,
    'private-key': privateKey,
    'known-hosts': lab.target.knownHosts,
    'docker-socket': lab.target.dockerSocket,
    app,
    'container-port': '8080',
    publish: String(port),
    volumes: `${app}-data:/data`,
    env: `SECRET_TOKEN=${ENV_SECRET}\nMODE=itg-mode`,
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    // These tests are about recreate (its downtime, restore); blue-green has its own (blue-green.itg.test.ts).
    strategy: 'recreate',
    'readiness-timeout': '30s',
    'stop-timeout': '5s',
    ...extra,
  };
}

const deploy = (inputs: Record<string, string>, options: { actor?: string; onLine?: (line: string) => void } = {}): Promise<DeployRun> =>
  deployRuns.deploy(inputs, { actor: 'octocat', timeoutMs: 240_000, ...options });

async function get(port: number, pathname: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://${lab.target.address}:${port}${pathname}`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: (await res.json()) };
}

/** The target engine's event log over a closed time window, as text. */
async function events(options: { since: number; until: number; filters: Record<string, string[]> }): Promise<string> {
  const stream = (await target.getEvents(options)) as unknown as AsyncIterable<Buffer>;
  let text = '';
  for await (const chunk of stream) text += chunk.toString('utf8');
  return text.trim();
}

function phaseMs(report: DeployRun['report'], phase: string): number | undefined {
  return report?.hosts[0]?.phases.find((p) => p.phase === phase)?.ms;
}

describe('action-deploy-ssh on the lab', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    vpn = await connectLabVpn(lab.vpn.configFile);
    session = await openSsh(
      { host: lab.target.sshHost, port: lab.target.sshPort, username: lab.target.username, privateKey, trust: { kind: 'fingerprint', fingerprint: lab.target.fingerprint } },
      { connectTimeoutMs: 10_000 },
    );
    target = (await openDockerOverSsh(session.client, lab.target.dockerSocket)).docker;
    const [v1, v2, v3] = await Promise.all([
      buildAndPush(lab, 'v1', { VERSION: 'v1' }),
      buildAndPush(lab, 'v2', { VERSION: 'v2' }),
      buildAndPush(lab, 'v3', { VERSION: 'v3', NEVER_READY: '1' }),
    ]);
    Object.assign(images, { v1, v2, v3 });
  });

  afterAll(async () => {
    if (target) {
      for (const app of apps) {
        const list = await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => []);
        for (const c of list) await target.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        await target.getVolume(`${app}-data`).remove().catch(() => undefined);
        await target.getNetwork(`${app}-net`).remove().catch(() => undefined);
      }
    }
    session?.close();
    await vpn?.stop();
    deployRuns.cleanup();
    console.log(`deploy-ssh lab figures: ${JSON.stringify(figures, null, 2)}`);
  });

  const port1 = 18600 + Math.floor(Math.random() * 100);
  const mainApp = () => apps[0] as string;

  it('deploys v1, then v2 with recreate: /version is v2, the SQLite history survives, downtime is measured', async () => {
    const app = appName('main');
    const v1 = await deploy(baseInputs(app, port1, { image: images.v1?.tagRef ?? '' }));
    expect(v1.main.exitCode, v1.main.log).toBe(0);
    expect(v1.main.outputs['image-digest']).toBe(images.v1?.digest);
    expect(v1.main.outputs['rolled-back']).toBe('false');
    expect((await get(port1, '/version')).body).toEqual({ version: 'v1' });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://${lab.target.address}:${port1}/history`, { method: 'POST', body: `row ${i}` });
      expect(res.status).toBe(201);
    }
    figures['v1 phases'] = v1.report?.hosts[0]?.phases;

    const load = startLoad({ host: lab.target.address, port: port1, path: '/version', clients: 4, rate: 120, maxMs: 120_000, timeoutMs: 2000 });
    await new Promise((r) => setTimeout(r, 1000));
    const v2 = await deploy(baseInputs(app, port1, { image: images.v2?.digestRef ?? '' }));
    await new Promise((r) => setTimeout(r, 1000));
    const counts = summarize(await load.stop());
    expect(v2.main.exitCode, v2.main.log).toBe(0);
    expect(v2.main.outputs['previous-container']).toBe(v1.main.outputs['container-name']);
    expect((await get(port1, '/version')).body).toEqual({ version: 'v2' });
    const history = (await get(port1, '/history')).body as Array<{ text: string; version: string }>;
    expect(history.filter((h) => h.version === 'v1').map((h) => h.text)).toEqual(Array.from({ length: 20 }, (_, i) => `row ${i}`));
    // The env secret reached the container (by key) without being printed anywhere.
    expect((await get(port1, '/env-keys')).body).toContain('SECRET_TOKEN');
    // Labels carry provenance, never env values.
    const info = await target.getContainer(v2.main.outputs['container-id'] ?? '').inspect();
    expect(info.Config.Labels).toMatchObject({ 'gangway.app': app, 'gangway.digest': images.v2?.digest, 'gangway.actor': 'octocat' });
    expect(JSON.stringify(info.Config.Labels)).not.toContain(ENV_SECRET);
    // The old container is kept, stopped, for rollback.
    const old = await target.getContainer(v1.main.outputs['container-id'] ?? '').inspect();
    expect(old.State.Running).toBe(false);
    figures['v2 phases'] = v2.report?.hosts[0]?.phases;
    figures['recreate downtime'] = { failed: counts.failed, total: counts.total, versions: counts.versions, stopToReadyMs: v2.report?.hosts[0]?.downtimeMs };
    expect(counts.versions['v1']).toBeGreaterThan(0);
    expect(counts.versions['v2']).toBeGreaterThan(0);
    expect(v2.main.summary).toContain('Downtime');
  });

  it('rolls back automatically when v3 never gets ready: v2 serves, the step fails with rolled-back=true and v3\'s logs', async () => {
    const app = mainApp();
    const v3 = await deploy(baseInputs(app, port1, { image: images.v3?.digestRef ?? '', 'readiness-timeout': '6s' }));
    expect(v3.main.exitCode).toBe(1);
    expect(v3.main.outputs['rolled-back']).toBe('true');
    expect(v3.main.log).toContain('deploy-app v3 listening');
    expect(v3.main.annotations.find((a) => a.level === 'error')?.message).toMatch(/did not get ready.*rolled back/s);
    expect((await get(port1, '/version')).body).toEqual({ version: 'v2' });
    const left = await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`, `gangway.digest=${images.v3?.digest ?? ''}`] } });
    expect(left).toEqual([]);
    figures['auto rollback'] = { readinessWaitMs: phaseMs(v3.report, 'readiness'), restoreMs: phaseMs(v3.report, 'restore'), totalMs: v3.report?.hosts[0]?.totalMs };
  });

  it('rollback: true switches to the previous container (v1), kept stopped since the v2 deploy', async () => {
    const app = mainApp();
    const back = await deploy(baseInputs(app, port1, { rollback: 'true' }));
    expect(back.main.exitCode, back.main.log).toBe(0);
    expect((await get(port1, '/version')).body).toEqual({ version: 'v1' });
    expect((await get(port1, '/history')).body).toHaveLength(20);
    figures['rollback: true'] = { phases: back.report?.hosts[0]?.phases, totalMs: back.report?.hosts[0]?.totalMs };
  });

  it('gpus on an engine without the NVIDIA runtime (the lab\'s): refused before anything is pulled or changed, naming gpus and the runtimes it has', async () => {
    const app = mainApp();
    const before = (await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } })).map((c) => `${c.Id} ${c.State}`).sort();
    const run = await deploy(baseInputs(app, port1, { image: images.v2?.digestRef ?? '', gpus: 'all' }));
    expect(run.main.exitCode).toBe(1);
    expect(run.main.log).toMatch(/Input "gpus": the Docker engine on \S+ has no NVIDIA runtime \(its runtimes: [^)]*runc[^)]*\)/);
    expect(run.main.log).toContain('nvidia-ctk runtime configure --runtime=docker');
    expect(run.main.log).not.toMatch(/pulled |lock .* taken/);
    expect((await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } })).map((c) => `${c.Id} ${c.State}`).sort()).toEqual(before);
    expect((await get(port1, '/version')).body).toEqual({ version: 'v1' });
  });

  it('stops before any Docker call when the host key does not match known-hosts', async () => {
    const app = appName('hostkey');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-hk-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
    const otherKey = fs.readFileSync(path.join(dir, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    fs.rmSync(dir, { recursive: true, force: true });
    const since = Math.floor(Date.now() / 1000) - 1;
    const run = await deploy(baseInputs(app, port1 + 200, { image: images.v1?.digestRef ?? '', 'known-hosts': `${lab.target.sshHost} ${otherKey}` }));
    const until = Math.floor(Date.now() / 1000) + 1;
    expect(run.main.exitCode).toBe(1);
    expect(run.main.annotations.find((a) => a.level === 'error')?.message).toMatch(/failed \(host-key\).*does not match known-hosts/s);
    // The engine saw nothing of this app: no pull, no container, no lock.
    expect(await events({ since, until, filters: { label: [`gangway.app=${app}`] } })).toBe('');
    const pulls = await events({ since, until, filters: { type: ['image'], event: ['pull'] } });
    expect(pulls).not.toContain(images.v1?.digest ?? 'nothing');
  });

  it('refuses to connect without known-hosts, fingerprint or the insecure flag (ConfigurationError)', async () => {
    const app = appName('nokey');
    const run = await deploy(baseInputs(app, port1 + 201, { image: images.v1?.digestRef ?? '', 'known-hosts': '' }));
    expect(run.main.exitCode).toBe(1);
    expect(run.main.annotations.find((a) => a.level === 'error')?.message).toMatch(/No way to verify the server's host key.*known-hosts/);
    expect(run.main.log).not.toMatch(/connected to/);
  });

  it('serialises two deploys of one app with the lock; a short lock-timeout fails naming the holder', async () => {
    const app = appName('lock');
    const port = port1 + 300;
    const first = await deploy(baseInputs(app, port, { image: images.v1?.digestRef ?? '' }));
    expect(first.main.exitCode, first.main.log).toBe(0);

    // A holds the lock while its new container takes ~6 s to get ready; B waits, then runs.
    let aHasLock: () => void = () => undefined;
    const aLocked = new Promise<void>((r) => (aHasLock = r));
    const a = deploy(baseInputs(app, port, { image: images.v2?.digestRef ?? '', env: 'READY_DELAY_MS=6000' }), { actor: 'alice', onLine: (l) => /lock gangway-lock\..* taken/.test(l) && aHasLock() });
    await aLocked;
    const b = deploy(baseInputs(app, port, { image: images.v1?.digestRef ?? '' }), { actor: 'bob' });
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.main.exitCode, ra.main.log).toBe(0);
    expect(rb.main.exitCode, rb.main.log).toBe(0);
    expect(phaseMs(ra.report, 'readiness'), ra.main.log).toBeGreaterThan(4000);
    expect(rb.main.log).toMatch(/waiting for the deploy lock of gtest-deploy-lock-\w+, held by alice/);
    expect((await get(port, '/version')).body).toEqual({ version: 'v1' });
    figures['lock wait (b)'] = phaseMs(rb.report, 'lock');

    let cHasLock: () => void = () => undefined;
    const cLocked = new Promise<void>((r) => (cHasLock = r));
    const c = deploy(baseInputs(app, port, { image: images.v2?.digestRef ?? '', env: 'READY_DELAY_MS=10000' }), { actor: 'carol', onLine: (l) => /lock gangway-lock\..* taken/.test(l) && cHasLock() });
    await cLocked;
    const d = await deploy(baseInputs(app, port, { image: images.v1?.digestRef ?? '', 'lock-timeout': '5s' }), { actor: 'dave' });
    expect(d.main.exitCode).toBe(1);
    expect(d.main.annotations.find((x) => x.level === 'error')?.message).toMatch(/still held after 5\.\ds by carol \(run https:\/\/github\.com\//);
    const rc = await c;
    expect(rc.main.exitCode, rc.main.log).toBe(0);
    // No lock is left behind.
    const locks = await target.listContainers({ all: true, filters: { label: ['gangway.role=lock', `gangway.app=${app}`] } });
    expect(locks).toEqual([]);
  });

  it('logs in with a passphrase-protected key through a jump host (the target itself), and waits for the HEALTHCHECK with readiness-path: docker', async () => {
    const app = appName('jump');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-pp-'));
    const keyFile = path.join(dir, 'k');
    fs.writeFileSync(keyFile, privateKey, { mode: 0o600 });
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', keyFile]);
    encryptedKey = fs.readFileSync(keyFile, 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
    expect(encryptedKey).not.toBe(privateKey);
    const run = await deploy(
      baseInputs(app, port1 + 400, {
        image: images.v1?.digestRef ?? '',
        'private-key': encryptedKey,
        passphrase: PASSPHRASE,
        'jump-host': `${lab.target.username}@${lab.target.sshHost}:${lab.target.sshPort}`,
        'jump-known-hosts': lab.target.knownHosts,
        'readiness-path': 'docker',
        network: `${app}-net`,
      }),
    );
    expect(run.main.exitCode, run.main.log).toBe(0);
    expect(run.main.log).toMatch(/health: (starting|healthy)|is ready after/);
    expect((await get(port1 + 400, '/version')).body).toEqual({ version: 'v1' });
    const info = await target.getContainer(run.main.outputs['container-id'] ?? '').inspect();
    expect(info.State.Health?.Status).toBe('healthy');
    // On its own network (created), reachable there by the app's name.
    expect(info.NetworkSettings.Networks[`${app}-net`]?.Aliases).toContain(app);
  });

  it('puts the old container back when the job is cancelled while the new one is not ready yet', async () => {
    const app = mainApp();
    const before = (await get(port1, '/version')).body;
    const values = baseInputs(app, port1, { image: images.v2?.digestRef ?? '', env: 'READY_DELAY_MS=60000' });
    const { main, report } = await deployRuns.deploy(values, { timeoutMs: 120_000, cancel: { whenLog: /started gtest-deploy-main-/ } });
    expect(main.cancelled).toBe(true);
    expect(main.ok).toBe(false);
    expect(main.signal, main.log).toBeNull(); // it finished by itself after SIGINT, not killed
    expect(main.outputs['rolled-back']).toBe('true');
    expect((await get(port1, '/version')).body).toEqual(before);
    const locks = await target.listContainers({ all: true, filters: { label: ['gangway.role=lock', `gangway.app=${app}`] } });
    expect(locks).toEqual([]);
    figures['cancelled deploy'] = { stepMs: main.durationMs, restoreMs: phaseMs(report, 'restore') };
    expect(main.log).not.toMatch(/not ready yet.*out of range/);
  });

  it('keeps an audit log on the server: one line per deploy, rollback and cancelled deploy of the app, in the gangway-audit volume; audit: true prints it and changes nothing', async () => {
    const app = mainApp();
    const before = (await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } })).map((c) => `${c.Id} ${c.State}`).sort();
    const read = await deploy({ ...baseInputs(app, port1, { audit: 'true' }), image: '' });
    expect(read.main.exitCode, read.main.log).toBe(0);
    expect(read.report?.mode).toBe('audit');
    const entries = read.report?.hosts[0]?.audit ?? [];
    // v1, v2 (recreate), v3 that never got ready, rollback: true, the cancelled deploy; the gpus run was refused before the lock.
    expect(entries.map((e) => `${e.action} ${e.result}`)).toEqual(['deploy deployed', 'deploy deployed', 'deploy rolled-back', 'rollback deployed', 'deploy rolled-back']);
    expect(entries.slice(0, 3).map((e) => e.digest)).toEqual([images.v1?.digest, images.v2?.digest, images.v3?.digest]);
    expect(entries.every((e) => e.app === app && e.actor === 'octocat' && e.roles.join() === 'web')).toBe(true);
    expect((await target.getVolume('gangway-audit').inspect()).Name).toBe('gangway-audit');
    // Read only: nothing of the app changed, and no throwaway container is left.
    expect((await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } })).map((c) => `${c.Id} ${c.State}`).sort()).toEqual(before);
    expect(await target.listContainers({ all: true, filters: { label: ['gangway.role=audit'] } })).toEqual([]);
    // A later run adds to it.
    const again = await deploy(baseInputs(app, port1, { image: images.v1?.digestRef ?? '' }));
    expect(again.main.exitCode, again.main.log).toBe(0);
    expect(again.report?.hosts[0]?.audit?.length).toBe(Math.min(5, entries.length + 1));
    expect(again.report?.hosts[0]?.audit?.at(-1)).toMatchObject({ action: 'deploy', result: 'deployed', digest: images.v1?.digest });
    const after = await deploy({ ...baseInputs(app, port1, { audit: 'true' }), image: '' });
    expect(after.report?.hosts[0]?.audit?.length).toBe(entries.length + 1);
    figures['audit log'] = { entries: entries.length + 1, readMs: after.report?.hosts[0]?.totalMs };
  });

  it('leaks no secret into any captured output of any run', () => {
    expect(deployRuns.runs.length).toBeGreaterThan(5);
    const leaks = findSecretLeaks(deployRuns.runs, {
      'private-key': privateKey,
      'registry-password': lab.registry.password,
      'env value': ENV_SECRET,
      passphrase: PASSPHRASE,
      'encrypted key': encryptedKey,
    });
    expect(leaks).toEqual([]);
  });
});
