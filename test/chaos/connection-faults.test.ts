// Chaos on the way to the server (issue #10, cases 1, 2 and 4), on gw-target2, each under
// steady traffic, each ending with no upload lost and the expected version answering:
// - the SSH connection cut after the pull, after the new container started, after the switch;
// - the VPN dropped mid-deploy (the target's OpenVPN server killed);
// - the target's Docker engine restarted mid-deploy.
// The deploys are action-deploy-ssh's dist through the VPN; the VPN case brings the VPN up with
// action-vpn-connect's dist in the same job, as a workflow does.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnerJob } from '@gangway/harness';
import { cutSshConnections, killVpnServer, restartEngine, restoreVpnServer } from '../../lab/src/faults.ts';
import { caseTable, record, underTraffic } from './support/cases.ts';
import { ChaosApp, type DeployRun } from './support/deploy.ts';
import { appImage, type ChaosImage } from './support/images.ts';
import { loadFromInside, openChaosSession, type ChaosSession } from './support/session.ts';
import { answeringVersion, historyRows, missingResults, sampleImage, upload } from './support/traffic.ts';

/**
 * A re-run takes the lock of a run that died holding it over as stale. lock-ttl may not be shorter
 * than the re-run's own phases under the lock (issue #16, item 8): readiness-timeout 20s + switch
 * 10s + settle-time 5s + switch 10s + drain-timeout 5s + stop-timeout 10s + Engine calls 20s = 80s.
 */
const RERUN = { 'lock-ttl': '80s', 'readiness-timeout': '20s', 'drain-timeout': '5s', 'stop-timeout': '10s' };

const VPN_ACTION = path.resolve(import.meta.dirname, '..', '..', 'action-vpn-connect');

let session: ChaosSession;
let app: ChaosApp;
let v1: ChaosImage;
let v2: ChaosImage;
/** Each case deploys the image that does not serve now. */
async function servingNow(): Promise<{ from: ChaosImage; to: ChaosImage }> {
  // Asked, not remembered: a case that failed after its re-run may have left either version serving.
  const version = await answeringVersion(app.endpoint);
  const from = [v1, v2].find((v) => v.version === version);
  if (!from) throw new Error(`neither ${v1.version} nor ${v2.version} answers before this case (got ${version})`);
  return { from, to: from === v1 ? v2 : v1 };
}
const uploads: string[] = [];

/** The post step's line about the deploy lock, without its host prefix. */
function postLockLine(log: string): string {
  const line = log.split('\n').find((l) => /deploy lock|No deploy lock/.test(l)) ?? 'no line about the lock';
  return line.replace(/^\[[^\]]*\] /, '').trim();
}

function errorOf(run: DeployRun): string {
  return run.main.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('\n');
}

async function runningApps(): Promise<Array<{ id: string; name: string }>> {
  return (await app.containers()).filter((c) => c.role === 'app' && c.state === 'running');
}

/** One running app container, the proxy forwards to it, and it answers `version`. */
async function expectConverged(version: string): Promise<void> {
  const running = await runningApps();
  expect(running.map((c) => c.name)).toHaveLength(1);
  expect(await app.upstream()).toBe(running[0]?.name);
  expect(await answeringVersion(app.endpoint)).toBe(version);
  expect(await app.lock()).toBeUndefined();
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('chaos on the connection (gw-target2): SSH cut, VPN drop, engine restart', () => {
  beforeAll(async () => {
    session = await openChaosSession({ target: 2 });
    v1 = await appImage(session.lab, 'chaos-v1', 'v1');
    v2 = await appImage(session.lab, 'chaos-v2', 'v2');
    app = new ChaosApp(session, 'chaos-net', 19700 + Math.floor(Math.random() * 50));
    const first = await app.deploy({ image: v1.imageRef });
    expect(first.main.exitCode, first.main.log).toBe(0);
    for (let i = 0; i < 3; i++) uploads.push(await upload(app.endpoint, await sampleImage()));
  }, 900_000);

  afterAll(async () => {
    if (session) await restoreVpnServer(session.target).catch((e: unknown) => console.log(`could not restore the VPN server: ${String(e)}`));
    await app?.cleanup();
    await session?.close();
    console.log(`chaos cases:\n${caseTable()}`);
  });

  const phases: Array<{ phase: string; when: RegExp; switched: boolean; post: boolean }> = [
    { phase: 'after the pull', when: /pulled .* → /, switched: false, post: true },
    // The runner is gone too here (no post step): the re-run takes the lock over after lock-ttl.
    { phase: 'after the new container started', when: /started chaos-net-/, switched: false, post: false },
    { phase: 'after the switch', when: /upstream .* → .*reloaded gracefully/, switched: true, post: true },
  ];

  for (const { phase, when, switched, post } of phases) {
    it(`SSH cut ${phase}: ${switched ? 'the new version serves' : 'the old version keeps serving'}; ${post ? 'post releases the lock' : 'the lock is taken over after lock-ttl'}; a re-run completes`, async () => {
      const { from, to } = await servingNow();
      const { value, row } = await underTraffic(
        `SSH cut ${phase}${post ? '' : ' (runner gone: no post step)'}`,
        app.endpoint,
        async () => {
          let cut: Promise<number> | undefined;
          let cutAt = 0;
          const started = performance.now();
          const run = await app.deploy(
            { image: to.imageRef },
            {
              post,
              onLine: (line) => {
                if (!cut && when.test(line)) {
                  cutAt = performance.now() - started;
                  cut = cutSshConnections(session.target);
                }
              },
            },
          );
          const killed = await cut;
          const afterCut = { version: await answeringVersion(app.endpoint), upstream: await app.upstream(), lock: await app.lock(), running: await runningApps() };
          const rerun = await app.deploy({ image: to.imageRef, ...RERUN });
          return { run, killed, cutAt, afterCut, rerun };
        },
        {
          expectVersion: to.version,
          // What post found of the lock: a cut right after the pull may land before, during or after the lock's create.
          result: (v) => `cut ${Math.round(v.cutAt)} ms in; step exit ${v.run.main.exitCode}${v.run.post ? `; post: ${postLockLine(v.run.post.log)}` : ''}; re-run exit ${v.rerun.main.exitCode}`,
        },
      );
      expect(value.killed, 'no SSH session was cut: the trigger line never came').toBeGreaterThan(0);
      expect(value.run.main.exitCode, value.run.main.log).toBe(1);
      expect(errorOf(value.run)).toMatch(/Lost the SSH connection to 198\.19\.1\.1/);
      // Not half-switched: the old version serves until the switch, the new one after it.
      expect(value.afterCut.version).toBe(switched ? to.version : from.version);
      expect(value.afterCut.running.map((c) => c.name)).toContain(value.afterCut.upstream);
      if (post) {
        expect(value.afterCut.lock, 'the post step left the lock behind').toBeUndefined();
        expect(value.run.post?.log).toMatch(/released the deploy lock|No deploy lock left|already released/);
      } else {
        expect(value.afterCut.lock, 'without a post step the lock stays until lock-ttl').toBeDefined();
        expect(value.rerun.main.log).toMatch(/is stale .* taking it over/);
      }
      expect(value.rerun.main.exitCode, value.rerun.main.log).toBe(0);
      if (!switched && phase !== 'after the pull') expect(value.rerun.main.log).toMatch(/never got traffic .* removing it/);
      if (switched) expect(value.rerun.main.log).toMatch(/still running although the proxy forwards .* stopping it now/);
      await expectConverged(to.version);
      expect(row.failed).toBe(0);
      expect(row.lost).toBe(0);
      expect(row.rowsAfter).toBeGreaterThanOrEqual(row.rowsBefore);
    });
  }

  it('VPN drop mid-deploy (server killed): the step fails within its timeouts naming the VPN; nothing half-switched; a re-run completes', async () => {
    const { from, to } = await servingNow();
    const target = session.target;
    const rowsBefore = await historyRows(app.endpoint);
    // The public address is the VPN server's own (the lab's target is its VPN server), so it goes
    // with it: the traffic watches the service from inside the target, at the proxy's address.
    const proxy = await session.docker.getContainer(`${app.name}-proxy`).inspect();
    const proxyIp = proxy.NetworkSettings.Networks[`${app.name}-net`]?.IPAddress ?? '';
    expect(proxyIp).not.toBe('');
    // The job's own VPN, from action-vpn-connect's dist; this test's tunnel is closed meanwhile.
    await session.close();
    const job = new RunnerJob();
    app.jobs.push(job);
    const vpnInputs = { config: fs.readFileSync(target.vpn.configFile, 'utf8'), 'check-host': `${target.sshHost}:${target.sshPort}` };
    const vpn = await job.main(VPN_ACTION, { inputs: vpnInputs, timeoutMs: 60_000 });
    expect(vpn.exitCode, vpn.log).toBe(0);
    const inside = loadFromInside(target, proxyIp, 8080);
    let killedAt = 0;
    let kill: Promise<void> | undefined;
    const started = performance.now();
    const run = await app.deploy(
      { image: to.imageRef },
      {
        job,
        onLine: (line) => {
          if (!kill && /started chaos-net-/.test(line)) {
            killedAt = performance.now();
            kill = killVpnServer(target);
          }
        },
      },
    );
    await kill;
    // From the kill to the end of main (app.deploy ran post too, which spends its connect attempts).
    const failedAfterMs = Math.round(started + run.main.durationMs - killedAt);
    const vpnPost = await job.post(VPN_ACTION, { inputs: vpnInputs, timeoutMs: 60_000 });
    const lockWhileDown = await app.lock();
    await restoreVpnServer(target);
    await session.connectVpn();
    const afterVersion = await waitFor('the public port to answer again', 30_000, async () => {
      const v = await answeringVersion(app.endpoint);
      return v.startsWith('v') ? v : undefined;
    });
    const upstream = await app.upstream();
    const runningBeforeRerun = (await runningApps()).map((c) => c.name);
    const rerun = await app.deploy({ image: to.imageRef, ...RERUN });
    const { summary } = await inside.stop();
    const rowsAfter = await historyRows(app.endpoint);
    const lost = (await missingResults(app.endpoint, uploads)).length;
    record({
      case: 'VPN server killed mid-deploy (readiness)',
      requests: summary.total,
      failed: summary.failed,
      rowsBefore,
      rowsAfter,
      lost,
      version: await answeringVersion(app.endpoint),
      result: `step failed ${failedAfterMs} ms after the kill, naming the VPN; re-run exit ${rerun.main.exitCode}`,
      notes: 'traffic from inside the target (the public address is the VPN server’s own)',
    });
    expect(killedAt, 'the trigger line never came').toBeGreaterThan(0);
    expect(run.main.exitCode, run.main.log).toBe(1);
    expect(errorOf(run)).toMatch(/Lost the SSH connection to 198\.19\.1\.1/);
    expect(errorOf(run)).toMatch(/VPN tunnel/);
    // Keepalive: 5 s × 3 unanswered, plus the call in flight.
    expect(failedAfterMs, run.main.log.split('\n').slice(-25).join('\n')).toBeLessThan(45_000);
    expect(vpnPost.exitCode).toBe(0);
    expect(run.post?.log).toMatch(/Could not release the deploy lock .* taken over after lock-ttl/);
    expect(lockWhileDown).toBeDefined();
    // Not half-switched: the proxy still forwards to the old container, which answers.
    expect(afterVersion).toBe(from.version);
    expect(runningBeforeRerun).toContain(upstream);
    expect(rerun.main.exitCode, rerun.main.log).toBe(0);
    await expectConverged(to.version);
    expect(summary.failed, JSON.stringify(summary.firstFailures)).toBe(0);
    expect(lost).toBe(0);
    expect(rowsAfter).toBeGreaterThanOrEqual(rowsBefore);
  });

  it('the Docker engine restarted mid-deploy: containers come back (unless-stopped); a re-run converges; no upload lost', async () => {
    const { to } = await servingNow();
    let restart: Promise<{ downMs: number }> | undefined;
    let restartAt = 0;
    const { value, row, samples, startedAt } = await underTraffic(
      'target Docker engine restarted mid-deploy (readiness)',
      app.endpoint,
      async () => {
        const run = await app.deploy(
          { image: to.imageRef },
          {
            onLine: (line) => {
              if (!restart && /started chaos-net-/.test(line)) {
                restartAt = performance.now();
                restart = restartEngine(session.target);
              }
            },
          },
        );
        const { downMs } = (await restart) ?? { downMs: -1 };
        const backAfterMs = await waitFor('the service to answer again', 60_000, async () => ((await answeringVersion(app.endpoint)).startsWith('v') ? Math.round(performance.now() - restartAt) : undefined));
        const rerun = await app.deploy({ image: to.imageRef, ...RERUN });
        return { run, downMs, backAfterMs, rerun };
      },
      { expectVersion: to.version, result: (v) => `engine down ${v.downMs} ms, service back ${v.backAfterMs} ms after the restart began; step exit ${v.run.main.exitCode}; re-run exit ${v.rerun.main.exitCode}` },
    );
    expect(restartAt, 'the trigger line never came').toBeGreaterThan(0);
    expect(value.rerun.main.exitCode, value.rerun.main.log).toBe(0);
    await expectConverged(to.version);
    expect(row.lost).toBe(0);
    expect(row.rowsAfter).toBeGreaterThanOrEqual(row.rowsBefore);
    // The engine stops every container while it restarts: requests fail then, and only then.
    const restartMs = restartAt - startedAt;
    const outside = samples.filter((s) => s.error && (s.at < restartMs - 100 || s.at > restartMs + value.backAfterMs + 1000));
    expect(outside.map((s) => `${Math.round(s.at)} ms: ${s.error ?? ''}`)).toEqual([]);
  });
});
