// One host's deploy, whatever the target: before the lock (checks, the pull) → the deploy lock →
// the target's changes under it → unlock. The skeleton is the same for containers and Swarm: the
// report, the lock and its release in `finally` (and again by the post step if this process dies
// before that), and the explanation of a lost connection. What changes the host is the target's.
import { errorMessage, isConfigurationError, toError } from '@gangway/kit';
import { lostConnectionHint } from '@gangway/kit/ssh';
import { LABEL } from '../labels.ts';
import { modeOf, newHostReport, setResult, type HostReport } from '../report.ts';
import { appendAudit, readAudit, type AuditEntry } from './audit.ts';
import type { HostContext } from './context.ts';
import { confirmLockHeld, type HeldLock } from './lock.ts';
import { releaseDeployLock, takeDeployLock, type LockEvents } from './preflight.ts';

export type { LockEvents };

/** What a deploy does on one host, for one target (containers, a Swarm service). */
export interface DeployTarget {
  /** How it swaps, for the report: 'blue-green', 'recreate', 'swarm (stop-first)'. */
  readonly name: string;
  /** Whether requests fail during the swap (reported in the summary). */
  readonly dropsRequests: boolean;
  /** Where a lost connection leaves the server, for the error that explains it. */
  readonly whenConnectionLost: string;
  /** Before the lock: checks, and on a deploy the pull. Returns the image the lock's marker uses (one on the server), or undefined when there is nothing to do on this host (no lock then). */
  prepare(report: HostReport): Promise<string | undefined>;
  /** Under the lock: everything that changes the host. Sets the report's result; throws when the deploy failed. */
  apply(lock: HeldLock, report: HostReport): Promise<void>;
}

export interface HostRun {
  report: HostReport;
  /** Set when the host failed: what to tell the user. */
  error?: Error;
}

/** A deploy that failed, with what became of the host: `tail` says it ("The previous container serves again."). */
export class DeployFailedError extends Error {
  /** The failure itself, without where it left the host. */
  readonly reason: string;
  constructor(host: string, reason: string, tail: string) {
    super(`Deploy on ${host} failed: ${reason.replace(/\.$/, '')}. ${tail}`);
    this.name = 'DeployFailedError';
    this.reason = reason;
  }
}

/**
 * An error from a host whose SSH connection broke becomes one that says so, with the likely
 * cause (the VPN, when the host is reached through one) and where that leaves the server.
 */
export async function explainLostConnection(ctx: HostContext, error: Error, whenLost: string): Promise<Error> {
  const lost = ctx.connectionLost?.();
  if (!lost) return error;
  const phase = ctx.clock.phases.at(-1)?.phase;
  const hint = await lostConnectionHint(ctx.settings.hosts.find((h) => ctx.host === h.host || ctx.host === `${h.host}:${h.port}`)?.host ?? ctx.host);
  const message = [
    `Lost the SSH connection to ${ctx.host}${phase ? ` (in the ${phase} phase)` : ''}: ${lost.message}.`,
    hint,
    `${whenLost} The deploy lock is released by the post step, or taken over after lock-ttl. Re-run the deploy.`,
    // Not DeployFailedError's own tail ("rolled back"): with the connection gone, nothing could be undone.
    `(${error instanceof DeployFailedError ? error.reason : error.message})`,
  ].filter((l) => l !== '').join(' ');
  const wrapped = new Error(message, { cause: error });
  wrapped.name = 'ConnectionLostError';
  return wrapped;
}

const NO_LOCK_EVENTS: LockEvents = { acquired: () => undefined, released: () => undefined };

/** Runs the deploy (or rollback) of `target` on the host. Never throws: the report says what happened; `error` is set on failure. */
export async function deployOnHost(ctx: HostContext, target: DeployTarget): Promise<HostRun> {
  const locks = ctx.locks ?? NO_LOCK_EVENTS;
  const s = ctx.settings;
  const started = performance.now();
  const report = newHostReport(ctx.host, { app: s.app, strategy: target.name, dropsRequests: target.dropsRequests, mode: modeOf(s) }, ctx.clock.phases);
  let lock: HeldLock | undefined;
  let lockImage: string | undefined;
  try {
    if (s.auditOnly) {
      // A read: no lock, nothing changes. The throwaway container needs an image the host has: the app's.
      const image = (await ctx.engine.listContainers({ [LABEL.app]: s.app }))[0]?.imageId;
      report.audit = image ? await ctx.clock.time('audit', () => readAudit(ctx.engine, image, s.app, new Date())) : [];
      ctx.log.info(report.audit.length > 0 ? `audit log of ${s.app}: ${report.audit.length} entries, the last ${report.audit.at(-1)?.time ?? ''}` : `audit log of ${s.app}: nothing on this host`);
      setResult(report, 'deployed');
      return { report };
    }
    lockImage = await target.prepare(report);
    if (lockImage === undefined) {
      setResult(report, 'deployed');
      return { report };
    }
    lock = await takeDeployLock(ctx, lockImage, locks);
    await target.apply(lock, report);
    return { report };
  } catch (error) {
    const failure = await explainLostConnection(ctx, toError(error), target.whenConnectionLost);
    report.error = failure.message;
    if (!isConfigurationError(error) && !(error instanceof DeployFailedError) && failure.stack) ctx.log.debug?.(failure.stack);
    return { report, error: failure };
  } finally {
    // Whatever happened once the lock was held is a line of the app's audit log, written under that lock.
    if (lock && lockImage) await recordAudit(ctx, lock, lockImage, report);
    if (lock) await releaseDeployLock(ctx, lock, locks);
    report.totalMs = Math.round(performance.now() - started);
  }
}

/** Appends this run's line to the app's audit log on the host; a failure to write only warns (the deploy's result stands). */
async function recordAudit(ctx: HostContext, lock: HeldLock, image: string, report: HostReport): Promise<void> {
  const upgraded = (report.accessories ?? []).filter((a) => a.action === 'upgraded').map((a) => `${a.name}=${a.image}`);
  const entry: AuditEntry = {
    time: new Date().toISOString(),
    host: ctx.host,
    app: report.app,
    action: report.mode,
    // The web role is the app's container; an accessory upgrade alone changes no role.
    roles: report.mode === 'accessory-upgrade' ? [] : ['web', ...(report.roles ?? []).map((r) => r.role)],
    ...(upgraded.length > 0 ? { accessories: upgraded } : {}),
    actor: ctx.provenance.actor,
    run: ctx.provenance.runUrl,
    ...(report.image ? { image: report.image } : {}),
    ...(report.imageDigest ? { digest: report.imageDigest } : {}),
    result: report.result,
    ...(report.maintenance ? { maintenance: report.maintenance } : {}),
  };
  try {
    // Only under the app's lock (another run may have taken it over as stale): two writers would lose a line.
    await confirmLockHeld(ctx.engine, ctx.settings.app, lock);
    report.audit = await appendAudit(ctx.engine, image, entry);
  } catch (error) {
    ctx.log.warn(`Could not append to the audit log of ${report.app} on ${ctx.host} (${errorMessage(error)}): the deploy's result stands.`);
  }
}
