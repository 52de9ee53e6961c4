// The steps every deployer (containers and Swarm) takes on a host before it changes anything,
// and the one it takes last: the image pulled (room checked first, a full disk explained, a
// HEALTHCHECK required when readiness-path is "docker"), the deploy lock taken, and released.
import { ConfigurationError, errorMessage, formatImageReference, type ImageReference } from '@gangway/kit';
import { ensureRoomForPull, isNoSpaceError, noSpaceError } from './disk-space.ts';
import type { HostContext, LockEvents } from './context.ts';
import { acquireLock, confirmLockHeld, lockHeartbeatMs, releaseLock, startLockHeartbeat, type HeldLock, type LockHeartbeat } from './lock.ts';
import { pendingToLedger } from './lock-state.ts';
import { pullImage, type PulledImage } from './pull.ts';

export type { LockEvents };

/**
 * With `gpus`: the engine must have the NVIDIA runtime (the NVIDIA Container Toolkit, configured for
 * Docker), or the new container could not start. Asked before anything is pulled, stopped or made.
 */
export async function ensureGpuRuntime(ctx: HostContext): Promise<void> {
  const runtimes = await ctx.engine.runtimes();
  if (runtimes.includes('nvidia')) return;
  throw new ConfigurationError(
    `Input "gpus": the Docker engine on ${ctx.host} has no NVIDIA runtime (its runtimes: ${runtimes.sort().join(', ') || 'none'}), so it cannot give the app GPUs. Nothing was changed. On the server, install the NVIDIA Container Toolkit, run nvidia-ctk runtime configure --runtime=docker and restart Docker; or remove gpus.`,
    'gpus',
  );
}

/** The deploy's image on the server, by digest; nothing running is touched before it is there. */
export async function pullForDeploy(ctx: HostContext, image: ImageReference): Promise<PulledImage> {
  const s = ctx.settings;
  // Before anything is pulled: a pull that fills the data-root would also stop the running app's writes.
  await ensureRoomForPull(ctx, image);
  const pulled = await ctx.clock
    .time('pull', () =>
      ctx.log.group(`pull ${formatImageReference(image)}`, () => pullImage(ctx.engine, image, { ...(s.registry ? { registry: s.registry } : {}), log: (l) => ctx.log.info(l) })),
    )
    .catch(async (error: unknown) => {
      throw isNoSpaceError(error) ? await noSpaceError(ctx, image, error) : error;
    });
  ctx.log.info(`pulled ${pulled.requested} → ${pulled.ref}`);
  if (s.readiness.kind === 'docker' && !pulled.hasHealthcheck) {
    throw new ConfigurationError(`readiness-path is "docker" but ${pulled.ref} has no HEALTHCHECK. Add one to the Dockerfile, or give an HTTP readiness-path.`, 'readiness-path');
  }
  return pulled;
}

/** Waits for and takes the app's deploy lock on this host (`image`: one present there, for the marker). */
export async function takeDeployLock(ctx: HostContext, image: string, locks: LockEvents): Promise<HeldLock> {
  const s = ctx.settings;
  const lock = await ctx.clock.time('lock', () =>
    acquireLock(ctx.engine, {
      app: s.app,
      image,
      provenance: ctx.provenance,
      timeoutMs: s.lockTimeoutMs,
      ttlMs: s.lockTtlMs,
      log: (l) => ctx.log.info(l),
      warn: (l) => ctx.log.warn(l),
      pending: pendingToLedger(ctx.host, locks),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
  );
  locks.acquired(ctx.host, lock);
  heartbeats.set(lock.token, startLockHeartbeat(ctx.engine, s.app, lock, { intervalMs: lockHeartbeatMs(s.lockTtlMs), warn: (l) => ctx.log.warn(l) }));
  return lock;
}

/** The heartbeat of each lock this process holds (by token), stopped when the lock is released. */
const heartbeats = new Map<string, LockHeartbeat>();

/**
 * Right before a switch: the lock must still be this run's (not taken over as stale by another
 * deploy, not removed by hand). Throws LockLostError otherwise, so nothing is switched.
 */
export async function confirmDeployLock(ctx: HostContext, lock: HeldLock): Promise<void> {
  const lost = heartbeats.get(lock.token)?.lost;
  if (lost) throw lost;
  await confirmLockHeld(ctx.engine, ctx.settings.app, lock);
}

/** Releases the lock; on failure only warns (the post step tries again). Never throws. */
export async function releaseDeployLock(ctx: HostContext, lock: HeldLock, locks: LockEvents): Promise<void> {
  await heartbeats.get(lock.token)?.stop();
  heartbeats.delete(lock.token);
  await ctx.clock
    .time('unlock', () => releaseLock(ctx.engine, lock))
    .then(() => locks.released(ctx.host, lock))
    .catch((e: unknown) => ctx.log.warn(`Could not release the deploy lock ${lock.name}: ${errorMessage(e)} (the post step tries again)`));
}
