// What a deploy did, in one place: each host's report (built here, filled in by the deployer
// as phases pass), the rollout's report, and how both are published: the `report` output (JSON),
// the other outputs, and the job summary.
//
// The words for going back, one meaning each:
// - rollback: what a run asks for with `rollback: true` (mode 'rollback'). When it works the
//   host's result is 'deployed': the version gone back to is what is deployed now.
// - rolled-back: this host's deploy failed and its previous version serves again, undone by the
//   deploy itself (result 'rolled-back'; the `rolled-back` output is true).
// - reverted: this host deployed, then went back because another host failed (on-failure:
//   rollback): result 'reverted', or 'revert-failed' when that did not work.
import * as core from '@actions/core';
import { escapeHtml, factsTable, formatDuration, setReportOutput, timingsTable, type PhaseTiming, type Row } from '@gangway/kit';
import type { RetentionResult } from './container/retention.ts';
import type { AuditEntry } from './host/audit.ts';
import type { ContainerRef } from './host/engine.ts';

/** maintenance: a run with `maintenance` and no `image`: the edge's maintenance page switched, no container changed. */
/** accessory-upgrade: a run with `upgrade-accessories` and no `image`: only those accessories changed. */
export type Mode = 'deploy' | 'rollback' | 'maintenance' | 'audit' | 'accessory-upgrade';

export function modeOf(s: { rollback: boolean; maintenanceOnly?: boolean; auditOnly?: boolean; accessoryOnly?: boolean }): Mode {
  return s.rollback ? 'rollback' : s.maintenanceOnly ? 'maintenance' : s.auditOnly ? 'audit' : s.accessoryOnly ? 'accessory-upgrade' : 'deploy';
}

/** A worker role after the run: the containers that run it (the new release's, or the previous one's after a rollback). */
export interface RoleReport {
  role: string;
  image: string;
  containers: ContainerRef[];
  /** The containers of this role that were replaced (stopped, kept for rollback). */
  previous: ContainerRef[];
}

/** An accessory after the run. */
export interface AccessoryReport {
  name: string;
  container: ContainerRef;
  image: string;
  /** created: it was missing; kept: left as it was (a deploy never restarts it); started: it was stopped; upgraded: moved to its declared image. */
  action: 'created' | 'kept' | 'started' | 'upgraded';
  /** upgraded: from the old container's stop to the new one being up (the gap in its service). */
  gapMs?: number;
  /** The image it ran before an upgrade. */
  previousImage?: string;
  /** kept: it runs another image than the declared one (upgrade it with upgrade-accessories). */
  drift?: string;
}

export type HostResult = 'deployed' | 'rolled-back' | 'failed' | 'reverted' | 'revert-failed' | 'skipped';

export interface HostReport {
  host: string;
  app: string;
  /** How this host swaps: 'blue-green', 'recreate', 'swarm (start-first)'. */
  strategy: string;
  mode: Mode;
  result: HostResult;
  /** The previous version serves again after a failure (rolled-back, or reverted). */
  rolledBack: boolean;
  image?: string;
  imageDigest?: string;
  container?: ContainerRef;
  /** The release serving after the run (the name of its web container; workers carry it as gangway.release). */
  release?: string;
  previous?: ContainerRef;
  /** The image of the web container this run replaced. */
  previousImage?: string;
  /** The web container this run replaced, left running out of the front until `until` (standby). */
  standby?: { name: string; until: string };
  readinessMs?: number;
  /** recreate: from the old container's stop to the new one's readiness. */
  downtimeMs?: number;
  dropsRequests: boolean;
  phases: PhaseTiming[];
  totalMs: number;
  retention?: RetentionResult;
  error?: string;
  /** Worker roles on this host after the run (roles set, or workers found on a rollback). */
  roles?: RoleReport[];
  /** The app's accessories on this host after the run. */
  accessories?: AccessoryReport[];
  /** The edge's maintenance page for this app after the run (hostname with maintenance set). */
  maintenance?: 'on' | 'off';
  /** The app's audit log on this host, newest last: this run's line and the ones before (audit: true, more of them). */
  audit?: AuditEntry[];
  /** The revert of this host after another host failed (on-failure: rollback). */
  revert?: { container?: ContainerRef | undefined; phases: PhaseTiming[]; totalMs: number; error?: string };
}

export interface DeployReport {
  app: string;
  strategy: string;
  mode: Mode;
  result: 'success' | 'failure';
  rolledBack: boolean;
  hosts: HostReport[];
}

/** A host's report before anything ran: failed until the deployer says otherwise. */
export function newHostReport(host: string, what: { app: string; strategy: string; dropsRequests: boolean; mode: Mode }, phases: PhaseTiming[] = []): HostReport {
  return { host, app: what.app, strategy: what.strategy, mode: what.mode, result: 'failed', rolledBack: false, dropsRequests: what.dropsRequests, phases, totalMs: 0 };
}

/** The result of a host, and whether the previous version serves again because of it. */
export function setResult(report: HostReport, result: HostResult): void {
  report.result = result;
  report.rolledBack = result === 'rolled-back' || result === 'reverted';
}

/** The rollout's report: the hosts in the order of `host`. */
export function deployReport(what: { app: string; strategy: string; mode: Mode }, hosts: HostReport[], failed: boolean): DeployReport {
  return { app: what.app, strategy: what.strategy, mode: what.mode, result: failed ? 'failure' : 'success', rolledBack: hosts.some((h) => h.rolledBack), hosts };
}

const RESULT_WORDS: Record<Mode, Record<HostResult, string>> = {
  deploy: {
    deployed: '✅ deployed',
    'rolled-back': '❌ failed, previous version restored',
    failed: '❌ failed',
    reverted: '↩️ deployed, then rolled back (another host failed)',
    'revert-failed': '⚠️ deployed; the rollback after another host failed did not work',
    skipped: '⏭️ skipped (an earlier host failed)',
  },
  rollback: {
    deployed: '↩️ rolled back (as requested)',
    'rolled-back': '❌ rollback failed, the version before it restored',
    failed: '❌ rollback failed',
    reverted: '↩️ rolled back, then returned (another host failed)',
    'revert-failed': '⚠️ rolled back; the return after another host failed did not work',
    skipped: '⏭️ skipped (an earlier host failed)',
  },
  audit: {
    deployed: '📜 audit log read',
    'rolled-back': '❌ audit log not read',
    failed: '❌ audit log not read',
    reverted: '📜 audit log read',
    'revert-failed': '📜 audit log read',
    skipped: '⏭️ skipped (an earlier host failed)',
  },
  'accessory-upgrade': {
    deployed: '🗄️ accessories upgraded',
    'rolled-back': '❌ accessory upgrade failed, the previous container restored',
    failed: '❌ accessory upgrade failed',
    reverted: '🗄️ accessories upgraded (another host failed; accessories are not reverted)',
    'revert-failed': '🗄️ accessories upgraded (another host failed)',
    skipped: '⏭️ skipped (an earlier host failed)',
  },
  maintenance: {
    deployed: '🚧 maintenance switched (as requested)',
    'rolled-back': '❌ maintenance switch failed, nothing changed',
    failed: '❌ maintenance switch failed',
    reverted: '↩️ maintenance switched, then returned (another host failed)',
    'revert-failed': '⚠️ maintenance switched; the return after another host failed did not work',
    skipped: '⏭️ skipped (an earlier host failed)',
  },
};

/** One line of where a host's time went, for the job log: `connect 112ms, pull 46ms, … = 10.2s`. */
export function phaseLine(phases: PhaseTiming[], totalMs: number): string {
  return `${phases.map((p) => `${p.phase} ${formatDuration(p.ms)}`).join(', ')} = ${formatDuration(totalMs)}`;
}

export function hostFacts(h: HostReport): Row[] {
  const rows: Row[] = [
    ['Result', RESULT_WORDS[h.mode][h.result]],
    ['Image', h.image ?? ''],
    ['Container', h.container ? `${h.container.name} (${h.container.id.slice(0, 12)})` : ''],
    ['Previous', h.previous ? `${h.previous.name} (${h.previous.id.slice(0, 12)})` : 'none'],
  ];
  if (h.standby) rows.push(['Standby', `${h.standby.name} keeps running, out of the front; rollback: true switches back to it without a start. The first deploy after ${h.standby.until} stops it.`]);
  if (h.maintenance) rows.push(['Maintenance page', h.maintenance]);
  for (const r of h.roles ?? []) {
    rows.push([`Role ${r.role}`, `${r.containers.length} × ${r.image}${r.containers.length > 0 ? ` (${r.containers.map((c) => c.name).join(', ')})` : ''}${r.previous.length > 0 ? `; replaced ${r.previous.length}` : ''}`]);
  }
  for (const a of h.accessories ?? []) {
    const gap = a.gapMs === undefined ? '' : `, gap ${formatDuration(a.gapMs)}`;
    rows.push([`Accessory ${a.name}`, `${a.action}: ${a.container.name} (${a.container.id.slice(0, 12)}) ${a.image}${a.previousImage ? ` (was ${a.previousImage})` : ''}${gap}${a.drift ? ` - ${a.drift}` : ''}`]);
  }
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
  const what = report.mode === 'rollback' ? 'rollback' : report.mode === 'maintenance' ? 'maintenance switch' : report.mode === 'audit' ? 'audit log' : report.mode === 'accessory-upgrade' ? 'accessory upgrade' : `deploy (${escapeHtml(report.strategy)})`;
  s.addHeading(`${icon} ${escapeHtml(report.app)}: ${what}`, 2);
  if (report.hosts.some((h) => h.dropsRequests && h.mode === 'deploy')) {
    s.addRaw('<p><em>recreate</em> stops the old container before the new one is ready: requests fail during the downtime shown below.</p>', true);
  }
  for (const h of report.hosts) {
    s.addHeading(escapeHtml(h.host), 3);
    s.addTable(factsTable(hostFacts(h)));
    if (h.phases.length > 0) s.addDetails('Phases', `\n\n${tableHtml(timingsTable(h.phases))}\n\n`);
    if (h.audit && h.audit.length > 0) {
      const rows = [['Time', 'Action', 'Result', 'Image', 'Actor', 'Run'], ...h.audit.map(auditRow).reverse()];
      const table = `<table>${rows.map((r, i) => `<tr>${r.map((c) => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('')}</table>`;
      s.addDetails(`Audit log on ${escapeHtml(h.host)} (last ${h.audit.length}, newest first)`, `\n\n${table}\n\n`);
    }
  }
  await s.write();
}

/** One audit line as table cells, escaped (the run URL only as a link when it is one). */
function auditRow(e: AuditEntry): string[] {
  const image = e.digest ? `${e.image?.split('@')[0] ?? ''}@${e.digest.replace(/^sha256:/, '').slice(0, 12)}` : (e.image ?? '');
  const run = /^https:\/\/[^\s"<>]+$/.test(e.run) ? `<a href="${escapeHtml(e.run)}">run</a>` : escapeHtml(e.run);
  return [e.time, `${e.action}${e.maintenance ? ` (${e.maintenance})` : ''}`, e.result, image, e.actor, run].map((c, i) => (i === 5 ? c : escapeHtml(c)));
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
