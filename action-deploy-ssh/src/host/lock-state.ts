// The locks this run holds, saved as step state so that the post step can release any that
// main could not (a killed process, a lost connection). Holds ids and tokens only: no secret.
import * as core from '@actions/core';
import type { HostPort } from '@gangway/kit';
import type { HeldLock } from './lock.ts';

export const LOCKS_STATE = 'held-locks';

export interface SavedLock extends HeldLock {
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

  remove(host: string, lock: HeldLock): void {
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
