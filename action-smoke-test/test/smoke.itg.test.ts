// action-smoke-test's dist bundle, run as the runner runs it, against the real app image on the lab's
// target engine, reached through a real OpenVPN tunnel: the app's default checks with expect-version,
// an OCR upload whose JSON holds a known word, latency samples, `resolve`, a wrong version, and a
// blackholed address whose deadline holds.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryAuthHeader } from '@gangway/kit';
import { findSecretLeaks, RunnerJob, type ActionRun } from '@gangway/harness';
import { openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { renderTextImage } from '../../app/test/text-images.ts';
import { buildAndPushAppImage, type PushedAppImage } from '../../test/support/app-image.ts';
import type { SmokeReport } from '../src/report.ts';

const actionDir = path.resolve(import.meta.dirname, '..');
const suffix = randomBytes(3).toString('hex');
const containerName = `gtest-smoke-app-${suffix}`;
const gitSha = randomBytes(20).toString('hex');
const appVersion = `3.1.4-smoke.${suffix}`;
const port = 18700 + Math.floor(Math.random() * 100);
/** A word the OCR must read back from the uploaded image. */
const KNOWN_WORD = 'Gangway';

let lab: LabState;
let vpn: VpnTunnel | undefined;
let session: SshSession | undefined;
let target: Docker | undefined;
let image: PushedAppImage;
let baseUrl = '';
const jobs: RunnerJob[] = [];
const runs: ActionRun[] = [];
const figures: Record<string, unknown> = {};

function newJob(): RunnerJob {
  const job = new RunnerJob({ github: { sha: gitSha } });
  jobs.push(job);
  return job;
}

async function smoke(inputs: Record<string, string>, prepare?: (job: RunnerJob) => Promise<void>): Promise<{ run: ActionRun; report: SmokeReport | undefined }> {
  const job = newJob();
  await prepare?.(job);
  const run = await job.main(actionDir, { inputs, timeoutMs: 200_000 });
  runs.push(run);
  return { run, report: run.outputs.report ? (JSON.parse(run.outputs.report) as SmokeReport) : undefined };
}

async function follow(stream: NodeJS.ReadableStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    target?.modem.followProgress(stream, (error: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((e) => e.error);
      if (error) reject(error);
      else if (failed) reject(new Error(failed.error));
      else resolve();
    }),
  );
}

describe('action-smoke-test on the lab', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    const started = performance.now();
    // The image is built and pushed while the tunnel comes up.
    const [pushed, tunnel] = await Promise.all([buildAndPushAppImage(lab, { tag: `smoke-${suffix}`, version: appVersion, gitSha }), connectLabVpn(lab.vpn.configFile)]);
    image = pushed;
    vpn = tunnel;
    figures['build+push ms'] = image.durationMs;
    session = await openSsh(
      { host: lab.target.sshHost, port: lab.target.sshPort, username: lab.target.username, privateKey: readFileSync(lab.target.privateKeyFile, 'utf8'), trust: { kind: 'fingerprint', fingerprint: lab.target.fingerprint } },
      { connectTimeoutMs: 10_000, keepaliveIntervalMs: 5000 },
    );
    target = (await openDockerOverSsh(session.client, lab.target.dockerSocket)).docker;
    const auth = { base64: registryAuthHeader({ username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.host }) };
    await follow(await target.pull(image.imageRef, { authconfig: auth }));
    const container = await target.createContainer({
      Image: image.imageRef,
      name: containerName,
      Env: [`IMAGE_DIGEST=${image.digest}`],
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: lab.target.address, HostPort: String(port) }] } },
      Labels: { 'gangway.test': 'action-smoke-test' },
    });
    await container.start();
    baseUrl = `http://${lab.target.address}:${port}`;
    figures['setup ms'] = Math.round(performance.now() - started);
  }, 900_000);

  afterAll(async () => {
    if (target) {
      await target.getContainer(containerName).remove({ force: true }).catch(() => undefined);
      if (image) await target.getImage(image.imageRef).remove({ force: true }).catch(() => undefined);
      const left = await target.listContainers({ all: true, filters: { name: ['gtest-smoke-'] } });
      figures['gtest-smoke containers left'] = left.map((c) => c.Names[0]);
    }
    session?.close();
    await vpn?.stop();
    for (const job of jobs) job.cleanup();
    // Nothing secret in any run: the registry password never reaches the smoke test.
    if (lab) expect(findSecretLeaks(runs, { 'registry password': lab.registry.password })).toEqual([]);
    console.log(`smoke-test lab figures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('the default checks pass against the freshly started app, with expect-version as the git sha', async () => {
    // The app loads its models first (/readyz 503): the probe waits for it within the deadline.
    const { run, report } = await smoke({ url: baseUrl, 'expect-version': gitSha });
    expect(run.exitCode, run.log).toBe(0);
    expect(report?.checks.map((c) => [c.name, c.passed, c.status])).toEqual([
      ['readiness', true, 200],
      ['version', true, 200],
    ]);
    expect(run.outputs['reported-version']).toContain(`version=${appVersion} gitSha=${gitSha} imageDigest=${image.digest}`);
    figures['defaults on a starting app'] = { durationMs: report?.durationMs, readinessAttempts: report?.checks[0]?.attempts };
    // Once ready, the default checks take a few requests' time (durationMs counts from the process start).
    const again = await smoke({ url: baseUrl, 'expect-version': gitSha.slice(0, 7) });
    expect(again.run.exitCode, again.run.log).toBe(0);
    figures['defaults on a ready app'] = { durationMs: again.report?.durationMs, stepMs: again.run.durationMs, latencies: again.report?.checks.map((c) => c.latencyMs) };
    expect(again.report?.durationMs).toBeLessThan(5000);
  }, 200_000);

  it('passes readiness, an OCR upload that reads a known word, the version (as a tag) and a p95 budget', async () => {
    const checks = [
      '- name: readiness',
      '  path: /readyz',
      '  json: { status: ready, checks.model: ok }',
      '- name: ocr',
      '  path: /api/v1/ocr',
      '  upload: smoke/known-word.png',
      '  max-latency: 5s',
      '  json:',
      `    text: { matches: "(?i)\\\\b${KNOWN_WORD}\\\\b" }`,
      '    token: { exists: true }',
      `    version: "${appVersion}"`,
    ].join('\n');
    const { run, report } = await smoke({ url: baseUrl, checks, 'expect-version': `v${appVersion}`, 'latency-samples': '20', 'p95-budget': '1s' }, async (job) => {
      const png = (await renderTextImage([`Shipped by ${KNOWN_WORD}`], 'DejaVu Sans', 32)).png;
      const dir = path.join(job.workspace, 'smoke');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'known-word.png'), png);
    });
    expect(run.exitCode, run.log).toBe(0);
    expect(report?.checks.map((c) => [c.name, c.passed])).toEqual([
      ['readiness', true],
      ['ocr', true],
      ['version', true],
    ]);
    expect(report?.latency?.stats?.count).toBe(20);
    figures['upload + version + latency'] = { durationMs: report?.durationMs, ocrMs: report?.checks[1]?.latencyMs, p50: report?.latency?.stats?.p50Ms, p95: report?.latency?.stats?.p95Ms };
  }, 200_000);

  it('reaches the app by host name with resolve (Host header kept)', async () => {
    const { run } = await smoke({ url: `http://app.gangway.test:${port}`, resolve: `app.gangway.test:${lab.target.address}`, 'expect-version': image.digest });
    expect(run.exitCode, run.log).toBe(0);
  }, 60_000);

  it('fails on a swap that did not happen: the wrong version, both values shown', async () => {
    const other = randomBytes(20).toString('hex');
    const { run, report } = await smoke({ url: baseUrl, 'expect-version': other, deadline: '3s' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs['failed-checks']).toBe('version');
    const version = report?.checks.find((c) => c.name === 'version');
    expect(version?.failures[0]?.code).toBe('version-mismatch');
    expect(version?.reason).toContain(`expected version "${other}", the app reports version=${appVersion} gitSha=${gitSha}`);
    expect(run.annotations.some((a) => a.level === 'error' && a.message.includes(other) && a.message.includes(gitSha))).toBe(true);
  }, 60_000);

  it('respects its deadline against a blackholed address (the target veth drops TCP)', async () => {
    const deadlineMs = 5000;
    const { run, report } = await smoke({ url: `http://${lab.target.vethAddress}:8080`, deadline: '5s', timeout: '2s' });
    expect(run.exitCode).toBe(1);
    const readiness = report?.checks[0];
    expect(readiness?.failures[0]?.code).toBe('timeout');
    expect(readiness?.reason).toMatch(/no answer within 2\.0s \(per-attempt timeout\) while connecting \(no TCP connection\)/);
    expect(report?.checks[1]?.failures[0]?.code).toMatch(/timeout|deadline|not-run/);
    expect(report?.deadlineReached).toBe(true);
    figures['blackhole'] = { deadlineMs, stepMs: run.durationMs, overshootMs: run.durationMs - deadlineMs, reportMs: report?.durationMs };
    expect(run.durationMs).toBeLessThan(deadlineMs + 2000);
  }, 60_000);
});
