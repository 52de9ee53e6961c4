import * as core from '@actions/core';
import { escapeHtml, factsTable, type Row } from '@gangway/kit';
import type { IssueOutcome } from './failure-issue.ts';

/** What notify did, for the `report` output and the job summary. */
export interface NotifyReport {
  status: string;
  statusSource: string;
  workflow: string;
  branch: string;
  runUrl: string;
  issue: IssueOutcome;
  failedJobs: Array<{ name: string; conclusion: string; url: string; steps: string[] }>;
  /** sent, skipped (why), or failed: reason. */
  webhook: string;
  mail: string;
  warnings: string[];
}

/** The job summary: what was reported and where it went, at a glance. */
export async function writeSummary(report: NotifyReport): Promise<void> {
  const rows: Row[] = [
    ['Status', `${report.status} (${report.statusSource})`],
    ['Workflow / branch', `${report.workflow} / ${report.branch}`],
    ['Issue', report.issue.number === undefined ? report.issue.action : `${report.issue.action} #${report.issue.number}`],
    ['Failed jobs', report.failedJobs.map((j) => `${j.name} (${j.conclusion})`).join(', ') || 'none'],
    ['Webhook', report.webhook],
    ['Mail', report.mail],
  ];
  const summary = core.summary.addHeading('Gangway notify', 2).addTable(factsTable(rows));
  if (report.issue.url) summary.addRaw(`<p>Issue: <a href="${escapeHtml(report.issue.url)}">${escapeHtml(report.issue.url)}</a></p>`, true);
  if (report.warnings.length > 0) summary.addHeading('Warnings', 3).addList(report.warnings.map(escapeHtml));
  await summary.write();
}
