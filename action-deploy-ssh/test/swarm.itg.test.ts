// target: swarm on the lab's second target: a one-node swarm made (and left) by this test, one
// replica behind the managed proxy, v1 → v2 as a Swarm service update, then a v3 that never gets healthy: Swarm rolls back by
// itself, the step fails with rolled-back=true and v2 still answers through the VPN. On the way,
// rollback: true (Swarm's previous spec) goes back to v1 and v2 is deployed again.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import { labStatus, readLabState, type LabState, type TargetState } from '../../lab/src/index.ts';
import { formLabSwarm, type LabSwarm } from '../../lab/src/testing/swarm-cluster.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { DeployRuns, type DeployRun } from './lab-runs.ts';
import { buildAndPush, type PushedImage } from './lab-images.ts';

const app = `gtest-swarm-${randomBytes(3).toString('hex')}`;
const port = 19400 + Math.floor(Math.random() * 90);

let lab: LabState;
let target: TargetState;
let vpn: VpnTunnel | undefined;
let session: SshSession | undefined;
let docker: Docker | undefined;
let swarm: LabSwarm | undefined;
let privateKey: string;
let v1: PushedImage;
let v2: PushedImage;
const deployRuns = new DeployRuns();
const figures: Record<string, unknown> = {};

function inputs(extra: Record<string, string>): Record<string, string> {
  return {
    host: target.sshHost,
    username: lab.target.username,
    'private-key': privateKey,
    'known-hosts': target.knownHosts,
    'docker-socket': target.dockerSocket,
    target: 'swarm',
    app,
    'container-port': '8080',
    publish: String(port),
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '20s',
    'stop-timeout': '5s',
    ...extra,
  };
}

const deploy = (values: Record<string, string>): Promise<DeployRun> => deployRuns.deploy(values);

async function version(): Promise<string> {
  const res = await fetch(`http://${target.address}:${port}/version`, { signal: AbortSignal.timeout(5000) });
  return String(((await res.json()) as { version?: string }).version);
}

describe('target: swarm on a one-node swarm (lab target 2)', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    const second = lab.targets[1];
    if (!second) throw new Error('this test needs the second lab target: flock /tmp/gangway-lab.lock npm run lab:up (two is the default)');
    target = second;
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    [v1, v2] = await Promise.all([buildAndPush(lab, 'swarm-v1', { VERSION: 'v1' }), buildAndPush(lab, 'swarm-v2', { VERSION: 'v2' })]);
    vpn = await connectLabVpn(target.vpn.configFile);
    session = await openSsh({ host: target.sshHost, port: target.sshPort, username: target.username, privateKey, trust: { kind: 'fingerprint', fingerprint: target.fingerprint } }, { connectTimeoutMs: 10_000 });
    docker = (await openDockerOverSsh(session.client, target.dockerSocket)).docker;
    swarm = await formLabSwarm([target]);
  }, 600_000);

  afterAll(async () => {
    if (docker) {
      await docker.getService(app).remove().catch(() => undefined);
      // The proxy and the lock marker, before the swarm goes: the proxy is on the service's overlay network.
      const list = await docker.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => []);
      for (const c of list) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    const problems = (await swarm?.leave()) ?? [];
    if (problems.length > 0) console.warn(`leaving the lab swarm: ${problems.join('; ')}`);
    session?.close();
    await vpn?.stop();
    deployRuns.cleanup();
    console.log(`deploy-ssh swarm figures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('v1, then v2 as a Swarm update, then a never-healthy v3 that Swarm rolls back by itself', async () => {
    const first = await deploy(inputs({ image: v1.digestRef }));
    expect(first.main.exitCode, first.main.log).toBe(0);
    expect(first.report?.hosts.map((h) => h.result)).toEqual(['deployed']);
    expect(await version()).toBe('v1');
    figures['v1 (create) step ms'] = first.ms;

    const second = await deploy(inputs({ image: v2.digestRef }));
    expect(second.main.exitCode, second.main.log).toBe(0);
    expect(second.main.log).toMatch(/image's own HEALTHCHECK/);
    expect(second.report?.hosts.map((h) => h.result)).toEqual(['deployed']);
    expect(await version()).toBe('v2');
    figures['v1 → v2 step ms'] = second.ms;
    figures['v1 → v2 update+readiness ms'] = second.report?.hosts[0]?.readinessMs;
    figures['v1 → v2 phases'] = second.report?.hosts[0]?.phases;

    // rollback: true → Swarm's previous spec (v1), then v2 again.
    const back = await deploy(inputs({ rollback: 'true' }));
    expect(back.main.exitCode, back.main.log).toBe(0);
    expect(back.report?.hosts.map((h) => [h.mode, h.result])).toEqual([['rollback', 'deployed']]);
    expect(await version()).toBe('v1');
    figures['rollback: true step ms'] = back.ms;
    const again = await deploy(inputs({ image: v2.digestRef }));
    expect(again.main.exitCode, again.main.log).toBe(0);
    expect(await version()).toBe('v2');

    const third = await deploy(inputs({ image: v2.digestRef, env: 'NEVER_READY=1' }));
    expect(third.main.exitCode, third.main.log).toBe(1);
    expect(third.main.outputs['rolled-back'], third.main.log).toBe('true');
    expect(third.report?.hosts.map((h) => h.result)).toEqual(['rolled-back']);
    // Swarm starts the rollback itself; when its restart of the failed task holds the host port, the action finishes it (ForceUpdate).
    expect(third.main.log).toMatch(/Swarm update: rollback_(started|completed)/);
    expect(await version()).toBe('v2');
    figures['v3 (Swarm rollback) step ms'] = third.ms;
    figures['v3 update → rollback_completed ms'] = third.report?.hosts[0]?.readinessMs;

    const service = (await (docker as Docker).getService(app).inspect()) as { Spec: { TaskTemplate: { ContainerSpec: { Image: string } } } };
    expect(service.Spec.TaskTemplate.ContainerSpec.Image).toBe(v2.digestRef);
  });

  it('leaks no secret', () => {
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password })).toEqual([]);
  });
});
