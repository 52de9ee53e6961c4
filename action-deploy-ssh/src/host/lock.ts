// The deploy lock of one app on one host: a marker container with a fixed name. The Engine
// creates a name at most once (409 otherwise), so taking the lock is atomic without any file
// or shell on the server; its labels say who holds it. The marker is created, never started.
import { randomUUID } from 'node:crypto';
import { engineStatusCode, errorMessage, formatDuration, sleep } from '@gangway/kit';
import { lockName } from '../container/spec.ts';
import { LABEL, type Provenance } from '../labels.ts';
import { NameConflictError, type ContainerSummary, type DeployEngine } from './engine.ts';
import { tarArchive } from './tar.ts';

/**
 * The holder's heartbeat: a file in the (never started) marker container, rewritten with the
 * engine's time while the lock is held. Labels cannot change after create, files can; a lock is
 * stale once neither its acquired-at label nor this file is younger than the taker's lock-ttl.
 */
export const LOCK_HEARTBEAT_FILE = '/gangway-lock-heartbeat';

/** How often the holder refreshes its lock: well inside the shortest lock-ttl the settings accept. */
export function lockHeartbeatMs(ttlMs: number): number {
  return Math.max(1000, Math.min(15_000, Math.floor(ttlMs / 4)));
}

export interface LockHolder {
  runUrl: string;
  actor: string;
  gitSha: string;
  acquiredAt: string;
}

export interface HeldLock {
  containerId: string;
  name: string;
  token: string;
}

/** A marker on its way: its create was sent, the engine's answer (and so its id) not yet seen. */
export type PendingLock = Omit<HeldLock, 'containerId'>;

export interface LockOptions {
  app: string;
  /** The marker's name: the app's deploy lock (lockName) unless given, as for the host's edge lock. */
  name?: string;
  /** An image present on the server (the marker is created from it and never started). */
  image: string;
  provenance: Provenance;
  timeoutMs: number;
  ttlMs: number;
  log: (line: string) => void;
  warn: (line: string) => void;
  signal?: AbortSignal;
  pollMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Local clock, for the wait; staleness uses the engine's clock. */
  clock?: () => number;
  /**
   * Told before each create of the marker, and again (`taken` false) when the engine answered
   * without making it: the name was taken, or the create failed. A create whose answer never comes (the connection cut right after it was
   * sent) may still have made the marker: whoever keeps the pending lock can find it by name and
   * token and release it.
   */
  pending?: (lock: PendingLock, taken: 'maybe' | false) => void;
}

export class LockTimeoutError extends Error {
  readonly holder: LockHolder | undefined;
  constructor(app: string, waitedMs: number, holder: LockHolder | undefined) {
    super(`The deploy lock of ${app} is still held after ${formatDuration(waitedMs)}${holder ? ` by ${describeHolder(holder)}` : ''}. Wait for that deploy to finish, or raise lock-timeout.`);
    this.name = 'LockTimeoutError';
    this.holder = holder;
  }
}

export function describeHolder(h: LockHolder): string {
  return `${h.actor} (run ${h.runUrl}, sha ${h.gitSha.slice(0, 12)}, since ${h.acquiredAt})`;
}

function holderOf(labels: Record<string, string>): LockHolder {
  return {
    runUrl: labels[LABEL.runUrl] ?? 'unknown',
    actor: labels[LABEL.actor] ?? 'unknown',
    gitSha: labels[LABEL.gitSha] ?? 'unknown',
    acquiredAt: labels[LABEL.lockAcquiredAt] ?? 'unknown',
  };
}

async function currentLock(engine: DeployEngine, app: string, name = lockName(app)): Promise<ContainerSummary | undefined> {
  const list = await engine.listContainers({ [LABEL.role]: 'lock', [LABEL.app]: app });
  return list.find((c) => c.name === name);
}

/** Waits for and takes the lock. Throws LockTimeoutError naming the holder when the wait runs out. */
export async function acquireLock(engine: DeployEngine, options: LockOptions): Promise<HeldLock> {
  const name = options.name ?? lockName(options.app);
  const token = randomUUID();
  const pause = options.sleep ?? sleep;
  const clock = options.clock ?? Date.now;
  const started = clock();
  let lastAnnounced = -Infinity;
  let lastHolderToken: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const acquiredAt = (await engine.now()).toISOString();
    options.pending?.({ name, token }, 'maybe');
    try {
      const containerId = await engine.createContainer({
        name,
        Image: options.image,
        Cmd: ['gangway-deploy-lock'],
        Entrypoint: ['/gangway-lock-is-never-started'],
        Labels: {
          [LABEL.managed]: 'true',
          [LABEL.role]: 'lock',
          [LABEL.app]: options.app,
          [LABEL.runUrl]: options.provenance.runUrl,
          [LABEL.actor]: options.provenance.actor,
          [LABEL.gitSha]: options.provenance.gitSha,
          [LABEL.lockAcquiredAt]: acquiredAt,
          [LABEL.lockToken]: token,
        },
        HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'no' } },
      });
      const waitedMs = clock() - started;
      options.log(`lock ${name} taken${waitedMs >= 1000 ? ` after waiting ${formatDuration(waitedMs)}` : ''}`);
      return { containerId, name, token };
    } catch (error) {
      // The engine answered (409: the name is taken; any other status: the create failed and made nothing): nothing pending.
      // No answer (the connection cut): the marker may exist, so it stays pending for the post step.
      if (error instanceof NameConflictError || engineStatusCode(error) !== undefined) options.pending?.({ name, token }, false);
      if (!(error instanceof NameConflictError)) throw error;
    }
    const held = await currentLock(engine, options.app, name);
    if (!held) continue; // released between our create and our look: try again at once
    const holder = holderOf(held.labels);
    const beat = await lastHeartbeat(engine, held.id);
    const since = Math.max(Date.parse(holder.acquiredAt), beat ?? Number.NaN);
    const age = (await engine.now()).getTime() - (Number.isFinite(since) ? since : Date.parse(holder.acquiredAt));
    if (Number.isFinite(age) && age > options.ttlMs) {
      options.warn(`The deploy lock of ${options.app} is stale (held for ${formatDuration(age)}${beat !== undefined ? ' since its last heartbeat' : ''}, lock-ttl ${formatDuration(options.ttlMs)}) by ${describeHolder(holder)}: taking it over.`);
      // By id: if another deploy took over first, this removes nothing of theirs.
      await engine.removeContainer(held.id, { force: true, anonymousVolumes: true });
      continue;
    }
    const waited = clock() - started;
    if (waited >= options.timeoutMs) throw new LockTimeoutError(options.app, waited, holder);
    const holderToken = held.labels[LABEL.lockToken];
    if (holderToken !== lastHolderToken || clock() - lastAnnounced >= 30_000) {
      options.log(`waiting for the deploy lock of ${options.app}, held by ${describeHolder(holder)} (waited ${formatDuration(waited)} of ${formatDuration(options.timeoutMs)})`);
      lastAnnounced = clock();
      lastHolderToken = holderToken;
    }
    await pause(Math.min(options.pollMs ?? 2000, Math.max(50, options.timeoutMs - waited)), options.signal);
  }
}

/** Removes the marker if it is still ours (its token matches). True when it was released now. */
export async function releaseLock(engine: DeployEngine, lock: HeldLock): Promise<boolean> {
  const details = await engine.inspectContainer(lock.containerId);
  if (!details) return false;
  if (details.labels[LABEL.lockToken] !== lock.token) return false;
  await engine.removeContainer(lock.containerId, { force: true, anonymousVolumes: true });
  return true;
}

/** The engine time of the holder's last heartbeat (ms), if it wrote one. */
async function lastHeartbeat(engine: DeployEngine, markerId: string): Promise<number | undefined> {
  const text = await engine.readFile(markerId, LOCK_HEARTBEAT_FILE).catch(() => undefined);
  const t = text === undefined ? Number.NaN : Date.parse(text.trim());
  return Number.isFinite(t) ? t : undefined;
}

/** The lock is no longer this run's: taken over as stale by another deploy, or removed. */
export class LockLostError extends Error {
  constructor(app: string, holder: LockHolder | undefined) {
    super(
      `The deploy lock of ${app} is no longer this run's (${holder ? `now held by ${describeHolder(holder)}` : 'its marker is gone'}): another deploy may be changing ${app}, so this one stops before switching anything. If it was taken over as stale, raise lock-ttl on the other run.`,
    );
    this.name = 'LockLostError';
  }
}

/** Throws LockLostError unless the marker is still there with this run's token. */
export async function confirmLockHeld(engine: DeployEngine, app: string, lock: HeldLock): Promise<void> {
  const details = await engine.inspectContainer(lock.containerId);
  if (details && details.labels[LABEL.lockToken] === lock.token) return;
  const now = await currentLock(engine, app).catch(() => undefined);
  throw new LockLostError(app, now ? holderOf(now.labels) : undefined);
}

export interface LockHeartbeat {
  /** Set once a beat found the lock gone or another run's. */
  readonly lost: LockLostError | undefined;
  /** No more beats; waits for one in flight. */
  stop(): Promise<void>;
}

/**
 * Refreshes the lock every `intervalMs` (the engine's time into LOCK_HEARTBEAT_FILE) until
 * stopped, so that a long deploy (a slow readiness, a long settle-time, a hook) is never taken
 * for stale. A beat that fails only warns, once, and the next one tries again; a beat that finds
 * the lock no longer this run's stops beating and says so.
 */
export function startLockHeartbeat(engine: DeployEngine, app: string, lock: HeldLock, options: { intervalMs: number; warn: (line: string) => void }): LockHeartbeat {
  let stopped = false;
  let lost: LockLostError | undefined;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const beat = async (): Promise<void> => {
    try {
      await confirmLockHeld(engine, app, lock);
      const now = (await engine.now()).toISOString();
      await engine.putArchive(lock.containerId, '/', await tarArchive([{ name: LOCK_HEARTBEAT_FILE.slice(1), content: `${now}\n` }]));
      failing = false;
    } catch (error) {
      if (error instanceof LockLostError) {
        lost = error;
        options.warn(error.message);
        return;
      }
      if (!failing) options.warn(`Could not refresh the deploy lock ${lock.name} (${errorMessage(error)}); trying again in ${formatDuration(options.intervalMs)}`);
      failing = true;
    }
    if (!stopped) schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => {
      inFlight = beat();
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    get lost() {
      return lost;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
