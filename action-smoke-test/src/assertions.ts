// What a response must satisfy: status, body text, JSON paths, version, latency. Each broken rule
// is one failure with its own code and a message that shows what was expected and what came.
import { formatDuration } from '@gangway/kit';
import type { Check } from './check-plan.ts';
import type { HttpResponse } from './http-client.ts';
import { readJsonPath, type JsonPathStep } from './json-path.ts';
import { showRegex } from './regex.ts';
import { statusAllowed } from './status.ts';
import { matchVersion } from './version-match.ts';

export type FailureCode =
  | 'status'
  | 'body-contains'
  | 'body-matches'
  | 'json-invalid'
  | 'json'
  | 'version-mismatch'
  | 'latency'
  | 'redirect'
  | 'redirect-other-host'
  | 'too-many-redirects'
  | 'timeout'
  | 'connect'
  | 'dns'
  | 'tls'
  | 'reset'
  | 'protocol'
  | 'deadline'
  | 'not-run'
  | 'p95-budget'
  | 'sample-errors';

export interface Failure {
  code: FailureCode;
  message: string;
}

/** A short, single-line excerpt of a body for messages. */
export function excerpt(text: string, max = 160): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? typeof value : excerpt(text, 120);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** YAML `200` vs JSON `"200"`: scalars compare by their text when types differ. */
function looseEqual(actual: unknown, expected: unknown): boolean {
  if (deepEqual(actual, expected)) return true;
  const scalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  return scalar(actual) && scalar(expected) && String(actual) === String(expected);
}

function checkJsonPath(document: unknown, rule: { path: string; steps: JsonPathStep[]; equals?: unknown; in?: unknown[]; exists?: boolean; matches?: RegExp }): string | undefined {
  const { found, value } = readJsonPath(document, rule.steps);
  const at = `JSON "${rule.path}"`;
  if (rule.exists === false) return found ? `${at} exists (${show(value)}) but should not` : undefined;
  if (!found) return `${at} is missing`;
  if ('equals' in rule && !looseEqual(value, rule.equals)) return `${at} is ${show(value)}, expected ${show(rule.equals)}`;
  if (rule.in && !rule.in.some((allowed) => looseEqual(value, allowed))) return `${at} is ${show(value)}, expected one of ${show(rule.in)}`;
  if (rule.matches) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (!rule.matches.test(text)) return `${at} is ${show(value)}, which does not match ${showRegex(rule.matches)}`;
  }
  return undefined;
}

export interface Verdict {
  failures: Failure[];
  /** What /version reported, on the version check. */
  reportedVersion?: string;
}

/** Checks a final (non-redirect) response against everything the check asks for. */
export function assertResponse(check: Check, response: HttpResponse, latencyMs: number): Verdict {
  const text = response.body.toString('utf8');
  if (!statusAllowed(response.status, check.status)) {
    const location = response.headers.location ? ` (Location: ${excerpt(response.headers.location, 120)})` : '';
    const body = text.trim() ? `; body: ${excerpt(text)}` : '';
    return { failures: [{ code: 'status', message: `HTTP ${response.status}, expected ${check.statusText}${location}${body}` }] };
  }
  const failures: Failure[] = [];
  for (const needle of check.contains) {
    if (!text.includes(needle)) failures.push({ code: 'body-contains', message: `the body does not contain ${JSON.stringify(needle)}; body: ${excerpt(text) || '(empty)'}` });
  }
  for (const re of check.matches) {
    if (!re.test(text)) failures.push({ code: 'body-matches', message: `the body does not match ${showRegex(re)}; body: ${excerpt(text) || '(empty)'}` });
  }
  let document: unknown;
  let parsed = false;
  const parseBody = (): boolean => {
    if (parsed) return true;
    try {
      document = JSON.parse(text);
      parsed = true;
    } catch {
      parsed = false;
    }
    return parsed;
  };
  if (check.json.length > 0) {
    if (!parseBody()) {
      failures.push({ code: 'json-invalid', message: `the body is not JSON${response.truncated ? ' (cut at the size limit)' : ''}; body: ${excerpt(text) || '(empty)'}` });
    } else {
      for (const rule of check.json) {
        const problem = checkJsonPath(document, rule);
        if (problem) failures.push({ code: 'json', message: problem });
      }
    }
  }
  let reportedVersion: string | undefined;
  if (check.expectVersion !== undefined) {
    const answer = parseBody() ? document : text;
    const match = matchVersion(check.expectVersion, answer);
    reportedVersion = match.reported;
    if (!match.matched) failures.push({ code: 'version-mismatch', message: `expected version "${check.expectVersion}", the app reports ${match.reported}` });
  }
  if (check.maxLatencyMs !== undefined && latencyMs > check.maxLatencyMs) {
    failures.push({ code: 'latency', message: `took ${formatDuration(latencyMs)}, over max-latency ${formatDuration(check.maxLatencyMs)}` });
  }
  return { failures, ...(reportedVersion !== undefined ? { reportedVersion } : {}) };
}
