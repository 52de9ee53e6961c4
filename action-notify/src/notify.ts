import * as core from '@actions/core';
import { errorMessage, setReportOutput } from '@gangway/kit';
import { apiHint, classifyApiError, createGitHubClient } from './github-client.ts';
import { reportFailure, reportRecovery, type IssueOutcome } from './failure-issue.ts';
import { mailSubject, mailText, webhookText, type ReportInput } from './failure-report.ts';
import { sendMail } from './mail.ts';
import { collectRunFacts, type RunFacts } from './run-facts.ts';
import { writeSummary, type NotifyReport } from './report.ts';
import { isMailAddress, type NotifySettings } from './settings.ts';
import { postWebhook } from './webhook.ts';

const NOTHING: IssueOutcome = { action: 'none', number: undefined, url: undefined, duplicates: [] };

/** Noreply addresses of GitHub (and similar) cannot receive mail. */
const isNoreply = (address: string): boolean => /noreply|no-reply/i.test(address);

/**
 * Reports the run: issue (open / comment / close), webhook, mail. Problems while
 * notifying are warnings: the step never fails the job because a notification failed.
 */
export async function notify(settings: NotifySettings, signal?: AbortSignal): Promise<NotifyReport> {
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    core.warning(message);
  };
  const { run } = settings;
  const failing = settings.status === 'failure' || settings.status === 'cancelled';
  const client = settings.githubToken !== undefined ? createGitHubClient(settings.githubToken, settings.apiUrl) : undefined;
  core.info(`${run.workflow} on ${settings.branch}: ${settings.status} (${settings.statusSource}).`);

  let facts: RunFacts = { listed: false, failedJobs: [], jobCounts: {}, problems: [] };
  if (failing && client) {
    facts = await core.group('Failed jobs and steps', async () => {
      const found = await collectRunFacts(client, run, settings.logLines, settings.apiUrl);
      for (const job of found.failedJobs) core.info(`${job.name}: ${job.conclusion}${job.steps.length > 0 ? ` at ${job.steps.map((s) => `${s.number}. ${s.name}`).join(', ')}` : ''}`);
      // Only a listing that worked can say that nothing failed.
      if (found.listed && found.failedJobs.length === 0) core.info('The Actions API lists no failed job in this run attempt.');
      else if (!found.listed) core.info('The failed jobs are unknown: the jobs of the run could not be listed.');
      return found;
    });
    for (const problem of facts.problems) warn(problem);
  }
  const input: ReportInput = { status: settings.status, run, facts };

  let issue = NOTHING;
  if (settings.issue && client && settings.status !== 'skipped') {
    const target = { owner: run.owner, repo: run.repo, label: settings.label, title: settings.title, workflow: run.workflow, branch: settings.branch };
    try {
      issue = failing ? await reportFailure(client, target, input) : await reportRecovery(client, target, input);
      if (issue.action === 'none') core.info(`No open "${settings.label}" issue for ${run.workflow} on ${settings.branch}: nothing to close.`);
      else core.info(`Issue #${issue.number}: ${issue.action} (${issue.url}).`);
      if (issue.duplicates.length > 0) warn(`Other open issues carry the same marker: ${issue.duplicates.map((n) => `#${n}`).join(', ')}; only #${issue.number} is kept up to date.`);
    } catch (error) {
      const failure = classifyApiError(error, settings.apiUrl);
      const hint = apiHint(failure, 'issues: write');
      warn(`Could not update the failure issue (${failure.message})${hint ? `; ${hint}` : ''}.`);
    }
  }

  let webhook = 'skipped (no webhook-url)';
  const recovered = issue.action === 'closed';
  if (settings.webhookUrl !== undefined) {
    if (settings.webhookUrl.trim().toLowerCase().startsWith('http:')) warn('webhook-url is http:// (allow-insecure-webhook: true): the message and the secret in the URL travel unencrypted.');
    if (failing || recovered) {
      try {
        await postWebhook(settings.webhookUrl, webhookText(input, issue.url, recovered), signal ? { signal } : {});
        webhook = recovered ? 'sent (recovery)' : 'sent';
        core.info(`Webhook: ${webhook}.`);
      } catch (error) {
        webhook = `failed: ${errorMessage(error)}`;
        warn(`Webhook not delivered: ${errorMessage(error)}.`);
      }
    } else {
      webhook = 'skipped (nothing failed or recovered)';
    }
  }

  let mail = 'skipped (no smtp-url)';
  if (settings.smtp) {
    if (!failing) {
      mail = `skipped (${settings.status})`;
    } else {
      const to: string[] = [];
      for (const r of settings.smtp.to) {
        if ('address' in r) to.push(r.address);
        else if (!run.commitAuthor) warn('mail-to: the event names no head commit author, so "committer" gets no mail.');
        else if (!isMailAddress(run.commitAuthor.email)) warn(`mail-to: the committer's address in the event, ${JSON.stringify(run.commitAuthor.email)}, is not one mail address; no mail to it.`);
        else if (isNoreply(run.commitAuthor.email)) warn(`mail-to: the committer's address ${run.commitAuthor.email} is a noreply address; no mail to it.`);
        else to.push(run.commitAuthor.email);
      }
      const unique = [...new Set(to)];
      if (unique.length === 0) {
        mail = 'skipped (no recipient)';
      } else {
        try {
          const sent = await sendMail(settings.smtp.url, { from: settings.smtp.from, to: unique, subject: mailSubject(input), text: mailText(input, issue.url) });
          mail = `sent to ${sent.accepted.join(', ')}${sent.rejected.length > 0 ? `; rejected ${sent.rejected.join(', ')}` : ''}`;
          if (sent.rejected.length > 0) warn(`Mail rejected for ${sent.rejected.join(', ')}.`);
          core.info(`Mail: ${mail}.`);
        } catch (error) {
          mail = `failed: ${errorMessage(error)}`;
          warn(`Mail not sent via ${settings.smtp.host}: ${errorMessage(error)}.`);
        }
      }
    }
  }

  const report: NotifyReport = {
    status: settings.status,
    statusSource: settings.statusSource,
    workflow: run.workflow,
    branch: settings.branch,
    runUrl: run.runUrl,
    issue,
    failedJobs: facts.failedJobs.map((j) => ({ name: j.name, conclusion: j.conclusion, url: j.url, steps: j.steps.map((s) => s.name) })),
    webhook,
    mail,
    warnings,
  };
  core.setOutput('issue-number', issue.number === undefined ? '' : String(issue.number));
  core.setOutput('action', issue.action);
  setReportOutput(report);
  try {
    await writeSummary(report);
  } catch (error) {
    core.warning(`Could not write the job summary: ${errorMessage(error)}`);
  }
  return report;
}
