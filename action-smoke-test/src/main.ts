import * as core from '@actions/core';
import { createRedactor, formatDuration, Inputs } from '@gangway/kit';
import { runAttempt, DeadlineReached, type AttemptResult, type AttemptRunner } from './attempt.ts';
import { displayUrl } from './check-plan.ts';
import { createHttpClient, type HttpClient } from './http-client.ts';
import { sampleLatency, type LatencyReport } from './latency.ts';
import { runProbes, type CheckOutcome } from './probe.ts';
import { annotateFailures, buildReport, reasonOf, setOutputs, writeSummary, type SmokeReport } from './report.ts';
import { redactAttempt } from './redact.ts';
import { readEnvironment, readSettings, type SmokeSettings } from './settings.ts';

/** Bodies are cut here: a smoke test reads health answers, not downloads. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface MainDependencies {
  inputs?: Inputs;
  env?: NodeJS.ProcessEnv;
  client?: (settings: SmokeSettings) => HttpClient;
  /**
   * performance.now() of the step's start, from which the deadline counts. The bundle's entry
   * passes 0, the process start, so loading the bundle counts too; tests default to now.
   */
  startedAt?: number;
}

function describeAttempt(outcome: CheckOutcome, result: AttemptResult): string {
  const status = result.status === undefined ? 'no response' : `HTTP ${result.status}`;
  const mark = result.passed ? '✓' : '✗';
  const why = result.passed ? '' : ` — ${reasonOf(result.failures) ?? ''}`;
  return `${mark} ${outcome.check.name} #${outcome.attempts}: ${status} in ${formatDuration(result.latencyMs)}${why}`;
}

/** Settings → probes → latency samples → outputs, summary and annotations. Returns the report. */
export async function main(cancel: AbortSignal, deps: MainDependencies = {}): Promise<SmokeReport> {
  const startedAt = deps.startedAt ?? performance.now();
  const settings = readSettings(deps.inputs ?? new Inputs(), readEnvironment(deps.env));
  const { timing } = settings;
  const client = deps.client ? deps.client(settings) : createHttpClient({ resolve: settings.resolve, ...(settings.ca ? { ca: settings.ca } : {}), insecure: settings.insecure, maxBodyBytes: MAX_BODY_BYTES });

  // One signal for the whole step: the deadline (measured from the start) or the runner's cancellation.
  const controller = new AbortController();
  const deadlineTimer = setTimeout(() => controller.abort(new DeadlineReached(timing.deadlineMs)), Math.max(0, startedAt + timing.deadlineMs - performance.now()));
  const onCancel = (): void => controller.abort(cancel.reason);
  if (cancel.aborted) onCancel();
  else cancel.addEventListener('abort', onCancel, { once: true });
  const signal = controller.signal;
  const redact = createRedactor(settings.secrets);
  const attempt: AttemptRunner = async (check, attemptAbort) => redactAttempt(await runAttempt(check, client, attemptAbort), redact);

  try {
    core.info(`Smoke test of ${settings.url ? displayUrl(settings.url) : 'the checks’ URLs'}: ${settings.checks.length} check(s), deadline ${formatDuration(timing.deadlineMs)}, timeout ${formatDuration(timing.timeoutMs)} per attempt, success-threshold ${timing.successThreshold}.`);
    for (const rule of settings.resolve) core.info(`resolve: ${rule.host}${rule.port ? `:${rule.port}` : ''} → ${rule.address}`);
    if (settings.insecure) core.warning('TLS certificates are not verified (insecure: true): the smoke test would pass against an impostor. Prefer "ca".');

    core.startGroup('Checks');
    let probe;
    try {
      probe = await runProbes(settings.checks, timing, attempt, {
        signal,
        startedAt,
        onAttempt: (outcome, result) => core.info(describeAttempt(outcome, result)),
        onWait: (ms, failing) => core.info(`  ${failing} failing; next round in ${formatDuration(ms)}`),
      });
    } finally {
      core.endGroup();
    }

    let latency: LatencyReport | undefined;
    const allPassed = probe.outcomes.every((o) => o.passed);
    if (allPassed && settings.latencyCheck && settings.latencySamples > 0) {
      core.startGroup(`Latency: ${settings.latencySamples} samples of ${settings.latencyCheck.name}`);
      try {
        latency = await sampleLatency(settings.latencyCheck, attempt, {
          samples: settings.latencySamples,
          ...(settings.p95BudgetMs !== undefined ? { budgetMs: settings.p95BudgetMs } : {}),
          timeoutMs: timing.timeoutMs,
          signal,
          deadlineAt: startedAt + timing.deadlineMs,
          onSample: (n, ms, failure) => core.info(ms === undefined ? `✗ sample ${n}: ${failure?.code}: ${failure?.message}` : `sample ${n}: ${formatDuration(ms)}`),
        });
      } finally {
        core.endGroup();
      }
    }

    const report = buildReport({
      ...(settings.url ? { url: settings.url } : {}),
      ...(settings.expectVersion !== undefined ? { expectVersion: settings.expectVersion } : {}),
      timing,
      probe,
      ...(latency ? { latency } : {}),
      durationMs: Math.round(performance.now() - startedAt),
    });
    setOutputs(report);
    await writeSummary(report);
    if (report.passed) {
      const p95 = report.latency?.stats ? `, p95 ${formatDuration(report.latency.stats.p95Ms)}` : '';
      core.info(`All ${report.checks.length} checks passed in ${formatDuration(report.durationMs)}${p95}.`);
    } else {
      annotateFailures(report);
      core.setFailed(`Smoke test failed: ${report.failedChecks.join(', ')} (${formatDuration(report.durationMs)}${report.deadlineReached ? `, deadline ${formatDuration(timing.deadlineMs)} reached` : ''}).`);
    }
    return report;
  } finally {
    clearTimeout(deadlineTimer);
    cancel.removeEventListener('abort', onCancel);
  }
}
