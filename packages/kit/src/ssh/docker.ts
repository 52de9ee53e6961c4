import http from 'node:http';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import type { Client } from 'ssh2';
import { errorMessage, toError } from '../errors.ts';
import { shellQuote } from './exec.ts';

/** How the Engine API reaches the server's Docker socket. */
export type DockerTransport = 'stream-local' | 'dial-stdio';

/** ssh2 channels are Duplex streams; Node's HTTP client also calls a few socket methods. */
function asSocket(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>;
  for (const method of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref']) {
    if (typeof s[method] !== 'function') s[method] = () => s;
  }
  return s;
}

function streamLocal(client: Client, socketPath: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.openssh_forwardOutStreamLocal(socketPath, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/**
 * The exec command that reaches the Engine at `socketPath`: the docker CLI told which socket
 * (`-H unix://…`), so that it never falls back to the server's default engine (or DOCKER_HOST).
 * Every word is single-quoted as runOverSsh does: the path reaches the login shell as one word.
 */
export function dialStdioCommand(socketPath: string): string {
  return ['docker', '-H', `unix://${socketPath}`, 'system', 'dial-stdio'].map(shellQuote).join(' ');
}

function dialStdio(client: Client, socketPath: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.exec(dialStdioCommand(socketPath), (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

function agentFor(open: () => Promise<Duplex>): http.Agent {
  const agent = new http.Agent({ keepAlive: false, maxSockets: 8 });
  (agent as unknown as { createConnection: unknown }).createConnection = (_options: unknown, callback: (err: Error | null, socket?: Duplex) => void) => {
    open().then(
      (stream) => callback(null, asSocket(stream)),
      (error: unknown) => callback(toError(error)),
    );
    return undefined;
  };
  return agent;
}

export function dockerThrough(client: Client, transport: DockerTransport, socketPath: string): Docker {
  const open = transport === 'stream-local' ? () => streamLocal(client, socketPath) : () => dialStdio(client, socketPath);
  return new Docker({ protocol: 'http', host: 'docker.invalid', port: 80, agent: agentFor(open) } as Docker.DockerOptions);
}

/**
 * The Docker Engine API of the server, over the one SSH connection: stream-local forwarding
 * to `socketPath` (no shell, no docker CLI on the server), or `docker system dial-stdio`
 * over exec where the server forbids forwarding. Proves the connection with a ping.
 */
export async function openDockerOverSsh(client: Client, socketPath: string, log?: (line: string) => void): Promise<{ docker: Docker; transport: DockerTransport }> {
  const forwarded = dockerThrough(client, 'stream-local', socketPath);
  try {
    await forwarded.ping();
    return { docker: forwarded, transport: 'stream-local' };
  } catch (error) {
    log?.(`stream-local forwarding to ${socketPath} failed (${errorMessage(error)}); trying docker -H unix://${socketPath} system dial-stdio`);
  }
  const viaExec = dockerThrough(client, 'dial-stdio', socketPath);
  try {
    await viaExec.ping();
    return { docker: viaExec, transport: 'dial-stdio' };
  } catch (error) {
    throw new Error(
      `The Docker API at ${socketPath} could not be reached over SSH, neither by socket forwarding nor by "docker system dial-stdio" (${errorMessage(error)}). Check docker-socket, that the user may use it (docker group), and AllowStreamLocalForwarding on the server.`,
      { cause: error },
    );
  }
}
