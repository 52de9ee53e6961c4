// Chaos case 3 (issue #10): the registry is unreachable, or fails, during the pull. v1 runs and
// serves; each case is a v2 deploy that must fail with an error naming the registry and the
// cause, within a stated bound, before touching anything that runs: the v1 container keeps its
// Id and start time and stays the proxy's upstream, no app container is added, no lock is left,
// and the traffic that runs all along sees no failure and loses no upload. Faults come from a
// TLS proxy in front of the lab registry (lab/src/testing/registry-fault.ts): images are pushed
// once to the registry and pulled through the proxy's host:port, so digests are the same. A last
// deploy through the proxy with no fault succeeds, which shows that the proxy itself is transparent.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistryFaultProxy, type RegistryFault, type RegistryFaultProxy } from '../../lab/src/testing/registry-fault.ts';
import { APP_TEST_REPOSITORY } from '../support/app-image.ts';
import { buildAndPushContext } from '../support/image-push.ts';
import { caseTable, underTraffic } from './support/cases.ts';
import { ChaosApp, type DeployRun } from './support/deploy.ts';
import { appImage, type ChaosImage } from './support/images.ts';
import { openChaosSession, type ChaosSession } from './support/session.ts';
import { answeringVersion, sampleImage, upload } from './support/traffic.ts';

let session: ChaosSession;
let app: ChaosApp;
let proxy: RegistryFaultProxy;
let v1: ChaosImage;
/** v2 images whose top layer is random bytes: no engine has it before it is pulled. */
let v2Blob500: LayeredImage;
let v2Cut: LayeredImage;
/** A port on the registry's address where nothing listens. */
let deadPort: number;

interface LayeredImage {
  version: string;
  /** gangway-test/app@sha256:… (no registry: each case puts the host it pulls through in front). */
  path: string;
  /** The image config's digest (its blob is fetched before the layers). */
  configDigest: string;
}

const CUT_AFTER = 64 * 1024;
const NOISE_BYTES = 4 * 1024 * 1024;

/** v2 FROM v1 with APP_VERSION=v2 and a layer of random bytes on top, pushed to the lab registry. */
async function layeredImage(base: ChaosImage, tag: string, version: string): Promise<LayeredImage> {
  const lab = session.lab;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-chaos-reg-'));
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'ARG BASE\nFROM ${BASE}\nARG VERSION\nENV APP_VERSION=${VERSION}\nCOPY noise.bin /opt/chaos-registry/noise.bin\n');
    fs.writeFileSync(path.join(dir, 'noise.bin'), randomBytes(NOISE_BYTES));
    const pushed = await buildAndPushContext(lab, { context: dir, src: ['Dockerfile', 'noise.bin'], repository: APP_TEST_REPOSITORY, tag, buildargs: { BASE: base.tagRef, VERSION: version } });
    return { version, path: `${APP_TEST_REPOSITORY}@${pushed.digest}`, configDigest: pushed.id };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A port in this file's range on the registry's address where a connection is refused. */
async function refusedPort(address: string, candidates: number[]): Promise<number> {
  for (const port of candidates) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: address, port, timeout: 2000 });
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('timeout', () => (socket.destroy(), resolve(false)));
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error(`every candidate port on ${address} answers: ${candidates.join(', ')}`);
}

interface Running {
  id: string;
  name: string;
  startedAt: string;
  running: boolean;
  upstream: string | undefined;
  appContainers: string[];
}

/** What must not change when a pull fails: the v1 container, the proxy's upstream, the set of app containers. */
async function runningState(): Promise<Running> {
  const all = await app.containers();
  const apps = all.filter((c) => c.role === 'app');
  const current = apps.find((c) => c.state === 'running');
  if (!current) throw new Error(`no running app container of ${app.name}: ${JSON.stringify(all.map((c) => [c.name, c.role, c.state]))}`);
  const inspect = await session.docker.getContainer(current.id).inspect();
  return { id: inspect.Id, name: current.name, startedAt: inspect.State.StartedAt, running: inspect.State.Running, upstream: await app.upstream(), appContainers: apps.map((c) => c.id).sort() };
}

function errorOf(run: DeployRun): string {
  return run.main.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('\n');
}

/** The error up to what the engine said verbatim (the table's result column). */
function shortError(run: DeployRun): string {
  return errorOf(run).split(' The engine said:')[0]?.replace(/\n/g, ' ') ?? '';
}

interface FailingCase {
  name: string;
  image: string;
  fault?: RegistryFault;
  /** The step must fail within this long (the action's whole main step). */
  boundMs: number;
  registry: string;
  cause: RegExp;
}

/** A v2 deploy that must fail, under traffic, leaving v1 exactly as it was. */
async function failingDeploy(c: FailingCase): Promise<DeployRun> {
  if (c.fault) proxy.setFault(c.fault);
  proxy.requests.length = 0;
  const before = await runningState();
  expect(before.upstream).toBe(before.name);
  const { value: run, row } = await underTraffic(c.name, app.endpoint, async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const deployed = await app.deploy({ image: c.image });
    await new Promise((r) => setTimeout(r, 1000));
    return deployed;
  }, { expectVersion: 'v1', result: (r) => (r.main.exitCode === 0 ? 'deployed (it should not have)' : `exit ${r.main.exitCode} in ${(r.ms / 1000).toFixed(1)} s: ${shortError(r)}`) });
  proxy.setFault({ kind: 'pass' });

  expect(run.main.exitCode, run.main.log).toBe(1);
  expect(run.ms).toBeLessThan(c.boundMs);
  const error = errorOf(run);
  expect(error).toContain(`Could not pull ${c.image} from registry ${c.registry}: `);
  expect(error).toMatch(c.cause);
  // Failed in the pull, before the lock (the first step that changes anything on the server).
  const phases = run.report?.hosts[0]?.phases.map((p) => p.phase);
  expect(phases).toContain('pull');
  expect(phases).not.toContain('lock');

  const after = await runningState();
  expect(after).toEqual(before);
  expect(after.running).toBe(true);
  expect(await app.lock()).toBeUndefined();
  expect(row.failed).toBe(0);
  expect(row.lost).toBe(0);
  expect(row.rowsAfter).toBeGreaterThan(row.rowsBefore);
  expect(row.version).toBe('v1');
  return run;
}

describe('chaos case 3: the registry fails during the pull', () => {
  beforeAll(async () => {
    session = await openChaosSession({ target: 1 });
    v1 = await appImage(session.lab, 'chaos-reg-v1', 'v1');
    v2Blob500 = await layeredImage(v1, 'chaos-reg-v2-blob500', 'v2');
    v2Cut = await layeredImage(v1, 'chaos-reg-v2-cut', 'v2');
    proxy = await startRegistryFaultProxy(session.lab);
    deadPort = await refusedPort(session.lab.registry.address, [19549, 19548, 19547]);
    app = new ChaosApp(session, 'chaos-reg', 19500 + Math.floor(Math.random() * 40));
    const first = await app.deploy({ image: v1.imageRef });
    expect(first.main.exitCode, first.main.log).toBe(0);
    for (let i = 0; i < 3; i++) await upload(app.endpoint, await sampleImage());
    // The layers the blob faults hit must really be fetched: the target has never seen them.
    for (const image of [v2Blob500, v2Cut]) {
      const present = await session.docker.getImage(`${session.lab.registry.host}/${image.path}`).inspect().then(() => true, () => false);
      expect(present).toBe(false);
    }
  }, 600_000);

  afterAll(async () => {
    await proxy?.stop();
    await app?.cleanup();
    await session?.close();
    console.log(`chaos cases:\n${caseTable()}`);
  });

  it('(a) unreachable registry (connection refused): exit 1 at once, no retry, v1 untouched', async () => {
    const registry = `${session.lab.registry.address}:${deadPort}`;
    const run = await failingDeploy({
      name: 'registry: connection refused',
      image: `${registry}/${v2Blob500.path}`,
      registry,
      boundMs: 20_000,
      cause: new RegExp(`connection refused: nothing listens at ${registry.replace(/\./g, '\\.')}, while fetching the manifest`),
    });
    expect(run.main.log).not.toContain('trying again');
  });

  it('(b) HTTP 500 on the manifest: tried 3 times (2 s, 4 s apart), then exit 1, v1 untouched', async () => {
    const run = await failingDeploy({
      name: 'registry: 500 on the manifest',
      image: `${proxy.host}/${v2Blob500.path}`,
      fault: { kind: 'status', status: 500, on: ['manifest'] },
      registry: proxy.host,
      boundMs: 30_000,
      cause: /HTTP 500 Internal Server Error \(a server error in the registry\), while fetching the manifest; 3 attempts/,
    });
    expect(run.main.log).toContain('(attempt 1 of 3); trying again');
    expect(run.main.log).toContain('(attempt 2 of 3); trying again');
  });

  it('(c) HTTP 500 on every blob GET: the engine retries, then exit 1, no blob got through, v1 untouched', async () => {
    await failingDeploy({
      name: 'registry: 500 on blobs',
      image: `${proxy.host}/${v2Blob500.path}`,
      fault: { kind: 'status', status: 500, on: ['blob'] },
      registry: proxy.host,
      boundMs: 40_000,
      cause: /HTTP 500 Internal Server Error \(a server error in the registry\), while (fetching the image config|downloading)/,
    });
    expect(proxy.served('blob', 'status 500').length).toBeGreaterThanOrEqual(2);
    expect(proxy.served('blob', 'pass')).toEqual([]);
  });

  it('(d) a layer cut mid-transfer every time: the engine resumes and retries, then exit 1 naming the layer, v1 untouched', async () => {
    const run = await failingDeploy({
      name: `registry: blob cut after ${CUT_AFTER / 1024} KiB`,
      image: `${proxy.host}/${v2Cut.path}`,
      fault: { kind: 'cut', afterBytes: CUT_AFTER, except: [v2Cut.configDigest] },
      registry: proxy.host,
      // The engine's own schedule: 6 attempts, 5+10+15+20+25 s apart.
      boundMs: 110_000,
      cause: /the transfer was cut mid-way .*, while downloading layer [0-9a-f]{12}, after the engine's own retries/,
    });
    const cuts = proxy.served('blob', 'cut');
    expect(cuts.length).toBeGreaterThanOrEqual(2);
    expect(cuts.every((r) => r.bytes <= CUT_AFTER)).toBe(true);
    expect(cuts.some((r) => r.status === 206)).toBe(true);
    expect(run.main.log).toMatch(/the registry failed this layer; the engine tries again in 5 s/);
  }, 150_000);

  it('the same proxy with no fault is transparent: v2 deploys through it', async () => {
    proxy.setFault({ kind: 'pass' });
    proxy.requests.length = 0;
    const before = await runningState();
    const image = `${proxy.host}/${v2Cut.path}`;
    const { value: run, row } = await underTraffic('registry proxy: pass (control)', app.endpoint, async () => {
      await new Promise((r) => setTimeout(r, 1000));
      const deployed = await app.deploy({ image });
      await new Promise((r) => setTimeout(r, 1000));
      return deployed;
    }, { expectVersion: 'v2', result: (r) => (r.main.exitCode === 0 ? `deployed in ${(r.ms / 1000).toFixed(1)} s` : `exit ${r.main.exitCode}: ${shortError(r)}`) });
    expect(run.main.exitCode, run.main.log).toBe(0);
    // The random layer came through the proxy (in one piece, or resumed where an earlier pull stopped).
    const passed = proxy.served('blob', 'pass');
    expect(passed.reduce((n, r) => n + r.bytes, 0), JSON.stringify(passed)).toBeGreaterThanOrEqual(NOISE_BYTES / 2);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(await answeringVersion(app.endpoint)).toBe('v2');
    const after = await runningState();
    expect(after.id).not.toBe(before.id);
    expect(after.upstream).toBe(after.name);
  }, 120_000);
});
