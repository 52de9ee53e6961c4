// Issue #16, item 9: where the server forbids stream-local forwarding, the Docker API goes
// through `docker system dial-stdio` over exec; that must reach the engine at docker-socket,
// not the server's default one. Here the "server" has two engines on two sockets and runs the
// exec command as the docker CLI would: `-H unix://PATH` dials PATH, no -H dials the default.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDockerOverSsh } from '@gangway/kit/ssh';

/** POSIX shell words of a command line (single quotes and plain words: what shellQuote writes). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) {
    if (m[1] !== undefined) words.push(m[1].replace(/'\\''/g, "'"));
    else if (m[2] !== undefined) words.push(m[2]);
  }
  return words;
}

let dir = '';
const engines: http.Server[] = [];
let defaultSocket = '';
let configuredSocket = '';

/** A Docker Engine stand-in that answers /_ping and /info with its own name. */
function engine(socket: string, name: string): Promise<void> {
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', req.url?.endsWith('/_ping') ? 'text/plain' : 'application/json');
    res.end(req.url?.endsWith('/_ping') ? 'OK' : JSON.stringify({ Name: name, SystemTime: new Date().toISOString() }));
  });
  engines.push(server);
  return new Promise((resolve) => server.listen(socket, resolve));
}

/** An SSH client whose server refuses forwarding and runs `docker … system dial-stdio` like the CLI. */
function sshClient(commands: string[]): Client {
  return {
    openssh_forwardOutStreamLocal: (_socket: string, cb: (err: Error | undefined) => void) => cb(new Error('administratively prohibited: open failed')),
    exec: (command: string, cb: (err: Error | undefined, stream?: net.Socket) => void) => {
      commands.push(command);
      const argv = shellWords(command);
      const h = argv.indexOf('-H');
      const host = h === -1 ? `unix://${defaultSocket}` : (argv[h + 1] ?? '');
      if (argv[0] !== 'docker' || argv.slice(-2).join(' ') !== 'system dial-stdio' || !host.startsWith('unix://')) {
        cb(new Error(`unexpected command ${command}`));
        return;
      }
      const socket = net.connect(host.slice('unix://'.length));
      socket.once('connect', () => cb(undefined, socket));
      socket.once('error', (e) => cb(e));
    },
  } as unknown as Client;
}

describe('docker system dial-stdio', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gangway-dial-'));
    defaultSocket = path.join(dir, 'default.sock');
    // A rootless engine's socket, say: a path with a space and a quote must reach the CLI as one word.
    configuredSocket = path.join(dir, "rootless engine's.sock");
    await engine(defaultSocket, 'default-engine');
    await engine(configuredSocket, 'configured-engine');
  });
  afterAll(() => {
    for (const s of engines) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the engine at docker-socket, never the server\'s default one', async () => {
    const commands: string[] = [];
    const lines: string[] = [];
    const { docker, transport } = await openDockerOverSsh(sshClient(commands), configuredSocket, (l) => lines.push(l));
    expect(transport).toBe('dial-stdio');
    const info = (await docker.info()) as { Name: string };
    expect(info.Name).toBe('configured-engine');
    expect(commands[0]).toBe(`docker -H 'unix://${configuredSocket.replace(/'/g, `'\\''`)}' system dial-stdio`);
    expect(shellWords(commands[0] ?? '')).toEqual(['docker', '-H', `unix://${configuredSocket}`, 'system', 'dial-stdio']);
    expect(lines.join('\n')).toMatch(/trying docker -H unix:\/\/.* system dial-stdio/);
  });

  it('fails naming the socket when nothing listens there', async () => {
    await expect(openDockerOverSsh(sshClient([]), path.join(dir, 'missing.sock'))).rejects.toThrow(/The Docker API at .*missing\.sock could not be reached/);
  });
});
