// The main step: settings (all validated first), then host by host: connect → HostDeployer →
// report. Hosts run one after the other; the first failure stops the rollout (issue #7 adds
// canary and batches with rollback of the hosts already switched).
import * as core from '@actions/core';
import { errorMessage, Inputs, PhaseClock, type HostPort } from '@gangway/kit';
import { knownHostsName } from '@gangway/kit/ssh';
import { connectHost, type ConnectHost } from './connection.ts';
import { provenanceFromEnv } from './container-spec.ts';
import { HostDeployer, type HostReport } from './deployer.ts';
import { hostLog } from './log.ts';
import { LockLedger } from './lock-state.ts';
import { publishReport, writeSummary, type DeployReport } from './report.ts';
import { readSettings } from './settings.ts';
import { strategyFor } from './strategy/index.ts';

export interface MainDependencies {
  inputs?: Inputs;
  connect?: ConnectHost;
  env?: NodeJS.ProcessEnv;
}

export function hostLabel(h: HostPort): string {
  return h.port === 22 ? h.host : `${h.host}:${h.port}`;
}

export async function main(signal: AbortSignal, deps: MainDependencies = {}): Promise<void> {
  const settings = readSettings(deps.inputs ?? new Inputs());
  const connect = deps.connect ?? connectHost;
  if (settings.insecure) {
    core.warning(
      'insecure-skip-host-key-check is true: the server\'s identity is NOT verified, so anyone who can intercept the connection can impersonate the server and receive your deploy (and its env values). Pin known-hosts or fingerprint instead.',
    );
  }
  const strategy = strategyFor(settings.strategy);
  const provenance = provenanceFromEnv(deps.env);
  const ledger = new LockLedger();
  const reports: HostReport[] = [];
  let failure: Error | undefined;

  for (const [index, hp] of settings.hosts.entries()) {
    const host = hostLabel(hp);
    const log = hostLog(host);
    if (failure) {
      log.warn(`skipped: an earlier host failed (${settings.hosts.length - index} host(s) not deployed)`);
      break;
    }
    const clock = new PhaseClock();
    const started = performance.now();
    let connection;
    try {
      connection = await clock.time('connect', () => connect(settings, hp, (l) => log.info(l), signal));
      log.info(`connected to ${settings.login.username}@${knownHostsName(hp.host, hp.port)} (host key ${connection.hostKey}); Docker API via ${connection.transport}`);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(errorMessage(error));
      reports.push({
        host,
        app: settings.app,
        strategy: strategy.name,
        mode: settings.rollback ? 'rollback' : 'deploy',
        result: 'failed',
        rolledBack: false,
        dropsRequests: strategy.dropsRequests,
        phases: clock.phases,
        totalMs: Math.round(performance.now() - started),
        error: failure.message,
      });
      continue;
    }
    try {
      const deployer = new HostDeployer(
        { host, engine: connection.engine, prober: connection.prober, settings, clock, log, signal },
        strategy,
        provenance,
        { acquired: (h, lock) => ledger.add(h, hp, lock), released: (h, lock) => ledger.remove(h, lock) },
      );
      const { report, error } = await deployer.run();
      report.totalMs += clock.phases.find((p) => p.phase === 'connect')?.ms ?? 0;
      reports.push(report);
      if (error) failure = error;
    } finally {
      connection.close();
    }
  }

  const report: DeployReport = {
    app: settings.app,
    strategy: strategy.name,
    mode: settings.rollback ? 'rollback' : 'deploy',
    result: failure ? 'failure' : 'success',
    rolledBack: reports.some((r) => r.rolledBack),
    hosts: reports,
  };
  publishReport(report);
  await writeSummary(report).catch((e: unknown) => core.warning(`Could not write the job summary: ${errorMessage(e)}`));
  if (failure) throw failure;
}
