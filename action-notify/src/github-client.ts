// The Octokit action-notify uses, and what to say when a call to it fails: whether GitHub
// answered (a status, which may be about permissions) or could not be reached at all (refused,
// timed out, a name that does not resolve), so a broken network is never blamed on permissions.
import { ApiTimeout, createGitHubClient as create, describeApiError, type GitHubClient } from '@gangway/kit/github';

export type { GitHubClient } from '@gangway/kit/github';

/** The kit's client (every request given up after its timeout), with notify's user agent. */
export function createGitHubClient(token: string, apiUrl: string, options: { timeoutMs?: number } = {}): GitHubClient {
  return create(token, apiUrl, 'gangway-action-notify', options);
}

/** What went wrong with one API call. */
export interface ApiFailure {
  /** `answered`: GitHub sent a status. `unreachable`: no answer came (network, DNS, TLS, timeout). */
  kind: 'answered' | 'unreachable';
  status?: number;
  /** One line for a warning: `HTTP 403: Resource not accessible…`, or `connection refused by https://…`. */
  message: string;
}

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'no answer in time',
  UND_ERR_SOCKET: 'connection closed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'the name does not resolve (DNS)',
  EAI_AGAIN: 'the name does not resolve (DNS, temporary failure)',
  EAI_NONAME: 'the name does not resolve (DNS)',
};

/** The `code` of the error or of any error it was caused by (fetch wraps the socket's error). */
function causeCodes(error: unknown): { codes: string[]; names: string[]; messages: string[]; timeout?: ApiTimeout } {
  let timeout: ApiTimeout | undefined;
  const codes: string[] = [];
  const names: string[] = [];
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    const e = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.name === 'string') names.push(e.name);
    if (typeof e.message === 'string') messages.push(e.message);
    if (current instanceof ApiTimeout) timeout = current;
    // AggregateError (happy eyeballs over several addresses): the first one speaks for all.
    current = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
  }
  return { codes, names, messages, ...(timeout ? { timeout } : {}) };
}

/**
 * Tells "GitHub answered with a status" from "GitHub was not reached". Octokit reports both as an
 * HttpError, the second with status 500 and no response: that is not a server error.
 */
export function classifyApiError(error: unknown, apiUrl: string): ApiFailure {
  const e = error as { status?: unknown; response?: unknown };
  if (typeof e.status === 'number' && e.response !== undefined && e.response !== null) {
    return { kind: 'answered', status: e.status, message: describeApiError(error) };
  }
  const { codes, names, messages, timeout } = causeCodes(error);
  const known = codes.find((c) => c in NETWORK_WORDS);
  let what: string;
  if (timeout) what = `${timeout.message} (timeout)`;
  else if (known) what = `${NETWORK_WORDS[known]} (${known})`;
  else if (names.includes('TimeoutError') || messages.some((m) => /timed? ?out/i.test(m))) what = 'no answer in time (timeout)';
  else if (codes.some((c) => /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(c))) what = `TLS failed (${codes.find((c) => /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(c))})`;
  else if (typeof e.status === 'number' && e.response === undefined && messages.length > 0) what = messages.at(-1) as string;
  else return { kind: 'answered', ...(typeof e.status === 'number' ? { status: e.status } : {}), message: describeApiError(error) };
  return { kind: 'unreachable', message: `could not reach the GitHub API at ${apiUrl}: ${what}` };
}

/**
 * What to add after a failed call: a permissions hint only when GitHub's answer is about access
 * (403, 404: the token cannot see it; 401: the token is not valid), never for an outage.
 */
export function apiHint(failure: ApiFailure, permission: string): string {
  if (failure.kind === 'unreachable') return 'check that the runner can reach it (api-url, proxy, network)';
  if (failure.status === 401) return 'the token is not valid (github-token)';
  if (failure.status === 403 || failure.status === 404) return `the workflow needs permissions ${permission}`;
  return '';
}
