// The words of a notification, from one set of facts: the issue body and comments
// (GitHub Markdown), the mail (plain text) and the webhook message (Slack mrkdwn).
import type { RunContext } from './run-context.ts';
import type { FailedJob, RunFacts } from './run-facts.ts';
import type { RunStatus } from './settings.ts';

/** GitHub refuses issue bodies and comments over 65 536 characters. */
export const MAX_BODY = 60_000;

export interface ReportInput {
  status: RunStatus;
  run: RunContext;
  facts: RunFacts;
}

/** The hidden marker that ties an issue to one workflow and branch. */
export function issueMarker(workflow: string, branch: string): string {
  return `<!-- gangway-notify workflow=${encodeURIComponent(workflow)} branch=${encodeURIComponent(branch)} -->`;
}

const shortSha = (sha: string): string => sha.slice(0, 7);
const verb = (status: RunStatus): string => (status === 'cancelled' ? 'was cancelled' : 'failed');

/** A code fence longer than any run of backticks in `text`, so a log cannot close it. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function runLine(input: ReportInput): string {
  const { run } = input;
  const attempt = run.runAttempt > 1 ? ` (attempt ${run.runAttempt})` : '';
  const who = run.actor ? ` by @${run.actor}` : '';
  const sha = run.sha ? ` for \`${shortSha(run.sha)}\`` : '';
  return `**${run.workflow}** ${verb(input.status)} on \`${run.branch}\`: [run #${run.runNumber}${attempt}](${run.runUrl})${sha}${who}, ${run.eventName || 'unknown'} event.`;
}

function jobsTable(jobs: FailedJob[]): string {
  if (jobs.length === 0) return '';
  const rows = jobs.map((j) => `| [${cell(j.name)}](${j.url}) | ${j.conclusion} | ${j.steps.length > 0 ? j.steps.map((s) => cell(`${s.number}. ${s.name}`)).join('<br>') : '—'} |`);
  return ['| Job | Result | Failed steps |', '| --- | --- | --- |', ...rows].join('\n');
}

function logBlocks(jobs: FailedJob[]): string[] {
  return jobs
    .filter((j) => j.logTail !== undefined || j.logError !== undefined)
    .map((j) => {
      if (j.logTail === undefined) return `<details><summary>${j.name}: ${j.logError ?? 'no log'}</summary></details>`;
      const text = j.logTail.join('\n');
      const f = fence(text);
      return `<details><summary>${j.name}: last ${j.logTail.length} log lines</summary>\n\n${f}text\n${text}\n${f}\n</details>`;
    });
}

/** The details of one failed run, shared by the issue body and each repeat's comment. */
export function failureDetails(input: ReportInput): string {
  const parts = [runLine(input)];
  const table = jobsTable(input.facts.failedJobs);
  if (table) parts.push(table);
  else parts.push(input.facts.problems.length > 0 ? `_Job details unavailable: ${input.facts.problems[0]}_` : '_No failed job was reported by the Actions API._');
  parts.push(...logBlocks(input.facts.failedJobs));
  return parts.join('\n\n');
}

/** Cuts text to GitHub's limit, closing with a note; keeps the marker (it is at the start). */
export function bounded(text: string, max = MAX_BODY): string {
  if (text.length <= max) return text;
  const note = '\n\n… (cut to fit GitHub\'s size limit; the full logs are in the run)';
  let cut = text.slice(0, max - note.length);
  // An open code fence would swallow the note: cut before the last opened <details>.
  const lastDetails = cut.lastIndexOf('<details>');
  if (lastDetails > 0 && cut.indexOf('</details>', lastDetails) === -1) cut = cut.slice(0, lastDetails);
  return cut + note;
}

export function issueBody(input: ReportInput, label: string): string {
  return bounded(
    [
      issueMarker(input.run.workflow, input.run.branch),
      failureDetails(input),
      `---\nOpened by Gangway notify. While **${input.run.workflow}** keeps failing on \`${input.run.branch}\`, each failed run adds a comment here instead of a new issue; the next successful run closes it. Issues are found by the \`${label}\` label and the hidden marker above, so keep both.`,
    ].join('\n\n'),
  );
}

export function repeatComment(input: ReportInput, previousFailures: number): string {
  return bounded(`${input.status === 'cancelled' ? 'Cancelled' : 'Failed'} again (${previousFailures + 1} failed runs so far).\n\n${failureDetails(input)}`);
}

export function recoveryComment(run: RunContext): string {
  const sha = run.sha ? ` for \`${shortSha(run.sha)}\`` : '';
  return `**${run.workflow}** succeeded on \`${run.branch}\` again: [run #${run.runNumber}](${run.runUrl})${sha}. Closing.`;
}

/** Plain text for the mail. */
export function mailText(input: ReportInput, issueUrl: string | undefined): string {
  const { run, facts } = input;
  const lines = [
    `${run.workflow} ${verb(input.status)} on ${run.branch} (${run.repository}).`,
    '',
    `Run:     #${run.runNumber}${run.runAttempt > 1 ? ` attempt ${run.runAttempt}` : ''} ${run.runUrl}`,
    `Commit:  ${run.sha}`,
    `Actor:   ${run.actor}`,
    `Event:   ${run.eventName}`,
  ];
  if (issueUrl) lines.push(`Issue:   ${issueUrl}`);
  for (const job of facts.failedJobs) {
    lines.push('', `Job ${job.name}: ${job.conclusion}  ${job.url}`);
    for (const step of job.steps) lines.push(`  step ${step.number}. ${step.name}: ${step.conclusion}`);
    if (job.logTail) lines.push(`  last ${job.logTail.length} log lines:`, ...job.logTail.map((l) => `    ${l}`));
    else if (job.logError) lines.push(`  log: ${job.logError}`);
  }
  if (facts.failedJobs.length === 0 && facts.problems.length > 0) lines.push('', `Job details unavailable: ${facts.problems[0]}`);
  return lines.join('\n') + '\n';
}

export function mailSubject(input: ReportInput): string {
  return `[${input.run.repository}] ${input.run.workflow} ${verb(input.status)} on ${input.run.branch} (run #${input.run.runNumber})`;
}

const slackEscape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One Slack-compatible message (mrkdwn in `text`, which Mattermost and Discord's /slack also read). */
export function webhookText(input: ReportInput, issueUrl: string | undefined, recovered: boolean): string {
  const { run } = input;
  const link = `<${run.runUrl}|run #${run.runNumber}>`;
  if (recovered) return `:white_check_mark: *${slackEscape(run.workflow)}* recovered on \`${slackEscape(run.branch)}\` (${slackEscape(run.repository)}): ${link}`;
  const icon = input.status === 'cancelled' ? ':warning:' : ':x:';
  const jobs = input.facts.failedJobs.map((j) => `${slackEscape(j.name)}${j.steps.length > 0 ? ` (${j.steps.map((s) => slackEscape(s.name)).join(', ')})` : ''}`);
  const parts = [`${icon} *${slackEscape(run.workflow)}* ${verb(input.status)} on \`${slackEscape(run.branch)}\` (${slackEscape(run.repository)}): ${link}${run.sha ? ` for \`${shortSha(run.sha)}\`` : ''}${run.actor ? ` by ${slackEscape(run.actor)}` : ''}`];
  if (jobs.length > 0) parts.push(`Failed: ${jobs.join('; ')}`);
  if (issueUrl) parts.push(`Issue: <${issueUrl}>`);
  return parts.join('\n');
}
