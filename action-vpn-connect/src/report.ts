// The machine-readable report (the `report` output) and the job summary, from one object.
import * as core from '@actions/core';
import { escapeHtml, factsTable, formatDuration, setReportOutput, timingsTable, type PhaseTiming, type Row } from '@gangway/kit';
import type { Failure } from './classify.ts';
import type { ProbeResult } from './probe.ts';
import type { Overlap } from './routes.ts';

export interface ConnectReport {
  status: 'connected' | 'failed';
  server: string | undefined;
  ip?: string;
  interface?: string;
  pid?: number;
  attempts: number;
  connectMs?: number;
  checkHost?: { target: string } & ProbeResult;
  overlaps: Overlap[];
  failure?: Pick<Failure, 'category' | 'reason' | 'hint'>;
  openvpn: string;
  phases: PhaseTiming[];
}

export async function writeConnectSummary(report: ConnectReport): Promise<void> {
  setReportOutput(report);
  const rows: Row[] = [
    ['Server', report.server ?? '(from the config)'],
    ['Result', report.status === 'connected' ? 'connected' : `failed: ${report.failure?.category ?? 'unknown'}`],
  ];
  if (report.ip) rows.push(['Runner VPN address', report.ip]);
  if (report.interface) rows.push(['Interface', report.interface]);
  if (report.connectMs !== undefined) rows.push(['Time to connect', formatDuration(report.connectMs)]);
  if (report.checkHost) {
    const c = report.checkHost;
    rows.push(['check-host', c.ok ? `${c.target} accepts TCP (${formatDuration(c.ms)})` : `${c.target} does not accept TCP: ${c.error ?? 'no answer'}`]);
  }
  if (report.pid) rows.push(['OpenVPN pid', String(report.pid)]);
  rows.push(['Attempts', String(report.attempts)], ['OpenVPN', report.openvpn]);
  const s = core.summary.addHeading(report.status === 'connected' ? 'VPN connected' : 'VPN connection failed', 3).addTable(factsTable(rows));
  if (report.failure) {
    s.addRaw(`<p><strong>${escapeHtml(report.failure.category)}</strong>: ${escapeHtml(report.failure.reason)}</p><p>${escapeHtml(report.failure.hint)}</p>`, true);
  }
  if (report.overlaps.length > 0) {
    s.addRaw('<p>Route clashes: part of these VPN networks is reached through the runner\'s own interfaces instead of the tunnel:</p>', true);
    s.addList(report.overlaps.map((o) => escapeHtml(`${o.vpn} (VPN) overlaps ${o.runner} on ${o.runnerDev}`)));
  }
  if (report.phases.length > 0) s.addDetails('Timings', `\n\n${renderTable(timingsTable(report.phases))}\n\n`);
  await s.write();
}

function renderTable(rows: ReturnType<typeof timingsTable>): string {
  return `<table>${rows
    .map((row) => `<tr>${row.map((cell) => (typeof cell === 'string' ? `<td>${cell}</td>` : `<${cell.header ? 'th' : 'td'}>${cell.data}</${cell.header ? 'th' : 'td'}>`)).join('')}</tr>`)
    .join('')}</table>`;
}

export async function writeDisconnectSummary(text: string): Promise<void> {
  await core.summary.addHeading('VPN disconnected', 3).addRaw(`<p>${escapeHtml(text)}</p>`, true).write();
}
