import { existsSync, readFileSync } from 'node:fs';

/** What the runner tells about the run being reported (GITHUB_* variables and the event). */
export interface RunContext {
  repository: string;
  owner: string;
  repo: string;
  workflow: string;
  job: string;
  runId: number;
  runAttempt: number;
  runNumber: number;
  sha: string;
  /** The pull request's head branch, else the ref name. */
  branch: string;
  actor: string;
  eventName: string;
  serverUrl: string;
  /** Link to the run attempt on github.com. */
  runUrl: string;
  /** The head commit's author as the event names it (push, workflow_run), when it does. */
  commitAuthor: { name: string; email: string } | undefined;
}

function eventPayload(path: string | undefined): Record<string, unknown> {
  if (!path || !existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function authorOf(commit: unknown): { name: string; email: string } | undefined {
  const author = (commit as { author?: { name?: unknown; email?: unknown } } | undefined)?.author;
  return typeof author?.email === 'string' && author.email !== '' ? { name: typeof author.name === 'string' ? author.name : '', email: author.email } : undefined;
}

const positive = (raw: string | undefined, fallback: number): number => {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};

export function readRunContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const repository = env['GITHUB_REPOSITORY'] ?? '';
  const [owner = '', repo = ''] = repository.split('/');
  const serverUrl = (env['GITHUB_SERVER_URL'] ?? 'https://github.com').replace(/\/$/, '');
  const runId = positive(env['GITHUB_RUN_ID'], 0);
  const runAttempt = positive(env['GITHUB_RUN_ATTEMPT'], 1);
  const payload = eventPayload(env['GITHUB_EVENT_PATH']);
  const workflowRun = payload['workflow_run'] as { head_commit?: unknown } | undefined;
  return {
    repository,
    owner,
    repo,
    workflow: env['GITHUB_WORKFLOW'] ?? 'workflow',
    job: env['GITHUB_JOB'] ?? '',
    runId,
    runAttempt,
    runNumber: positive(env['GITHUB_RUN_NUMBER'], 0),
    sha: env['GITHUB_SHA'] ?? '',
    branch: env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || '',
    actor: env['GITHUB_ACTOR'] ?? '',
    eventName: env['GITHUB_EVENT_NAME'] ?? '',
    serverUrl,
    runUrl: `${serverUrl}/${repository}/actions/runs/${runId}${runAttempt > 1 ? `/attempts/${runAttempt}` : ''}`,
    commitAuthor: authorOf(payload['head_commit']) ?? authorOf(workflowRun?.head_commit),
  };
}
