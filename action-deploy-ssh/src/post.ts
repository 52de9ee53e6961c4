// The post step: releases any deploy lock main still held (main releases in `finally`; this
// covers a process that was killed or a connection that dropped). Only warns on failure.
import * as core from '@actions/core';
import { errorMessage, Inputs } from '@gangway/kit';
import { connectHost, type ConnectHost } from './connection.ts';
import { releaseLock } from './lock.ts';
import { LOCKS_STATE, savedLocks } from './lock-state.ts';
import { readSettings } from './settings.ts';

export async function post(signal: AbortSignal, deps: { inputs?: Inputs; connect?: ConnectHost } = {}): Promise<void> {
  const locks = savedLocks(core.getState(LOCKS_STATE));
  if (locks.length === 0) {
    core.info('No deploy lock left to release.');
    return;
  }
  const settings = readSettings(deps.inputs ?? new Inputs());
  const connect = deps.connect ?? connectHost;
  for (const lock of locks) {
    try {
      const connection = await connect(settings, { host: lock.sshHost, port: lock.sshPort }, (l) => core.info(`[${lock.host}] ${l}`), signal);
      try {
        const released = await releaseLock(connection.engine, lock);
        core.info(`[${lock.host}] ${released ? `released the deploy lock ${lock.name}` : `the deploy lock ${lock.name} was already released`}`);
      } finally {
        connection.close();
      }
    } catch (error) {
      core.warning(`[${lock.host}] Could not release the deploy lock ${lock.name}: ${errorMessage(error)}. It is taken over after lock-ttl.`);
    }
  }
}
