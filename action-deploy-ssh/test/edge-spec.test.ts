// The edge's container spec and the socket table it drains on, by value; its command, run by a real sh.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { connectionsTo, dialsTo, EDGE_COMMAND_SCRIPT, edgeContainerSpec, edgeSpecHash, listenersOn, parseProcNetTcp, type EdgeDesign, type TcpSocket } from '../src/edge/edge-spec.ts';
import { waitForEdgeRetries } from '../src/edge/edge.ts';

// As the kernel writes them: addresses in host byte order (little-endian here), ports in hex.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3350312 1 0000000000000000 100 0 0 10 0
   1: 010012C6:A1B2 0300C8C6:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3350651 1 0000000000000000 100 0 0 10 0
   2: 010012C6:A1B3 0300C8C6:1F90 06 00000000:00000000 00:00000000 00000000     0        0 3350652 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF0000010012C6:A1B4 0000000000000000FFFF00000300C8C6:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
`;

describe('edge spec', () => {
  it('reads /proc/net/tcp and tcp6: listeners per port, and open connections to a container (IPv4-mapped too)', () => {
    const sockets = parseProcNetTcp(`${TCP}${TCP6}`);
    expect(sockets).toHaveLength(5);
    expect(sockets[1]).toEqual({ local: { address: '198.18.0.1', port: 0xa1b2 }, remote: { address: '198.200.0.3', port: 8080 }, state: '01' });
    expect(listenersOn(sockets, 80)).toBe(1);
    expect(listenersOn(sockets, 443)).toBe(1);
    // One established over IPv4, one over IPv6 (mapped); the TIME_WAIT one (06) is no request in flight.
    expect(connectionsTo(sockets, '198.200.0.3', 8080)).toBe(2);
    expect(connectionsTo(sockets, '198.200.0.4', 8080)).toBe(0);
  });

  it('counts the connections the edge is still opening (SYN_SENT) to a container, apart from the open ones', () => {
    const syn = `   3: 010012C6:A1B5 0400C8C6:1F90 02 00000001:00000000 01:00000064 00000002     0        0 0 1 0000000000000000 100 0 0 10 0\n`;
    const sockets = parseProcNetTcp(`${TCP}${syn}${TCP6}`);
    expect(dialsTo(sockets, '198.200.0.4', 8080)).toBe(1);
    expect(dialsTo(sockets, '198.200.0.3', 8080)).toBe(0);
    expect(connectionsTo(sockets, '198.200.0.4', 8080)).toBe(0);
  });

  describe('waitForEdgeRetries (before a rollback loads a config without the failed container)', () => {
    const failed = { address: '198.200.0.4', port: 8080 };
    const dialing: TcpSocket = { local: { address: '198.18.0.1', port: 40000 }, remote: failed, state: '02' };
    const timing = { pollMs: 10, capMs: 200, windowMs: 40 };

    it('waits until no connection to the failed container is opening any more, then one retry window', async () => {
      const reads = [[dialing, dialing], [dialing], []];
      let calls = 0;
      const waited = await waitForEdgeRetries(() => Promise.resolve(reads[Math.min(calls++, reads.length - 1)] ?? []), failed, timing);
      expect(calls).toBe(3);
      expect(waited.dials).toBe(2);
      expect(waited.ms).toBeGreaterThanOrEqual(2 * timing.pollMs + timing.windowMs - 1);
    });

    it('with nothing opening, waits the retry window alone', async () => {
      const waited = await waitForEdgeRetries(() => Promise.resolve([]), failed, timing);
      expect(waited.dials).toBe(0);
      expect(waited.ms).toBeGreaterThanOrEqual(timing.windowMs - 1);
      expect(waited.ms).toBeLessThan(timing.capMs);
    });

    it("gives up on dials that never end at the cap (Caddy's dial timeout), then waits the window", async () => {
      const waited = await waitForEdgeRetries(() => Promise.resolve([dialing]), failed, timing);
      expect(waited.dials).toBe(1);
      expect(waited.ms).toBeGreaterThanOrEqual(timing.capMs + timing.windowMs - 1);
      expect(waited.ms).toBeLessThan(timing.capMs + timing.windowMs + 500);
    });
  });

  it('runs Caddy on the host network with its two volumes and a graceful stop; the hash follows image and ports', () => {
    const design: EdgeDesign = { imageId: 'sha256:1', imageRef: 'caddy:2', httpPort: 80, httpsPort: 443, stopTimeoutS: 35, mounts: [] };
    const spec = edgeContainerSpec(design, 'gangway-edge');
    expect(spec).toMatchObject({ name: 'gangway-edge', Image: 'caddy:2', Cmd: ['sh', '-c', EDGE_COMMAND_SCRIPT, 'gangway-edge', '/etc/gangway-edge/caddy.json', '/etc/gangway-edge/watch', '/etc/gangway-edge/.load.lock'], StopSignal: 'SIGTERM', StopTimeout: 35 });
    expect(spec.HostConfig?.NetworkMode).toBe('host');
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(spec.HostConfig?.Mounts?.map((m) => `${m.Source}:${m.Target}`)).toEqual(['gangway-edge-config:/etc/gangway-edge', 'gangway-edge-data:/data']);
    expect(spec.Labels?.['gangway.role']).toBe('edge');
    expect(edgeSpecHash(design)).toBe(edgeSpecHash({ ...design }));
    expect(edgeSpecHash({ ...design, imageRef: 'caddy:2.8' })).not.toBe(edgeSpecHash(design));
    expect(edgeSpecHash({ ...design, httpsPort: 8443 })).not.toBe(edgeSpecHash(design));
    // Certificate directories on the server: mounted read-only at the same path; a new one is a new edge.
    const withFiles = edgeContainerSpec({ ...design, mounts: ['/etc/letsencrypt', '/srv/certs'] }, 'gangway-edge');
    expect(withFiles.HostConfig?.Mounts?.slice(2)).toEqual([
      // Under a root of their own: a server directory never covers one of the edge image's (/etc/ssl, /usr/bin, /data).
      { Type: 'bind', Source: '/etc/letsencrypt', Target: '/gangway-host/etc/letsencrypt', ReadOnly: true },
      { Type: 'bind', Source: '/srv/certs', Target: '/gangway-host/srv/certs', ReadOnly: true },
    ]);
    expect(withFiles.Labels?.['gangway.edge.mounts']).toBe('/etc/letsencrypt,/srv/certs');
    expect(edgeSpecHash({ ...design, mounts: ['/etc/letsencrypt'] })).not.toBe(edgeSpecHash(design));
  });

  it('runs Caddy under a watch that reloads it when a certificate file on the server changes, and stops with Caddy on SIGTERM', async () => {
    // A real sh and flock; `caddy` is a stand-in on PATH that logs what it is asked.
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-edge-command-'));
    try {
      const log = path.join(dir, 'caddy.log');
      mkdirSync(path.join(dir, 'bin'));
      writeFileSync(path.join(dir, 'bin/caddy'), `#!/bin/sh\nif [ "$1" = run ]; then trap 'echo stopped >> ${log}; exit 0' TERM; echo "run $*" >> ${log}; while :; do sleep 0.05; done; fi\necho "$*" >> ${log}\n`);
      chmodSync(path.join(dir, 'bin/caddy'), 0o755);
      const cert = path.join(dir, 'fullchain.pem');
      writeFileSync(cert, 'first certificate');
      writeFileSync(path.join(dir, 'watch'), `1\n${cert}\n`);
      const child = spawn('sh', ['-c', EDGE_COMMAND_SCRIPT, 'gangway-edge', path.join(dir, 'caddy.json'), path.join(dir, 'watch'), path.join(dir, '.load.lock')], { env: { PATH: `${dir}/bin:/usr/bin:/bin` }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const reloads = () => (existsSync(log) ? readFileSync(log, 'utf8') : '').split('\n').filter((l) => l.startsWith('reload')).length;
      await sleep(2500);
      expect(reloads()).toBe(0);
      // certbot renews: the file's content changes; within an interval or two the edge reloads, once.
      writeFileSync(cert, 'renewed certificate');
      const deadline = Date.now() + 5000;
      while (reloads() === 0 && Date.now() < deadline) await sleep(100);
      await sleep(1500);
      expect(readFileSync(log, 'utf8')).toContain(`reload --config ${path.join(dir, 'caddy.json')} --force`);
      expect(reloads()).toBe(1);
      expect(out).toContain('config reloaded');
      expect(existsSync(path.join(dir, '.load.lock'))).toBe(true);
      // Stop: SIGTERM reaches Caddy, and the script ends with it at once (not after its interval).
      const stopAt = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - stopAt).toBeLessThan(1000);
      expect(readFileSync(log, 'utf8')).toContain('stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits with Caddy when Caddy exits on its own (the engine restarts it), not an interval later', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-edge-crash-'));
    try {
      mkdirSync(path.join(dir, 'bin'));
      writeFileSync(path.join(dir, 'bin/caddy'), '#!/bin/sh\n[ "$1" = run ] && { sleep 0.5; exit 3; }\nexit 0\n');
      chmodSync(path.join(dir, 'bin/caddy'), 0o755);
      writeFileSync(path.join(dir, 'watch'), '600\n');
      const started = Date.now();
      const child = spawn('sh', ['-c', EDGE_COMMAND_SCRIPT, 'gangway-edge', path.join(dir, 'caddy.json'), path.join(dir, 'watch'), path.join(dir, '.load.lock')], { env: { PATH: `${dir}/bin:/usr/bin:/bin` }, stdio: 'ignore' });
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(3);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
