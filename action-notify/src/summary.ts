import * as core from '@actions/core';
import { escapeHtml, factsTable, type Row } from '@gangway/kit';
import type { NotifyReport } from './notify.ts';

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
