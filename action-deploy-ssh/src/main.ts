// The main step: settings (all validated first), then the rollout: the first host is the
// canary, the rest follow in batches of max-parallel, each host connect → HostDeployer. The
// first failure stops the rollout; with on-failure: rollback (the default) every host already
// switched goes back to its previous container, with on-failure: halt they stay as they are.
import * as core from '@actions/core';
import { errorMessage, formatImageReference, Inputs, PhaseClock, type HostPort } from '@gangway/kit';
import { GitHubDeployment } from './github-deployment.ts';
import { knownHostsName } from '@gangway/kit/ssh';
import { connectHost, type ConnectHost, type HostConnection } from './host/connection.ts';
import { provenanceFromEnv, type Provenance } from './container/spec.ts';
import { HostDeployer, type HostReport } from './host/deployer.ts';
import { hostLog } from './host/log.ts';
import { LockLedger } from './host/lock-state.ts';
import type { HeldLock } from './host/lock.ts';
import { publishReport, writeSummary, type DeployReport } from './report.ts';
import { readSettings, type DeploySettings } from './settings/index.ts';
import { strategyFor, type Strategy } from './container/strategy/index.ts';
import { SwarmDeployer, swarmStrategy } from './swarm/deployer.ts';

export interface MainDependencies {
  inputs?: Inputs;
  connect?: ConnectHost;
  env?: NodeJS.ProcessEnv;
}

export function hostLabel(h: HostPort): string {
  return h.port === 22 ? h.host : `${h.host}:${h.port}`;
}

/** The canary alone, then batches of `maxParallel`. */
export function rolloutBatches<T>(hosts: T[], maxParallel: number): T[][] {
  const [canary, ...rest] = hosts;
  if (canary === undefined) return [];
  const batches: T[][] = [[canary]];
  for (let i = 0; i < rest.length; i += maxParallel) batches.push(rest.slice(i, i + maxParallel));
  return batches;
}

interface Rollout {
  settings: DeploySettings;
  strategy: Strategy;
  provenance: Provenance;
  ledger: LockLedger;
  connect: ConnectHost;
  signal: AbortSignal;
  connections: Map<string, HostConnection>;
}

function failedReport(r: Rollout, host: string, mode: HostReport['mode'], result: HostReport['result'], clock: PhaseClock, started: number, error?: string): HostReport {
  return {
    host,
    app: r.settings.app,
    strategy: r.strategy.name,
    mode,
    result,
    rolledBack: false,
    dropsRequests: r.strategy.dropsRequests,
    phases: clock.phases,
    totalMs: Math.round(performance.now() - started),
    ...(error ? { error } : {}),
  };
}

/** One host's deploy (or rollback): connect once (the connection is kept for a later revert), then HostDeployer. */
async function runHost(r: Rollout, hp: HostPort, settings: DeploySettings, signal: AbortSignal | undefined): Promise<{ report: HostReport; error?: Error }> {
  const host = hostLabel(hp);
  const log = hostLog(host);
  const clock = new PhaseClock();
  const started = performance.now();
  let connection = r.connections.get(host);
  if (!connection) {
    try {
      connection = await clock.time('connect', () => r.connect(settings, hp, (l) => log.info(l), signal));
      r.connections.set(host, connection);
      log.info(`connected to ${settings.login.username}@${knownHostsName(hp.host, hp.port)} (host key ${connection.hostKey}); Docker API via ${connection.transport}`);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(errorMessage(error));
      return { report: failedReport(r, host, settings.rollback ? 'rollback' : 'deploy', 'failed', clock, started, failure.message), error: failure };
    }
  }
  const ctx = { host, engine: connection.engine, prober: connection.prober, settings, clock, log, connectionLost: connection.lost, ...(connection.disk ? { disk: connection.disk } : {}), ...(signal ? { signal } : {}) };
  const locks = { acquired: (h: string, lock: HeldLock) => r.ledger.add(h, hp, lock), released: (h: string, lock: HeldLock) => r.ledger.remove(h, lock) };
  if (settings.target === 'swarm' && !connection.swarm) {
    const message = `target: swarm needs the Swarm calls of the engine on ${host}, which this connection does not offer`;
    return { report: failedReport(r, host, settings.rollback ? 'rollback' : 'deploy', 'failed', clock, started, message), error: new Error(message) };
  }
  const deployer = settings.target === 'swarm' && connection.swarm ? new SwarmDeployer(ctx, connection.swarm, r.provenance, locks) : new HostDeployer(ctx, r.strategy, r.provenance, locks);
  const result = await deployer.run();
  result.report.totalMs += clock.phases.find((p) => p.phase === 'connect')?.ms ?? 0;
  return result;
}

export async function main(signal: AbortSignal, deps: MainDependencies = {}): Promise<void> {
  const settings = readSettings(deps.inputs ?? new Inputs());
  const connect = deps.connect ?? connectHost;
  if (settings.insecure) {
    core.warning(
      'insecure-skip-host-key-check is true: the server\'s identity is NOT verified, so anyone who can intercept the connection can impersonate the server and receive your deploy (and its env values). Pin known-hosts or fingerprint instead.',
    );
  }
  const strategy = settings.target === 'swarm' ? swarmStrategy(settings) : strategyFor(settings.strategy);
  const env = deps.env ?? process.env;
  const provenance = { ...provenanceFromEnv(env), ...(settings.sha ? { gitSha: settings.sha } : {}) };
  const deployment = settings.github
    ? await GitHubDeployment.start(settings.github, {
        repository: env['GITHUB_REPOSITORY'] ?? '',
        sha: provenance.gitSha,
        runUrl: provenance.runUrl,
        app: settings.app,
        ...(settings.image ? { image: formatImageReference(settings.image) } : {}),
        rollback: settings.rollback,
        hosts: settings.hosts.map(hostLabel),
      })
    : undefined;
  try {
    await rollOut(settings, strategy, provenance, connect, signal, deployment);
  } catch (error) {
    // Anything unexpected still closes the GitHub deployment as failed.
    if (!(error instanceof RolloutFailure)) await deployment?.finish({ state: 'failure', description: `failed: ${errorMessage(error)}` });
    throw error instanceof RolloutFailure ? error.cause : error;
  }
}

/** The rollout failed and the deployment record already says so. */
class RolloutFailure extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}

async function rollOut(settings: DeploySettings, strategy: Strategy, provenance: Provenance, connect: ConnectHost, signal: AbortSignal, deployment: GitHubDeployment | undefined): Promise<void> {
  const rollout: Rollout = { settings, strategy, provenance, ledger: new LockLedger(), connect, signal, connections: new Map() };
  const reports = new Map<string, HostReport>();
  let failure: Error | undefined;

  try {
    const batches = rolloutBatches(settings.hosts, settings.maxParallel);
    for (const [index, batch] of batches.entries()) {
      if (failure) {
        for (const hp of batch) {
          const host = hostLabel(hp);
          hostLog(host).warn('skipped: an earlier host failed');
          reports.set(host, failedReport(rollout, host, settings.rollback ? 'rollback' : 'deploy', 'skipped', new PhaseClock(), performance.now()));
        }
        continue;
      }
      if (batches.length > 1) core.info(index === 0 ? `canary: ${hostLabel(batch[0] as HostPort)}` : `batch ${index} of ${batches.length - 1}: ${batch.map(hostLabel).join(', ')}`);
      const results = await Promise.all(batch.map((hp) => runHost(rollout, hp, settings, signal)));
      for (const { report, error } of results) {
        reports.set(report.host, report);
        if (error && !failure) failure = error;
      }
    }

    // A failed host: the hosts that switched go back (on-failure: rollback), unless this run was a rollback itself.
    const switched = [...reports.values()].filter((h) => h.result === 'deployed');
    if (failure && !settings.rollback && switched.length > 0) {
      if (settings.onFailure === 'halt') {
        core.warning(`on-failure: halt - ${switched.map((h) => h.host).join(', ')} keep the new version; the other hosts do not have it.`);
      } else {
        core.info(`rolling back ${switched.length} host(s) that already switched: ${switched.map((h) => h.host).join(', ')}`);
        const back = { ...settings, rollback: true };
        await Promise.all(
          switched.map(async (h) => {
            const hp = settings.hosts.find((x) => hostLabel(x) === h.host) as HostPort;
            // Without the job's signal: a cancelled rollout must still put these hosts back.
            const { report, error } = await runHost(rollout, hp, back, undefined);
            h.result = error ? 'revert-failed' : 'reverted';
            h.rolledBack = !error;
            h.revert = { container: report.container, phases: report.phases, totalMs: report.totalMs, ...(error ? { error: error.message } : {}) };
            if (error) hostLog(h.host).warn(`could not roll back: ${error.message}`);
          }),
        );
      }
    }
  } finally {
    for (const c of rollout.connections.values()) c.close();
  }

  const report: DeployReport = {
    app: settings.app,
    strategy: strategy.name,
    mode: settings.rollback ? 'rollback' : 'deploy',
    result: failure ? 'failure' : 'success',
    rolledBack: [...reports.values()].some((r) => r.rolledBack),
    hosts: settings.hosts.map((hp) => reports.get(hostLabel(hp))).filter((r): r is HostReport => r !== undefined),
  };
  publishReport(report);
  await writeSummary(report).catch((e: unknown) => core.warning(`Could not write the job summary: ${errorMessage(e)}`));
  await deployment?.finish(
    failure
      ? { state: 'failure', description: report.rolledBack ? `failed; previous version restored: ${failure.message}` : `failed: ${failure.message}` }
      : { state: 'success', description: settings.rollback ? `rolled back ${settings.app} to its previous version` : `deployed ${settings.app}` },
  );
  if (failure) throw new RolloutFailure(failure);
  // Cancelled once every host had switched: the deploy stands (undoing it would be another
  // change nobody asked for), but a cancelled step does not report success.
  if (signal.aborted) {
    const why = signal.reason instanceof Error ? signal.reason.message : 'The job was cancelled.';
    throw new RolloutFailure(new Error(`${why.replace(/\.$/, '')} after the switch: ${settings.app} runs ${settings.rollback ? 'the version rolled back to' : 'the new version'} on ${report.hosts.map((h) => h.host).join(', ')}; nothing was undone.`));
  }
}
