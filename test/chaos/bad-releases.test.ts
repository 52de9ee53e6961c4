// Chaos case 5 (issue #10): bad releases over a running v1, under steady traffic, blue-green.
// A release that crashes at start, one that never gets ready, and one that gets ready and then
// dies while the new container settles: each is rolled back (rolled-back=true, a message naming
// the cause), no request fails, no upload is lost, v1 answers from the same container, which
// never restarted, and nothing of the bad release is left. A good v2 then deploys as usual.
// Twice, with the same images: behind the app's own nginx proxy on a public port, and behind the
// server's shared edge (Caddy on port 80, by hostname; issue #18), whose switch must keep every
// one of these verdicts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCaddyImage } from '../../lab/src/caddy-image.ts';
import { caseTable, underTraffic } from './support/cases.ts';
import { ChaosApp, type ChaosFront, type DeployRun } from './support/deploy.ts';
import { appImage, faultyImage, type ChaosImage, type FaultMode } from './support/images.ts';
import { openChaosSession, type ChaosSession } from './support/session.ts';
import { answeringVersion, sampleImage, upload } from './support/traffic.ts';

let session: ChaosSession;
let v1: ChaosImage;
let v2: ChaosImage;
const bad = new Map<FaultMode, ChaosImage>();

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function startState(id: string): Promise<{ startedAt: string; restarts: number; running: boolean }> {
  const info = await session.docker.getContainer(id).inspect();
  return { startedAt: info.State.StartedAt, restarts: info.RestartCount, running: info.State.Running };
}

const phases = (run: DeployRun): string => (run.report?.hosts[0]?.phases ?? []).map((p) => `${p.phase} ${p.ms} ms`).join(', ');
const phaseMs = (run: DeployRun, name: string): number => (run.report?.hosts[0]?.phases ?? []).filter((p) => p.phase === name).reduce((sum, p) => sum + p.ms, 0);

describe('chaos 5: bad releases are rolled back under traffic (blue-green)', () => {
  beforeAll(async () => {
    session = await openChaosSession({ target: 1 });
    v1 = await appImage(session.lab, 'chaos-bad-v1', 'v1');
    v2 = await appImage(session.lab, 'chaos-bad-v2', 'v2');
    for (const mode of ['crash', 'never-ready', 'dies-after-ready'] as const) bad.set(mode, await faultyImage(session.lab, v2, mode, `chaos-bad-${mode}`));
    // The edge's image (caddy:2, the action's default), made on the target's engine when it lacks it.
    await ensureCaddyImage(session.target.dockerSocket);
  }, 900_000);

  afterAll(async () => {
    await session?.close();
    console.log(`chaos cases:\n${caseTable()}`);
  });

  describe.each<ChaosFront>(['proxy', 'edge'])('behind the %s', (front) => badReleases(front));
});

function badReleases(front: ChaosFront): void {
  let app: ChaosApp;
  /** The v1 container that serves throughout. */
  let v1Container: { id: string; name: string };

  beforeAll(async () => {
    app = new ChaosApp(session, `chaos-bad-${front}`, 19450 + Math.floor(Math.random() * 50), front);
    const first = await app.deploy({ image: v1.imageRef });
    expect(first.main.exitCode, first.main.log).toBe(0);
    const c = first.report?.hosts[0]?.container;
    if (!c) throw new Error('the first deploy reported no container');
    v1Container = c;
    // History to lose: a few uploads before any case.
    for (let i = 0; i < 3; i++) await upload(app.endpoint, await sampleImage());
  }, 300_000);

  afterAll(async () => {
    await app?.cleanup();
  });

  // cause: in the step's error; log: what the bad container said, printed before it was removed.
  const cases: Array<{ mode: FaultMode; cause: RegExp; log: RegExp; inputs?: Record<string, string>; env?: Record<string, string> }> = [
    // Exits at once (exit 70): the readiness gate sees it exited or being restarted, long before readiness-timeout.
    { mode: 'crash', cause: /stopped before it got ready \(exited: the container (is exited|crashed)/, log: /chaos: crashing at start/ },
    // Answers, but /readyz stays 503: the gate gives up after readiness-timeout.
    { mode: 'never-ready', cause: /did not get ready within 8\.0s \(timeout: GET \/readyz → 503\)/, log: /chaos: listening on 8080, never ready/, inputs: { 'readiness-timeout': '8s' } },
    // Passes the gate, takes the traffic, and is SIGKILLed 5 s after its /readyz first answered:
    // the switch takes 2-3.5 s here, so it dies 1.5-3 s into the default settle-time (5 s).
    { mode: 'dies-after-ready', cause: /died [\d.]+m?s into settle-time 5\.0s: the container (crashed|is exited)/, log: /chaos: SIGKILL to the app/, env: { DIE_AFTER_MS: '5000' } },
  ];

  for (const { mode, cause, log, inputs, env } of cases) {
    const failed = front === 'edge' && mode === 'dies-after-ready' ? '0 failed reads (an upload in flight to it may get 502)' : '0 failed';
    it(`a release that ${mode === 'crash' ? 'crashes at start' : mode === 'never-ready' ? 'never gets ready' : 'gets ready, then dies'}: rolled back, ${failed}, nothing lost, v1 answers from the same container`, async () => {
      const image = bad.get(mode) as ChaosImage;
      const before = await startState(v1Container.id);
      const caseStarted = Math.floor(Date.now() / 1000) - 1;
      expect(before.running).toBe(true);
      const { value: run, row, load, writes } = await underTraffic(
        `bad release: ${mode} (${front})`,
        app.endpoint,
        async () => {
          await pause(1500);
          const extraEnv = Object.entries(env ?? {}).map(([k, v]) => `\n${k}=${v}`).join('');
          const r = await app.deploy({ image: image.imageRef, ...inputs, ...(extraEnv ? { env: `${app.inputs().env ?? ''}${extraEnv}` } : {}) });
          await pause(1500);
          return r;
        },
        { expectVersion: 'v1', result: (r) => `${r.report?.hosts[0]?.result ?? `exit ${r.main.exitCode}`} in ${(r.ms / 1000).toFixed(1)} s` },
      );
      console.log(`${mode}: deploy ${run.ms} ms; phases: ${phases(run)}`);
      const host = run.report?.hosts[0];
      expect(run.main.exitCode, run.main.log).not.toBe(0);
      expect(run.main.outputs['rolled-back']).toBe('true');
      expect(host?.result).toBe('rolled-back');
      expect(host?.error).toMatch(cause);
      expect(run.main.log).toMatch(cause);
      expect(run.main.log).toMatch(/The previous container serves again \(rolled back\)/);
      expect(run.main.log).toMatch(log);
      // Nothing failed, nothing was lost, and the history only grew. One difference, by design of the
      // edge (Caddy): an upload in flight to the release when it is killed is answered 502, where the
      // app's nginx replays it on the previous container (non_idempotent). Caddy retries only requests it
      // can send again safely (GETs; a POST only when it never reached the container), so that a killed
      // release's half-done write is never done twice. The writer has at most one upload in flight.
      // A GET that Caddy is about to try again on v1 would still be answered 502 if the rollback replaced
      // Caddy's config meanwhile; the rollback lets those retries finish first (Front.beforeRollback).
      expect(load.failed).toBe(0);
      if (front === 'edge' && mode === 'dies-after-ready') {
        expect(writes.failed).toBeLessThanOrEqual(1);
        expect(Object.keys(writes.errors).filter((e) => e !== 'HTTP 502')).toEqual([]);
      } else {
        expect(row.failed).toBe(0);
      }
      expect(row.lost).toBe(0);
      expect(row.rowsAfter).toBeGreaterThan(row.rowsBefore);
      expect(row.version).toBe('v1');
      expect(await answeringVersion(app.endpoint)).toBe('v1');
      // The same v1 container serves, behind the front alone, and it never restarted.
      expect(await app.upstream()).toBe(v1Container.name);
      expect(await startState(v1Container.id)).toEqual(before);
      // Nothing of the bad release is left.
      const left = (await app.containers()).filter((c) => c.role === 'app' && c.id !== v1Container.id);
      expect(left.filter((c) => c.state === 'running' || c.state === 'restarting')).toEqual([]);
      expect(left.map((c) => c.name)).not.toContain(host?.container?.name);
      if (mode === 'dies-after-ready') {
        // It was caught after the switch: the front forwarded to it, then back.
        expect(phases(run)).toMatch(/switch .*settle .*roll back .*remove new/);
        if (front === 'edge') {
          // Before the edge loaded the config without it: the edge's retries of what it dropped had their time.
          const waited = run.main.log.split('\n').filter((l) => /gave the edge [\d.]+m?s to send on to the previous container anything/.test(l));
          console.log(`${mode}: ${waited.map((l) => l.replace(/^.*?gave/, 'gave')).join('\n') || 'no wait logged'}`);
          expect(waited).toHaveLength(1);
          return;
        }
        // What nginx passed on to the backup when the new one died (evidence for the table, not a verdict).
        // Only this case's deploy ever switched the proxy away from v1: every upstream error since it began is the dying container's.
        const proxyLog = (await session.docker.getContainer(`${app.name}-proxy`).logs({ stdout: true, stderr: true, since: caseStarted })).toString('utf8');
        const failedOver = proxyLog.split('\n').filter((l) => /\[error\].*upstream/.test(l));
        console.log(`${mode}: nginx failed over ${failedOver.length} request(s) from the dying container, ${failedOver.filter((l) => l.includes('"POST ')).length} POST:\n${failedOver.map((l) => l.replace(/^.*?\[/, '[').slice(0, 300)).join('\n')}`);
      } else {
        // Caught at the readiness gate: the proxy was never switched.
        expect(phases(run)).not.toMatch(/switch|settle/);
      }
    });
  }

  it('a good v2 afterwards settles and deploys: 0 failed, v2 answers, v1 stopped and kept', async () => {
    const { value: run, row } = await underTraffic(
      `good v2 after the bad releases (${front})`,
      app.endpoint,
      async () => {
        await pause(1500);
        const r = await app.deploy({ image: v2.imageRef });
        await pause(1500);
        return r;
      },
      { expectVersion: 'v2', result: (r) => `${r.report?.hosts[0]?.result ?? `exit ${r.main.exitCode}`} in ${(r.ms / 1000).toFixed(1)} s` },
    );
    console.log(`good v2: deploy ${run.ms} ms; phases: ${phases(run)}; settle overhead ${phaseMs(run, 'settle') + phaseMs(run, 'drop backup')} ms`);
    expect(run.main.exitCode, run.main.log).toBe(0);
    expect(run.report?.hosts[0]?.result).toBe('deployed');
    expect(run.main.log).toMatch(/settled: still running, not restarted, answering its readiness path for 5\.0s after the switch/);
    expect(phaseMs(run, 'settle')).toBeGreaterThanOrEqual(5000);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(row.rowsAfter).toBeGreaterThan(row.rowsBefore);
    expect(await answeringVersion(app.endpoint)).toBe('v2');
    const v2Name = run.report?.hosts[0]?.container?.name;
    expect(await app.upstream()).toBe(v2Name);
    const containers = await app.containers();
    expect(containers.filter((c) => c.role === 'app' && c.state === 'running').map((c) => c.name)).toEqual([v2Name]);
    expect(containers.find((c) => c.id === v1Container.id)?.state).toBe('exited');
  });
}
