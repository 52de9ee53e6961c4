import { apiHint, classifyApiError, type GitHubClient } from './github-client.ts';
import type { RunContext } from './run-context.ts';

export interface FailedStep {
  number: number;
  name: string;
  conclusion: string;
}

export interface FailedJob {
  id: number;
  name: string;
  /** failure, cancelled, timed_out; or in_progress for a running job with a failed step (this one). */
  conclusion: string;
  url: string;
  steps: FailedStep[];
  /** The last lines of the job's log, timestamps removed; undefined when not downloaded. */
  logTail: string[] | undefined;
  /** Why the log is missing, when it is. */
  logError?: string;
}

export interface RunFacts {
  /** False when the jobs could not be listed: then `failedJobs` is empty for want of knowing, not because none failed. */
  listed: boolean;
  failedJobs: FailedJob[];
  /** Jobs of the attempt by conclusion, e.g. { success: 3, failure: 1 }. */
  jobCounts: Record<string, number>;
  /** What could not be read (warnings, not failures). */
  problems: string[];
}

/** At most this many failed jobs get their log downloaded and quoted. */
export const MAX_QUOTED_JOBS = 5;
/** A quoted log line is cut after this many characters. */
export const MAX_LINE = 300;
const FAILED = new Set(['failure', 'cancelled', 'timed_out', 'startup_failure']);

/** `2026-01-01T12:00:00.1234567Z text` → `text`; ANSI colours removed; long lines cut. */
export function cleanLogLine(line: string): string {
  // eslint-disable-next-line no-control-regex
  const text = line.replace(/^\uFEFF?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ?/, '').replace(/\u001b\[[0-9;]*[A-Za-z]/g, '').replace(/\r$/, '');
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text;
}

/** The body of a log download as text, whatever form the HTTP client handed it over in. */
function logText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  return '';
}

/** The last `count` non-empty lines of a job log, cleaned. */
export function logTail(log: string, count: number): string[] {
  const lines = log.split('\n').map(cleanLogLine);
  while (lines.length > 0 && lines.at(-1)?.trim() === '') lines.pop();
  return lines.slice(-count);
}

/**
 * The failed jobs and steps of this run attempt (Actions API: list jobs for the attempt)
 * and the tails of their logs. Anything that cannot be read becomes a problem, not an
 * error: the notification goes out with what is known.
 */
export async function collectRunFacts(client: GitHubClient, run: RunContext, logLines: number, apiUrl: string): Promise<RunFacts> {
  const problems: string[] = [];
  if (run.runId === 0) return { listed: false, failedJobs: [], jobCounts: {}, problems: ['GITHUB_RUN_ID is not set: no job details.'] };
  let jobs: Awaited<ReturnType<GitHubClient['rest']['actions']['listJobsForWorkflowRunAttempt']>>['data']['jobs'];
  try {
    jobs = await client.paginate(client.rest.actions.listJobsForWorkflowRunAttempt, {
      owner: run.owner,
      repo: run.repo,
      run_id: run.runId,
      attempt_number: run.runAttempt,
      per_page: 100,
    });
  } catch (error) {
    const failure = classifyApiError(error, apiUrl);
    const hint = apiHint(failure, 'actions: read');
    return { listed: false, failedJobs: [], jobCounts: {}, problems: [`Could not list the jobs of the run (${failure.message})${hint ? `; ${hint}` : ''}.`] };
  }
  const jobCounts: Record<string, number> = {};
  const failedJobs: FailedJob[] = [];
  for (const job of jobs) {
    const conclusion = job.conclusion ?? job.status;
    jobCounts[conclusion] = (jobCounts[conclusion] ?? 0) + 1;
    const failedSteps = (job.steps ?? []).filter((s) => s.conclusion !== null && FAILED.has(s.conclusion));
    const failed = job.conclusion !== null ? FAILED.has(job.conclusion) : failedSteps.length > 0;
    if (!failed) continue;
    failedJobs.push({
      id: job.id,
      name: job.name,
      conclusion: job.conclusion ?? job.status,
      url: job.html_url ?? `${run.runUrl}/job/${job.id}`,
      steps: failedSteps.map((s) => ({ number: s.number, name: s.name, conclusion: s.conclusion ?? '' })),
      logTail: undefined,
    });
  }
  if (logLines > 0) {
    for (const job of failedJobs.slice(0, MAX_QUOTED_JOBS)) {
      if (job.conclusion === 'in_progress') {
        job.logError = 'still running (this job): its log is not available yet';
        continue;
      }
      try {
        const response = await client.rest.actions.downloadJobLogsForWorkflowRun({ owner: run.owner, repo: run.repo, job_id: job.id });
        job.logTail = logTail(logText(response.data), logLines);
      } catch (error) {
        const failure = classifyApiError(error, apiUrl);
        const hint = apiHint(failure, 'actions: read');
        job.logError = `log not available (${failure.message})`;
        problems.push(`Could not download the log of job "${job.name}": ${failure.message}${hint ? `; ${hint}` : ''}.`);
      }
    }
  }
  return { listed: true, failedJobs, jobCounts, problems };
}
