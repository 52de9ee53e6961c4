// The words of a notification, from one set of facts: the issue body and comments
// (GitHub Markdown), the mail (plain text) and the webhook message (Slack mrkdwn).
import { escapeHtml } from '@gangway/kit';
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

// Branch, workflow, job and step names come from whoever pushed or wrote the workflow: in the
// issue they are text, never Markdown or HTML. A branch `x](//evil)` or one with backticks or
// `<img>` must not become a link, an image or markup.

/**
 * Text that GitHub Markdown shows as it is, also inside a table cell or link text: every
 * character that could open a link, image, HTML tag, emphasis, code, a mention or an issue
 * reference is backslash-escaped, and autolinks (`https://…`, `www.…`) are broken.
 */
export function markdownText(text: string): string {
  return text
    .replace(/\s*\r?\n\s*/g, ' ')
    .replace(/[\\`*_[\]<>|~!&#()@$]/g, '\\$&')
    .replace(/:\/\//g, '\\://')
    .replace(/\b(www)\./gi, '$1\\.');
}

/** An inline code span that `text` cannot close: a fence longer than any run of backticks in it. */
export function codeSpan(text: string): string {
  const line = text.replace(/\s*\r?\n\s*/g, ' ');
  const longest = Math.max(0, ...[...line.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  const pad = line.startsWith('`') || line.endsWith('`') ? ' ' : '';
  return `${f}${pad}${line}${pad}${f}`;
}

/** A link target: http(s) only, with the characters that would end it percent-encoded. */
function linkTarget(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  return url.replace(/[\s()<>[\]`]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

function link(text: string, url: string): string {
  const target = linkTarget(url);
  return target ? `[${text}](${target})` : text;
}

function runLine(input: ReportInput): string {
  const { run } = input;
  const attempt = run.runAttempt > 1 ? ` (attempt ${run.runAttempt})` : '';
  const who = run.actor ? ` by @${markdownText(run.actor)}` : '';
  const sha = run.sha ? ` for ${codeSpan(shortSha(run.sha))}` : '';
  return `**${markdownText(run.workflow)}** ${verb(input.status)} on ${codeSpan(run.branch)}: ${link(`run #${run.runNumber}${attempt}`, run.runUrl)}${sha}${who}, ${markdownText(run.eventName || 'unknown')} event.`;
}

function jobsTable(jobs: FailedJob[]): string {
  if (jobs.length === 0) return '';
  const rows = jobs.map((j) => `| ${link(markdownText(j.name), j.url)} | ${markdownText(j.conclusion)} | ${j.steps.length > 0 ? j.steps.map((s) => markdownText(`${s.number}. ${s.name}`)).join('<br>') : '—'} |`);
  return ['| Job | Result | Failed steps |', '| --- | --- | --- |', ...rows].join('\n');
}

function logBlocks(jobs: FailedJob[]): string[] {
  // <details> opens an HTML block: what is inside <summary> is HTML, so it is HTML-escaped.
  return jobs
    .filter((j) => j.logTail !== undefined || j.logError !== undefined)
    .map((j) => {
      const name = escapeHtml(j.name.replace(/\s*\r?\n\s*/g, ' '));
      if (j.logTail === undefined) return `<details><summary>${name}: ${escapeHtml(j.logError ?? 'no log')}</summary></details>`;
      const text = j.logTail.join('\n');
      const f = fence(text);
      return `<details><summary>${name}: last ${j.logTail.length} log lines</summary>\n\n${f}text\n${text}\n${f}\n</details>`;
    });
}

/** The details of one failed run, shared by the issue body and each repeat's comment. */
export function failureDetails(input: ReportInput): string {
  const parts = [runLine(input)];
  const table = jobsTable(input.facts.failedJobs);
  if (table) parts.push(table);
  // "No failed job" only when the jobs were listed; a listing that failed says why instead.
  else if (!input.facts.listed || input.facts.problems.length > 0) parts.push(`_Job details unavailable: ${markdownText(input.facts.problems[0] ?? 'the jobs of the run could not be listed.')}_`);
  else parts.push('_No failed job was reported by the Actions API._');
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
      `---\nOpened by Gangway notify. While **${markdownText(input.run.workflow)}** keeps failing on ${codeSpan(input.run.branch)}, each failed run adds a comment here instead of a new issue; the next successful run closes it. Issues are found by the ${codeSpan(label)} label and the hidden marker above, so keep both.`,
    ].join('\n\n'),
  );
}

export function repeatComment(input: ReportInput, previousFailures: number): string {
  return bounded(`${input.status === 'cancelled' ? 'Cancelled' : 'Failed'} again (${previousFailures + 1} failed runs so far).\n\n${failureDetails(input)}`);
}

export function recoveryComment(run: RunContext): string {
  const sha = run.sha ? ` for ${codeSpan(shortSha(run.sha))}` : '';
  return `**${markdownText(run.workflow)}** succeeded on ${codeSpan(run.branch)} again: ${link(`run #${run.runNumber}`, run.runUrl)}${sha}. Closing.`;
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
