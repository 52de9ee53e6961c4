// One attempt of one check: the request (redirects handled here, by the check's rule), then the
// assertions. Never throws for anything the server or the network does: that is a failure.
import { formatDuration, toError } from '@gangway/kit';
import { assertResponse, type Failure } from './assertions.ts';
import { displayUrl, type Check } from './check-plan.ts';
import { statusAllowed } from './status.ts';
import { HttpAborted, HttpFailure, PHASE_WORDS, type HttpClient, type HttpResponse } from './http-client.ts';
import { stripUserinfo } from './url-secrets.ts';

export const MAX_REDIRECTS = 5;

export type AttemptRunner = (check: Check, signal: AbortSignal) => Promise<AttemptResult>;

export interface AttemptResult {
  passed: boolean;
  /** The final HTTP status (after redirects), when a response came. */
  status?: number;
  /** From the first byte sent to the last byte received, redirects included. */
  latencyMs: number;
  failures: Failure[];
  /** The redirect chain followed, as URLs. */
  redirects: string[];
  reportedVersion?: string;
  /** The attempt was cut short by the step's deadline (not by its own timeout). */
  cutByDeadline: boolean;
}

/** The reason the signal of an attempt fired. */
export class AttemptTimeout extends Error {
  readonly ms: number;
  constructor(ms: number) {
    super(`no answer within ${formatDuration(ms)}`);
    this.name = 'AttemptTimeout';
    this.ms = ms;
  }
}

export class DeadlineReached extends Error {
  readonly ms: number;
  constructor(ms: number) {
    super(`the deadline (${formatDuration(ms)}) was reached`);
    this.name = 'DeadlineReached';
    this.ms = ms;
  }
}

/** A signal that fires with AttemptTimeout after `ms`, or with the outer signal's reason. */
export function attemptSignal(ms: number, outer: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new AttemptTimeout(ms)), ms);
  const onOuter = (): void => controller.abort(outer.reason);
  if (outer.aborted) onOuter();
  else outer.addEventListener('abort', onOuter, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuter);
    },
  };
}

function requestHeaders(check: Check, withBody: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  if (withBody && check.payload?.contentType) headers['content-type'] = check.payload.contentType;
  return { ...headers, ...check.headers };
}

function failureOf(error: unknown): { failure: Failure; cutByDeadline: boolean } {
  if (error instanceof HttpAborted) {
    const reason = error.reason;
    if (reason instanceof AttemptTimeout) return { failure: { code: 'timeout', message: `${reason.message} (per-attempt timeout) while ${PHASE_WORDS[error.phase]}` }, cutByDeadline: false };
    if (reason instanceof DeadlineReached) return { failure: { code: 'deadline', message: `${reason.message} while ${PHASE_WORDS[error.phase]}` }, cutByDeadline: true };
    throw toError(reason);
  }
  if (error instanceof HttpFailure) return { failure: { code: error.code, message: error.message }, cutByDeadline: false };
  throw error;
}

const sameHost = (a: URL, b: URL): boolean => a.hostname.toLowerCase() === b.hostname.toLowerCase();

/**
 * Requests the check's URL and judges the answer. `signal` is this attempt's (timeout, deadline,
 * cancellation); a cancellation is rethrown, everything else becomes a failure.
 */
export async function runAttempt(check: Check, client: HttpClient, signal: AbortSignal): Promise<AttemptResult> {
  const started = performance.now();
  const redirects: string[] = [];
  let url = check.target;
  let method = check.method;
  let withBody = check.payload !== undefined;
  const result = (passed: boolean, failures: Failure[], extra: Partial<AttemptResult> = {}): AttemptResult => ({
    passed,
    latencyMs: Math.round(performance.now() - started),
    failures,
    redirects,
    cutByDeadline: false,
    ...extra,
  });
  for (let hop = 0; ; hop++) {
    let response: HttpResponse;
    try {
      response = await client({ url, method, headers: requestHeaders(check, withBody), ...(withBody && check.payload ? { body: check.payload.bytes } : {}), signal });
    } catch (error) {
      const { failure, cutByDeadline } = failureOf(error);
      return result(false, [failure], { cutByDeadline });
    }
    const location = response.headers.location;
    const isRedirect = response.status >= 300 && response.status < 400 && typeof location === 'string' && location !== '';
    if (isRedirect && check.redirects === 'no-follow' && !statusAllowed(response.status, check.status)) {
      // Not followed, not allowed: say where it went, and whether that is another host.
      const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
      const other = next !== undefined && !sameHost(next, check.target);
      return result(
        false,
        [{ code: other ? 'redirect-other-host' : 'redirect', message: `HTTP ${response.status} redirects to ${next ? displayUrl(next) : stripUserinfo(location)}${other ? `, another host than ${check.target.hostname}` : ''}; expected ${check.statusText} (redirects: no-follow)` }],
        { status: response.status },
      );
    }
    if (isRedirect && check.redirects !== 'no-follow') {
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        return result(false, [{ code: 'redirect', message: `HTTP ${response.status} redirects to "${stripUserinfo(location)}", which is not a valid URL` }], { status: response.status });
      }
      if (check.redirects === 'fail') {
        return result(false, [{ code: 'redirect', message: `HTTP ${response.status} redirects to ${displayUrl(next)} (redirects: fail)` }], { status: response.status });
      }
      if (!sameHost(next, check.target)) {
        return result(false, [{ code: 'redirect-other-host', message: `HTTP ${response.status} redirects to ${displayUrl(next)}, another host than ${check.target.hostname}` }], { status: response.status });
      }
      if (hop + 1 > MAX_REDIRECTS) {
        return result(false, [{ code: 'too-many-redirects', message: `more than ${MAX_REDIRECTS} redirects (last to ${displayUrl(next)})` }], { status: response.status });
      }
      redirects.push(displayUrl(next));
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        withBody = false;
      }
      url = next;
      continue;
    }
    const latencyMs = Math.round(performance.now() - started);
    const verdict = assertResponse(check, response, latencyMs);
    return {
      passed: verdict.failures.length === 0,
      status: response.status,
      latencyMs,
      failures: verdict.failures,
      redirects,
      cutByDeadline: false,
      ...(verdict.reportedVersion !== undefined ? { reportedVersion: verdict.reportedVersion } : {}),
    };
  }
}
