// Acceptance of issue #20 (roles and accessories) on the lab: the real OCR app (app/Dockerfile, built and
// pushed by action-build) deployed by action-deploy-ssh's dist through the VPN as the whole system - the
// web (APP_ROLE=web) behind the managed proxy, 2 workers (APP_ROLE=worker, a role) and Redis (an
// accessory, the lab's redis:7-bookworm) - under one steady HTTP load and a steady stream of OCR jobs:
// 1. v1 → v2: no request fails, no accepted job is lost, Redis is the same container with its data, the
//    workers are v2's.
// 2. a v3 whose workers exit at start (QUEUE_URL=notaurl in the role's env: the app's configuration error,
//    exit 2): the deploy fails and every role is back on v2; no request fails, no job is lost.
// 3. rollback: true: every role goes back to v1 together; no request fails, no job is lost.
// 4. upgrade-accessories: redis to a new image (built on the target from the lab's redis image): same
//    volume (a key set before survives), the app reconnects; the gap and the requests that failed in it
//    are reported, not asserted.
// 5. The audit log has one more line after each of these runs.
// Every figure is printed (console.log).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { DeployRuns, reachLabTarget, removeAppLeftovers, type DeployRun, type LabTargetLink, labTargetInputs } from './lab-runs.ts';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { ensureRedisImage } from '../../lab/src/redis-image.ts';
import { startLoad, summarize, type LoadRun } from '../../lab/src/testing/load.ts';
import { renderTextImage } from '../../app/test/text-images.ts';
import { buildAndPushAppImage, type PushedAppImage } from '../../test/support/app-image.ts';
import { drainEngineStream } from '../../test/support/image-push.ts';

const app = `gtest-roles-${randomBytes(3).toString('hex')}`;
const port = 19200 + Math.floor(Math.random() * 90);
const ENV_SECRET = `roles-env-secret-${randomBytes(8).toString('hex')}`;
const dataVolume = `${app}-data`;
const redisVolume = `${app}-redis`;
const redisName = `${app}-redis`;
/** The Redis image the accessory is upgraded to: the lab's, with one more label, built on the target engine. */
const REDIS_UP = `redis:gtest-${app}`;
const KEY = `gangway-test:${app}`;
const KEY_VALUE = `kept-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let lab: LabState;
let link: LabTargetLink | undefined;
/** The target's engine over SSH, as a deploy reaches it. */
let target: Docker;
/** The target's engine by its socket on this machine: exec (redis-cli) and the Redis image build. */
let engine: Docker;
let privateKey: string;
let v1: PushedAppImage;
let v2: PushedAppImage;
let png: Buffer;
let redisImageTag = '';
let redisUpBuilt = false;
let volumesBefore = new Set<string>();
const deployRuns = new DeployRuns();
const figures: Record<string, unknown> = {};

const WORKER = (extraEnv = ''): string => `worker: { env: [APP_ROLE=worker${extraEnv}], replicas: 2, readiness: /readyz, stop-timeout: 15s }`;
const REDIS = (image: string): string => `redis: { image: "${image}", volumes: ["${redisVolume}:/data"] }`;

function inputs(extra: Record<string, string>): Record<string, string> {
  return {
    ...labTargetInputs(lab.target, privateKey),
    app,
    'container-port': '8080',
    publish: `${lab.target.address}:${port}`,
    volumes: `${dataVolume}:/data`,
    // The app's env: the web's, and every role's under its own. The queue settings as app/test/queue-lab.itg.test.ts has them.
    env: [
      'APP_ROLE=web',
      'QUEUE_URL=redis://redis:6379',
      'QUEUE_LOCK_DURATION=5s',
      'QUEUE_STALLED_INTERVAL=2s',
      'QUEUE_JOB_RETRIES=3',
      'OCR_RESULT_WAIT=2s',
      'SHUTDOWN_TIMEOUT=10s',
      `SESSION_SECRET=${ENV_SECRET}`,
      'LOG_LEVEL=warn',
    ].join('\n'),
    roles: WORKER(),
    accessories: REDIS(redisImageTag),
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '2m',
    'settle-time': '3s',
    'drain-timeout': '10s',
    'stop-timeout': '15s',
    ...extra,
  };
}

const deploy = (values: Record<string, string>): Promise<DeployRun> => deployRuns.deploy(values, { timeoutMs: 300_000 });

/** One request on a connection of its own (no kept-alive connection to race a reload): what failed, failed. */
function request(method: 'GET' | 'POST', pathname: string, body?: Buffer, timeoutMs = 30_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: lab.target.address, port, path: pathname, method, agent: false, timeout: timeoutMs, headers: body ? { 'content-type': 'image/png', 'content-length': body.length } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function getJson(pathname: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request('GET', pathname, undefined, 10_000);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(res.text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

async function version(): Promise<string> {
  return String((await getJson('/version')).body.version);
}

// --- The job stream: clients posting one image after another; every accepted job (200, or 202 with a
// token) is followed to its result at /api/v1/results/:token.

interface Job {
  token: string;
  step: string;
  /** Its result was read at /api/v1/results/:token (200). */
  verified: boolean;
  failed?: string;
  /** The app version of the worker that ran it. */
  version?: string;
}
interface Post {
  step: string;
  status?: number;
  error?: string;
}

const jobs: Job[] = [];
const posts: Post[] = [];
/** What the stream and the load are in: set by each step. */
let step = 'start';

function startStream(clients: number, maxMs: number): { stop(): Promise<void> } {
  let running = true;
  const deadline = Date.now() + maxMs;
  const loops = Array.from({ length: clients }, async (_, i) => {
    await sleep(150 * i);
    for (let n = 0; running && Date.now() < deadline && n < 3000; n++) {
      const post: Post = { step };
      posts.push(post);
      try {
        const res = await request('POST', '/api/v1/ocr', png, 30_000);
        post.status = res.status;
        const body = JSON.parse(res.text) as { token?: string; version?: string };
        if ((res.status === 200 || res.status === 202) && body.token) jobs.push({ token: body.token, step: post.step, verified: false, ...(res.status === 200 && body.version ? { version: body.version } : {}) });
        else post.error = `HTTP ${res.status} ${res.text.slice(0, 120)}`;
      } catch (error) {
        post.error = error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim() : String(error);
      }
      await sleep(post.error ? 500 : 250);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Reads the result of each of `list` not yet read, until all are read or failed, or the time is up. */
async function settle(list: Job[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = list.filter((j) => !j.verified && !j.failed);
    if (open.length === 0 || Date.now() > deadline) return;
    for (const job of open) {
      const res = await getJson(`/api/v1/results/${job.token}`).catch(() => undefined);
      if (res?.status === 200) {
        job.verified = true;
        if (typeof res.body.version === 'string') job.version = res.body.version;
      } else if (res && res.status !== 202 && res.status !== 503) {
        job.failed = `HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`;
      }
    }
    await sleep(300);
  }
}

function jobFigures(inStep?: string): { accepted: number; completed: number; lost: number; byVersion: Record<string, number>; failures: string[] } {
  const mine = jobs.filter((j) => inStep === undefined || j.step === inStep);
  const byVersion: Record<string, number> = {};
  for (const j of mine) if (j.verified) byVersion[j.version ?? '?'] = (byVersion[j.version ?? '?'] ?? 0) + 1;
  const completed = mine.filter((j) => j.verified).length;
  return { accepted: mine.length, completed, lost: mine.length - completed, byVersion, failures: mine.filter((j) => j.failed).slice(0, 5).map((j) => `${j.token.slice(0, 6)}: ${j.failed ?? ''}`) };
}

function postFigures(inStep: string): { sent: number; failed: number; errors: Record<string, number> } {
  const mine = posts.filter((p) => p.step === inStep);
  const errors: Record<string, number> = {};
  for (const p of mine) if (p.error) errors[p.error] = (errors[p.error] ?? 0) + 1;
  return { sent: mine.length, failed: mine.filter((p) => p.error).length, errors };
}

// --- The target's containers.

async function appContainers(filters: string[] = [], all = false): Promise<Docker.ContainerInfo[]> {
  return target.listContainers({ all, filters: { label: [`gangway.app=${app}`, ...filters] } });
}

async function runningWorkers(): Promise<Docker.ContainerInspectInfo[]> {
  const list = await appContainers(['gangway.worker-role=worker']);
  return Promise.all(list.map((c) => target.getContainer(c.Id).inspect()));
}

async function redisCli(...args: string[]): Promise<string> {
  const exec = await engine.getContainer(redisName).exec({ Cmd: ['redis-cli', '--raw', ...args], AttachStdout: true, AttachStderr: true, Tty: true });
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true });
  let out = '';
  stream.on('data', (c: Buffer) => (out += c.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  return out.trim();
}

/** The deploy's log lines that say why it failed (for the report when an expectation does not hold). */
function tail(run: DeployRun, lines = 60): string {
  return run.main.log.split('\n').slice(-lines).join('\n');
}

describe('roles and accessories on the lab: web + 2 workers + Redis, v1 → v2 → broken v3 → rollback → Redis upgrade, under load and a job stream', () => {
  let load: LoadRun | undefined;
  let stream: { stop(): Promise<void> } | undefined;
  const marks: Record<string, [number, number]> = {};
  const audits: Array<{ run: string; entries: number; last: unknown }> = [];
  /** Containers running after v2 (web, proxy, Redis, workers), by id. */
  let runningAfterV2: string[] = [];
  let v2Workers: string[] = [];
  let v2Web = '';
  let v1Web = '';
  let redisId = '';
  let redisStartedAt = '';

  /** Runs a step: marks its window in the load, and notes the audit log the run reports. */
  async function stepRun(name: string, values: Record<string, string>): Promise<DeployRun> {
    step = name;
    const from = load?.now() ?? 0;
    const run = await deploy(values);
    marks[name] = [from, load?.now() ?? 0];
    const audit = run.report?.hosts[0]?.audit ?? [];
    audits.push({ run: name, entries: audit.length, last: audit.at(-1) });
    console.log(`[roles] ${name}: exit ${run.main.exitCode} in ${run.ms} ms, result ${run.report?.hosts[0]?.result ?? '(no report)'}, audit entries ${audit.length}`);
    return run;
  }

  /**
   * Closes a step's window (from its run's start until now; the next window begins) and gives its figures:
   * the HTTP load in it, its job posts (waited for), and its accepted jobs, each followed to its result.
   */
  async function stepFigures(name: string, run: DeployRun): Promise<{ http: ReturnType<typeof summarize>; posts: ReturnType<typeof postFigures>; jobs: ReturnType<typeof jobFigures> }> {
    const from = marks[name]?.[0] ?? 0;
    const to = load?.now() ?? 0;
    marks[name] = [from, to];
    step = `after ${name}`;
    const settling = Date.now();
    const postsUntil = Date.now() + 40_000;
    while (posts.some((p) => p.step === name && p.status === undefined && p.error === undefined) && Date.now() < postsUntil) await sleep(100);
    await settle(jobs.filter((j) => j.step === name));
    const settleMs = Date.now() - settling;
    const httpLoad = summarize(load?.samples ?? [], from, to);
    const result = { http: httpLoad, posts: postFigures(name), jobs: jobFigures(name) };
    const host = run.report?.hosts[0];
    figures[name] = {
      deployWallMs: run.ms,
      result: host?.result,
      httpRequests: { sent: httpLoad.total, failed: httpLoad.failed, errors: httpLoad.errors, versions: httpLoad.versions, p50: httpLoad.p50, p99: httpLoad.p99, max: httpLoad.max },
      jobPosts: result.posts,
      jobs: result.jobs,
      settleMs,
      phases: host?.phases.map((p) => `${p.phase} ${p.ms}ms`),
      roles: host?.roles?.map((r) => ({ role: r.role, containers: r.containers.map((c) => c.name), previous: r.previous.map((c) => c.name) })),
      accessories: host?.accessories,
    };
    console.log(`[roles] figures ${name}: ${JSON.stringify(figures[name], null, 2)}`);
    return result;
  }

  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    engine = new Docker({ socketPath: lab.target.dockerSocket });
    const sha = randomBytes(20).toString('hex');
    const started = performance.now();
    // One after the other: two action-build runs at once on the runner engine abort one another.
    v1 = await buildAndPushAppImage(lab, { tag: `roles-v1-${app}`, version: 'v1', gitSha: sha });
    v2 = await buildAndPushAppImage(lab, { tag: `roles-v2-${app}`, version: 'v2', gitSha: sha });
    figures['app image builds (ms)'] = { v1: v1.durationMs, v2: v2.durationMs, wall: Math.round(performance.now() - started) };
    const redis = await ensureRedisImage(lab.target.dockerSocket);
    redisImageTag = redis.tag;
    // The upgrade's image: the lab's Redis with one more label (a new image id), on the target only (no registry).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-redis-up-'));
    try {
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${redis.tag}\nLABEL gangway-test.redis-upgrade="${app}"\n`);
      await drainEngineStream(await engine.buildImage({ context: dir, src: ['Dockerfile'] }, { t: REDIS_UP, version: '1' } as Docker.ImageBuildOptions));
      redisUpBuilt = true;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    png = (await renderTextImage(['Roles and accessories', 'read by a worker'], 'DejaVu Sans', 28)).png;
    link = await reachLabTarget(lab.target, privateKey);
    target = link.docker;
    volumesBefore = new Set(((await target.listVolumes()).Volumes ?? []).map((v) => v.Name));
  }, 1_200_000);

  afterAll(async () => {
    await stream?.stop();
    await load?.stop();
    if (target) {
      await removeAppLeftovers(target, app, [dataVolume, redisVolume]);
      // The anonymous volumes of the image's VOLUME lines (/data and /models on every worker, /models on the
      // web) outlive their containers (the deploy removes containers without their volumes): the ones this
      // file's run left dangling go too.
      const dangling = (await target.listVolumes({ filters: { dangling: ['true'] } })).Volumes ?? [];
      const left = dangling.filter((v) => /^[0-9a-f]{64}$/.test(v.Name) && !volumesBefore.has(v.Name));
      for (const v of left) await target.getVolume(v.Name).remove().catch(() => undefined);
      figures['anonymous volumes left by the runs (removed)'] = left.length;
    }
    if (engine && redisUpBuilt) await engine.getImage(REDIS_UP).remove().catch(() => undefined);
    await link?.close();
    deployRuns.cleanup();
    figures['audit entries reported by each run'] = audits.map((a) => `${a.run}: ${a.entries}`);
    console.log(`deploy-ssh roles figures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('v1: creates Redis (an accessory on the app network, alias redis), the web and 2 workers; a job completes', async () => {
    const first = await stepRun('v1', inputs({ image: v1.imageRef }));
    expect(first.main.exitCode, tail(first)).toBe(0);
    const host = first.report?.hosts[0];
    expect(host?.result).toBe('deployed');
    expect(await version()).toBe('v1');
    v1Web = first.main.outputs['container-name'] ?? '';

    // Redis: the accessory, created.
    expect(host?.accessories).toEqual([expect.objectContaining({ name: 'redis', action: 'created' })]);
    const redis = await target.getContainer(redisName).inspect();
    expect(redis.State.Running).toBe(true);
    expect(redis.Config.Labels).toMatchObject({ 'gangway.app': app, 'gangway.role': 'accessory', 'gangway.accessory': 'redis' });
    expect(redis.NetworkSettings.Networks[`${app}-net`]?.Aliases ?? []).toContain('redis');
    expect(redis.Mounts.find((m) => m.Destination === '/data')?.Name).toBe(redisVolume);
    redisId = redis.Id;
    redisStartedAt = redis.State.StartedAt;
    expect(await redisCli('SET', KEY, KEY_VALUE)).toBe('OK');

    // The workers: v1's image, the app's env and network with their role's env, no ports.
    const workers = await runningWorkers();
    expect(workers.map((w) => w.Name.replace(/^\//, '')).sort()).toEqual([`${v1Web}-worker-1`, `${v1Web}-worker-2`]);
    for (const w of workers) {
      expect(w.Config.Labels).toMatchObject({ 'gangway.app': app, 'gangway.role': 'worker', 'gangway.worker-role': 'worker', 'gangway.release': v1Web, 'gangway.digest': v1.digest });
      expect(`${v1Web}-worker-${w.Config.Labels['gangway.replica'] ?? '?'}`).toBe(w.Name.replace(/^\//, ''));
      expect(w.Config.Env).toEqual(expect.arrayContaining(['APP_ROLE=worker', 'QUEUE_URL=redis://redis:6379', 'APP_VERSION=v1']));
      expect(Object.keys(w.NetworkSettings.Networks)).toEqual([`${app}-net`]);
      expect(w.HostConfig.PortBindings ?? {}).toEqual({});
    }
    expect(host?.roles?.map((r) => ({ role: r.role, containers: r.containers.map((c) => c.name).sort() }))).toEqual([{ role: 'worker', containers: [`${v1Web}-worker-1`, `${v1Web}-worker-2`] }]);

    // A job goes web → Redis → a v1 worker and back.
    const res = await request('POST', '/api/v1/ocr', png);
    expect([200, 202], res.text).toContain(res.status);
    jobs.push({ token: String((JSON.parse(res.text) as { token?: string }).token), step: 'v1', verified: false });
    await settle(jobs, 60_000);
    expect(jobFigures('v1')).toMatchObject({ accepted: 1, completed: 1, byVersion: { v1: 1 } });
    figures['v1 (first deploy: Redis, web, 2 workers created) ms'] = first.ms;

    // From here on, one steady load and one job stream over every step.
    load = startLoad({ host: lab.target.address, port, path: '/version', rate: 40, clients: 4, maxMs: 900_000, timeoutMs: 5000 });
    stream = startStream(2, 900_000);
    step = 'v1 steady';
    await sleep(3000);
  });

  it('v2 under load and a job stream: 0 failed requests, 0 lost jobs, Redis the same container with its data, the workers are v2', async () => {
    const second = await stepRun('v2', inputs({ image: v2.imageRef }));
    expect(second.main.exitCode, tail(second)).toBe(0);
    await sleep(2000);
    const f = await stepFigures('v2', second);
    v2Web = second.main.outputs['container-name'] ?? '';
    expect(await version()).toBe('v2');

    // Redis: not restarted, not re-created, its data there.
    expect(second.report?.hosts[0]?.accessories).toEqual([expect.objectContaining({ name: 'redis', action: 'kept' })]);
    const redis = await target.getContainer(redisName).inspect();
    expect(redis.Id).toBe(redisId);
    expect(redis.State.StartedAt).toBe(redisStartedAt);
    expect(await redisCli('GET', KEY)).toBe(KEY_VALUE);

    // The workers: v2's, of v2's release; v1's stopped and kept.
    const workers = await runningWorkers();
    expect(workers.map((w) => w.Name.replace(/^\//, '')).sort()).toEqual([`${v2Web}-worker-1`, `${v2Web}-worker-2`]);
    for (const w of workers) {
      expect(w.Config.Labels).toMatchObject({ 'gangway.release': v2Web, 'gangway.digest': v2.digest });
      expect(w.Config.Env).toContain('APP_VERSION=v2');
    }
    const old = await appContainers([`gangway.release=${v1Web}`, 'gangway.worker-role=worker'], true);
    expect(old.map((c) => c.State)).toEqual(['exited', 'exited']);
    expect(second.report?.hosts[0]?.roles?.[0]?.previous.map((c) => c.name).sort()).toEqual([`${v1Web}-worker-1`, `${v1Web}-worker-2`]);
    v2Workers = workers.map((w) => w.Id).sort();
    runningAfterV2 = (await appContainers()).map((c) => c.Id).sort();

    expect(f.http.total).toBeGreaterThan(100);
    expect(f.http.failed, JSON.stringify(f.http.errors)).toBe(0);
    expect(f.posts.failed, JSON.stringify(f.posts.errors)).toBe(0);
    expect(f.jobs.accepted).toBeGreaterThan(5);
    expect(f.jobs.lost, JSON.stringify(f.jobs.failures)).toBe(0);
    expect(f.http.versions['v1']).toBeGreaterThan(0);
    expect(f.http.versions['v2']).toBeGreaterThan(0);
    // Jobs of this window were run by v2's workers too (the switch happened under the stream).
    expect(f.jobs.byVersion['v2'] ?? 0).toBeGreaterThan(0);
  }, 600_000);

  it('a v3 whose workers exit at start: the deploy fails, every role is back on v2, 0 failed requests, 0 lost jobs', async () => {
    // v3: v2's image told it is v3 (APP_VERSION), its workers given a queue URL the app refuses (exit 2 at start).
    const third = await stepRun('broken v3', inputs({ image: v2.imageRef, env: `${inputs({}).env ?? ''}\nAPP_VERSION=v3`, roles: WORKER(', QUEUE_URL=notaurl'), 'readiness-timeout': '45s' }));
    expect(third.main.exitCode).toBe(1);
    expect(third.main.outputs['rolled-back']).toBe('true');
    expect(third.report?.hosts[0]?.result).toBe('rolled-back');
    await sleep(2000);
    const f = await stepFigures('broken v3', third);
    // Why: the worker's own words (the app's configuration error) are in the step's log.
    expect(third.main.log).toContain('QUEUE_URL must');

    expect(await version()).toBe('v2');
    // The very containers that ran after v2 run now: no v3 container, the v2 workers never stopped.
    expect((await appContainers()).map((c) => c.Id).sort()).toEqual(runningAfterV2);
    expect((await runningWorkers()).map((w) => w.Id).sort()).toEqual(v2Workers);
    for (const c of await appContainers()) expect((await target.getContainer(c.Id).inspect()).Config.Env).not.toContain('APP_VERSION=v3');
    const redis = await target.getContainer(redisName).inspect();
    expect([redis.Id, redis.State.StartedAt]).toEqual([redisId, redisStartedAt]);

    expect(f.http.failed, JSON.stringify(f.http.errors)).toBe(0);
    expect(f.http.versions['v3'] ?? 0).toBe(0);
    expect(f.posts.failed, JSON.stringify(f.posts.errors)).toBe(0);
    expect(f.jobs.lost, JSON.stringify(f.jobs.failures)).toBe(0);
    expect(f.jobs.byVersion['v3'] ?? 0).toBe(0);
  }, 600_000);

  it('rollback: true brings every role back to v1 together: 0 failed requests, 0 lost jobs', async () => {
    const back = await stepRun('rollback', inputs({ rollback: 'true' }));
    expect(back.main.exitCode, tail(back)).toBe(0);
    expect(back.report?.mode).toBe('rollback');
    await sleep(2000);
    const f = await stepFigures('rollback', back);

    expect(await version()).toBe('v1');
    expect(back.main.outputs['container-name']).toBe(v1Web);
    const workers = await runningWorkers();
    expect(workers).toHaveLength(2);
    for (const w of workers) {
      expect(w.Config.Labels).toMatchObject({ 'gangway.release': v1Web, 'gangway.digest': v1.digest });
      expect(w.Config.Env).toContain('APP_VERSION=v1');
    }
    const v2Left = await appContainers([`gangway.release=${v2Web}`, 'gangway.worker-role=worker'], true);
    expect(v2Left.every((c) => c.State !== 'running')).toBe(true);
    const redis = await target.getContainer(redisName).inspect();
    expect([redis.Id, redis.State.StartedAt]).toEqual([redisId, redisStartedAt]);
    expect(await redisCli('GET', KEY)).toBe(KEY_VALUE);

    expect(f.http.failed, JSON.stringify(f.http.errors)).toBe(0);
    expect(f.http.versions['v1']).toBeGreaterThan(0);
    expect(f.posts.failed, JSON.stringify(f.posts.errors)).toBe(0);
    expect(f.jobs.lost, JSON.stringify(f.jobs.failures)).toBe(0);
    expect(f.jobs.byVersion['v1'] ?? 0).toBeGreaterThan(0);
  }, 600_000);

  it('upgrade-accessories: redis moves to a new image on the same volume; the key survives, the app reconnects; the gap is reported', async () => {
    const webBefore = (await appContainers(['gangway.role=app'])).map((c) => c.Id);
    const workersBefore = (await runningWorkers()).map((w) => w.Id).sort();
    const up = await stepRun('redis upgrade', inputs({ accessories: REDIS(REDIS_UP), 'upgrade-accessories': 'redis' }));
    expect(up.main.exitCode, tail(up)).toBe(0);
    expect(up.report?.mode).toBe('accessory-upgrade');

    // The app reconnects by itself: the web ready again, a new job completes.
    const readyFrom = Date.now();
    let ready = 0;
    while (Date.now() - readyFrom < 60_000) {
      ready = (await getJson('/readyz').catch(() => ({ status: 0 }))).status;
      if (ready === 200) break;
      await sleep(250);
    }
    figures['web ready again after the Redis upgrade run (ms)'] = Date.now() - readyFrom;
    expect(ready).toBe(200);
    const probeFrom = Date.now();
    const res = await request('POST', '/api/v1/ocr', png);
    expect([200, 202], res.text).toContain(res.status);
    const probe: Job = { token: String((JSON.parse(res.text) as { token?: string }).token), step: 'redis upgrade', verified: false };
    jobs.push(probe);
    await settle([probe], 60_000);
    figures['a new job after the Redis upgrade: upload to result (ms)'] = Date.now() - probeFrom;
    const f = await stepFigures('redis upgrade', up);
    expect(probe.verified, probe.failed).toBe(true);

    const accessory = up.report?.hosts[0]?.accessories?.find((a) => a.name === 'redis');
    expect(accessory?.action).toBe('upgraded');
    expect(accessory?.image).toContain(REDIS_UP);
    expect(typeof accessory?.gapMs).toBe('number');
    figures['redis upgrade gap'] = { gapMs: accessory?.gapMs, previousImage: accessory?.previousImage, httpFailedInWindow: f.http.failed, jobPostsFailedInWindow: f.posts.failed, jobsLostInWindow: f.jobs.lost };
    console.log(`[roles] redis upgrade: gap ${accessory?.gapMs} ms; in its window ${f.http.failed}/${f.http.total} GETs failed, ${f.posts.failed}/${f.posts.sent} job posts failed, ${f.jobs.lost}/${f.jobs.accepted} accepted jobs lost`);

    const redis = await target.getContainer(redisName).inspect();
    expect(redis.Id).not.toBe(redisId);
    expect(redis.Config.Image).toBe(REDIS_UP);
    expect(redis.Config.Labels['gangway-test.redis-upgrade']).toBe(app);
    expect(redis.State.Running).toBe(true);
    expect(redis.Mounts.find((m) => m.Destination === '/data')?.Name).toBe(redisVolume);
    expect(await redisCli('GET', KEY)).toBe(KEY_VALUE);
    // Nothing else changed: the same web and workers.
    expect((await appContainers(['gangway.role=app'])).map((c) => c.Id)).toEqual(webBefore);
    expect((await runningWorkers()).map((w) => w.Id).sort()).toEqual(workersBefore);
  }, 600_000);

  it('the audit log has one line per run, each run adding to it', async () => {
    await stream?.stop();
    const samples = (await load?.stop()) ?? [];
    await settle(jobs);
    figures['load, whole sequence'] = summarize(samples);
    figures['job posts, whole sequence'] = { sent: posts.length, failed: posts.filter((p) => p.error).length };
    figures['jobs, whole sequence'] = jobFigures();
    console.log(`[roles] whole sequence: ${JSON.stringify({ http: figures['load, whole sequence'], posts: figures['job posts, whole sequence'], jobs: figures['jobs, whole sequence'] })}`);
    console.log(`[roles] audit: ${JSON.stringify(audits, null, 2)}`);
    // Every job accepted before the Redis upgrade (v1 to the rollback, the windows between the runs too) has its result.
    const beforeUpgrade = jobs.filter((j) => !j.step.includes('redis upgrade'));
    expect(beforeUpgrade.filter((j) => !j.verified).map((j) => `${j.step}: ${j.failed ?? 'no result'}`)).toEqual([]);
    // The reports show the last 5 lines: this app's log grows by one with each run.
    expect(audits.map((a) => a.run)).toEqual(['v1', 'v2', 'broken v3', 'rollback', 'redis upgrade']);
    expect(audits.map((a) => a.entries)).toEqual([1, 2, 3, 4, 5]);
    expect(audits.map((a) => a.last)).toEqual([
      expect.objectContaining({ app, action: 'deploy', result: 'deployed', digest: v1.digest, roles: ['web', 'worker'] }),
      expect.objectContaining({ app, action: 'deploy', result: 'deployed', digest: v2.digest, roles: ['web', 'worker'] }),
      expect.objectContaining({ app, action: 'deploy', result: 'rolled-back', roles: ['web', 'worker'] }),
      expect.objectContaining({ app, action: 'rollback', result: 'deployed', roles: ['web', 'worker'] }),
      // An accessory upgrade alone changes no role; it names the accessory and its new image.
      expect.objectContaining({ app, action: 'accessory-upgrade', result: 'deployed', roles: [], accessories: [expect.stringMatching(new RegExp(`^redis=.*${REDIS_UP}`))] }),
    ]);
  });

  it('leaves no unnamed volume behind: lock, audit and discarded containers go with theirs', async () => {
    // The app image declares VOLUME /data /models: every container made from it gets unnamed volumes. The
    // ones still attached belong to containers kept for rollback; none may be left dangling by the runs.
    const dangling = (await target.listVolumes({ filters: { dangling: ['true'] } })).Volumes ?? [];
    const left = dangling.filter((v) => /^[0-9a-f]{64}$/.test(v.Name) && !volumesBefore.has(v.Name)).map((v) => v.Name);
    figures['unnamed volumes left dangling by the runs'] = left.length;
    expect(left).toEqual([]);
  });

  it('leaks no secret', () => {
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password, 'env value': ENV_SECRET })).toEqual([]);
  });
});

// A role on a server of its own (issue #20, "roles on different hosts"): the web and Redis on gw-target1,
// the 2 workers on gw-target2, reaching Redis over the lab LAN (Redis published on gw-target1's LAN address
// only). One step deploys both servers, the web's first. v1, then v2 under the same HTTP load and job
// stream: no request fails, no job is lost, gw-target2's workers are v2's.
describe('a role on a second target: the workers on gw-target2 reach Redis on gw-target1 over the lab LAN; v1 → v2 under load and a job stream', () => {
  const app2 = `${app}-x`;
  const runs2 = new DeployRuns();
  let links: LabTargetLink[] = [];
  let second: LabState['targets'][number];
  let load: LoadRun | undefined;
  let stream: { stop(): Promise<void> } | undefined;

  const inputs2 = (image: string): Record<string, string> => {
    const first = lab.target;
    const lan = first.lanAddress;
    return {
      ...inputs({ image }),
      app: app2,
      host: first.sshHost,
      fingerprint: '',
      'known-hosts': [first.knownHosts, second.knownHosts].join('\n'),
      'docker-socket': [`${first.sshHost}=${first.dockerSocket}`, `${second.sshHost}=${second.dockerSocket}`].join('\n'),
      volumes: `${app2}-data:/data`,
      roles: [
        'web: { env: [APP_ROLE=web] }',
        `worker: { env: [APP_ROLE=worker, "QUEUE_URL=redis://${lan}:6379"], replicas: 2, readiness: /readyz, stop-timeout: 15s, hosts: ["${second.sshHost}"] }`,
      ].join('\n'),
      accessories: `redis: { image: "${redisImageTag}", volumes: ["${app2}-redis:/data"], port: "${lan}:6379:6379" }`,
    };
  };

  const workersOn = async (docker: Docker): Promise<Docker.ContainerInspectInfo[]> => {
    const list = await docker.listContainers({ filters: { label: [`gangway.app=${app2}`, 'gangway.role=worker'] } });
    return Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
  };

  beforeAll(async () => {
    const found = lab.targets[1];
    if (!found) throw new Error('this test needs two lab targets: flock /tmp/gangway-lab.lock npm run lab:up (three is the default)');
    second = found;
    links = [await reachLabTarget(lab.target, privateKey), await reachLabTarget(second, privateKey)];
    await ensureRedisImage(lab.target.dockerSocket);
  }, 300_000);

  afterAll(async () => {
    await stream?.stop();
    await load?.stop();
    for (const l of links) await removeAppLeftovers(l.docker, app2, [`${app2}-data`, `${app2}-redis`]);
    for (const l of links) await l.close();
    runs2.cleanup();
    console.log(`deploy-ssh roles on a second target: ${JSON.stringify(figures['second target'] ?? {}, null, 2)}`);
  });

  it('v1: the web and Redis on gw-target1, the workers on gw-target2 only; a job crosses the LAN', async () => {
    const [web, workers] = links as [LabTargetLink, LabTargetLink];
    const first = await runs2.deploy(inputs2(v1.imageRef), { timeoutMs: 300_000 });
    expect(first.main.exitCode, tail(first)).toBe(0);
    expect(first.report?.hosts.map((h) => [h.host, h.result])).toEqual([
      [lab.target.sshHost, 'deployed'],
      [second.sshHost, 'deployed'],
    ]);
    const release = first.report?.hosts[0]?.release ?? '';
    expect((await workersOn(workers.docker)).map((c) => [c.Config.Labels['gangway.release'], c.Config.Labels['gangway.image']])).toEqual([
      [release, v1.imageRef],
      [release, v1.imageRef],
    ]);
    expect(await workersOn(web.docker)).toEqual([]);
    const redis = await web.docker.getContainer(`${app2}-redis`).inspect();
    expect(redis.HostConfig.PortBindings).toEqual({ '6379/tcp': [{ HostIp: lab.target.lanAddress, HostPort: '6379' }] });
    expect(await workers.docker.listContainers({ all: true, filters: { label: [`gangway.app=${app2}`, 'gangway.role=accessory'] } })).toEqual([]);
    // A job through the queue: posted to the web on gw-target1, run by a worker on gw-target2.
    step = 'second target v1';
    const res = await request('POST', '/api/v1/ocr', png, 60_000);
    const body = JSON.parse(res.text) as { token?: string };
    expect([200, 202]).toContain(res.status);
    const job: Job = { token: body.token ?? '', step, verified: false };
    await settle([job], 60_000);
    expect(job.verified, job.failed).toBe(true);
  });

  it('v2 under load and a job stream: 0 failed requests, 0 lost jobs; the workers on gw-target2 are v2', async () => {
    const workers = (links as [LabTargetLink, LabTargetLink])[1];
    load = startLoad({ host: lab.target.address, port, path: '/version', rate: 40, clients: 4, maxMs: 600_000, timeoutMs: 5000 });
    step = 'second target v2';
    stream = startStream(2, 300_000);
    await sleep(3000);
    const from = load.now();
    const run = await runs2.deploy(inputs2(v2.imageRef), { timeoutMs: 300_000 });
    await sleep(2000);
    const to = load.now();
    await stream.stop();
    stream = undefined;
    const http = summarize(load.samples, from, to);
    await load.stop();
    load = undefined;
    const postsUntil = Date.now() + 40_000;
    while (posts.some((p) => p.step === step && p.status === undefined && p.error === undefined) && Date.now() < postsUntil) await sleep(100);
    await settle(jobs.filter((j) => j.step === step));
    const jobsHere = jobFigures(step);
    const postsHere = postFigures(step);
    figures['second target'] = {
      deployWallMs: run.ms,
      hosts: run.report?.hosts.map((h) => ({ host: h.host, result: h.result, totalMs: h.totalMs, phases: h.phases.map((p) => `${p.phase} ${p.ms}ms`) })),
      httpRequests: { sent: http.total, failed: http.failed, errors: http.errors, versions: http.versions, p99: http.p99 },
      jobPosts: postsHere,
      jobs: jobsHere,
    };
    console.log(`[roles] second target v2: ${JSON.stringify(figures['second target'], null, 2)}`);
    expect(run.main.exitCode, tail(run)).toBe(0);
    expect(run.report?.hosts.map((h) => h.result)).toEqual(['deployed', 'deployed']);
    const release = run.report?.hosts[0]?.release ?? '';
    expect((await workersOn(workers.docker)).map((c) => [c.Config.Labels['gangway.release'], c.Config.Labels['gangway.image']])).toEqual([
      [release, v2.imageRef],
      [release, v2.imageRef],
    ]);
    expect(http.total).toBeGreaterThan(100);
    expect(http.failed).toBe(0);
    expect(postsHere.failed).toBe(0);
    expect(jobsHere.accepted).toBeGreaterThan(5);
    expect(jobsHere.lost).toBe(0);
  });

  it('leaks no secret', () => {
    expect(findSecretLeaks(runs2.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password, 'env value': ENV_SECRET })).toEqual([]);
  });
});
