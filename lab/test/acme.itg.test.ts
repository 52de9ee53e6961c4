// The lab's ACME CA end to end on its real parts (issue #18): Debian's lego, run inside the first target's
// network namespace, obtains certificates from the lab's pebble. Pebble (on the host) resolves the test
// hostname through pebble-challtestsrv to the target's veth address and validates on the edge's ports:
// http-01 on 80 (lego bound to the target's VPN address only, so the challenge must come through the
// namespace's DNAT to it), http-01 answered by a container published on port 80 of the VPN address (the
// engine's default: the path an edge container's challenges take) and tls-alpn-01 on 443. Each
// certificate must chain to the root pebble's management API serves right now, and the short-lived pebble's
// certificate must live exactly its configured lifetime. Run it holding the lab lock:
//   flock /tmp/gangway-lab.lock npx vitest run --project lab lab/test/acme.itg.test.ts
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from '../../app/test/prerequisite.ts';
import { fetchAcmeRoot } from '../src/acme.ts';
import { netnsPath } from '../src/net.ts';
import { labStateExists, readLabState } from '../src/state.ts';
import type { AcmeCaState, AcmeState, LabState, TargetState } from '../src/state.ts';

const lab: LabState | undefined = labStateExists() ? readLabState() : undefined;
const legoInstalled = spawnSync('lego', ['--version'], { encoding: 'utf8' }).status === 0;

function missingPrerequisite(): string | undefined {
  if (!lab) return 'no lab is up (lab/.state/lab.json is missing): flock /tmp/gangway-lab.lock npm run lab:up';
  if (!lab.acme) return 'the lab has no ACME CA (it was started before lab/src/acme.ts existed): flock /tmp/gangway-lab.lock npm run lab:up adds it';
  if (!legoInstalled) return 'lego is not installed: node scripts/system-packages.ts --install';
  if (process.getuid?.() !== 0) return 'entering the target\'s network namespace needs root';
  return undefined;
}

interface LegoResult {
  code: number | null;
  output: string;
  ms: number;
}

/** lego inside a network namespace (nsenter execs it: the child's pid is lego's), killed by pid on timeout. */
function lego(netns: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<LegoResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', 'lego', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: performance.now() - started });
    });
  });
}

function pemCertificates(text: string): X509Certificate[] {
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
}

/** One TCP connect with a hard bound. */
function tcpProbe(host: string, port: number, timeoutMs: number): Promise<'open' | 'refused' | 'timeout' | 'error'> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (r: 'open' | 'refused' | 'timeout' | 'error'): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
  });
}

describeNeeding(missingPrerequisite())('the lab\'s ACME CA (pebble) issues to a target over http-01 and tls-alpn-01', () => {
  // A skipped suite still runs this body: nothing here may read the (missing) lab.
  const acme = lab?.acme as AcmeState;
  const target = lab?.targets[0] as TargetState;
  const suffix = randomBytes(4).toString('hex');
  let tmp = '';

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-acme-itg-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Obtain a certificate for `host` and return the chain lego saved (leaf first) and its key's path. */
  async function obtain(ca: AcmeCaState, host: string, challenge: string[]): Promise<{ chain: X509Certificate[]; result: LegoResult }> {
    const dir = path.join(tmp, host);
    const result = await lego(target.netns, ['--server', ca.directoryUrl, '--email', 'lab@gangway.test', '--accept-tos', '--domains', host, '--path', dir, ...challenge, 'run'], { LEGO_CA_CERTIFICATES: acme.caFile });
    console.log(`lego for ${host} (${challenge.join(' ')}): exit ${result.code} in ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.code, `lego failed:\n${result.output}`).toBe(0);
    const chain = pemCertificates(fs.readFileSync(path.join(dir, 'certificates', `${host}.crt`), 'utf8'));
    expect(fs.existsSync(path.join(dir, 'certificates', `${host}.key`))).toBe(true);
    return { chain, result };
  }

  /** leaf ← intermediate ← root: each signature checked with the issuer's key, the root self-signed. */
  function expectChainsTo(chain: X509Certificate[], root: X509Certificate, host: string): void {
    expect(chain).toHaveLength(2);
    const [leaf, intermediate] = chain as [X509Certificate, X509Certificate];
    expect(leaf.subjectAltName).toBe(`DNS:${host}`);
    expect(leaf.checkHost(host)).toBe(host);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(intermediate)).toBe(true);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.ca).toBe(true);
    expect(intermediate.checkIssued(root)).toBe(true);
    expect(intermediate.verify(root.publicKey)).toBe(true);
    expect(root.ca).toBe(true);
    expect(root.checkIssued(root)).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    const now = Date.now();
    expect(leaf.validFromDate.getTime()).toBeLessThanOrEqual(now + 1000);
    expect(leaf.validToDate.getTime()).toBeGreaterThan(now);
  }

  it('resolves any test hostname to the first target\'s veth address, and to no IPv6 address', async () => {
    const resolver = new Resolver({ timeout: 1000, tries: 2 });
    resolver.setServers([acme.dns.server]);
    expect(acme.dns.defaultA).toBe(target.vethAddress);
    expect(await resolver.resolve4(`any-${suffix}.acme.gangway-lab.test`)).toEqual([target.vethAddress]);
    expect(await resolver.resolve6(`any-${suffix}.acme.gangway-lab.test`).catch(() => [])).toEqual([]);
  });

  it('serves its roots over TLS from the lab CA, each pebble its own, none of them the lab CA', async () => {
    const labCa = new X509Certificate(fs.readFileSync(acme.caFile));
    const [main, short] = (await Promise.all([fetchAcmeRoot(acme, acme.caFile), fetchAcmeRoot(acme.shortLived, acme.caFile)])).map((pem) => new X509Certificate(pem)) as [X509Certificate, X509Certificate];
    expect(main.fingerprint256).not.toBe(short.fingerprint256);
    expect(main.fingerprint256).not.toBe(labCa.fingerprint256);
    expect(main.subject).toMatch(/Pebble Root CA/);
  });

  it('issues over http-01 on port 80, validated through the target\'s veth and reaching its VPN address', async () => {
    const host = `http-${suffix}.acme.gangway-lab.test`;
    // Bound to the VPN address only: what a container published on the engine's default address sees.
    const { chain } = await obtain(acme, host, ['--http', '--http.port', `${target.address}:${acme.challengePorts.http}`]);
    const root = new X509Certificate(await fetchAcmeRoot(acme, acme.caFile));
    expectChainsTo(chain, root, host);
    // pebble's default lifetime: 5 years (notAfter = notBefore + 5 y - 1 s).
    const leaf = chain[0] as X509Certificate;
    expect(leaf.validToDate.getTime() - leaf.validFromDate.getTime()).toBeGreaterThan(4 * 365 * 86_400_000);
  });

  it('issues over http-01 answered by a container published on port 80 of the target\'s VPN address (the engine\'s default), as an edge would be', async () => {
    const host = `container-${suffix}.acme.gangway-lab.test`;
    const webroot = path.join(tmp, `webroot-${suffix}`);
    fs.mkdirSync(webroot, { recursive: true });
    const docker = new Docker({ socketPath: target.dockerSocket });
    // A static file server for lego's webroot: the tokens lego writes are what pebble fetches.
    const serve = "const fs = require('fs'); require('http').createServer((q, s) => { const p = decodeURIComponent(q.url.split('?')[0]); if (p.includes('..')) { s.statusCode = 400; return s.end(); } fs.readFile('/srv' + p, (e, b) => { s.statusCode = e ? 404 : 200; s.end(e ? '' : b); }); }).listen(80)";
    const container = await docker.createContainer({
      name: `acme-itg-${suffix}`,
      Image: 'node:24-bookworm-slim',
      Cmd: ['node', '-e', serve],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { Binds: [`${webroot}:/srv:ro`], PortBindings: { '80/tcp': [{ HostPort: String(acme.challengePorts.http) }] } },
    });
    try {
      await container.start();
      const binding = (await container.inspect()).NetworkSettings.Ports['80/tcp']?.[0];
      expect(binding?.HostIp).toBe(target.address);
      // Up once the veth's port 80 (DNAT-ed to the VPN address) answers with the server's 404.
      let status = 0;
      for (let i = 0; i < 50 && status !== 404; i++) {
        status = await fetch(`http://${target.vethAddress}:${acme.challengePorts.http}/nothing`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
        if (status !== 404) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(404);
      const { chain } = await obtain(acme, host, ['--http', '--http.webroot', webroot]);
      expectChainsTo(chain, new X509Certificate(await fetchAcmeRoot(acme, acme.caFile)), host);
    } finally {
      await container.remove({ force: true });
    }
  });

  it('issues a short-lived certificate over tls-alpn-01 on port 443, living exactly the configured lifetime', async () => {
    const host = `tls-${suffix}.acme.gangway-lab.test`;
    const { chain } = await obtain(acme.shortLived, host, ['--tls', '--tls.port', `:${acme.challengePorts.tls}`]);
    const root = new X509Certificate(await fetchAcmeRoot(acme.shortLived, acme.caFile));
    expectChainsTo(chain, root, host);
    const leaf = chain[0] as X509Certificate;
    const lifetime = (leaf.validToDate.getTime() - leaf.validFromDate.getTime()) / 1000;
    const validity = acme.shortLived.validitySeconds ?? 0;
    expect(lifetime).toBeGreaterThanOrEqual(validity - 1);
    expect(lifetime).toBeLessThanOrEqual(validity);
    // The other pebble's root does not issue it: the two CAs are apart.
    const otherRoot = new X509Certificate(await fetchAcmeRoot(acme, acme.caFile));
    expect((chain[1] as X509Certificate).checkIssued(otherRoot)).toBe(false);
  });

  it('leaves the target\'s veth closed to everything else (SSH stays VPN-only)', async () => {
    expect(await tcpProbe(target.vethAddress, 22, 1500)).toBe('timeout');
  });
});
