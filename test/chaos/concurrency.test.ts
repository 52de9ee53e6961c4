// Chaos case 7 (issue #10): concurrent deploys from two runs, and a deploy cancelled as the
// runner cancels it (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after) in each phase, or
// killed outright. Each runs under steady traffic against the public port. After each: the
// lock is gone (released by main, or by the post step when main could not), the proxy forwards
// to a running, ready container of the version the case expects, no new container is left
// running without traffic, no request failed and no acknowledged upload was lost.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnerJob } from '@gangway/harness';
import { caseTable, underTraffic } from './support/cases.ts';
import { startCpuHog } from './support/cpu-hog.ts';
import { ChaosApp, type DeployRun } from './support/deploy.ts';
import { appImage, type ChaosImage } from './support/images.ts';
import { openChaosSession, type ChaosSession } from './support/session.ts';
import { request, sampleImage, upload } from './support/traffic.ts';

let session: ChaosSession;
let app: ChaosApp;
const images: ChaosImage[] = [];
/** The version the public port should answer now. */
let serving = '';
/** Figures for the report: lock waits, cancel → exit, post durations. */
const figures: Record<string, unknown> = {};

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An image whose version is not the one serving: every deploy is a real change. */
function another(): ChaosImage {
  const next = images.find((i) => i.version !== serving);
  if (!next) throw new Error('no image other than the serving one');
  images.push(...images.splice(images.indexOf(next), 1)); // rotate
  return next;
}

/** A deploy cancelled as the runner cancels a job when a line matching `when` appears; `cancelAt` is when that was. */
async function cancelledDeploy(extra: Record<string, string>, when: RegExp): Promise<DeployRun & { cancelToExitMs: number }> {
  let cancelAt: number | undefined;
  const started = performance.now();
  const run = await app.deploy(extra, {
    cancel: { whenLog: when },
    onLine: (line) => {
      if (cancelAt === undefined && when.test(line)) cancelAt = performance.now();
    },
  });
  if (cancelAt === undefined) throw new Error(`the deploy never printed a line matching ${when}:\n${run.main.log}`);
  return { ...run, cancelToExitMs: Math.round(started + run.main.durationMs - cancelAt) };
}

/** The pid of this job's running main step (the harness's child: node …/action-deploy-ssh/dist/index.js). */
function mainPid(job: RunnerJob): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('action-deploy-ssh/dist/index.js')) continue;
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.includes(`GITHUB_RUN_ID=${job.github.runId}`)) return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

/** What serves now: exactly one running app container, the proxy's upstream, ready, answering `version`. */
async function assertServing(version: string): Promise<string> {
  const containers = await app.containers();
  const running = containers.filter((c) => c.role === 'app' && c.state === 'running');
  expect(running.map((c) => c.name), JSON.stringify(containers.map((c) => [c.name, c.role, c.state]))).toHaveLength(1);
  const only = running[0] as (typeof running)[number];
  expect(await app.upstream()).toBe(only.name);
  const ready = await request(app.endpoint, 'GET', '/readyz', undefined, 5000);
  expect(ready.status).toBe(200);
  const answer = await request(app.endpoint, 'GET', '/version', undefined, 5000);
  expect((JSON.parse(answer.body) as { version: string }).version).toBe(version);
  expect(containers.filter((c) => c.role === 'proxy' && c.state === 'running')).toHaveLength(1);
  return only.name;
}

async function lockId(): Promise<string | undefined> {
  return (await app.containers()).find((c) => c.role === 'lock')?.id;
}

async function assertNoLock(): Promise<void> {
  expect(await app.lock()).toBeUndefined();
}

/** A lock marker as another run would hold it (same name, labels and token scheme as lock.ts). */
async function holdLockAsAnotherRun(runUrl: string): Promise<string> {
  const v = images[0] as ChaosImage;
  const created = await session.docker.createContainer({
    name: `gangway-lock.${app.name}`,
    Image: v.imageRef,
    Cmd: ['gangway-deploy-lock'],
    Entrypoint: ['/gangway-lock-is-never-started'],
    Labels: {
      'gangway.managed': 'true',
      'gangway.role': 'lock',
      'gangway.app': app.name,
      'gangway.run-url': runUrl,
      'gangway.actor': 'someone-else',
      'gangway.git-sha': 'f'.repeat(40),
      'gangway.lock.acquired-at': new Date().toISOString(),
      'gangway.lock.token': 'another-runs-token',
    },
    HostConfig: { NetworkMode: 'none' },
  });
  return created.id;
}

const phases = (r: DeployRun): string => (r.report?.hosts[0]?.phases ?? []).map((p) => `${p.phase} ${p.ms}`).join(', ');

const errors = (r: DeployRun): string => r.main.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('\n');

const failedSteps = (r: DeployRun): string => `main exit ${r.main.exitCode}${r.main.signal ? ` (${r.main.signal})` : ''}, post ${r.post?.exitCode ?? '-'}`;

/**
 * Runs `fn` on a loaded machine: a busy-loop child per CPU beside it (issue #16, item 17: a
 * fresh-clone run with another CPU-heavy job beside it outlasted the runner's grace period).
 */
async function besideCpuHog<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const hog = startCpuHog({ maxMs: 240_000 });
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const { cpuMs } = await hog.stop();
    figures[`${name} CPU hog`] = { children: hog.pids.length, pids: hog.pids, wallMs: Math.round(performance.now() - started), cpuMs };
  }
}

describe('chaos 7: concurrent and cancelled deploys', () => {
  beforeAll(async () => {
    session = await openChaosSession({ target: 1 });
    images.push(await appImage(session.lab, 'chaos-conc-v1', 'v1'), await appImage(session.lab, 'chaos-conc-v2', 'v2'), await appImage(session.lab, 'chaos-conc-v3', 'v3'));
    app = new ChaosApp(session, 'chaos-conc', 19550 + Math.floor(Math.random() * 50));
    const first = await app.deploy({ image: (images[0] as ChaosImage).imageRef });
    expect(first.main.exitCode, first.main.log).toBe(0);
    serving = 'v1';
    for (let i = 0; i < 3; i++) await upload(app.endpoint, await sampleImage());
  }, 300_000);

  afterAll(async () => {
    await app?.cleanup();
    await session?.close();
    console.log(`chaos cases:\n${caseTable()}\n\nfigures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('two runs deploy at once: one waits for the lock, both finish in order, the last one serves', async () => {
    const [a, b] = images.filter((i) => i.version !== serving) as [ChaosImage, ChaosImage];
    const jobA = new RunnerJob();
    const jobB = new RunnerJob();
    app.jobs.push(jobA, jobB);
    const finished: string[] = [];
    const { value, row } = await underTraffic('7.1 two runs at once', app.endpoint, async () => {
      await pause(1000);
      const runs = await Promise.all([
        app.deploy({ image: a.imageRef }, { job: jobA }).then((r) => (finished.push(a.version), r)),
        app.deploy({ image: b.imageRef }, { job: jobB }).then((r) => (finished.push(b.version), r)),
      ]);
      await pause(1000);
      return runs;
    }, { expectVersion: '', result: (rs) => rs.map((r) => (r.main.exitCode === 0 ? 'deployed' : `exit ${r.main.exitCode}`)).join(' + ') });
    const [runA, runB] = value;
    expect(runA.main.exitCode, runA.main.log).toBe(0);
    expect(runB.main.exitCode, runB.main.log).toBe(0);
    // Exactly one waited, and its log names the other run as the holder.
    const waitedA = /waiting for the deploy lock/.test(runA.main.log);
    const waitedB = /waiting for the deploy lock/.test(runB.main.log);
    expect(waitedA !== waitedB, `A waited: ${waitedA}, B waited: ${waitedB}`).toBe(true);
    const [waiter, holder, holderJob] = waitedA ? [runA, runB, jobB] : [runB, runA, jobA];
    expect(waiter.main.log).toContain(`actions/runs/${holderJob.github.runId}`);
    const waited = /lock \S+ taken after waiting (\S+)/.exec(waiter.main.log)?.[1];
    expect(waited, waiter.main.log).toBeDefined();
    // The waiter replaced what the holder had deployed (it looked again under the lock).
    expect(waiter.report?.hosts[0]?.previous?.name).toBe(holder.report?.hosts[0]?.container?.name);
    const last = waitedA ? a.version : b.version;
    expect(finished.at(-1)).toBe(last);
    figures['7.1 lock wait'] = waited;
    figures['7.1 durations ms'] = { holder: holder.ms, waiter: waiter.ms };
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(row.version).toBe(last);
    serving = last;
    await assertServing(serving);
    await assertNoLock();
    for (const r of value) expect(r.post?.log).toContain('No deploy lock left to release.');
  });

  it('a lock held by another run: lock-timeout fails naming the holder, takes nothing away', async () => {
    const holderUrl = 'https://github.com/octo-org/other/actions/runs/424242';
    const marker = await holdLockAsAnotherRun(holderUrl);
    try {
      const { value, row } = await underTraffic('7.2 lock-timeout behind another run', app.endpoint, () => app.deploy({ image: another().imageRef, 'lock-timeout': '3s' }), {
        expectVersion: serving,
        result: failedSteps,
      });
      expect(value.main.exitCode).not.toBe(0);
      expect(value.main.log).toMatch(/still held after \d/);
      expect(value.main.log).toContain(holderUrl);
      expect(row.failed).toBe(0);
      expect(row.lost).toBe(0);
      // The other run's lock is still there: a deploy that never held it never removes it.
      expect(await lockId()).toBe(marker);
      expect(value.post?.log).toContain('No deploy lock left to release.');
      await assertServing(serving);
    } finally {
      await session.docker.getContainer(marker).remove({ force: true });
    }
  });

  it('cancelled while waiting for the lock: exits at once, leaves the holder its lock', async () => {
    const marker = await holdLockAsAnotherRun('https://github.com/octo-org/other/actions/runs/434343');
    try {
      const { value, row } = await underTraffic('7.3 cancel: waiting for the lock', app.endpoint, () => cancelledDeploy({ image: another().imageRef }, /waiting for the deploy lock/), {
        expectVersion: serving,
        result: failedSteps,
      });
      figures['7.3 cancel → exit ms'] = value.cancelToExitMs;
      expect(value.main.exitCode).not.toBe(0);
      expect(errors(value)).toMatch(/cancelled/);
      expect(value.cancelToExitMs).toBeLessThan(5000);
      expect(await lockId()).toBe(marker);
      expect(value.post?.log).toContain('No deploy lock left to release.');
      expect(row.failed).toBe(0);
      expect(row.lost).toBe(0);
      await assertServing(serving);
    } finally {
      await session.docker.getContainer(marker).remove({ force: true });
    }
  });

  it('cancelled during the pull: nothing created, nothing locked', async () => {
    const before = (await app.containers()).map((c) => c.name).sort();
    const { value, row } = await underTraffic('7.4 cancel: pull', app.endpoint, () => cancelledDeploy({ image: another().imageRef }, /::group::.* pull /), {
      expectVersion: serving,
      result: failedSteps,
    });
    figures['7.4 cancel → exit ms'] = value.cancelToExitMs;
    expect(value.main.exitCode).not.toBe(0);
    expect(errors(value)).toMatch(/cancelled/);
    expect(value.cancelToExitMs).toBeLessThan(7500);
    expect((await app.containers()).map((c) => c.name).sort()).toEqual(before);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    await assertServing(serving);
    await assertNoLock();
  });

  it('cancelled during the readiness of the new container: it is removed, the old one serves', async () => {
    const before = await app.upstream();
    // A release that is slow to get ready: its readiness path does not answer 2xx yet.
    const { value, row } = await underTraffic('7.5 cancel: readiness', app.endpoint, () => cancelledDeploy({ image: another().imageRef, 'readiness-path': '/not-ready-yet' }, /not ready yet after/), {
      expectVersion: serving,
      result: failedSteps,
    });
    figures['7.5 cancel → exit ms'] = value.cancelToExitMs;
    figures['7.5 post ms'] = value.post?.durationMs;
    expect(value.main.exitCode).not.toBe(0);
    expect(errors(value)).toMatch(/cancelled/);
    expect(value.cancelToExitMs).toBeLessThan(7500);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(await assertServing(serving)).toBe(before);
    await assertNoLock();
  });

  /**
   * A cancel after the new container was ready: the step exits 1 before the runner's SIGTERM,
   * having released its lock, and says where it stopped. Either the switch stands (the new
   * container serves, the old one stopped) or it was undone (the old one serves, the new one is
   * gone); the proxy must agree with what the step said.
   */
  async function afterReady(name: string, when: RegExp, mustStand: boolean, options: { cpuHog?: boolean; slowStop?: string } = {}): Promise<void> {
    if (options.slowStop) {
      // The container this case replaces takes its time to stop on SIGTERM (it keeps accepting for
      // SHUTDOWN_DELAY while a load balancer would drain it): a stop the engine finishes by itself,
      // later than the runner's SIGTERM (7.5 s) and SIGKILL (10 s) after the cancel.
      const slow = another();
      const prep = await app.deploy({ image: slow.imageRef, env: `SESSION_SECRET=${app.envSecret}\nLOG_LEVEL=warn\nSHUTDOWN_DELAY=${options.slowStop}` });
      expect(prep.main.exitCode, prep.main.log).toBe(0);
      serving = slow.version;
    }
    const target = another();
    const previous = serving;
    const run = () =>
      underTraffic(name, app.endpoint, () => cancelledDeploy({ image: target.imageRef }, when), { expectVersion: '', result: failedSteps });
    const { value, row } = options.cpuHog ? await besideCpuHog(name.slice(0, 3), run) : await run();
    figures[`${name.slice(0, 3)} cancel → exit ms`] = value.cancelToExitMs;
    figures[`${name.slice(0, 3)} main`] = { exitCode: value.main.exitCode, signal: value.main.signal, durationMs: value.main.durationMs, post: value.post?.exitCode, postMs: value.post?.durationMs };
    figures[`${name.slice(0, 3)} phases`] = phases(value);
    const stands = /after the switch: .* runs the new version/.test(errors(value));
    // What serves now, before any assertion: a failure here must not send the later cases after the wrong version.
    if (row.version === target.version || row.version === previous) serving = row.version;
    expect(value.main.exitCode, value.main.log).toBe(1);
    // The step's error says it was cancelled, and (when it stands) that the switch stands.
    expect(errors(value)).toMatch(/cancelled/);
    expect(value.main.signal).toBeNull();
    expect(value.cancelToExitMs).toBeLessThan(7500);
    if (mustStand) expect(stands, value.main.log).toBe(true);
    expect(value.post?.log).toContain('No deploy lock left to release.');
    if (options.slowStop && stands) {
      // The step did not wait for it: the engine finishes the stop by itself, gracefully, within stop-timeout.
      const old = value.report?.hosts[0]?.previous?.name;
      const endedAt = performance.now();
      for (;;) {
        const c = (await app.containers()).find((x) => x.name === old);
        if (c?.state !== 'running') break;
        if (performance.now() - endedAt > 45_000) throw new Error(`${old ?? '?'} still runs 45 s after the step ended: the stop never reached the engine`);
        await pause(250);
      }
      figures[`${name.slice(0, 3)} old container stopped after the step ended, ms`] = Math.round(performance.now() - endedAt);
      const inspected = await session.docker.getContainer(old ?? '').inspect();
      figures[`${name.slice(0, 3)} old container exit code`] = inspected.State.ExitCode;
      expect(inspected.State.ExitCode).toBe(0);
      expect(inspected.HostConfig.RestartPolicy?.Name).toBe('no');
    }
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    serving = stands ? target.version : previous;
    expect(row.version).toBe(serving);
    const now = await assertServing(serving);
    const tried = value.report?.hosts[0]?.container?.name;
    if (stands) expect(now).toBe(tried);
    else expect((await app.containers()).some((c) => c.name === tried && c.state === 'running')).toBe(false);
    await assertNoLock();
  }

  it('cancelled the moment the new container is ready: the proxy ends on a ready container', () => afterReady('7.6 cancel: ready → switch', /is ready after/, false));

  it('cancelled right after the switch (settle window): the proxy ends on a ready container', () => afterReady('7.7 cancel: switch → settle', /reloaded gracefully/, false));

  it('cancelled once the switch is confirmed (drain, stop old): the switch stands, and the step ends within the grace period beside a CPU hog while the old container takes 12 s to stop', () =>
    afterReady('7.8 cancel: drain → stop old', /settled; dropping|settled:|stopping \S+ \(kept for rollback\)/, true, { cpuHog: true, slowStop: '12s' }));

  it('main killed (SIGKILL) while it holds the lock: only post runs, and releases it', async () => {
    const job = new RunnerJob();
    app.jobs.push(job);
    let killedAt: number | undefined;
    const { value, row } = await besideCpuHog('7.9', () => underTraffic('7.9 SIGKILL in readiness, post only', app.endpoint, async () => {
      const run = await app.deploy({ image: another().imageRef, 'readiness-path': '/not-ready-yet' }, {
        job,
        onLine: (line) => {
          if (killedAt !== undefined || !/not ready yet after/.test(line)) return;
          const pid = mainPid(job);
          if (pid === undefined) throw new Error('main step not found');
          killedAt = performance.now();
          process.kill(pid, 'SIGKILL');
        },
      });
      return run;
    }, { expectVersion: serving, result: failedSteps }));
    expect(killedAt).toBeDefined();
    expect(value.main.signal).toBe('SIGKILL');
    expect(value.post?.exitCode).toBe(0);
    expect(value.post?.log).toMatch(/released the deploy lock/);
    // The new container main had started, never switched to, is gone with it.
    expect(value.post?.log).toMatch(/removed \S+: this run started it but never switched the proxy to it/);
    figures['7.9 post ms'] = value.post?.durationMs;
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    await assertNoLock();
    await assertServing(serving);
  });

  it('after all that, a normal deploy succeeds and leaves one container serving', async () => {
    const target = another();
    const { value, row } = await underTraffic('7.10 normal deploy after the faults', app.endpoint, () => app.deploy({ image: target.imageRef }), {
      expectVersion: target.version,
      result: failedSteps,
    });
    expect(value.main.exitCode, value.main.log).toBe(0);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    serving = target.version;
    await assertServing(serving);
    await assertNoLock();
  });
});
