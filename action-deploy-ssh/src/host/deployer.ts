// One host's deploy, phase by phase: pull → lock → plan → swap (the strategy) → retention →
// unlock. Rollback runs the same phases with a plan that points back. The lock is released in
// `finally`, and again by the post step if this process dies before that.
import { ConfigurationError, errorMessage, isConfigurationError, type PhaseTiming } from '@gangway/kit';
import { lostConnectionHint } from '@gangway/kit/ssh';
import { LABEL, appContainerSpec, appLabels, type Provenance } from '../container/spec.ts';
import type { ContainerSummary } from './engine.ts';
import type { HostContext } from './context.ts';
import type { HeldLock } from './lock.ts';
import type { PulledImage } from './pull.ts';
import { confirmDeployLock, pullForDeploy, releaseDeployLock, takeDeployLock, type LockEvents } from './preflight.ts';
import { applyRetention, byDeployTime, type RetentionResult } from '../container/retention.ts';
import { chooseRollback } from '../container/rollback.ts';
import { servingContainer, tidyInterrupted } from '../container/serving.ts';
import type { ContainerRef, Strategy, SwapOutcome, SwapPlan } from '../container/strategy/index.ts';

/**
 * deployed; rolled-back: this host's deploy failed and its previous container serves again;
 * reverted: deployed, then rolled back because another host failed; skipped: not reached.
 */
export type HostResult = 'deployed' | 'rolled-back-on-request' | 'rolled-back' | 'failed' | 'reverted' | 'revert-failed' | 'skipped';

export interface HostReport {
  host: string;
  app: string;
  strategy: string;
  mode: 'deploy' | 'rollback';
  result: HostResult;
  /** The deploy failed and the previous container serves again. */
  rolledBack: boolean;
  image?: string;
  imageDigest?: string;
  container?: ContainerRef;
  previous?: ContainerRef;
  readinessMs?: number;
  /** recreate: from the old container's stop to the new one's readiness. */
  downtimeMs?: number;
  dropsRequests: boolean;
  phases: PhaseTiming[];
  totalMs: number;
  retention?: RetentionResult;
  error?: string;
  /** The rollback of this host after another host failed (on-failure: rollback). */
  revert?: { container?: ContainerRef | undefined; phases: PhaseTiming[]; totalMs: number; error?: string };
}

export type { LockEvents };

export class DeployFailedError extends Error {
  readonly outcome: SwapOutcome;
  constructor(host: string, outcome: SwapOutcome) {
    const tail = outcome.rolledBack
      ? 'The previous container serves again (rolled back).'
      : outcome.switched
        ? 'There was no previous container to go back to.'
        : 'Nothing was switched: the previous version keeps serving.';
    super(`Deploy on ${host} failed: ${(outcome.error?.message ?? 'unknown error').replace(/\.$/, '')}. ${tail}`);
    this.name = 'DeployFailedError';
    this.outcome = outcome;
  }
}

/**
 * An error from a host whose SSH connection broke becomes one that says so, with the likely
 * cause (the VPN, when the host is reached through one) and where that leaves the server.
 */
export async function explainLostConnection(ctx: HostContext, error: Error): Promise<Error> {
  const lost = ctx.connectionLost?.();
  if (!lost) return error;
  const phase = ctx.clock.phases.at(-1)?.phase;
  const hint = await lostConnectionHint(ctx.settings.hosts.find((h) => ctx.host === h.host || ctx.host === `${h.host}:${h.port}`)?.host ?? ctx.host);
  const message = [
    `Lost the SSH connection to ${ctx.host}${phase ? ` (in the ${phase} phase)` : ''}: ${lost.message}.`,
    hint,
    `The server is as the connection left it: the proxy still forwards to the container it served unless the switch had happened; the next deploy of ${ctx.settings.app} finds the container that serves and tidies what this one left. The deploy lock is released by the post step, or taken over after lock-ttl. Re-run the deploy.`,
    // Not DeployFailedError's own tail ("rolled back"): with the connection gone, nothing could be undone.
    `(${error instanceof DeployFailedError ? (error.outcome.error?.message ?? error.message) : error.message})`,
  ].filter((l) => l !== '').join(' ');
  const wrapped = new Error(message, { cause: error });
  wrapped.name = 'ConnectionLostError';
  return wrapped;
}

export class HostDeployer {
  readonly #ctx: HostContext;
  readonly #strategy: Strategy;
  readonly #provenance: Provenance;
  readonly #locks: LockEvents;

  constructor(ctx: HostContext, strategy: Strategy, provenance: Provenance, locks: LockEvents) {
    this.#ctx = ctx;
    this.#strategy = strategy;
    this.#provenance = provenance;
    this.#locks = locks;
  }

  /** Runs the deploy (or rollback). Never throws: the report says what happened; `error` is set on failure. */
  async run(): Promise<{ report: HostReport; error?: Error }> {
    const ctx = this.#ctx;
    const s = ctx.settings;
    const started = performance.now();
    const report: HostReport = {
      host: ctx.host,
      app: s.app,
      strategy: this.#strategy.name,
      mode: s.rollback ? 'rollback' : 'deploy',
      result: 'failed',
      rolledBack: false,
      dropsRequests: this.#strategy.dropsRequests,
      phases: ctx.clock.phases,
      totalMs: 0,
    };
    let lock: HeldLock | undefined;
    try {
      let pulled: PulledImage | undefined;
      let lockImage: string;
      let containers = await this.#appContainers();
      if (s.rollback) {
        const any = containers[0];
        if (!any) throw new Error(`Nothing to roll back to for ${s.app} on ${ctx.host}: no container of this app exists on the server.`);
        lockImage = any.imageId;
      } else {
        const image = s.image;
        if (!image) throw new ConfigurationError('Input "image" is required unless rollback: true.', 'image');
        pulled = await pullForDeploy(ctx, image);
        report.image = pulled.ref;
        report.imageDigest = pulled.digest;
        lockImage = pulled.id;
      }

      lock = await takeDeployLock(ctx, lockImage, this.#provenance, this.#locks);

      if (s.network && !(await ctx.engine.networkExists(s.network))) {
        ctx.log.info(`creating network ${s.network}`);
        await ctx.engine.createNetwork(s.network, { [LABEL.managed]: 'true' });
      }
      // Listed again under the lock: another deploy may have finished while we waited.
      containers = await this.#appContainers();
      const serving = await servingContainer(ctx, containers);
      const tidied = await tidyInterrupted(ctx, containers, serving);
      if (tidied.removed.length + tidied.stopped.length > 0) containers = await this.#appContainers();
      const current = serving ? containers.find((c) => c.id === serving.id) : undefined;
      const running = containers.filter((c) => c.state === 'running');
      if (running.length > 1) ctx.log.warn(`${running.length} containers of ${s.app} are running (${running.map((c) => c.name).join(', ')}); replacing ${current?.name ?? 'the newest'}.`);

      let plan: SwapPlan;
      if (s.rollback) {
        const choice = await chooseRollback(ctx, containers, this.#provenance, current);
        ctx.log.info(`rolling back ${choice.plan.from?.name ?? '(nothing running)'} → ${choice.target}`);
        plan = choice.plan;
        report.image = choice.targetImage;
        report.imageDigest = choice.targetImage.split('@')[1] ?? '';
      } else {
        const p = pulled as PulledImage;
        const spec = appContainerSpec(s, {
          imageRef: p.ref,
          digest: p.digest,
          provenance: this.#provenance,
          ...(current ? { previous: { image: current.labels[LABEL.image] ?? current.image, deployedAt: current.labels[LABEL.deployedAt] ?? new Date(current.created * 1000).toISOString() } } : {}),
        });
        plan = { ...(current ? { from: current } : {}), to: { kind: 'create', spec }, preDeploy: s.preDeploy, postDeploy: s.postDeploy };
      }
      if (plan.from) report.previous = { id: plan.from.id, name: plan.from.name };
      const held = lock;
      plan.confirmLock = () => confirmDeployLock(ctx, held);

      const outcome = await this.#strategy.swap(ctx, plan);
      if (outcome.container) report.container = outcome.container;
      if (outcome.readiness) report.readinessMs = outcome.readiness.ms;
      if (outcome.downtimeMs !== undefined) report.downtimeMs = outcome.downtimeMs;
      report.rolledBack = outcome.rolledBack;
      if (!outcome.ok) {
        report.result = outcome.rolledBack ? 'rolled-back' : 'failed';
        throw new DeployFailedError(ctx.host, outcome);
      }
      report.result = s.rollback ? 'rolled-back-on-request' : 'deployed';

      // Cancelled: the switch stands, and the step must end within the runner's grace period.
      if (ctx.signal?.aborted) {
        ctx.log.info('cancelled: retention is left to the next deploy');
        return { report };
      }
      const protect = [outcome.container?.id, plan.from?.id].filter((id): id is string => !!id);
      report.retention = await ctx.clock.time('retention', () =>
        applyRetention(ctx.engine, s.app, s.keep, { protect, log: (l) => ctx.log.info(l), warn: (l) => ctx.log.warn(l) }),
      );
      return { report };
    } catch (error) {
      const failure = await explainLostConnection(ctx, error instanceof Error ? error : new Error(errorMessage(error)));
      report.error = failure.message;
      if (!isConfigurationError(error) && !(error instanceof DeployFailedError) && failure.stack) ctx.log.debug?.(failure.stack);
      return { report, error: failure };
    } finally {
      if (lock) await releaseDeployLock(ctx, lock, this.#locks);
      report.totalMs = Math.round(performance.now() - started);
    }
  }

  async #appContainers(): Promise<ContainerSummary[]> {
    const app = this.#ctx.settings.app;
    const list = await this.#ctx.engine.listContainers(appLabels(app));
    return list.filter((c) => c.labels[LABEL.app] === app && c.labels[LABEL.role] === 'app').sort(byDeployTime);
  }
}
