// The deploy lock of one app on one host: a marker container with a fixed name. The Engine
// creates a name at most once (409 otherwise), so taking the lock is atomic without any file
// or shell on the server; its labels say who holds it. The marker is created, never started.
import { randomUUID } from 'node:crypto';
import { formatDuration, sleep } from '@gangway/kit';
import { LABEL, lockName, type Provenance } from './container-spec.ts';
import { NameConflictError, type ContainerSummary, type DeployEngine } from './engine.ts';

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

export interface LockOptions {
  app: string;
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

async function currentLock(engine: DeployEngine, app: string): Promise<ContainerSummary | undefined> {
  const name = lockName(app);
  const list = await engine.listContainers({ [LABEL.role]: 'lock', [LABEL.app]: app });
  return list.find((c) => c.name === name);
}

/** Waits for and takes the lock. Throws LockTimeoutError naming the holder when the wait runs out. */
export async function acquireLock(engine: DeployEngine, options: LockOptions): Promise<HeldLock> {
  const name = lockName(options.app);
  const token = randomUUID();
  const pause = options.sleep ?? sleep;
  const clock = options.clock ?? Date.now;
  const started = clock();
  let lastAnnounced = -Infinity;
  let lastHolderToken: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const acquiredAt = (await engine.now()).toISOString();
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
      if (!(error instanceof NameConflictError)) throw error;
    }
    const held = await currentLock(engine, options.app);
    if (!held) continue; // released between our create and our look: try again at once
    const holder = holderOf(held.labels);
    const age = (await engine.now()).getTime() - Date.parse(holder.acquiredAt);
    if (Number.isFinite(age) && age > options.ttlMs) {
      options.warn(`The deploy lock of ${options.app} is stale (held for ${formatDuration(age)}, lock-ttl ${formatDuration(options.ttlMs)}) by ${describeHolder(holder)}: taking it over.`);
      // By id: if another deploy took over first, this removes nothing of theirs.
      await engine.removeContainer(held.id, { force: true });
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
  await engine.removeContainer(lock.containerId, { force: true });
  return true;
}
