// Synthetic events, shaped as GitHub's webhook payloads for the fields workflows read.
import type { SyntheticEvent } from './run-workflow.ts';

export interface EventRepository {
  /** owner/name */
  fullName: string;
  defaultBranch?: string;
  serverUrl?: string;
}

function repository(repo: EventRepository): Record<string, unknown> {
  const [owner, name] = repo.fullName.split('/');
  return { full_name: repo.fullName, name, owner: { login: owner }, default_branch: repo.defaultBranch ?? 'main', html_url: `${repo.serverUrl ?? 'https://github.com'}/${repo.fullName}` };
}

/** A push of `sha` to `branch`. */
export function pushEvent(options: { repository: EventRepository; sha: string; before?: string; branch?: string; actor?: string; message?: string; author?: { name: string; email: string } }): SyntheticEvent {
  const branch = options.branch ?? 'main';
  const author = options.author ?? { name: 'Mona Octocat', email: 'mona@example.com' };
  return {
    name: 'push',
    sha: options.sha,
    ref: `refs/heads/${branch}`,
    actor: options.actor ?? 'octocat',
    payload: {
      ref: `refs/heads/${branch}`,
      before: options.before ?? '0'.repeat(40),
      after: options.sha,
      repository: repository(options.repository),
      head_commit: { id: options.sha, message: options.message ?? 'A change', author, committer: author },
      pusher: { name: options.actor ?? 'octocat' },
      sender: { login: options.actor ?? 'octocat' },
    },
  };
}

/**
 * A completed run of another workflow (CI) on `headSha`: the workflow_run event. The run itself
 * runs on the default branch's tip (`defaultSha`), as GitHub starts workflow_run workflows there.
 */
export function workflowRunEvent(options: { repository: EventRepository; workflow: string; headSha: string; defaultSha?: string; conclusion: 'success' | 'failure' | 'cancelled'; event?: string; branch?: string; headRepository?: string; actor?: string; id?: number }): SyntheticEvent {
  const branch = options.branch ?? 'main';
  return {
    name: 'workflow_run',
    sha: options.defaultSha ?? options.headSha,
    ref: `refs/heads/${options.repository.defaultBranch ?? 'main'}`,
    actor: options.actor ?? 'octocat',
    payload: {
      action: 'completed',
      workflow_run: {
        id: options.id ?? 4242,
        name: options.workflow,
        event: options.event ?? 'push',
        status: 'completed',
        conclusion: options.conclusion,
        head_branch: branch,
        head_sha: options.headSha,
        head_repository: { full_name: options.headRepository ?? options.repository.fullName },
        repository: { full_name: options.repository.fullName },
      },
      repository: repository(options.repository),
      sender: { login: options.actor ?? 'octocat' },
    },
  };
}

/** Run workflow by hand (the inputs go in the run settings). */
export function workflowDispatchEvent(options: { repository: EventRepository; sha: string; branch?: string; actor?: string; inputs?: Record<string, string | boolean> }): SyntheticEvent {
  const branch = options.branch ?? 'main';
  return {
    name: 'workflow_dispatch',
    sha: options.sha,
    ref: `refs/heads/${branch}`,
    actor: options.actor ?? 'octocat',
    payload: { ref: `refs/heads/${branch}`, inputs: options.inputs ?? {}, repository: repository(options.repository), sender: { login: options.actor ?? 'octocat' } },
  };
}
