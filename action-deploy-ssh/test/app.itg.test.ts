// The real OCR app (app/Dockerfile, built and pushed by action-build's dist) deployed by
// action-deploy-ssh's dist through the lab VPN: v1 → v2 under a steady load with the results
// stored under v1 still there, then a v3 that never gets ready and is rolled back.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { DeployRuns, reachLabTarget, removeAppLeftovers, type DeployRun, type LabTargetLink, labTargetInputs } from './lab-runs.ts';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { renderTextImage } from '../../app/test/text-images.ts';
import { buildAndPushAppImage, type PushedAppImage } from '../../test/support/app-image.ts';
import { startLoad, summarize } from '../../lab/src/testing/load.ts';

const app = `gtest-deploy-ocr-${randomBytes(3).toString('hex')}`;
const port = 18900 + Math.floor(Math.random() * 90);
const ENV_SECRET = `ocr-env-secret-${randomBytes(8).toString('hex')}`;

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
    // These tests are about recreate (its downtime, restore); blue-green has its own (blue-green.itg.test.ts).
    strategy: 'recreate',
    'readiness-timeout': '2m',
    'stop-timeout': '30s',
    ...extra,
  };
}

const deploy = (values: Record<string, string>): Promise<DeployRun> => deployRuns.deploy(values);

const base = (): string => `http://${lab.target.address}:${port}`;

async function json(pathname: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base()}${pathname}`, { ...init, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('action-deploy-ssh deploys the real app on the lab', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    const sha = randomBytes(20).toString('hex');
    v1 = await buildAndPushAppImage(lab, { tag: `deploy-v1-${app}`, version: 'v1', gitSha: sha });
    v2 = await buildAndPushAppImage(lab, { tag: `deploy-v2-${app}`, version: 'v2', gitSha: sha });
    figures['app image builds (ms)'] = [v1.durationMs, v2.durationMs];
    link = await reachLabTarget(lab.target, privateKey);
    target = link.docker;
  }, 1_200_000);

  afterAll(async () => {
    if (target) {
      await removeAppLeftovers(target, app, [`${app}-data`]);
    }
    await link?.close();
    deployRuns.cleanup();
    console.log(`deploy-ssh real-app figures: ${JSON.stringify(figures, null, 2)}`);
  });

  const tokens: Array<{ token: string; text: string }> = [];

  it('v1 then v2 (recreate) under load: /version says v2 and every result stored under v1 is still there', async () => {
    const first = await deploy(inputs({ image: v1.imageRef }));
    expect(first.main.exitCode, first.main.log).toBe(0);
    expect((await json('/version')).body.version).toBe('v1');
    for (const lines of [['Gangway deploys safely'], ['Blue and green', 'version one'], ['SQLite keeps history']]) {
      const image = await renderTextImage(lines, 'DejaVu Sans', 32);
      const res = await json('/api/v1/ocr', { method: 'POST', headers: { 'content-type': 'image/png' }, body: image.png });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
      tokens.push({ token: String(res.body.token), text: String(res.body.text) });
    }
    figures['v1 phases'] = first.report?.hosts[0]?.phases;

    const load = startLoad({ host: lab.target.address, port, path: '/version', clients: 4, rate: 120, maxMs: 300_000, timeoutMs: 2000 });
    await new Promise((r) => setTimeout(r, 1000));
    const second = await deploy(inputs({ image: v2.imageRef }));
    await new Promise((r) => setTimeout(r, 1000));
    const counts = summarize(await load.stop());
    expect(second.main.exitCode, second.main.log).toBe(0);
    expect(second.main.outputs['image-digest']).toBe(v2.digest);
    expect((await json('/version')).body).toMatchObject({ version: 'v2' });
    for (const t of tokens) {
      const res = await json(`/api/v1/results/${t.token}`);
      expect(res.status).toBe(200);
      expect(res.body.text).toBe(t.text);
    }
    figures['v2 phases'] = second.report?.hosts[0]?.phases;
    figures['recreate downtime (real app)'] = { failed: counts.failed, total: counts.total, versions: counts.versions, stopToReadyMs: second.report?.hosts[0]?.downtimeMs };
  });

  it('a v3 that never gets ready is rolled back: v2 serves again, the step fails with rolled-back=true and v3\'s output', async () => {
    const never = '["node", "-e", "require(\'node:http\').createServer((q, s) => { s.statusCode = 503; s.end(\'never\'); }).listen(8080); console.log(\'v3 is up but never ready\')"]';
    const third = await deploy(inputs({ image: v2.imageRef, command: never, 'readiness-timeout': '10s' }));
    expect(third.main.exitCode).toBe(1);
    expect(third.main.outputs['rolled-back']).toBe('true');
    expect(third.main.log).toContain('v3 is up but never ready');
    expect((await json('/version')).body).toMatchObject({ version: 'v2' });
    expect((await json(`/api/v1/results/${tokens[0]?.token ?? ''}`)).status).toBe(200);
    const phases = third.report?.hosts[0]?.phases ?? [];
    figures['auto rollback (real app)'] = { readinessMs: phases.find((p) => p.phase === 'readiness')?.ms, restoreMs: phases.find((p) => p.phase === 'restore')?.ms, totalMs: third.report?.hosts[0]?.totalMs };
  });

  it('leaks no secret', () => {
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password, 'env value': ENV_SECRET })).toEqual([]);
  });
});
