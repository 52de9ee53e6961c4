// The lab, end to end on its real parts: the target is reachable only through OpenVPN; the Docker API runs
// over one SSH connection (stream-local forwarding to the target's socket); an image pushed from the
// runner engine to the TLS + htpasswd registry is pulled on the target by digest.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { ClientRequestArgs } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labStatus, labUp, readLabState } from '../src/index.ts';
import type { LabState } from '../src/index.ts';
import { tcpProbe } from '../src/testing/probe.ts';

const ci = process.env['CI'] === 'true' || process.env['CI'] === '1';


async function httpGet(url: string, timeoutMs = 3000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return res.text();
}

/** http.Agent whose sockets are SSH channels to a unix socket on the far side (one SSH connection). */
class StreamLocalAgent extends http.Agent {
  readonly #client: Client;
  readonly #socketPath: string;
  constructor(client: Client, socketPath: string) {
    super({ keepAlive: false });
    this.#client = client;
    this.#socketPath = socketPath;
  }
  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    this.#client.openssh_forwardOutStreamLocal(this.#socketPath, (err, channel) => callback?.(err ?? null, channel));
    return undefined;
  }
}

function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function connectSsh(lab: LabState, fingerprint: string): Promise<Client> {
  const ssh = new Client();
  return new Promise((resolve, reject) => {
    ssh.once('ready', () => resolve(ssh));
    ssh.once('error', reject);
    ssh.connect({
      host: lab.target.sshHost,
      port: lab.target.sshPort,
      username: lab.target.username,
      privateKey: fs.readFileSync(lab.target.privateKeyFile, 'utf8'),
      hostVerifier: (key: Buffer) => sha256Fingerprint(key) === fingerprint,
      readyTimeout: 10_000,
      keepaliveInterval: 5000,
    });
  });
}

interface ProgressEvent {
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Digest?: string; ID?: string };
  status?: string;
}

function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<ProgressEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: ProgressEvent[]) => {
      if (err) return reject(err);
      const failed = output.find((e) => e.error);
      if (failed) return reject(new Error(failed.error));
      resolve(output);
    });
  });
}

/** The real OpenVPN client with the lab's inline config, as a child of this test, with its own log and pidfile. */
async function connectVpn(configFile: string, dir: string): Promise<ChildProcess> {
  const log = path.join(dir, 'openvpn.log');
  const child = spawn('openvpn', ['--config', configFile, '--log', log, '--writepid', path.join(dir, 'openvpn.pid')], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    if (text.includes('Initialization Sequence Completed')) return child;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  throw new Error(`the OpenVPN client did not connect:\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no log)'}`);
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

describe('the lab', () => {
  let lab: LabState;
  let vpn: ChildProcess | undefined;
  let ssh: Client | undefined;
  let runner: Docker;
  let target: Docker;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-lab-itg-'));
  const suffix = randomBytes(4).toString('hex');
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    const status = await labStatus();
    if (status.status === 'up') {
      lab = readLabState();
    } else if (ci) {
      throw new Error(`the lab is ${status.status}: under CI the lab tests need it up (npm run lab:up), they never skip`);
    } else {
      lab = await labUp({ printSummary: false });
    }
    runner = new Docker({ socketPath: lab.runner.socket });
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    // Close SSH while the tunnel still carries the goodbye, then take the tunnel down.
    const connection = ssh;
    if (connection) {
      const closed = new Promise<void>((r) => connection.once('close', () => r()));
      connection.end();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    }
    await stopChild(vpn);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('answers nothing on the target without the VPN', async () => {
    // 198.19.0.0/16 has no route but the VPN's: the connect fails at once, well within the bound.
    const started = Date.now();
    expect(await tcpProbe(lab.target.sshHost, lab.target.sshPort, 2000)).not.toBe('open');
    expect(Date.now() - started).toBeLessThan(2500);
    // The veth is firewalled: only OpenVPN's UDP port and replies get in.
    expect(await tcpProbe(lab.target.vethAddress, 22, 1500)).toBe('timeout');
  });

  it('connects the real OpenVPN client and reaches sshd only through it', async () => {
    vpn = await connectVpn(lab.vpn.configFile, tmp);
    expect(await tcpProbe(lab.target.sshHost, lab.target.sshPort, 3000)).toBe('open');
  });

  it('refuses a host key that is not the lab fingerprint', async () => {
    await expect(connectSsh(lab, 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).rejects.toThrow();
  });

  it('opens the Docker API over one SSH connection (stream-local forwarding)', async () => {
    ssh = await connectSsh(lab, lab.target.fingerprint);
    const client = ssh;
    // docker-modem hands `agent` to every request; @types/dockerode does not list it.
    const options: Docker.DockerOptions & { agent: http.Agent } = { protocol: 'http', host: 'target-docker', port: 80, agent: new StreamLocalAgent(client, lab.target.dockerSocket) };
    target = new Docker(options);
    const info = await target.info() as { Name: string; ServerVersion: string };
    expect(info.ServerVersion).toMatch(/^\d+\.\d+/);
    const images = await target.listImages();
    expect(images.flatMap((i) => i.RepoTags ?? [])).toEqual(expect.arrayContaining(['node:24-bookworm-slim', 'nginx:latest', 'nginx:stable']));
  });

  it('publishes container ports on the VPN address only, never on the veth', async () => {
    const name = `lab-itg-ports-${suffix}`;
    const container = await target.createContainer({
      name,
      Image: 'node:24-bookworm-slim',
      Cmd: ['node', '-e', "require('http').createServer((q, s) => s.end('lab-ok')).listen(8080)"],
      ExposedPorts: { '8080/tcp': {}, '8081/tcp': {} },
      HostConfig: {
        // One binding on every address (the firewall must hold), one on the engine's default (--ip).
        PortBindings: { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '18080' }], '8081/tcp': [{ HostPort: '18081' }] },
      },
    });
    cleanups.push(() => container.remove({ force: true }));
    await container.start();
    let body = '';
    for (let i = 0; i < 50 && body !== 'lab-ok'; i++) {
      body = await httpGet(`http://${lab.target.address}:18080/`).catch(() => '');
      if (body !== 'lab-ok') await new Promise((r) => setTimeout(r, 200));
    }
    expect(body).toBe('lab-ok');
    expect(await tcpProbe(lab.target.vethAddress, 18080, 1500)).toBe('timeout');
    expect(await tcpProbe(lab.target.vethAddress, 18081, 1500)).toBe('timeout');
    const inspect = await container.inspect();
    expect(inspect.NetworkSettings.Ports['8081/tcp']?.[0]?.HostIp).toBe(lab.target.address);
  });

  it('pushes from the runner engine to the registry and pulls by digest on the target', async () => {
    const repo = `${lab.registry.host}/lab-itg/hello`;
    const tag = `${repo}:${suffix}`;
    const context = path.join(tmp, 'context');
    fs.mkdirSync(context);
    fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    fs.writeFileSync(path.join(context, 'hello.txt'), `hello from the lab ${suffix}\n`);
    await follow(runner, await runner.buildImage({ context, src: ['Dockerfile', 'hello.txt'] }, { t: tag }));
    cleanups.push(() => runner.getImage(tag).remove({ force: true }));

    const authconfig = { username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.host };
    const pushed = await follow(runner, await runner.getImage(tag).push({ authconfig }));
    const digest = pushed.map((e) => e.aux?.Digest).find((d) => d !== undefined);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const ref = `${repo}@${digest}`;
    await follow(target, await target.pull(ref, { authconfig }));
    cleanups.push(() => target.getImage(ref).remove({ force: true }));
    const pulled = await target.getImage(ref).inspect();
    expect(pulled.RepoDigests).toContain(ref);

    // Without credentials the registry says no.
    await expect(target.pull(`${repo}:${suffix}`, {}).then((s) => follow(target, s))).rejects.toThrow();
  });
});
