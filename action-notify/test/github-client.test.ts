// What a failed GitHub API call is called: an answer (a status, perhaps about permissions) or
// no answer at all (refused, timed out, a name that does not resolve), on real sockets.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiHint, classifyApiError, createGitHubClient } from '../src/github-client.ts';
import { collectRunFacts } from '../src/run-facts.ts';
import type { RunContext } from '../src/run-context.ts';

const run: RunContext = {
  repository: 'acme/shop', owner: 'acme', repo: 'shop', workflow: 'Deploy', job: 'notify', runId: 9, runAttempt: 1, runNumber: 3,
  sha: 'abcdef0123456789', branch: 'main', actor: 'mona', eventName: 'push', serverUrl: 'https://github.com',
  runUrl: 'https://github.com/acme/shop/actions/runs/9', commitAuthor: undefined,
};

let closedPort = 0;
let silent: net.Server;
let silentPort = 0;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  // Accepts TCP, never answers.
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe('a GitHub API that cannot be reached', () => {
  it('is "connection refused", not HTTP 500, and no permission is blamed', async () => {
    const apiUrl = `http://127.0.0.1:${closedPort}`;
    const facts = await collectRunFacts(createGitHubClient('t0ken', apiUrl), run, 30, apiUrl);
    expect(facts.listed).toBe(false);
    expect(facts.problems).toEqual([`Could not list the jobs of the run (could not reach the GitHub API at ${apiUrl}: connection refused (ECONNREFUSED)); check that the runner can reach it (api-url, proxy, network).`]);
  });

  it('is a timeout when it accepts the connection and never answers', async () => {
    const apiUrl = `http://127.0.0.1:${silentPort}`;
    const started = performance.now();
    const facts = await collectRunFacts(createGitHubClient('t0ken', apiUrl, { timeoutMs: 300 }), run, 30, apiUrl);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(facts.listed).toBe(false);
    expect(facts.problems[0]).toMatch(new RegExp(`^Could not list the jobs of the run \\(could not reach the GitHub API at http://127\\.0\\.0\\.1:${silentPort}: no answer within 300ms \\(timeout\\)\\); check that the runner can reach it`));
  });

  it('tells a DNS failure from an HTTP answer', () => {
    // As Octokit reports a failed fetch: an HttpError with status 500 and no response.
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND api.github.invalid'), { name: 'HttpError', status: 500, cause: Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND api.github.invalid'), { code: 'ENOTFOUND' }) }) });
    expect(classifyApiError(dns, 'https://api.github.invalid')).toEqual({ kind: 'unreachable', message: 'could not reach the GitHub API at https://api.github.invalid: the name does not resolve (DNS) (ENOTFOUND)' });
    const answered = Object.assign(new Error('Resource not accessible by integration'), { status: 403, response: { status: 403, data: { message: 'Resource not accessible by integration' } } });
    const failure = classifyApiError(answered, 'https://api.github.com');
    expect(failure).toEqual({ kind: 'answered', status: 403, message: 'HTTP 403: Resource not accessible by integration' });
    expect(apiHint(failure, 'actions: read')).toBe('the workflow needs permissions actions: read');
    const outage = classifyApiError(Object.assign(new Error('Server Error'), { status: 502, response: { status: 502, data: { message: 'Server Error' } } }), 'https://api.github.com');
    expect(apiHint(outage, 'actions: read')).toBe('');
  });
});
