// Acceptance of blue-green on the lab, with the real app (app/Dockerfile built and pushed by
// action-build) deployed by action-deploy-ssh's dist through the VPN: v1 → v2 → a v3 that never
// gets ready → rollback: true to v1, all under one steady load (8 clients, half keep-alive,
// ~80 req/s) against the public port. Not one request may fail.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { DeployRuns, reachLabTarget, removeAppLeftovers, type DeployRun, type LabTargetLink, labTargetInputs } from './lab-runs.ts';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { startLoad, summarize, type LoadRun } from '../../lab/src/testing/load.ts';
import { buildAndPushAppImage, type PushedAppImage } from '../../test/support/app-image.ts';

const app = `gtest-bg-${randomBytes(3).toString('hex')}`;
const port = 19100 + Math.floor(Math.random() * 90);
const ENV_SECRET = `bg-env-secret-${randomBytes(8).toString('hex')}`;
const NEVER_READY = '["node", "-e", "require(\'node:http\').createServer((q, s) => { s.statusCode = 503; s.end(\'never\'); }).listen(8080); console.log(\'v3 is up but never ready\')"]';

let lab: LabState;
let link: LabTargetLink | undefined;
let target: Docker;
let privateKey: string;
let v1: PushedAppImage;
let v2: PushedAppImage;
const deployRuns = new DeployRuns();
const figures: Record<string, unknown> = {};

function inputs(extra: Record<string, string>): Record<string, string> {
  return {
    ...labTargetInputs(lab.target, privateKey),
    app,
    'container-port': '8080',
    publish: String(port),
    volumes: `${app}-data:/data`,
    env: `SESSION_SECRET=${ENV_SECRET}\nLOG_LEVEL=warn`,
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '2m',
    ...extra,
  };
}

const deploy = (values: Record<string, string>): Promise<DeployRun> => deployRuns.deploy(values);

async function version(): Promise<string> {
  const res = await fetch(`http://${lab.target.address}:${port}/version`, { signal: AbortSignal.timeout(5000) });
  return String(((await res.json()) as { version?: string }).version);
}

describe('blue-green on the lab: v1 → v2 → broken v3 → rollback, under load, no failed request', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    const sha = randomBytes(20).toString('hex');
    v1 = await buildAndPushAppImage(lab, { tag: `bg-v1-${app}`, version: 'v1', gitSha: sha });
    v2 = await buildAndPushAppImage(lab, { tag: `bg-v2-${app}`, version: 'v2', gitSha: sha });
    link = await reachLabTarget(lab.target, privateKey);
    target = link.docker;
  }, 1_200_000);

  afterAll(async () => {
    if (target) {
      await removeAppLeftovers(target, app, [`${app}-data`]);
    }
    await link?.close();
    deployRuns.cleanup();
    console.log(`deploy-ssh blue-green figures: ${JSON.stringify(figures, null, 2)}`);
  });

  let load: LoadRun | undefined;

  it('deploys v1 behind the managed proxy: the app publishes nothing, the proxy holds the port', async () => {
    const first = await deploy(inputs({ image: v1.imageRef }));
    expect(first.main.exitCode, first.main.log).toBe(0);
    expect(first.report?.strategy).toBe('blue-green');
    expect(await version()).toBe('v1');
    const appInfo = await target.getContainer(first.main.outputs['container-id'] ?? '').inspect();
    expect(appInfo.HostConfig.PortBindings ?? {}).toEqual({});
    expect(Object.keys(appInfo.NetworkSettings.Networks)).toEqual([`${app}-net`]);
    const proxy = await target.getContainer(`${app}-proxy`).inspect();
    expect(proxy.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '', HostPort: String(port) }] });
    figures['v1 (first deploy, proxy created) ms'] = first.ms;
  });

  it('v2, a v3 that never gets ready, and rollback: true, under steady load: 0 failed of ≥ 3000', async () => {
    const run = startLoad({ host: lab.target.address, port, rate: 80, clients: 8, maxMs: 240_000 });
    load = run;
    const marks: Record<string, [number, number]> = {};
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const from = run.now();
      const result = await fn();
      marks[name] = [from, run.now()];
      return result;
    };
    await new Promise((r) => setTimeout(r, 3000));
    const second = await step('v2', () => deploy(inputs({ image: v2.imageRef })));
    expect(second.main.exitCode, second.main.log).toBe(0);
    expect(await version()).toBe('v2');
    await new Promise((r) => setTimeout(r, 2000));

    const third = await step('broken v3', () => deploy(inputs({ image: v2.imageRef, command: NEVER_READY, 'readiness-timeout': '10s' })));
    expect(third.main.exitCode).toBe(1);
    expect(third.main.outputs['rolled-back']).toBe('true');
    expect(third.main.log).toContain('v3 is up but never ready');
    expect(await version()).toBe('v2');
    await new Promise((r) => setTimeout(r, 2000));

    const back = await step('rollback', () => deploy(inputs({ rollback: 'true' })));
    expect(back.main.exitCode, back.main.log).toBe(0);
    expect(await version()).toBe('v1');

    // Keep the load on until the sequence has seen at least 3000 requests.
    while (run.samples.length < 3100 && run.now() < 230_000) await new Promise((r) => setTimeout(r, 500));
    const samples = await run.stop();
    const all = summarize(samples);
    figures['load, whole sequence'] = all;
    for (const [name, [from, to]] of Object.entries(marks)) figures[`during ${name}`] = { wallMs: Math.round(to - from), ...summarize(samples, from, to) };
    figures['v2 phases'] = second.report?.hosts[0]?.phases;
    figures['broken v3 phases'] = third.report?.hosts[0]?.phases;
    figures['rollback phases'] = back.report?.hosts[0]?.phases;
    figures['rollback: true ms (step)'] = back.ms;
    expect(all.total).toBeGreaterThanOrEqual(3000);
    expect(all.failed, JSON.stringify(all.errors)).toBe(0);
    expect(all.versions['v1']).toBeGreaterThan(0);
    expect(all.versions['v2']).toBeGreaterThan(0);
    // The kept v2 container is stopped, not gone: the next rollback is instant too.
    const left = await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`, 'gangway.role=app'] } });
    expect(left.filter((c) => c.State === 'running')).toHaveLength(1);
    expect(left.length).toBeGreaterThanOrEqual(2);
  }, 600_000);

  it('leaks no secret', async () => {
    await load?.stop();
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password, 'env value': ENV_SECRET })).toEqual([]);
  });
});
