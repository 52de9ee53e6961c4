// Issue #16, item 17: a cancel late in a blue-green deploy (drain, stop old) ends the step
// within the runner's grace period (SIGTERM 7.5 s, SIGKILL 10 s after the cancel): the old
// container is sent its stop but the step does not wait out stop-timeout, which the engine
// finishes by itself; nginx's old workers are not waited for either. The switch stands.
import { describe, expect, it } from 'vitest';
import { lockName } from '../src/container/spec.ts';
import { type Provenance } from '../src/labels.ts';
import { runContainerDeploy } from './fakes.ts';
import { drainOldWorkers } from '../src/container/proxy.ts';
import { blueGreen } from '../src/container/strategy/blue-green.ts';
import { DIGEST_V1, DIGEST_V2, FakeEngine, hostContext } from './fakes.ts';
import { settings } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';
const noLocks = { acquired: () => undefined, released: () => undefined };
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let n = 0;
function prov(): Provenance {
  n++;
  return { gitSha: 'a'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${n}`, actor: 'octocat', at: new Date(Date.parse('2026-11-22T10:00:00Z') + n * 60_000).toISOString() };
}

describe('a cancel after the switch', () => {
  it('sends the old container its stop and goes on without waiting out stop-timeout; the lock is released, the switch stands', async () => {
    const e = new FakeEngine();
    e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
    const s = settings({ publish: '8080', image: `${REPO}:v1`, 'drain-timeout': '200ms' }, { readinessTimeoutMs: 300, stopTimeoutMs: 30_000 });
    expect((await runContainerDeploy(hostContext(e, s), blueGreen, prov(), noLocks)).error).toBeUndefined();
    const v1 = e.running('shop')[0] ?? '';

    // The old app takes its whole stop-timeout to stop (a loaded machine, keep-alive clients).
    const controller = new AbortController();
    const realStop = e.stopContainer.bind(e);
    let stopFinished = false;
    const slowStops: Array<Promise<void>> = [];
    e.stopContainer = async (id, t) => {
      const name = [...e.containers.values()].find((c) => c.id === id)?.options.name;
      if (name !== v1) return realStop(id, t);
      // The runner cancels the job while the old container stops.
      controller.abort(new Error('The job was cancelled (SIGINT).'));
      const slow = pause(5000).then(() => realStop(id, t)).then(() => void (stopFinished = true));
      slowStops.push(slow);
      return slow;
    };
    const ctx = { ...hostContext(e, { ...s, image: { ...(s.image as NonNullable<typeof s.image>), tag: 'v2' } }), signal: controller.signal };
    const started = performance.now();
    const { report, error } = await runContainerDeploy(ctx, blueGreen, prov(), noLocks);
    const ms = performance.now() - started;
    expect(controller.signal.aborted).toBe(true);
    expect(error).toBeUndefined();
    expect(report.result).toBe('deployed');
    // Well inside the runner's 7.5 s: the stop was sent, not waited for.
    expect(ms).toBeLessThan(3000);
    expect(stopFinished).toBe(false);
    expect(ctx.log.text).toMatch(/cancelled: shop-\S+ was sent its stop; the engine finishes it by itself/);
    expect(slowStops).toHaveLength(1);
    // Kept for rollback: it must not come back by itself, and the step did not wait for that either.
    expect(e.container(v1)?.options.HostConfig?.RestartPolicy?.Name).toBe('no');
    expect([...e.containers.values()].some((c) => c.options.name === lockName('shop'))).toBe(false);
    expect(e.proxy('shop')?.upstream).toBe(report.container?.name);
    expect(ctx.log.text).toMatch(/retention is left to the next deploy/);
    await Promise.all(slowStops);
    expect(e.running('shop')).toEqual([report.container?.name]);
  }, 15_000);

  it('stops waiting for nginx\'s old workers once the job is cancelled', async () => {
    const e = new FakeEngine();
    // A proxy whose old workers never finish.
    e.exec = async () => ({ exitCode: 0, output: '/proc/101/cmdline\n/proc/102/cmdline\n' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled')), 100);
    const started = performance.now();
    const drained = await drainOldWorkers(e, 'proxy', new Set([101, 102]), 20_000, { intervalMs: 20, signal: controller.signal });
    expect(drained).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
