/**
 * The run an action step belongs to, as the runner describes it in `GITHUB_*` variables: the
 * one place that reads them. Values the runner did not set are '' (numbers: 0, the attempt 1),
 * so each action decides for itself what to show instead ('unknown', 'local', …).
 */
import { existsSync, readFileSync } from 'node:fs';

export interface RunContext {
  /** `owner/name` (GITHUB_REPOSITORY). */
  repository: string;
  owner: string;
  repo: string;
  /** GITHUB_SERVER_URL without a trailing slash; `https://github.com` when unset. */
  serverUrl: string;
  /** GITHUB_API_URL without a trailing slash; `https://api.github.com` when unset. */
  apiUrl: string;
  /** The workflow's name (GITHUB_WORKFLOW). */
  workflow: string;
  /** The job's id in the workflow (GITHUB_JOB). */
  job: string;
  /** GITHUB_RUN_ID; 0 when unset. */
  runId: number;
  /** GITHUB_RUN_ATTEMPT; 1 when unset. */
  runAttempt: number;
  /** GITHUB_RUN_NUMBER; 0 when unset. */
  runNumber: number;
  /** The run attempt's page: `<server>/<owner/name>/actions/runs/<id>[/attempts/<n>]`; undefined without a repository or run id. */
  runUrl: string | undefined;
  /** GITHUB_SHA: on pull requests, the merge commit the runner checked out. */
  sha: string;
  /** GITHUB_REF: `refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/7/merge`. */
  ref: string;
  /** GITHUB_REF_NAME: `main`, `v1.2.3`, `7/merge`. */
  refName: string;
  /** The pull request's head branch (GITHUB_HEAD_REF), else the ref name. */
  branch: string;
  actor: string;
  eventName: string;
  /** GITHUB_EVENT_PATH: the event payload's file. */
  eventPath: string | undefined;
}

const whole = (raw: string | undefined, fallback: number, min: number): number => {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== '' && Number.isInteger(n) && n >= min ? n : fallback;
};

const noSlash = (url: string): string => url.replace(/\/+$/, '');

/** Reads the run from `env` (the runner's environment by default; tests pass their own). */
export function readRunContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const repository = env['GITHUB_REPOSITORY'] ?? '';
  const [owner = '', repo = ''] = repository.split('/');
  const serverUrl = noSlash(env['GITHUB_SERVER_URL'] || 'https://github.com');
  const runId = whole(env['GITHUB_RUN_ID'], 0, 1);
  const runAttempt = whole(env['GITHUB_RUN_ATTEMPT'], 1, 1);
  const refName = env['GITHUB_REF_NAME'] ?? '';
  return {
    repository,
    owner,
    repo,
    serverUrl,
    apiUrl: noSlash(env['GITHUB_API_URL'] || 'https://api.github.com'),
    workflow: env['GITHUB_WORKFLOW'] ?? '',
    job: env['GITHUB_JOB'] ?? '',
    runId,
    runAttempt,
    runNumber: whole(env['GITHUB_RUN_NUMBER'], 0, 1),
    runUrl: repository !== '' && runId > 0 ? `${serverUrl}/${repository}/actions/runs/${runId}${runAttempt > 1 ? `/attempts/${runAttempt}` : ''}` : undefined,
    sha: env['GITHUB_SHA'] ?? '',
    ref: env['GITHUB_REF'] ?? '',
    refName,
    branch: env['GITHUB_HEAD_REF'] || refName,
    actor: env['GITHUB_ACTOR'] ?? '',
    eventName: env['GITHUB_EVENT_NAME'] ?? '',
    eventPath: env['GITHUB_EVENT_PATH'] || undefined,
  };
}

/** The event payload (the JSON file at GITHUB_EVENT_PATH); {} when there is none or it does not parse. */
export function readEventPayload(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const file = env['GITHUB_EVENT_PATH'];
  if (!file || !existsSync(file)) return {};
  try {
    const payload = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
