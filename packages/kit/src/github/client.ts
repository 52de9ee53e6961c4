import { getOctokit } from '@actions/github';

/** The Octokit the actions use; tests point `apiUrl` at a local server that checks GitHub's OpenAPI description. */
export type GitHubClient = ReturnType<typeof getOctokit>;

export function createGitHubClient(token: string, apiUrl: string, userAgent: string): GitHubClient {
  return getOctokit(token, {
    baseUrl: apiUrl,
    userAgent,
    request: { timeout: 30_000 },
    // Octokit's own logging would print request errors a second time, unmasked by us.
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
}

/** A short description of an API error: status and GitHub's message, never headers or URLs with tokens. */
export function describeApiError(error: unknown): string {
  const e = error as { status?: unknown; message?: unknown; response?: { data?: { message?: unknown } } };
  const message = typeof e.response?.data?.message === 'string' ? e.response.data.message : typeof e.message === 'string' ? e.message : String(error);
  return typeof e.status === 'number' ? `HTTP ${e.status}: ${message}` : message;
}
