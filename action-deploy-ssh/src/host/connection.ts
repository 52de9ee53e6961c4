// One SSH connection per host, and over it the Docker Engine API and the readiness prober.
import type { HostPort } from '@gangway/kit';
import { httpGetThroughSsh, openDockerOverSsh, openSsh, type DockerTransport, type SshEndpoint } from '@gangway/kit/ssh';
import { sshDiskProbe, type DiskProbe } from './disk-space.ts';
import { dockerEngine, type DeployEngine, type DockerInfo } from './engine.ts';
import type { HttpProber } from './context.ts';
import { dockerSwarmEngine, type SwarmEngine } from '../swarm/engine.ts';
import { type DeploySettings } from '../settings/index.ts';
import { dockerSocketFor } from '../settings/ssh.ts';

export interface HostConnection {
  engine: DeployEngine;
  prober: HttpProber;
  /** target: swarm — the same engine's Swarm calls. */
  swarm?: SwarmEngine;
  transport: DockerTransport;
  hostKey: string;
  /** The free space of the engine's data-root, measured over the same connection. */
  disk?: DiskProbe;
  /** Why the connection broke after it was made (reset, keepalive timeout, server gone), if it did. */
  readonly lost: () => Error | undefined;
  close(): void;
}

export type ConnectHost = (settings: DeploySettings, host: HostPort, log: (line: string) => void, signal?: AbortSignal) => Promise<HostConnection>;

export function endpointFor(settings: DeploySettings, host: HostPort): SshEndpoint {
  return { host: host.host, port: host.port, ...settings.login, trust: settings.trust };
}

export const connectHost: ConnectHost = async (settings, host, log, signal) => {
  const jump = settings.jump;
  const session = await openSsh(endpointFor(settings, host), {
    connectTimeoutMs: settings.connectTimeoutMs,
    attempts: settings.connectAttempts,
    // 5 s × 3 unanswered: a connection that falls silent (a VPN whose server died) fails in ~15-20 s.
    keepaliveIntervalMs: 5_000,
    log,
    ...(signal ? { signal } : {}),
    ...(jump ? { jump: { host: jump.host, port: jump.port, username: jump.username, ...(jump.privateKey ? { privateKey: jump.privateKey } : {}), ...(jump.passphrase ? { passphrase: jump.passphrase } : {}), trust: jump.trust } } : {}),
  });
  try {
    const { docker, transport } = await openDockerOverSsh(session.client, dockerSocketFor(settings, host), log);
    const prober: HttpProber = {
      get: (h, port, path, timeoutMs, probeSignal) => httpGetThroughSsh(session.client, { host: h, port, path }, { timeoutMs, ...(probeSignal ? { signal: probeSignal } : {}) }),
    };
    // A `docker info` asked now serves the disk check (the data-root) and the lock (the engine's clock): neither waits for its own.
    const info = docker.info() as Promise<DockerInfo>;
    const engine = dockerEngine(docker, info);
    return { engine, swarm: dockerSwarmEngine(docker), prober, transport, hostKey: session.hostKey, disk: sshDiskProbe(docker, session.client, info), lost: () => session.lost, close: () => session.close() };
  } catch (error) {
    session.close();
    throw error;
  }
};
