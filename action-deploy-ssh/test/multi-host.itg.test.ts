// Two lab targets, each behind its own VPN, deployed by action-deploy-ssh's dist in one step:
// the first is the canary, the second follows. Under a steady load on both public ports,
// v1 → v2, then a v3 that gets ready on the canary but never on the second host: the canary,
// already switched, is rolled back to v2 and not one request fails on either host.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import { labStatus, readLabState, type LabState, type TargetState } from '../../lab/src/index.ts';
import { startLoad, summarize } from '../../lab/src/testing/load.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { DeployRuns, type DeployRun } from './lab-runs.ts';
import { buildAndPush, type PushedImage } from './lab-images.ts';

const app = `gtest-multi-${randomBytes(3).toString('hex')}`;
const port = 19300 + Math.floor(Math.random() * 90);
// v3: the stand-in app, never ready when its address is in the second target's Docker pool (198.18.80.0/20).
const READY_ONLY_ON_FIRST =
  '["node", "-e", "const a = Object.values(require(\'node:os\').networkInterfaces()).flat().map((i) => i.address); if (a.some((x) => /^198\\\\.18\\\\.(8\\\\d|9[0-5])\\\\./.test(x))) process.env.NEVER_READY = \'1\'; import(\'/srv/server.mjs\');"]';

let lab: LabState;
let targets: TargetState[];
const vpns: VpnTunnel[] = [];
const sessions: SshSession[] = [];
const engines: Docker[] = [];
let privateKey: string;
let v1: PushedImage;
let v2: PushedImage;
const deployRuns = new DeployRuns();
const figures: Record<string, unknown> = {};

function inputs(extra: Record<string, string>): Record<string, string> {
  return {
    host: targets.map((t) => t.sshHost).join(', '),
    username: lab.target.username,
    'private-key': privateKey,
    'known-hosts': targets.map((t) => t.knownHosts).join('\n'),
    // The lab's engines have their own socket paths (one machine); real servers share /var/run/docker.sock.
    'docker-socket': targets.map((t) => `${t.sshHost}=${t.dockerSocket}`).join('\n'),
    app,
    'container-port': '8080',
    publish: String(port),
    volumes: `${app}-data:/data`,
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '20s',
    'stop-timeout': '5s',
    ...extra,
  };
}

const deploy = (values: Record<string, string>): Promise<DeployRun> => deployRuns.deploy(values);

async function version(t: TargetState): Promise<string> {
  const res = await fetch(`http://${t.address}:${port}/version`, { signal: AbortSignal.timeout(5000) });
  return String(((await res.json()) as { version?: string }).version);
}

describe('blue-green on two lab targets: canary, batch, and the canary rolled back when the second host fails', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    targets = lab.targets.slice(0, 2);
    if (targets.length < 2) throw new Error('this test needs two lab targets: flock /tmp/gangway-lab.lock npm run lab:up (two is the default)');
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    [v1, v2] = await Promise.all([buildAndPush(lab, 'multi-v1', { VERSION: 'v1' }), buildAndPush(lab, 'multi-v2', { VERSION: 'v2' })]);
    for (const t of targets) {
      vpns.push(await connectLabVpn(t.vpn.configFile));
      const session = await openSsh({ host: t.sshHost, port: t.sshPort, username: t.username, privateKey, trust: { kind: 'fingerprint', fingerprint: t.fingerprint } }, { connectTimeoutMs: 10_000 });
      sessions.push(session);
      engines.push((await openDockerOverSsh(session.client, t.dockerSocket)).docker);
    }
  }, 600_000);

  afterAll(async () => {
    for (const target of engines) {
      const list = await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => []);
      for (const c of list) await target.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      await target.getVolume(`${app}-data`).remove().catch(() => undefined);
      await target.getNetwork(`${app}-net`).remove().catch(() => undefined);
    }
    for (const s of sessions) s.close();
    for (const v of vpns) await v.stop();
    deployRuns.cleanup();
    console.log(`deploy-ssh two-host figures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('v1 on both, v2 on both under load, then a v3 failing on the second host rolls the canary back; 0 failed requests', async () => {
    const first = await deploy(inputs({ image: v1.digestRef }));
    expect(first.main.exitCode, first.main.log).toBe(0);
    expect(first.report?.hosts.map((h) => h.result)).toEqual(['deployed', 'deployed']);
    for (const t of targets) expect(await version(t)).toBe('v1');

    const loads = targets.map((t) => startLoad({ host: t.address, port, rate: 40, clients: 6, maxMs: 240_000 }));
    await new Promise((r) => setTimeout(r, 2000));
    const second = await deploy(inputs({ image: v2.digestRef }));
    expect(second.main.exitCode, second.main.log).toBe(0);
    expect(second.report?.hosts.map((h) => [h.host, h.result])).toEqual(targets.map((t) => [t.sshHost, 'deployed']));
    expect(second.main.log).toMatch(/canary: 198\.19\.0\.1/);
    for (const t of targets) expect(await version(t)).toBe('v2');
    await new Promise((r) => setTimeout(r, 2000));

    const third = await deploy(inputs({ image: v2.digestRef, command: READY_ONLY_ON_FIRST, 'readiness-timeout': '8s' }));
    expect(third.main.exitCode).toBe(1);
    expect(third.main.outputs['rolled-back']).toBe('true');
    expect(third.report?.hosts.map((h) => [h.host, h.result])).toEqual([
      [targets[0]?.sshHost, 'reverted'],
      [targets[1]?.sshHost, 'rolled-back'],
    ]);
    expect(third.main.log).toMatch(/rolling back 1 host\(s\) that already switched: 198\.19\.0\.1/);
    for (const t of targets) expect(await version(t)).toBe('v2');
    await new Promise((r) => setTimeout(r, 2000));

    const results = await Promise.all(loads.map((l) => l.stop()));
    const perTarget = results.map((samples) => summarize(samples));
    figures['load per target'] = perTarget;
    figures['v2 step ms'] = second.ms;
    figures['v2 per host'] = second.report?.hosts.map((h) => ({ host: h.host, totalMs: h.totalMs, phases: h.phases }));
    figures['v3 step ms'] = third.ms;
    figures['v3 per host'] = third.report?.hosts.map((h) => ({ host: h.host, result: h.result, totalMs: h.totalMs, revert: h.revert }));
    const total = perTarget.reduce((n, s) => n + s.total, 0);
    expect(total).toBeGreaterThanOrEqual(1500);
    for (const s of perTarget) expect(s.failed, JSON.stringify(s.errors)).toBe(0);
  });

  it('leaks no secret', () => {
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password })).toEqual([]);
  });
});
