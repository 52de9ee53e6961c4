import { getOctokit } from '@actions/github';
import { formatDuration } from '../duration.ts';

/** The Octokit the actions use; tests point `apiUrl` at a local server that checks GitHub's OpenAPI description. */
export type GitHubClient = ReturnType<typeof getOctokit>;

/** Each API request is given up after this long (Octokit's own `timeout` option is not honoured by its fetch). */
export const API_TIMEOUT_MS = 30_000;

/** Why a request was aborted: no answer within the client's timeout. */
export class ApiTimeout extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`no answer within ${formatDuration(timeoutMs)}`);
    this.name = 'ApiTimeout';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * An Octokit whose every request is given up after `timeoutMs`: a GitHub API that accepts the
 * connection and never answers must not hang a deploy or a notification.
 */
export function createGitHubClient(token: string, apiUrl: string, userAgent: string, options: { timeoutMs?: number } = {}): GitHubClient {
  const client = getOctokit(token, {
    baseUrl: apiUrl,
    userAgent,
    // Octokit's own logging would print request errors a second time, unmasked by us.
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  const timeoutMs = options.timeoutMs ?? API_TIMEOUT_MS;
  // A before hook changes the very options object the request is made from (a wrap hook's
  // options are bound before it runs, so a copy passed on would be ignored).
  client.hook.before('request', (request) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new ApiTimeout(timeoutMs)), timeoutMs).unref();
    const given = request.request?.signal;
    request.request = { ...request.request, signal: given ? AbortSignal.any([given, controller.signal]) : controller.signal };
  });
  return client;
}

/** A short description of an API error: status and GitHub's message, never headers or URLs with tokens. */
export function describeApiError(error: unknown): string {
  const e = error as { status?: unknown; message?: unknown; response?: { data?: { message?: unknown } } };
  const message = typeof e.response?.data?.message === 'string' ? e.response.data.message : typeof e.message === 'string' ? e.message : String(error);
  return typeof e.status === 'number' ? `HTTP ${e.status}: ${message}` : message;
}
