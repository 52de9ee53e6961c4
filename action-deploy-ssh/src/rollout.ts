// The rollout over every host: the first host is the canary (unless canary: false), the rest follow
// in batches of max-parallel, each host connect → deployOnHost with its target. The first failure stops the
// rollout; with on-failure: rollback (the default) every host already switched goes back to its
// previous version (reverted), with on-failure: halt they stay as they are.
import * as core from '@actions/core';
import { PhaseClock, toError, type HostPort } from '@gangway/kit';
import { knownHostsName } from '@gangway/kit/ssh';
import { containerTarget } from './container/deployer.ts';
import { workersTarget } from './container/workers-host.ts';
import { strategyFor } from './container/strategy/index.ts';
import type { ConnectHost, HostConnection } from './host/connection.ts';
import type { HostContext, LockEvents } from './host/context.ts';
import { deployOnHost, type DeployTarget, type HostRun } from './host/deployer.ts';
import { LockLedger } from './host/lock-state.ts';
import { hostLog } from './host/log.ts';
import type { Provenance } from './labels.ts';
import { deployReport, modeOf, newHostReport, phaseLine, setResult, type DeployReport, type HostReport, type Mode } from './report.ts';
import type { DeploySettings } from './settings/index.ts';
import { rolloutName } from './settings/rollout.ts';
import { hostLabel } from './settings/ssh.ts';
import { swarmTarget } from './swarm/deployer.ts';

/** Batches of `maxParallel`; with `canary`, the first host alone before them. */
export function rolloutBatches<T>(hosts: T[], maxParallel: number, canary = true): T[][] {
  const [first, ...rest] = hosts;
  if (first === undefined) return [];
  const batches: T[][] = canary ? [[first]] : [];
  const others = canary ? rest : hosts;
  for (let i = 0; i < others.length; i += maxParallel) batches.push(others.slice(i, i + maxParallel));
  return batches;
}

export interface RolloutResult {
  report: DeployReport;
  /** The first host's failure, if one failed. */
  failure?: Error;
}

interface Rollout {
  provenance: Provenance;
  ledger: LockLedger;
  connect: ConnectHost;
  connections: Map<string, HostConnection>;
}

/** The host's target: its strategy's containers, or the Swarm service (with the connection's Swarm calls). */
function targetFor(ctx: HostContext, connection: HostConnection): DeployTarget | Error {
  const t = ctx.settings.target;
  // A server that only a role names runs those workers alone.
  if (t.kind === 'container') return ctx.settings.webHosts.includes(ctx.host) ? containerTarget(ctx, strategyFor(t.strategy.name)) : workersTarget(ctx);
  if (!connection.swarm) return new Error(`target: swarm needs the Swarm calls of the engine on ${ctx.host}, which this connection does not offer`);
  return swarmTarget(ctx, connection.swarm);
}

/** One host's deploy (or rollback): connect once (the connection is kept for a later revert), then deployOnHost. */
async function runHost(r: Rollout, hp: HostPort, settings: DeploySettings, signal: AbortSignal | undefined): Promise<HostRun> {
  const host = hostLabel(hp);
  const log = hostLog(host);
  const clock = new PhaseClock();
  const started = performance.now();
  const failedHere = (error: Error): HostRun => {
    const report = newHostReport(host, what(settings), clock.phases);
    report.error = error.message;
    report.totalMs = Math.round(performance.now() - started);
    return { report, error };
  };
  let connection = r.connections.get(host);
  if (!connection) {
    try {
      connection = await clock.time('connect', () => r.connect(settings, hp, (l) => log.info(l), signal));
      r.connections.set(host, connection);
      log.info(`connected to ${settings.login.username}@${knownHostsName(hp.host, hp.port)} (host key ${connection.hostKey}); Docker API via ${connection.transport}`);
    } catch (error) {
      return failedHere(toError(error));
    }
  }
  // Every lock taken on the host (the app's, the edge's) goes into the ledger: the post step releases what main could not.
  const locks: LockEvents = {
    taking: (h, lock) => r.ledger.taking(h, hp, lock),
    acquired: (h, lock) => r.ledger.add(h, hp, lock),
    released: (h, lock) => r.ledger.remove(h, lock),
  };
  const ctx = { host, engine: connection.engine, prober: connection.prober, settings, provenance: r.provenance, clock, log, locks, connectionLost: connection.lost, ...(connection.disk ? { disk: connection.disk } : {}), ...(signal ? { signal } : {}) };
  const target = targetFor(ctx, connection);
  if (target instanceof Error) return failedHere(target);
  const result = await deployOnHost(ctx, target);
  result.report.totalMs += clock.phases.find((p) => p.phase === 'connect')?.ms ?? 0;
  // Where the time went, in the job log (the summary has it as a table).
  log.info(`phases: ${phaseLine(result.report.phases, result.report.totalMs)}`);
  return result;
}

function what(settings: DeploySettings): { app: string; strategy: string; dropsRequests: boolean; mode: Mode } {
  const t = settings.target;
  return { app: settings.app, strategy: rolloutName(t), dropsRequests: t.kind === 'swarm' ? false : strategyFor(t.strategy.name).dropsRequests, mode: modeOf(settings) };
}

/** The release the web's servers run after a rollback (their first report): where the role-only servers go. */
function rollbackTarget(reports: Map<string, HostReport>): Pick<DeploySettings, 'rollbackTo'> {
  const web = [...reports.values()].find((r) => r.result === 'deployed' && r.release);
  return web?.release && web.image ? { rollbackTo: { release: web.release, image: web.image } } : {};
}

/** The release the web's servers ran before this deploy (the container it replaced): where a revert takes the role-only servers. */
function previousTarget(reports: Map<string, HostReport>): Pick<DeploySettings, 'rollbackTo'> {
  const web = [...reports.values()].find((r) => r.previous && r.previousImage);
  return web?.previous && web.previousImage ? { rollbackTo: { release: web.previous.name, image: web.previousImage } } : {};
}

/** Every host, the canary first (if any); then the revert of the switched hosts when one failed. Connections are closed at the end. */
export async function rollOut(settings: DeploySettings, provenance: Provenance, connect: ConnectHost, signal: AbortSignal): Promise<RolloutResult> {
  const rollout: Rollout = { provenance, ledger: new LockLedger(), connect, connections: new Map() };
  const reports = new Map<string, HostReport>();
  let failure: Error | undefined;

  try {
    // The web's servers first (the canary, then batches); the servers only a role names after all of them.
    const webHosts = settings.hosts.filter((hp) => settings.webHosts.includes(hostLabel(hp)));
    const roleOnly = settings.hosts.filter((hp) => !settings.webHosts.includes(hostLabel(hp)));
    const batches = [...rolloutBatches(webHosts, settings.maxParallel, settings.canary)];
    for (let i = 0; i < roleOnly.length; i += settings.maxParallel) batches.push(roleOnly.slice(i, i + settings.maxParallel));
    let hostSettings = settings;
    for (const [index, batch] of batches.entries()) {
      if (failure) {
        for (const hp of batch) {
          const host = hostLabel(hp);
          hostLog(host).warn('skipped: an earlier host failed');
          const report = newHostReport(host, what(settings));
          setResult(report, 'skipped');
          reports.set(host, report);
        }
        continue;
      }
      if (batches.length > 1 || batch.length > 1) {
        // With a canary, batch 0 is the canary and the others count from 1; without, from 1 too.
        const n = settings.canary ? index : index + 1;
        core.info(n === 0 ? `canary: ${hostLabel(batch[0] as HostPort)}` : `batch ${n} of ${settings.canary ? batches.length - 1 : batches.length}: ${batch.map(hostLabel).join(', ')}`);
      }
      // A rollback on the role-only servers goes to the release the web's servers went back to.
      if (settings.rollback && !hostSettings.rollbackTo && batch.some((hp) => !settings.webHosts.includes(hostLabel(hp)))) hostSettings = { ...settings, ...rollbackTarget(reports) };
      const results = await Promise.all(batch.map((hp) => runHost(rollout, hp, hostSettings, signal)));
      for (const { report, error } of results) {
        reports.set(report.host, report);
        if (error && !failure) failure = error;
      }
    }

    // A failed host: the hosts that switched go back (on-failure: rollback), unless this run was a rollback itself.
    const switched = [...reports.values()].filter((h) => h.result === 'deployed');
    if (failure && !settings.rollback && !settings.maintenanceOnly && !settings.auditOnly && !settings.accessoryOnly && switched.length > 0) {
      if (settings.onFailure === 'halt') {
        core.warning(`on-failure: halt - ${switched.map((h) => h.host).join(', ')} keep the new version; the other hosts do not have it.`);
      } else {
        core.info(`rolling back ${switched.length} host(s) that already switched: ${switched.map((h) => h.host).join(', ')}`);
        // Accessories are not part of a release: the revert never upgrades one again. The role-only
        // servers go back to the release the web's servers ran before this deploy.
        const back: DeploySettings = { ...settings, rollback: true, upgradeAccessories: [], accessoryOnly: false, ...previousTarget(reports) };
        await Promise.all(
          switched.map(async (h) => {
            const hp = settings.hosts.find((x) => hostLabel(x) === h.host) as HostPort;
            // Without the job's signal: a cancelled rollout must still put these hosts back.
            const { report, error } = await runHost(rollout, hp, back, undefined);
            setResult(h, error ? 'revert-failed' : 'reverted');
            // The container it had put on standby serves again (or the revert failed): no standby to report.
            delete h.standby;
            h.revert = { container: report.container, phases: report.phases, totalMs: report.totalMs, ...(error ? { error: error.message } : {}) };
            if (error) hostLog(h.host).warn(`could not roll back: ${error.message}`);
          }),
        );
      }
    }
  } finally {
    for (const c of rollout.connections.values()) c.close();
  }

  const hosts = settings.hosts.map((hp) => reports.get(hostLabel(hp))).filter((r): r is HostReport => r !== undefined);
  return { report: deployReport(what(settings), hosts, failure !== undefined), ...(failure ? { failure } : {}) };
}
