import type { RunContext as Run } from '@gangway/kit/github';

/** What the report says about the run: the kit's reading of the GITHUB_* variables, and the event's head commit author. */
export interface RunContext extends Pick<Run, 'repository' | 'owner' | 'repo' | 'workflow' | 'job' | 'runId' | 'runAttempt' | 'runNumber' | 'sha' | 'branch' | 'actor' | 'eventName' | 'serverUrl'> {
  /** Link to the run attempt on github.com. */
  runUrl: string;
  /** The head commit's author as the event names it (push, workflow_run), when it does. */
  commitAuthor: { name: string; email: string } | undefined;
}

function authorOf(commit: unknown): { name: string; email: string } | undefined {
  const author = (commit as { author?: { name?: unknown; email?: unknown } } | undefined)?.author;
  return typeof author?.email === 'string' && author.email !== '' ? { name: typeof author.name === 'string' ? author.name : '', email: author.email } : undefined;
}

/** The run to report, from the kit's reading of the runner's variables and the event payload. */
export function reportedRun(run: Run, payload: Record<string, unknown>): RunContext {
  const workflowRun = payload['workflow_run'] as { head_commit?: unknown } | undefined;
  const { repository, owner, repo, job, runId, runAttempt, runNumber, sha, branch, actor, eventName, serverUrl } = run;
  return {
    repository,
    owner,
    repo,
    workflow: run.workflow || 'workflow',
    job,
    runId,
    runAttempt,
    runNumber,
    sha,
    branch,
    actor,
    eventName,
    serverUrl,
    // Outside a run (no run id): the repository's Actions page.
    runUrl: run.runUrl ?? `${run.serverUrl}/${run.repository}/actions`,
    commitAuthor: authorOf(payload['head_commit']) ?? authorOf(workflowRun?.head_commit),
  };
}
