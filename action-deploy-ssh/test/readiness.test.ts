// The readiness gate's loop with a scripted engine and prober: from its second look on, the GET
// goes out beside the Engine call (to where the container was), and counts only when the
// container still runs at that address; a container that exited fails at once whatever a GET said.
import { describe, expect, it } from 'vitest';
import type { ContainerDetails, DeployEngine } from '../src/host/engine.ts';
import type { HttpProber } from '../src/host/context.ts';
import { waitUntilReady } from '../src/host/readiness.ts';

function details(address: string, over: Partial<ContainerDetails> = {}): ContainerDetails {
  return { id: 'c1', name: 'shop-1', image: 'img', imageId: 'sha256:1', state: 'running', labels: {}, created: 0, running: true, exitCode: 0, restartCount: 0, addresses: { 'shop-net': address }, createOptions: { name: 'shop-1', Image: 'img' }, ...over };
}

/** An engine whose inspect answers from `states` in turn (the last one repeats), each after `delayMs`; it logs when each call starts and ends. */
function scripted(states: Array<ContainerDetails | undefined>, events: string[], delayMs = 5): DeployEngine {
  let i = 0;
  return {
    inspectContainer: async () => {
      const n = i++;
      events.push(`inspect ${n} start`);
      await new Promise((r) => setTimeout(r, delayMs));
      events.push(`inspect ${n} end`);
      return states[Math.min(n, states.length - 1)];
    },
  } as unknown as DeployEngine;
}

/** A prober that answers 200 from the `readyFrom`-th GET on (1-based), 503 before; logs each GET with its address. */
function prober(readyFrom: number, events: string[]): HttpProber & { gets: string[] } {
  const gets: string[] = [];
  return {
    gets,
    get: async (host) => {
      gets.push(host);
      events.push(`get ${gets.length} ${host}`);
      return gets.length >= readyFrom ? { status: 200, body: 'ok' } : { status: 503, body: 'loading' };
    },
  };
}

const options = { readiness: { kind: 'http' as const, path: '/readyz' }, containerPort: 8080, network: 'shop-net', timeoutMs: 2000, intervalMs: 1, log: () => undefined };

describe('waitUntilReady', () => {
  it('from the second look on, the GET goes out before the Engine call answers', async () => {
    const events: string[] = [];
    const p = prober(3, events);
    const result = await waitUntilReady(scripted([details('10.0.0.5')], events), p, 'c1', options);
    expect(result).toMatchObject({ ready: true, attempts: 3, last: 'GET /readyz → 200' });
    // The first look needs the address first; then each GET starts while its inspect is on its way.
    expect(events.indexOf('get 1 10.0.0.5')).toBeGreaterThan(events.indexOf('inspect 0 end'));
    expect(events.indexOf('get 2 10.0.0.5')).toBeLessThan(events.indexOf('inspect 1 end'));
    expect(events.indexOf('get 3 10.0.0.5')).toBeLessThan(events.indexOf('inspect 2 end'));
  });

  it('a GET to where the container was does not count when it now has another address: it is asked again there', async () => {
    const events: string[] = [];
    // Ready from the 2nd GET on: that one went to the old address, so the gate asks the new one.
    const p = prober(2, events);
    const result = await waitUntilReady(scripted([details('10.0.0.5'), details('10.0.0.9')], events), p, 'c1', options);
    expect(result.ready).toBe(true);
    expect(p.gets).toEqual(['10.0.0.5', '10.0.0.5', '10.0.0.9']);
  });

  it('a container that exited fails the gate at once, whatever the GET beside its inspect said', async () => {
    const events: string[] = [];
    const p = prober(2, events);
    const result = await waitUntilReady(scripted([details('10.0.0.5'), details('10.0.0.5', { running: false, state: 'exited', exitCode: 1 })], events), p, 'c1', options);
    expect(result).toMatchObject({ ready: false, reason: 'exited' });
    expect(result.last).toMatch(/exited \(exit code 1/);
    // The second GET (which said 200) went out, and did not make it ready.
    expect(p.gets).toHaveLength(2);
  });
});
