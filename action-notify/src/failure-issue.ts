// One issue per workflow and branch: found by label + hidden marker (or its exact title),
// opened on the first failure, commented on at each repeat, closed by the next success.
import type { GitHubClient } from './github-client.ts';
import { issueBody, issueMarker, recoveryComment, repeatComment, type ReportInput } from './failure-report.ts';

export type IssueAction = 'opened' | 'commented' | 'closed' | 'none';

export interface IssueOutcome {
  action: IssueAction;
  number: number | undefined;
  url: string | undefined;
  /** Other open issues that carried the same marker (left alone, reported). */
  duplicates: number[];
}

export interface IssueTarget {
  owner: string;
  repo: string;
  label: string;
  title: string;
  workflow: string;
  branch: string;
}

interface FoundIssue {
  number: number;
  html_url: string;
  comments: number;
}

/** The open failure issue of this workflow and branch (the oldest, when several match). */
export async function findFailureIssue(client: GitHubClient, target: IssueTarget): Promise<{ issue: FoundIssue | undefined; duplicates: number[] }> {
  const marker = issueMarker(target.workflow, target.branch);
  const open = await client.paginate(client.rest.issues.listForRepo, {
    owner: target.owner,
    repo: target.repo,
    labels: target.label,
    state: 'open',
    sort: 'created',
    direction: 'asc',
    per_page: 100,
  });
  const matching = open.filter((i) => i.pull_request === undefined && ((i.body ?? '').includes(marker) || i.title === target.title));
  const [issue, ...rest] = matching;
  return { issue: issue && { number: issue.number, html_url: issue.html_url, comments: issue.comments }, duplicates: rest.map((i) => i.number) };
}

/** Opens the issue, or comments on the open one. */
export async function reportFailure(client: GitHubClient, target: IssueTarget, input: ReportInput): Promise<IssueOutcome> {
  const { issue, duplicates } = await findFailureIssue(client, target);
  if (issue) {
    await client.rest.issues.createComment({ owner: target.owner, repo: target.repo, issue_number: issue.number, body: repeatComment(input, issue.comments + 1) });
    return { action: 'commented', number: issue.number, url: issue.html_url, duplicates };
  }
  const created = await client.rest.issues.create({ owner: target.owner, repo: target.repo, title: target.title, body: issueBody(input, target.label), labels: [target.label] });
  return { action: 'opened', number: created.data.number, url: created.data.html_url, duplicates };
}

/** Comments and closes the open issue, if there is one. */
export async function reportRecovery(client: GitHubClient, target: IssueTarget, input: ReportInput): Promise<IssueOutcome> {
  const { issue, duplicates } = await findFailureIssue(client, target);
  if (!issue) return { action: 'none', number: undefined, url: undefined, duplicates };
  await client.rest.issues.createComment({ owner: target.owner, repo: target.repo, issue_number: issue.number, body: recoveryComment(input.run) });
  await client.rest.issues.update({ owner: target.owner, repo: target.repo, issue_number: issue.number, state: 'closed', state_reason: 'completed' });
  return { action: 'closed', number: issue.number, url: issue.html_url, duplicates };
}
