import { ConfigurationError } from '../errors.ts';

/** Where a Docker engine answers: a unix socket or a TCP address (plain HTTP or TLS). */
export type DockerHost =
  | { kind: 'unix'; socketPath: string; url: string }
  | { kind: 'tcp'; host: string; port: number; tls: boolean; url: string };

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The engine a runner step talks to when nothing is given: `DOCKER_HOST`, else the default socket. */
export function defaultDockerHost(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['DOCKER_HOST']?.trim();
  return fromEnv ? fromEnv : `unix://${DEFAULT_DOCKER_SOCKET}`;
}

/**
 * Parses a Docker host as the docker CLI writes it: `unix:///var/run/docker.sock`, a bare
 * socket path, `tcp://host:2375`, `tcp://host:2376` (TLS when `tls` is set, or for the
 * TLS port by convention), `http://` and `https://`. `ssh://` is refused: open the SSH
 * connection yourself (the deploy action does) and hand the engine a socket.
 */
export function parseDockerHost(raw: string, input: string, options: { tls?: boolean } = {}): DockerHost {
  const value = raw.trim();
  const hint = 'Write it as unix:///var/run/docker.sock or tcp://host:2375.';
  if (value === '') throw new ConfigurationError(`Input "${input}" is empty. ${hint}`, input);
  if (value.startsWith('/')) return { kind: 'unix', socketPath: value, url: `unix://${value}` };
  const match = /^([a-z]+):\/\/(.*)$/.exec(value);
  if (!match) throw new ConfigurationError(`Input "${input}" is "${value}", which is not a Docker host. ${hint}`, input);
  const scheme = match[1] as string;
  const rest = match[2] as string;
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) throw new ConfigurationError(`Input "${input}" is "${value}": a unix socket needs an absolute path (three slashes: unix:///path). ${hint}`, input);
    return { kind: 'unix', socketPath: rest, url: value };
  }
  if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    const hostPort = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(rest);
    if (!hostPort) throw new ConfigurationError(`Input "${input}" is "${value}": expected ${scheme}://host:port. ${hint}`, input);
    const host = (hostPort[1] as string).replace(/^\[|\]$/g, '');
    const port = hostPort[2] === undefined ? (scheme === 'https' ? 2376 : 2375) : Number(hostPort[2]);
    if (port < 1 || port > 65535) throw new ConfigurationError(`Input "${input}" is "${value}": the port is out of range. ${hint}`, input);
    const tls = scheme === 'https' || (scheme === 'tcp' && (options.tls ?? port === 2376));
    return { kind: 'tcp', host, port, tls, url: value };
  }
  if (scheme === 'ssh') {
    throw new ConfigurationError(`Input "${input}" is "${value}": ssh:// engines are not supported here. Forward the remote Docker socket to a local one, or use tcp://.`, input);
  }
  throw new ConfigurationError(`Input "${input}" is "${value}": the scheme "${scheme}" is not a Docker host scheme. ${hint}`, input);
}

/** Connection options in the shape docker-modem (dockerode) takes. */
export function dockerModemOptions(host: DockerHost, tlsFiles?: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Record<string, unknown> {
  if (host.kind === 'unix') return { socketPath: host.socketPath };
  return { host: host.host, port: host.port, protocol: host.tls ? 'https' : 'http', ...(host.tls && tlsFiles ? tlsFiles : {}) };
}
