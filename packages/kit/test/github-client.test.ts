// The kit's Octokit gives every request up after its timeout: a GitHub API that accepts the
// connection and never answers must not hang a deploy (deployment records) or a notification.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiTimeout, createGitHubClient } from '../src/github/index.ts';

let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer(() => undefined); // accepts, reads, never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function causes(error: unknown): unknown[] {
  const seen: unknown[] = [];
  for (let e = error; e && !seen.includes(e); e = (e as { cause?: unknown }).cause) seen.push(e);
  return seen;
}

describe('createGitHubClient', () => {
  it('gives a request up after its timeout, with ApiTimeout as the cause', async () => {
    const client = createGitHubClient('t0ken', url, 'gangway-test', { timeoutMs: 300 });
    const started = performance.now();
    const error = await client.rest.repos.get({ owner: 'acme', repo: 'shop' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    expect(error).toBeDefined();
    expect(causes(error).some((e) => e instanceof ApiTimeout)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(5000);
  });
});
