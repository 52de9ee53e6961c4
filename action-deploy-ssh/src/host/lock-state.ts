// The locks this run holds, saved as step state so that the post step can release any that
// main could not (a killed process, a lost connection). Holds ids and tokens only: no secret.
import * as core from '@actions/core';
import type { HostPort } from '@gangway/kit';
import type { LockEvents } from './context.ts';
import type { HeldLock, LockOptions, PendingLock } from './lock.ts';

export const LOCKS_STATE = 'held-locks';

export interface SavedLock extends HeldLock {
  /** '' while the marker's create is unanswered: the post step looks it up by name and token. */
  containerId: string;
  host: string;
  sshHost: string;
  sshPort: number;
}

export class LockLedger {
  readonly #held = new Map<string, SavedLock>();

  add(host: string, hp: HostPort, lock: HeldLock): void {
    this.#held.set(`${host}|${lock.token}`, { ...lock, host, sshHost: hp.host, sshPort: hp.port });
    this.#save();
  }

  /** A create of the marker was sent: if its answer never comes, the post step still finds the marker by name and token. */
  taking(host: string, hp: HostPort, lock: PendingLock): void {
    this.add(host, hp, { ...lock, containerId: '' });
  }

  remove(host: string, lock: PendingLock): void {
    this.#held.delete(`${host}|${lock.token}`);
    this.#save();
  }

  #save(): void {
    core.saveState(LOCKS_STATE, JSON.stringify([...this.#held.values()]));
  }
}

export function savedLocks(raw: string): SavedLock[] {
  if (raw.trim() === '') return [];
  const parsed = JSON.parse(raw) as unknown;
  return Array.isArray(parsed) ? (parsed as SavedLock[]) : [];
}

/** acquireLock's pending callback, told to the run's lock events: a marker whose create is unanswered stays in the ledger. */
export function pendingToLedger(host: string, locks: LockEvents | undefined): NonNullable<LockOptions['pending']> {
  return (lock, taken) => (taken === 'maybe' ? locks?.taking?.(host, lock) : locks?.released(host, lock));
}
