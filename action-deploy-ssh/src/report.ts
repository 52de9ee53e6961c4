// The `report` output (JSON) and the job summary: one section per host, readable at a glance.
import * as core from '@actions/core';
import { escapeHtml, factsTable, formatDuration, setReportOutput, timingsTable, type Row } from '@gangway/kit';
import type { HostReport } from './host/deployer.ts';

export interface DeployReport {
  app: string;
  strategy: string;
  mode: 'deploy' | 'rollback';
  result: 'success' | 'failure';
  rolledBack: boolean;
  hosts: HostReport[];
}

const RESULT_WORDS: Record<HostReport['result'], string> = {
  deployed: '✅ deployed',
  'rolled-back-on-request': '↩️ rolled back (as requested)',
  'rolled-back': '❌ failed, previous version restored',
  failed: '❌ failed',
  reverted: '↩️ deployed, then rolled back (another host failed)',
  'revert-failed': '⚠️ deployed; the rollback after another host failed did not work',
  skipped: '⏭️ skipped (an earlier host failed)',
};

export function hostFacts(h: HostReport): Row[] {
  const rows: Row[] = [
    ['Result', RESULT_WORDS[h.result]],
    ['Image', h.image ?? ''],
    ['Container', h.container ? `${h.container.name} (${h.container.id.slice(0, 12)})` : ''],
    ['Previous', h.previous ? `${h.previous.name} (${h.previous.id.slice(0, 12)})` : 'none'],
  ];
  if (h.readinessMs !== undefined) rows.push(['Ready after', formatDuration(h.readinessMs)]);
  if (h.downtimeMs !== undefined && h.dropsRequests) rows.push(['Downtime (stop → ready)', formatDuration(h.downtimeMs)]);
  rows.push(['Total', formatDuration(h.totalMs)]);
  if (h.retention && (h.retention.removedContainers.length > 0 || h.retention.removedImages.length > 0)) {
    rows.push(['Removed by retention', [...h.retention.removedContainers, ...h.retention.removedImages].join(', ')]);
  }
  if (h.error) rows.push(['Error', h.error]);
  if (h.revert) rows.push(['Rolled back to', `${h.revert.container?.name ?? '(nothing)'} in ${formatDuration(h.revert.totalMs)}${h.revert.error ? ` - ${h.revert.error}` : ''}`]);
  return rows;
}

export async function writeSummary(report: DeployReport): Promise<void> {
  const s = core.summary;
  const icon = report.result === 'success' ? '✅' : '❌';
  s.addHeading(`${icon} ${escapeHtml(report.app)}: ${report.mode === 'rollback' ? 'rollback' : `deploy (${escapeHtml(report.strategy)})`}`, 2);
  if (report.hosts.some((h) => h.dropsRequests && h.mode === 'deploy')) {
    s.addRaw('<p><em>recreate</em> stops the old container before the new one is ready: requests fail during the downtime shown below.</p>', true);
  }
  for (const h of report.hosts) {
    s.addHeading(escapeHtml(h.host), 3);
    s.addTable(factsTable(hostFacts(h)));
    if (h.phases.length > 0) s.addDetails('Phases', `\n\n${tableHtml(timingsTable(h.phases))}\n\n`);
  }
  await s.write();
}

function tableHtml(rows: ReturnType<typeof timingsTable>): string {
  return `<table>${rows
    .map((r) => `<tr>${r.map((c) => (typeof c === 'string' ? `<td>${c}</td>` : `<th>${c.data}</th>`)).join('')}</tr>`)
    .join('')}</table>`;
}

export function publishReport(report: DeployReport): void {
  setReportOutput(report);
  const first = report.hosts[0];
  core.setOutput('container-id', first?.container?.id ?? '');
  core.setOutput('container-name', first?.container?.name ?? '');
  core.setOutput('previous-container', first?.previous?.name ?? '');
  core.setOutput('image-digest', first?.imageDigest ?? '');
  core.setOutput('rolled-back', String(report.rolledBack));
}
