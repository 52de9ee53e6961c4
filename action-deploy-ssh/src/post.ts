// The post step: releases any deploy lock main still held (main releases in `finally`; this
// covers a process that was killed or a connection that dropped). Only warns on failure.
// A lock still held by this run means main died in the middle of its deploy, and that no
// other deploy of the app can be running on that host: so a container this run created under
// the lock that the blue-green proxy does not forward to (main was killed before the switch)
// is removed first; it would otherwise run on without ever getting traffic.
import { blueGreenOf } from './settings/rollout.ts';
import * as core from '@actions/core';
import { errorMessage, Inputs } from '@gangway/kit';
import { connectHost, type ConnectHost } from './host/connection.ts';
import { appLabels } from './container/spec.ts';
import { LABEL, provenanceFromEnv } from './labels.ts';
import type { DeployEngine } from './host/engine.ts';
import { releaseLock } from './host/lock.ts';
import { LOCKS_STATE, savedLocks, type SavedLock } from './host/lock-state.ts';
import { frontOf } from './container/front.ts';
import { readSettings, type DeploySettings } from './settings/index.ts';

export interface PostDependencies {
  inputs?: Inputs;
  connect?: ConnectHost;
  env?: NodeJS.ProcessEnv;
}

/**
 * Under our own lock (main was killed holding it): the app containers this run created since
 * it took the lock and never switched the proxy to. Blue-green only: under recreate the new
 * container publishes the port itself and may be all that serves.
 */
export async function unswitchedContainers(engine: DeployEngine, settings: DeploySettings, lockLabels: Record<string, string>, runUrl: string): Promise<Array<{ id: string; name: string }>> {
  if (!blueGreenOf(settings)) return [];
  const acquiredAt = Date.parse(lockLabels[LABEL.lockAcquiredAt] ?? '');
  if (!Number.isFinite(acquiredAt)) return [];
  const front = frontOf(settings);
  if (!front) return [];
  const state = await front.state(engine, settings);
  // A front whose config cannot be read: nothing can be told apart safely.
  if (!state.readable) return [];
  const upstream = state.upstream;
  const list = await engine.listContainers(appLabels(settings.app));
  return list.filter(
    (c) =>
      c.labels[LABEL.app] === settings.app &&
      c.labels[LABEL.role] === 'app' &&
      c.labels[LABEL.runUrl] === runUrl &&
      c.name !== upstream &&
      (c.state === 'running' || c.state === 'created' || c.state === 'restarting') &&
      // Engine seconds against the lock's engine time: created under this lock, not by an earlier step of the run.
      c.created >= Math.floor(acquiredAt / 1000),
  );
}

async function releaseLeftLock(engine: DeployEngine, settings: DeploySettings, lock: SavedLock, runUrl: string, log: (line: string) => void): Promise<void> {
  // No id: main sent the marker's create and never heard back. The marker is ours if it is there with our token.
  const pending = lock.containerId === '';
  const details = await engine.inspectContainer(pending ? lock.name : lock.containerId);
  if (!details || details.labels[LABEL.lockToken] !== lock.token) {
    log(pending ? `main lost the connection while taking the deploy lock ${lock.name}, and it is not there under this run's token: never made, or already released` : `the deploy lock ${lock.name} was already released`);
    return;
  }
  if (pending) log(`the deploy lock ${lock.name} is this run's: main took it but lost the engine's answer`);
  for (const c of await unswitchedContainers(engine, settings, details.labels, runUrl)) {
    await engine.removeContainer(c.id, { force: true, anonymousVolumes: true });
    log(`removed ${c.name}: this run started it but never switched the proxy to it`);
  }
  const released = await releaseLock(engine, { ...lock, containerId: details.id });
  log(released ? `released the deploy lock ${lock.name}` : `the deploy lock ${lock.name} was already released`);
}

export async function post(signal: AbortSignal, deps: PostDependencies = {}): Promise<void> {
  const locks = savedLocks(core.getState(LOCKS_STATE));
  if (locks.length === 0) {
    core.info('No deploy lock left to release.');
    return;
  }
  const settings = readSettings(deps.inputs ?? new Inputs());
  const connect = deps.connect ?? connectHost;
  const runUrl = provenanceFromEnv(deps.env ?? process.env).runUrl;
  for (const lock of locks) {
    const log = (l: string): void => core.info(`[${lock.host}] ${l}`);
    try {
      const connection = await connect(settings, { host: lock.sshHost, port: lock.sshPort }, log, signal);
      try {
        await releaseLeftLock(connection.engine, settings, lock, runUrl, log);
      } finally {
        connection.close();
      }
    } catch (error) {
      core.warning(`[${lock.host}] Could not release the deploy lock ${lock.name}: ${errorMessage(error)}. It is taken over after lock-ttl.`);
    }
  }
}
