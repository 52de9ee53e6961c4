// The whole chain on the lab, as `npm run demo` runs it: build → VPN → deploy → smoke test on
// the dist bundles through the runner harness, twice. The second run swaps versions under a
// steady load through the VPN, which must see no failed request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/kit/harness';
import { openDockerOverSsh, openSsh } from '@gangway/kit/ssh';
import { readFileSync } from 'node:fs';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { connectLabVpn } from '../../lab/src/testing/vpn.ts';
import { runPipeline, type PipelineResult } from '../../scripts/demo/pipeline.ts';
import { startGitHubApi } from '../support/github-api/index.ts';

const APP = 'gtest-e2e-ocr';
const PORT = 18080;
let lab: LabState;
const results: PipelineResult[] = [];

async function removeApp(): Promise<void> {
  const vpn = await connectLabVpn(lab.vpn.configFile);
  try {
    const session = await openSsh(
      {
        host: lab.target.sshHost,
        port: lab.target.sshPort,
        username: lab.target.username,
        privateKey: readFileSync(lab.target.privateKeyFile, 'utf8'),
        trust: { kind: 'fingerprint', fingerprint: lab.target.fingerprint },
      },
      { connectTimeoutMs: 10_000 },
    );
    try {
      const { docker } = await openDockerOverSsh(session.client, lab.target.dockerSocket);
      const containers = await docker.listContainers({ all: true });
      for (const c of containers) {
        if (c.Names.some((n) => n.replace(/^\//, '').startsWith(APP)) || c.Labels['gangway.app'] === APP) {
          await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        }
      }
      for (const n of await docker.listNetworks()) if (n.Name.startsWith(APP)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
      await docker.getVolume(`${APP}-data`).remove().catch(() => undefined);
    } finally {
      session.close();
    }
  } finally {
    await vpn.stop();
  }
}

describe('the deploy pipeline on the lab (npm run demo)', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: npm test brings it up (or npm run lab:up)`);
    lab = readLabState();
    await removeApp();
  }, 120_000);

  afterAll(async () => {
    if (lab) await removeApp();
    for (const r of results) {
      console.log(
        `e2e ${r.version}: ${r.steps.map((s) => `${s.name} ${(s.run.durationMs / 1000).toFixed(1)}s`).join(', ')}${r.load ? `; load ${r.load.failed}/${r.load.total} failed, p99 ${r.load.p99} ms, ${r.load.resent} resent on a closed keep-alive connection` : ''}`,
      );
    }
  }, 120_000);

  it('deploys a first version: every step passes and writes a summary', async () => {
    const result = await runPipeline({ lab, version: 'e2e-1', app: APP, port: PORT });
    results.push(result);
    const failed = result.steps.filter((s) => !s.run.ok).map((s) => `${s.name}: ${s.run.log.split('\n').slice(-30).join('\n')}`);
    expect(failed).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.name)).toEqual(['build', 'vpn-connect', 'deploy-ssh', 'smoke-test', 'deploy-ssh (post)', 'vpn-connect (post)']);
    expect(result.imageRef).toMatch(/@sha256:[0-9a-f]{64}$/);
    for (const s of result.steps.filter((x) => !x.name.includes('post'))) expect(s.run.summary.length, s.name).toBeGreaterThan(50);
    expect(result.load).toBeUndefined();
  }, 1_200_000);

  it('swaps in a second version with no failed request under steady load, recorded as a GitHub deployment', async () => {
    const token = 'ghs_e2ePipelineToken000000000000000000';
    const github = await startGitHubApi({ repository: 'gangway/gangway', token });
    let result: PipelineResult;
    try {
      result = await runPipeline({
        lab,
        version: 'e2e-2',
        app: APP,
        port: PORT,
        loadDuringSwap: true,
        deployInputs: { environment: 'lab', 'environment-url': `http://${lab.target.address}:${PORT}`, 'github-token': token, 'api-url': github.url },
      });
      result.secrets['github token'] = token;
      results.push(result);
      const statuses = github.calls('repos/create-deployment-status').map((c) => (c.body as { state: string }).state);
      expect(statuses).toEqual(['in_progress', 'success']);
      expect(github.calls('repos/create-deployment')[0]?.body).toMatchObject({ environment: 'lab', auto_merge: false });
      github.assertConforming();
    } finally {
      await github.close();
    }
    expect(result.steps.filter((s) => !s.run.ok).map((s) => s.name)).toEqual([]);
    expect(result.load).toBeDefined();
    const load = result.load!;
    expect(load.total).toBeGreaterThan(200);
    expect(load.firstFailures).toEqual([]);
    expect(load.failed).toBe(0);
    // The load saw the old version, then the new one: the swap happened while it ran.
    expect(Object.keys(load.versions).sort()).toEqual(['e2e-1', 'e2e-2']);
  }, 1_200_000);

  it('prints no secret in any step', () => {
    expect(results.length).toBe(2);
    for (const r of results) expect(findSecretLeaks(r.steps.map((s) => s.run), r.secrets)).toEqual([]);
  });
});
