// The run as data (the `report` output), as a job summary a person reads at a glance, and as
// annotations: one error per failed check, with its reason.
import * as core from '@actions/core';
import { escapeHtml, factsTable, formatDuration, setReportOutput, type Row } from '@gangway/kit';
import type { Failure } from './assertions.ts';
import { displayUrl } from './check-plan.ts';
import type { LatencyReport } from './latency.ts';
import type { CheckOutcome, ProbeResult, ProbeTiming } from './probe.ts';

export interface CheckReport {
  name: string;
  method: string;
  url: string;
  passed: boolean;
  attempts: number;
  /** Status of the last attempt that got a response. */
  status?: number;
  latencyMs?: number;
  /** ms from the step's start until the check passed. */
  passedAtMs?: number;
  redirects: string[];
  /** The failure codes and messages, joined: what is wrong, in one line. */
  reason?: string;
  failures: Failure[];
  reportedVersion?: string;
}

export interface SmokeReport {
  passed: boolean;
  url?: string;
  expectVersion?: string;
  reportedVersion?: string;
  durationMs: number;
  deadlineMs: number;
  deadlineReached: boolean;
  timing: ProbeTiming;
  checks: CheckReport[];
  latency?: LatencyReport;
  failedChecks: string[];
}

export function reasonOf(failures: Failure[]): string | undefined {
  return failures.length === 0 ? undefined : failures.map((f) => `${f.code}: ${f.message}`).join('; ');
}

function checkReport(outcome: CheckOutcome): CheckReport {
  const { check, last } = outcome;
  const reason = reasonOf(outcome.failures);
  return {
    name: check.name,
    method: check.method,
    url: displayUrl(check.target),
    passed: outcome.passed,
    attempts: outcome.attempts,
    ...(last?.status !== undefined ? { status: last.status } : {}),
    ...(last && last.status !== undefined ? { latencyMs: last.latencyMs } : {}),
    ...(outcome.passedAtMs !== undefined ? { passedAtMs: outcome.passedAtMs } : {}),
    redirects: last?.redirects ?? [],
    ...(reason ? { reason } : {}),
    failures: outcome.failures,
    ...(last?.reportedVersion !== undefined ? { reportedVersion: last.reportedVersion } : {}),
  };
}

export function buildReport(input: { url?: URL; expectVersion?: string; timing: ProbeTiming; probe: ProbeResult; latency?: LatencyReport; durationMs: number }): SmokeReport {
  const checks = input.probe.outcomes.map(checkReport);
  const failedChecks = checks.filter((c) => !c.passed).map((c) => c.name);
  if (input.latency && !input.latency.passed) failedChecks.push('latency');
  const reportedVersion = checks.find((c) => c.reportedVersion !== undefined)?.reportedVersion;
  return {
    passed: failedChecks.length === 0,
    ...(input.url ? { url: displayUrl(input.url) } : {}),
    ...(input.expectVersion !== undefined ? { expectVersion: input.expectVersion } : {}),
    ...(reportedVersion !== undefined ? { reportedVersion } : {}),
    durationMs: input.durationMs,
    deadlineMs: input.timing.deadlineMs,
    deadlineReached: input.probe.deadlineReached,
    timing: input.timing,
    checks,
    ...(input.latency ? { latency: input.latency } : {}),
    failedChecks,
  };
}

export function setOutputs(report: SmokeReport): void {
  core.setOutput('passed', String(report.passed));
  core.setOutput('failed-checks', report.failedChecks.join(','));
  core.setOutput('reported-version', report.reportedVersion ?? '');
  core.setOutput('duration-ms', String(report.durationMs));
  setReportOutput(report);
}

/** One error annotation per failed check (and for the latency budget), titled by the check. */
export function annotateFailures(report: SmokeReport): void {
  for (const check of report.checks) {
    if (!check.passed) core.error(`${check.method} ${check.url}: ${check.reason ?? 'failed'} (after ${check.attempts} attempt${check.attempts === 1 ? '' : 's'})`, { title: `Smoke test: ${check.name}` });
  }
  if (report.latency && !report.latency.passed) core.error(`${report.latency.url}: ${reasonOf(report.latency.failures) ?? 'failed'}`, { title: 'Smoke test: latency' });
}

const cell = (text: string): string => escapeHtml(text);

export async function writeSummary(report: SmokeReport): Promise<void> {
  const facts: Row[] = [];
  if (report.url) facts.push(['URL', report.url]);
  if (report.expectVersion !== undefined) facts.push(['Expected version', report.expectVersion]);
  if (report.reportedVersion !== undefined) facts.push(['Reported version', report.reportedVersion]);
  facts.push(['Took', `${formatDuration(report.durationMs)} of ${formatDuration(report.deadlineMs)} deadline${report.deadlineReached ? ' (reached)' : ''}`]);
  const rows = report.checks.map((c) => [
    cell(c.name),
    c.passed ? '✅ passed' : '❌ failed',
    String(c.attempts),
    c.status === undefined ? '' : String(c.status),
    c.latencyMs === undefined ? '' : formatDuration(c.latencyMs),
    c.reason ? cell(c.reason) : '',
  ]);
  const summary = core.summary
    .addHeading(report.passed ? '✅ Smoke test passed' : `❌ Smoke test failed: ${cell(report.failedChecks.join(', '))}`, 2)
    .addTable(factsTable(facts))
    .addTable([
      [
        { data: 'Check', header: true },
        { data: 'Result', header: true },
        { data: 'Attempts', header: true },
        { data: 'Status', header: true },
        { data: 'Latency', header: true },
        { data: 'Reason', header: true },
      ],
      ...rows,
    ]);
  const latency = report.latency;
  if (latency) {
    const s = latency.stats;
    summary.addHeading('Latency', 3).addTable(
      factsTable([
        ['Check', `${latency.check} (${latency.url})`],
        ['Samples', `${latency.samplesMs.length} ok, ${latency.errors} failed, of ${latency.requested}`],
        ...(s ? ([['p50 / p95 / max', `${formatDuration(s.p50Ms)} / ${formatDuration(s.p95Ms)} / ${formatDuration(s.maxMs)}`]] as Row[]) : []),
        ...(latency.budgetMs !== undefined ? ([['p95 budget', formatDuration(latency.budgetMs)]] as Row[]) : []),
        ['Result', latency.passed ? 'passed' : (reasonOf(latency.failures) ?? 'failed')],
      ]),
    );
  }
  await summary.write();
}
