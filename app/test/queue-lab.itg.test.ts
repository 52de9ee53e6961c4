// The queue on the lab, in containers on a lab target: the lab's Redis image (Debian's redis-server, built
// without a registry), the app image built from app/Dockerfile on the runner engine and copied to the target,
// run there as web + 2 workers + Redis on one network; the web's and workers' ports are published on the
// target's VPN address only, and the test reaches them through its own OpenVPN tunnel, under a steady stream
// of OCR uploads. Run it holding the lab lock:
//   flock /tmp/gangway-lab.lock npx vitest run --project lab app/test/queue-lab.itg.test.ts
// 1. One worker is SIGKILLed mid-job, then both workers are replaced by workers of a new image (the app built
//    again with another APP_VERSION; the old one stopped with SIGTERM): every accepted job completes (lost: 0),
//    jobs were run by both releases, and the longest job wait is reported.
// 2. Redis is restarted under the stream: the web is not ready during the gap and ready after it without a
//    restart, and every job accepted before or after completes.
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyImages } from '../../lab/src/images.ts';
import { ensureRedisImage } from '../../lab/src/redis-image.ts';
import { readLabState, type LabState } from '../../lab/src/state.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { buildAppImage, readLabInfo } from './docker-image.ts';
import { describeNeeding } from './prerequisite.ts';
import { renderTextImage } from './text-images.ts';

const lab: LabState | undefined = readLabInfo() ? readLabState() : undefined;
// The second target: the first is the deploy tests' own, the third the chaos suite's.
const target = lab?.targets?.[1] ?? lab?.targets?.[0];
const TAG = 'gangway-app:queue-itg';
// The release the workers are replaced with: the same Dockerfile built with another APP_VERSION, a new image id.
const TAG_V2 = 'gangway-app:queue-itg-v2';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Tracked {
  token: string;
  acceptedAt: number;
  done?: boolean;
  failed?: string;
  waitMs?: number;
  /** The app version of the worker that ran it. */
  version?: string;
}

describeNeeding(lab && target ? undefined : 'no lab is up (lab/.state/lab.json is missing): flock /tmp/gangway-lab.lock npm run lab:up')('the queue on a lab target: web + 2 workers + Redis in containers', () => {
  const runner = new Docker({ socketPath: lab?.runner.socket ?? '' });
  // The target's engine: driven through its socket here (the deploy action goes through SSH); its
  // containers are reached as a client would, through the VPN.
  const docker = new Docker({ socketPath: target?.dockerSocket ?? '' });
  let tunnel: VpnTunnel | undefined;
  const suffix = `${process.pid}`;
  const network = `gangway-queue-itg-${suffix}`;
  const containers: Docker.Container[] = [];
  let redis: Docker.Container;
  let web: Docker.Container;
  let webUrl = '';
  let png: Buffer;
  let workerCount = 0;
  let initialWorkers: Docker.Container[] = [];
  const tracked: Tracked[] = [];
  let refused = 0;

  const queueEnv = ['QUEUE_URL=redis://redis:6379', 'QUEUE_LOCK_DURATION=5s', 'QUEUE_STALLED_INTERVAL=2s', 'QUEUE_JOB_RETRIES=3', 'SHUTDOWN_TIMEOUT=20s'];

  async function run(name: string, image: string, env: string[], aliases: string[] = [], publish = false): Promise<Docker.Container> {
    const container = await docker.createContainer({
      Image: image,
      name: `${name}-${suffix}`,
      Env: env,
      ...(publish ? { ExposedPorts: { '8080/tcp': {} } } : {}),
      HostConfig: {
        NetworkMode: network,
        // A free port on the target's VPN address: reachable only through the tunnel.
        ...(publish ? { PortBindings: { '8080/tcp': [{ HostIp: target?.address ?? '', HostPort: '' }] } } : {}),
      },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: aliases } } },
    });
    containers.push(container);
    await container.start();
    return container;
  }

  /** http://<target VPN address>:<published port> */
  async function urlOf(container: Docker.Container): Promise<string> {
    const binding = (await container.inspect()).NetworkSettings.Ports['8080/tcp']?.[0];
    if (!binding) throw new Error('the container publishes no port');
    return `http://${target?.address ?? ''}:${binding.HostPort}`;
  }

  async function startWorker(image: string): Promise<Docker.Container> {
    workerCount++;
    return await run(`gangway-worker${workerCount}`, image, ['APP_ROLE=worker', `INSTANCE_NAME=worker${workerCount}`, ...queueEnv], [], true);
  }

  async function waitReady(url: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (status === 200) return;
      await sleep(200);
    }
    throw new Error(`${url} not ready after ${timeoutMs} ms`);
  }

  /** A client posting one image after another until stopped; every accepted job is tracked by its token. */
  function stream(stop: { stopped: boolean }): Promise<void> {
    return (async () => {
      while (!stop.stopped) {
        const response = await fetch(`${webUrl}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' }, signal: AbortSignal.timeout(90_000) }).catch(() => undefined);
        if (!response) {
          refused++;
          await sleep(200);
          continue;
        }
        const body = (await response.json()) as { token?: string; timings?: { queueMs: number }; version?: string };
        if (response.status === 200 && body.token) tracked.push({ token: body.token, acceptedAt: Date.now(), done: true, waitMs: body.timings?.queueMs ?? 0, version: body.version });
        else if (response.status === 202 && body.token) tracked.push({ token: body.token, acceptedAt: Date.now() });
        else {
          refused++;
          await sleep(200);
        }
      }
    })();
  }

  /** Follows every accepted job that was answered 202 to its end. */
  async function settleAll(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const job of tracked) {
      while (!job.done && !job.failed) {
        if (Date.now() > deadline) return;
        const response = await fetch(`${webUrl}/api/v1/results/${job.token}`).catch(() => undefined);
        if (response?.status === 200) {
          const body = (await response.json()) as { timings: { queueMs: number }; version: string };
          job.done = true;
          job.waitMs = body.timings.queueMs;
          job.version = body.version;
        } else if (response && response.status !== 202 && response.status !== 503) {
          job.failed = `${response.status} ${await response.text()}`;
        } else {
          await sleep(250);
        }
      }
    }
  }

  function report(title: string): { accepted: number; completed: number; lost: number; longestWaitMs: number; byVersion: Record<string, number> } {
    const completed = tracked.filter((job) => job.done).length;
    const longestWaitMs = Math.max(0, ...tracked.map((job) => job.waitMs ?? 0));
    const byVersion: Record<string, number> = {};
    for (const job of tracked) if (job.done) byVersion[job.version ?? '?'] = (byVersion[job.version ?? '?'] ?? 0) + 1;
    const figures = { accepted: tracked.length, completed, lost: tracked.length - completed, longestWaitMs: Math.round(longestWaitMs), refused, byVersion };
    console.log(`${title}: ${JSON.stringify(figures)}`);
    for (const job of tracked.filter((j) => j.failed)) console.log(`  failed ${job.token.slice(0, 4)}: ${job.failed}`);
    return figures;
  }

  beforeAll(async () => {
    if (!lab || !target) return;
    const redisImage = await ensureRedisImage(target.dockerSocket);
    console.log(`redis image ${redisImage.tag} on ${target.name} (${redisImage.built ? 'imported' : 'already there'}, recipe ${redisImage.key})`);
    const built = await buildAppImage(runner, TAG, { APP_VERSION: '1.0.0-queue-itg', GIT_SHA: 'queue-itg', BUILT_AT: new Date().toISOString() });
    console.log(`app image ${built.id.slice(0, 19)} built in ${built.seconds.toFixed(1)} s`);
    const v2 = await buildAppImage(runner, TAG_V2, { APP_VERSION: '2.0.0-queue-itg', GIT_SHA: 'queue-itg-v2', BUILT_AT: new Date().toISOString() });
    console.log(`v2 image ${v2.id.slice(0, 19)} built in ${v2.seconds.toFixed(1)} s`);
    expect(v2.id).not.toBe(built.id);
    // One `docker save` of both: the layers they share travel once.
    await copyImages(lab.runner.socket, target.dockerSocket, [TAG, TAG_V2]);
    tunnel = await connectLabVpn(target.vpn.configFile);
    await docker.createNetwork({ Name: network, Driver: 'bridge' });
    redis = await run('gangway-redis', redisImage.tag, [], ['redis']);
    web = await run('gangway-web', TAG, ['APP_ROLE=web', 'OCR_RESULT_WAIT=60s', 'QUEUE_MAX_WAITING=64', ...queueEnv], [], true);
    webUrl = await urlOf(web);
    initialWorkers = [await startWorker(TAG), await startWorker(TAG)];
    await waitReady(webUrl);
    for (const worker of initialWorkers) await waitReady(await urlOf(worker));
    png = (await renderTextImage(['queued on the lab', 'read by a worker'], 'DejaVu Sans', 28)).png;
  }, 1_800_000);

  afterAll(async () => {
    for (const container of containers.reverse()) await container.remove({ force: true, v: true }).catch(() => undefined);
    await docker.getNetwork(network).remove().catch(() => undefined);
    for (const tag of [TAG, TAG_V2]) {
      await docker.getImage(tag).remove().catch(() => undefined);
      await runner.getImage(tag).remove().catch(() => undefined);
    }
    await tunnel?.stop();
  });

  it('loses no job when one worker is SIGKILLed mid-job and both are replaced (SIGTERM) by workers of a new image', async () => {
    tracked.length = 0;
    refused = 0;
    const stop = { stopped: false };
    const clients = [stream(stop), stream(stop), stream(stop)];
    await sleep(4000);
    const [first, second] = initialWorkers as [Docker.Container, Docker.Container];
    // Mid-job: killed while its /readyz counts a job in hand.
    const firstUrl = await urlOf(first);
    const busyDeadline = Date.now() + 30_000;
    for (;;) {
      const body = (await fetch(`${firstUrl}/readyz`).then((r) => r.json(), () => ({}))) as { activeJobs?: number };
      if ((body.activeJobs ?? 0) > 0) break;
      if (Date.now() > busyDeadline) throw new Error('the first worker never had a job in hand');
      await sleep(10);
    }
    await first.kill({ signal: 'SIGKILL' });
    await sleep(3000);
    const replacements = [await startWorker(TAG_V2), await startWorker(TAG_V2)];
    for (const worker of replacements) await waitReady(await urlOf(worker));
    await second.stop({ t: 30 });
    const secondExit = (await second.inspect()).State.ExitCode;
    await sleep(4000);
    stop.stopped = true;
    await Promise.all(clients);
    await settleAll();
    const figures = report('worker SIGKILL + replacement');
    expect(secondExit).toBe(0);
    expect(figures.accepted).toBeGreaterThan(10);
    expect(figures.lost).toBe(0);
    // Both releases did work: v1 before the replacement, the new image after it.
    expect(figures.byVersion['1.0.0-queue-itg'] ?? 0).toBeGreaterThan(0);
    expect(figures.byVersion['2.0.0-queue-itg'] ?? 0).toBeGreaterThan(0);
  }, 600_000);

  it('turns not-ready while Redis restarts, comes back without a restart, and loses no accepted job', async () => {
    tracked.length = 0;
    refused = 0;
    const stop = { stopped: false };
    const clients = [stream(stop), stream(stop)];
    await sleep(3000);
    let notReadyFrom = 0;
    let notReadyUntil = 0;
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        const status = await fetch(`${webUrl}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
        if (status !== 200 && !notReadyFrom) notReadyFrom = Date.now();
        if (status === 200 && notReadyFrom && !notReadyUntil) notReadyUntil = Date.now();
        await sleep(50);
      }
    })();
    await redis.restart({ t: 10 });
    const deadline = Date.now() + 60_000;
    while (!notReadyUntil && Date.now() < deadline) await sleep(100);
    await sleep(3000);
    watching.on = false;
    await watcher;
    stop.stopped = true;
    await Promise.all(clients);
    await settleAll();
    const figures = report('Redis restart');
    console.log(`web not ready for ${((notReadyUntil - notReadyFrom) / 1000).toFixed(1)} s during the Redis restart`);
    expect(notReadyFrom).toBeGreaterThan(0);
    expect(notReadyUntil).toBeGreaterThan(notReadyFrom);
    expect(figures.lost).toBe(0);
    expect((await web.inspect()).State.Running).toBe(true);
  }, 600_000);
});
