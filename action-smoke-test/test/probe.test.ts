// Probe timing and the HTTP client on real sockets (127.0.0.1): per-attempt timeouts, the overall
// deadline, backoff, success-threshold, resolve and redirects.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadlineReached, runAttempt, type AttemptRunner } from '../src/attempt.ts';
import { planChecks, type Check } from '../src/check-plan.ts';
import { createHttpClient } from '../src/http-client.ts';
import { intervalAfter, runProbes, type ProbeTiming } from '../src/probe.ts';
import { parseChecks } from '../src/schema.ts';
import { startTestServer, type TestServer } from './servers.ts';

let server: TestServer;
let silent: net.Server;
let silentPort = 0;
const silentSockets = new Set<net.Socket>();

beforeAll(async () => {
  server = await startTestServer();
  // Accepts TCP and never reads or writes a byte.
  silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as AddressInfo).port;
});
afterAll(async () => {
  await server.close();
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

const client = createHttpClient({ resolve: [], insecure: false, maxBodyBytes: 1 << 20 });
const attempt: AttemptRunner = (check, signal) => runAttempt(check, client, signal);

function checks(yaml: string, base = server.url, expectVersion?: string): Check[] {
  return planChecks(parseChecks(yaml), { base: new URL(base), workspace: '/nonexistent', readinessPath: '/readyz', versionPath: '/version', expectVersion });
}

function timing(overrides: Partial<ProbeTiming> = {}): ProbeTiming {
  return { initialDelayMs: 0, timeoutMs: 1000, intervalMs: 50, maxIntervalMs: 400, deadlineMs: 3000, successThreshold: 1, ...overrides };
}

async function probe(list: Check[], t: ProbeTiming) {
  const startedAt = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineReached(t.deadlineMs)), t.deadlineMs);
  try {
    return await runProbes(list, t, attempt, { signal: controller.signal, startedAt });
  } finally {
    clearTimeout(timer);
  }
}

describe('probe timing', () => {
  it('backs off by 1.5× per failing round up to max-interval', () => {
    const t = timing({ intervalMs: 1000, maxIntervalMs: 3000 });
    expect([0, 1, 2, 3, 4].map((n) => intervalAfter(n, t))).toEqual([1000, 1000, 1500, 2250, 3000]);
  });

  it('times out an attempt on a server that accepts TCP but never answers, and keeps to the deadline', async () => {
    const started = performance.now();
    const result = await probe(checks('- path: /x', `http://127.0.0.1:${silentPort}`), timing({ timeoutMs: 250, deadlineMs: 1200 }));
    const took = performance.now() - started;
    const outcome = result.outcomes[0];
    expect(outcome?.passed).toBe(false);
    expect(outcome?.failures[0]).toEqual({ code: 'timeout', message: 'no answer within 250ms (per-attempt timeout) while waiting for the response (connected, nothing answered)' });
    expect(outcome?.attempts).toBeGreaterThanOrEqual(3);
    expect(result.deadlineReached).toBe(true);
    expect(took).toBeGreaterThan(1100);
    expect(took).toBeLessThan(1200 + 300);
  });

  it('cuts the last attempt at the deadline even when the per-attempt timeout is longer', async () => {
    const started = performance.now();
    const result = await probe(checks('- path: /hang'), timing({ timeoutMs: 10_000, deadlineMs: 700 }));
    expect(performance.now() - started).toBeLessThan(700 + 300);
    // The only attempt was cut by the deadline: that is the reason given.
    expect(result.outcomes[0]?.failures[0]?.code).toBe('deadline');
    expect(result.outcomes[0]?.failures[0]?.message).toMatch(/the deadline \(700ms\) was reached while waiting for the response/);
  });

  it('reports checks the deadline left untried', async () => {
    const result = await probe(checks('- path: /hang\n- path: /readyz'), timing({ timeoutMs: 5000, deadlineMs: 400 }));
    expect(result.outcomes[1]?.failures).toEqual([{ code: 'not-run', message: 'not tried: the deadline (400ms) ran out first' }]);
  });

  it('waits out a check that fails at first; needs success-threshold passes in a row', async () => {
    const result = await probe(checks('- path: /flaky?fail=3&t=probe'), timing({ successThreshold: 3 }));
    expect(result.outcomes[0]).toMatchObject({ passed: true, attempts: 6, consecutivePasses: 3 });
  });

  it('initial-delay comes first', async () => {
    const result = await probe(checks('- path: /readyz'), timing({ initialDelayMs: 300 }));
    expect(result.outcomes[0]?.passedAtMs).toBeGreaterThanOrEqual(300);
  });
});

describe('one attempt', () => {
  const signal = (): AbortSignal => AbortSignal.timeout(2000);

  it('follows a same-host redirect when asked to, and records it', async () => {
    const [check] = checks('- path: /redirect-same\n  redirects: follow\n  json: { status: ready }');
    const result = await attempt(check as Check, signal());
    expect(result).toMatchObject({ passed: true, status: 200 });
    expect(result.redirects).toEqual([`${server.url}/readyz`]);
  });

  it('treats a redirect as the answer with no-follow (a status rule may accept it)', async () => {
    const [check] = checks('- path: /redirect-same\n  status: 302');
    expect(await attempt(check as Check, signal())).toMatchObject({ passed: true, status: 302 });
  });

  it('says a refused connection is refused', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const [check] = checks('- path: /readyz', `http://127.0.0.1:${port}`);
    const result = await attempt(check as Check, signal());
    expect(result.failures).toEqual([{ code: 'connect', message: `connection refused by 127.0.0.1:${port}` }]);
  });

  it('connects to the resolve address and keeps the host name in Host', async () => {
    const resolving = createHttpClient({ resolve: [{ host: 'app.smoke.test', address: '127.0.0.1' }], insecure: false, maxBodyBytes: 1 << 20 });
    const [check] = checks('- path: /echo-headers', `http://app.smoke.test:${server.port}`);
    const result = await runAttempt(check as Check, resolving, signal());
    expect(result).toMatchObject({ passed: true, status: 200 });
    expect(server.headers.get('/echo-headers')?.host).toBe(`app.smoke.test:${server.port}`);
  });

  it('shows both values on a version mismatch, and accepts sha prefixes, tags and digests', async () => {
    const [, version] = checks('', server.url, 'deadbeef00');
    const result = await attempt(version as Check, signal());
    expect(result.failures[0]?.message).toBe(
      'expected version "deadbeef00", the app reports version=1.4.2 gitSha=0123456789abcdef0123456789abcdef01234567 imageDigest=sha256:' + 'ab'.repeat(32),
    );
    for (const expected of ['0123456', '0123456789abcdef0123456789abcdef01234567', 'v1.4.2', '1.4.2', `registry.example.com/app@sha256:${'ab'.repeat(32)}`, 'registry.example.com/app:v1.4.2']) {
      const [, v] = checks('', server.url, expected);
      expect((await attempt(v as Check, signal())).passed, expected).toBe(true);
    }
    for (const wrong of ['012345', '1.4', 'sha256:' + 'cd'.repeat(32)]) {
      const [, v] = checks('', server.url, wrong);
      expect((await attempt(v as Check, signal())).passed, wrong).toBe(false);
    }
  });
});
