// The shared edge on the lab (issue #18): two apps with two hostnames on one target behind one Caddy edge
// on 80/443, over HTTPS with certificates signed by the lab CA, deployed by action-deploy-ssh's dist
// through the VPN. Under steady HTTPS load on both apps:
// - a v1→v2 deploy of app A: 0 failed on A, 0 failed on B, and B's container and route record untouched;
// - maintenance on, then off: 503 + Retry-After while on, 0 failed after;
// - a hostname app B already has, given to app A: refused before anything changes, naming B; both keep serving;
// - every bad input (a name that is not a DNS name, a key that does not match, an expired certificate,
//   one that does not cover the name, tls: acme without hostname, a path-prefix without "/"): refused
//   before anything changes, naming the input; 0 failed on both;
// - tls-certificate-path: certbot's files on the server, and a renewal on disk served with no deploy;
// - an edge upgrade (a new edge image reference): the new edge starts beside the old one on the same
//   ports and the old one finishes its requests: failed and reset requests are reported (0 expected);
// - two apps switched at the same moment, both upgrading the edge: the edge lock lets one upgrade.
// Run it holding the lab lock: flock /tmp/gangway-lab.lock npx vitest run --project lab action-deploy-ssh/test/edge.itg.test.ts
import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { TLSSocket } from 'node:tls';
import type Docker from 'dockerode';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks, RunnerJob } from '@gangway/harness';
import { DeployRuns, reachLabTarget, removeAppLeftovers, type DeployRun, type LabTargetLink, labTargetInputs } from './lab-runs.ts';
import { labStatus, readLabState, type LabState } from '../../lab/src/index.ts';
import { ensureCaddyImage } from '../../lab/src/caddy-image.ts';
import { createLeaf } from '../../lab/src/pki.ts';
import { startLoad, summarize, type LoadRun } from '../../lab/src/testing/load.ts';
import { connectLabVpn } from '../../lab/src/testing/vpn.ts';
import { buildAndPushAppImage, type PushedAppImage } from '../../test/support/app-image.ts';

const suffix = randomBytes(3).toString('hex');
const apps = { a: `gtest-edge-a-${suffix}`, b: `gtest-edge-b-${suffix}`, c: `gtest-edge-c-${suffix}` };
const names = { a: `a-${suffix}.edge.test`, b: `b-${suffix}.edge.test`, c: `c-${suffix}.edge.test` };

let lab: LabState;
let link: LabTargetLink | undefined;
let target: Docker;
let privateKey: string;
let v1: PushedAppImage;
let v2: PushedAppImage;
let caPem: string;
let edgeImage = '';
const certs: Record<'a' | 'b', { cert: string; key: string }> = { a: { cert: '', key: '' }, b: { cert: '', key: '' } };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-edge-itg-'));
const deployRuns = new DeployRuns();
const figures: Record<string, unknown> = {};

function inputs(which: 'a' | 'b', extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...labTargetInputs(lab.target, privateKey),
    app: apps[which],
    'container-port': '8080',
    hostname: names[which],
    tls: 'certificate',
    'tls-certificate': certs[which].cert,
    'tls-key': certs[which].key,
    'edge-image': edgeImage,
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '2m',
    ...extra,
  };
}

const deploy = (values: Record<string, string>): Promise<DeployRun> => deployRuns.deploy(values);

/** One request through the edge as a browser sends it: to the target's address, with the app's name as SNI and Host. */
function get(name: string, options: { scheme?: 'http' | 'https'; path?: string; ca?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; serial?: string; validTo?: string }> {
  const scheme = options.scheme ?? 'https';
  return new Promise((resolve, reject) => {
    const req = (scheme === 'https' ? https : http).get(
      { host: lab.target.address, port: scheme === 'https' ? 443 : 80, path: options.path ?? '/version', headers: { host: name }, timeout: 5000, agent: false, ...(scheme === 'https' ? { ca: options.ca ?? caPem, servername: name } : {}) },
      (res) => {
        const peer = res.socket instanceof TLSSocket ? res.socket.getPeerCertificate() : undefined;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(peer?.serialNumber ? { serial: peer.serialNumber, validTo: peer.valid_to } : {}) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** GET over HTTPS with `fn`'s options until it answers 200, or `ms`. */
async function until200(name: string, ca: string, ms: number): Promise<Awaited<ReturnType<typeof get>>> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await get(name, { ca });
      if (r.status === 200) return r;
      last = `HTTP ${r.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} did not answer 200 over HTTPS within ${ms} ms (last: ${last})`);
}

/** A PEM over HTTPS from the lab's ACME CA (its management API, TLS from the lab CA). */
function fetchPem(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: caPem, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

async function version(which: 'a' | 'b'): Promise<string> {
  const r = await get(names[which]);
  return String((JSON.parse(r.body) as { version?: string }).version);
}

function loadOn(which: 'a' | 'b'): LoadRun {
  return startLoad({ host: lab.target.address, port: 443, hostname: names[which], tls: { ca: caPem }, rate: 40, clients: 4, maxMs: 240_000 });
}

async function edgeContainers(): Promise<Docker.ContainerInfo[]> {
  return target.listContainers({ all: true, filters: { label: ['gangway.role=edge'] } });
}

async function routeRecord(app: string): Promise<string> {
  const [edge] = (await edgeContainers()).filter((c) => c.State === 'running');
  if (!edge) throw new Error('no edge is running');
  const exec = await target.getContainer(edge.Id).exec({ Cmd: ['cat', `/etc/gangway-edge/routes/${app}.json`], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve());
  });
  return Buffer.concat(chunks).toString('utf8');
}

describe('the shared edge on the lab: two apps on one host over HTTPS, under load', () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    caPem = fs.readFileSync(lab.caFile, 'utf8');
    const ca = { cert: lab.caFile, key: lab.caFile.replace(/\.crt$/, '.key') };
    for (const which of ['a', 'b'] as const) {
      const files = createLeaf({ dir: tmp, name: which, commonName: names[which], ca, usage: 'serverAuth', subjectAltName: `DNS:${names[which]}` });
      certs[which] = { cert: fs.readFileSync(files.cert, 'utf8'), key: fs.readFileSync(files.key, 'utf8') };
    }
    // The lab's stand-in for caddy:2 (Debian's caddy 2.6.2), made on the target's engine when it lacks it.
    edgeImage = (await ensureCaddyImage(lab.target.dockerSocket)).tag;
    const sha = randomBytes(20).toString('hex');
    v1 = await buildAndPushAppImage(lab, { tag: `edge-v1-${suffix}`, version: 'v1', gitSha: sha });
    v2 = await buildAndPushAppImage(lab, { tag: `edge-v2-${suffix}`, version: 'v2', gitSha: sha });
    link = await reachLabTarget(lab.target, privateKey);
    target = link.docker;
  }, 1_200_000);

  afterAll(async () => {
    if (target) {
      for (const app of Object.values(apps)) await removeAppLeftovers(target, app);
      for (const c of await edgeContainers().catch(() => [])) await target.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      await target.getContainer('gangway-edge.lock').remove({ force: true }).catch(() => undefined);
      for (const volume of ['gangway-edge-config', 'gangway-edge-data']) await target.getVolume(volume).remove().catch(() => undefined);
      await target.getImage(`${edgeImage}-upgraded`).remove().catch(() => undefined);
    }
    await link?.close();
    deployRuns.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
    console.log(`deploy-ssh edge figures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('deploys two apps behind one edge on 80/443: each name answers its app over HTTPS, plain HTTP redirects, an unknown name gets 404 (HTTP) or no certificate (HTTPS)', async () => {
    const a = await deploy(inputs('a', { image: v1.imageRef }));
    expect(a.main.exitCode, a.main.log).toBe(0);
    const b = await deploy(inputs('b', { image: v1.imageRef }));
    expect(b.main.exitCode, b.main.log).toBe(0);
    figures['first deploys ms'] = { a: a.ms, b: b.ms };
    expect(await version('a')).toBe('v1');
    expect(await version('b')).toBe('v1');
    // One edge for both, on the host's network; the apps publish nothing.
    const edges = (await edgeContainers()).filter((c) => c.State === 'running');
    expect(edges).toHaveLength(1);
    expect(edges[0]?.HostConfig.NetworkMode).toBe('host');
    const appInfo = await target.getContainer(a.main.outputs['container-id'] ?? '').inspect();
    expect(appInfo.HostConfig.PortBindings ?? {}).toEqual({});
    const plain = await get(names.a, { scheme: 'http', path: '/version?x=1' });
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://${names.a}/version?x=1`);
    // A name no app has: 404 from the edge over HTTP; over HTTPS the edge has no certificate for it (TLS alert).
    expect((await get(`nobody-${suffix}.edge.test`, { scheme: 'http' })).status).toBe(404);
    await expect(get(`nobody-${suffix}.edge.test`)).rejects.toThrow(/alert|EPROTO|ECONNRESET/);
    expect(a.main.log).not.toContain('PRIVATE KEY');
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password, 'tls-key a': certs.a.key, 'tls-key b': certs.b.key })).toEqual([]);
  });

  it('v1 → v2 of app A under load on both: 0 failed on A and on B; B\'s container and route are untouched', async () => {
    const bBefore = { containers: (await target.listContainers({ filters: { label: [`gangway.app=${apps.b}`] } })).map((c) => c.Id), route: await routeRecord(apps.b) };
    const loads = { a: loadOn('a'), b: loadOn('b') };
    await new Promise((r) => setTimeout(r, 2000));
    const from = loads.a.now();
    const second = await deploy(inputs('a', { image: v2.imageRef }));
    const to = loads.a.now();
    await new Promise((r) => setTimeout(r, 2000));
    const samples = { a: await loads.a.stop(), b: await loads.b.stop() };
    expect(second.main.exitCode, second.main.log).toBe(0);
    expect(await version('a')).toBe('v2');
    const sums = { a: summarize(samples.a), b: summarize(samples.b) };
    figures['A v1→v2 under load'] = { wallMs: Math.round(to - from), a: sums.a, b: sums.b, phases: second.report?.hosts[0]?.phases };
    expect(sums.a.total).toBeGreaterThan(100);
    expect(sums.a.failed).toBe(0);
    expect(sums.b.failed).toBe(0);
    expect(summarize(samples.a, to).versions).toEqual({ v2: expect.any(Number) as number });
    const bAfter = { containers: (await target.listContainers({ filters: { label: [`gangway.app=${apps.b}`] } })).map((c) => c.Id), route: await routeRecord(apps.b) };
    expect(bAfter).toEqual(bBefore);
  });

  it('action-smoke-test checks app A through the edge as users run it: its name resolved to the server, SNI, the private CA', async () => {
    const job = new RunnerJob();
    try {
      const run = await job.main(path.resolve(import.meta.dirname, '../../action-smoke-test'), {
        inputs: { url: `https://${names.a}`, resolve: `${names.a}:443:${lab.target.address}`, ca: caPem, 'expect-version': 'v2', timeout: '5s', deadline: '60s' },
        timeoutMs: 120_000,
      });
      expect(run.exitCode, run.log).toBe(0);
      expect(run.outputs.passed).toBe('true');
      expect(run.outputs['reported-version']).toContain('version=v2');
      // Without the CA, the same check fails on the certificate: the edge's TLS is what was checked.
      const untrusted = await job.main(path.resolve(import.meta.dirname, '../../action-smoke-test'), {
        inputs: { url: `https://${names.a}`, resolve: `${names.a}:443:${lab.target.address}`, timeout: '5s', deadline: '10s' },
        timeoutMs: 60_000,
      });
      expect(untrusted.exitCode).toBe(1);
      expect(untrusted.log).toMatch(/certificate|self.signed|UNABLE_TO_VERIFY|unable to verify/i);
    } finally {
      job.cleanup();
    }
  });

  it('maintenance on as a switch with no image (ops, from workflow_dispatch): 503 with Retry-After and the message on A, no container changed, B unaffected; off by a deploy: A serves again', async () => {
    const aBefore = (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => `${c.Id} ${c.State}`).sort();
    const switchOn = inputs('a', { maintenance: 'true', 'maintenance-message': 'Back at 14:00' });
    delete switchOn.image;
    const on = await deploy(switchOn);
    expect(on.main.exitCode, on.main.log).toBe(0);
    expect(on.report?.mode).toBe('maintenance');
    expect(on.report?.hosts[0]?.maintenance).toBe('on');
    expect((await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => `${c.Id} ${c.State}`).sort()).toEqual(aBefore);
    figures['maintenance switch (no image) ms'] = on.ms;
    const page = await get(names.a);
    expect(page.status).toBe(503);
    expect(page.headers['retry-after']).toMatch(/^\d+$/);
    expect(page.body).toContain('Back at 14:00');
    expect(await version('b')).toBe('v1');
    // A deploy that does not name maintenance (a merge landing meanwhile) leaves the page up.
    const during = await deploy(inputs('a', { image: v2.imageRef }));
    expect(during.main.exitCode, during.main.log).toBe(0);
    expect((await get(names.a)).status).toBe(503);
    const load = loadOn('a');
    const off = await deploy(inputs('a', { image: v2.imageRef, maintenance: 'false' }));
    expect(off.main.exitCode, off.main.log).toBe(0);
    const after = load.now();
    await new Promise((r) => setTimeout(r, 3000));
    const samples = await load.stop();
    const sum = summarize(samples, after);
    figures['after maintenance off'] = sum;
    expect(sum.total).toBeGreaterThan(20);
    expect(sum.failed).toBe(0);
    expect(await version('a')).toBe('v2');
  });

  it('refuses a hostname app B already has, naming B, before anything changes; both keep serving', async () => {
    const aBefore = (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => c.Id).sort();
    const taken = await deploy(inputs('a', { image: v1.imageRef, hostname: names.b, 'tls-certificate': certs.b.cert, 'tls-key': certs.b.key }));
    expect(taken.main.exitCode).toBe(1);
    expect(taken.main.log).toContain(`is already routed to app "${apps.b}"`);
    const aAfter = (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => c.Id).sort();
    expect(aAfter).toEqual(aBefore);
    expect(await version('a')).toBe('v2');
    expect(await version('b')).toBe('v1');
  });

  it('refuses edge ports other than the host edge\'s, and a port held by something else on another host, before anything changes', async () => {
    const aBefore = (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => c.Id).sort();
    const moved = await deploy(inputs('a', { image: v1.imageRef, 'edge-http-port': '8081', 'edge-https-port': '8444' }));
    expect(moved.main.exitCode).toBe(1);
    expect(moved.main.log).toContain('the edge on this host serves ports 80 and 443');
    expect((await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => c.Id).sort()).toEqual(aBefore);
    expect(await version('a')).toBe('v2');

    // The second target: a web server of its own on port 80 (Caddy's file server on the host network, as
    // a hand-run setup would leave), driven through its engine's socket; the deploy goes through SSH.
    const other = lab.targets[1];
    if (!other) throw new Error('this test needs a second lab target: flock /tmp/gangway-lab.lock npm run lab:up (two is the default)');
    const engine = new Dockerode({ socketPath: other.dockerSocket });
    const holderImage = (await ensureCaddyImage(other.dockerSocket)).tag;
    const holder = await engine.createContainer({ name: `gtest-port-holder-${suffix}`, Image: holderImage, Cmd: ['caddy', 'file-server', '--listen', ':80'], HostConfig: { NetworkMode: 'host' } });
    const tunnel = await connectLabVpn(other.vpn.configFile);
    try {
      await holder.start();
      await new Promise((r) => setTimeout(r, 1000));
      const held = await deploy({ ...inputs('a', { image: v1.imageRef }), host: other.sshHost, fingerprint: other.fingerprint, 'docker-socket': other.dockerSocket, app: `gtest-edge-held-${suffix}`, hostname: `held-${suffix}.edge.test`, tls: 'off', 'tls-certificate': '', 'tls-key': '' });
      expect(held.main.exitCode).toBe(1);
      expect(held.main.log).toMatch(/port 80 is already held on the server by something other than Gangway's edge/);
      expect(held.main.log).toContain('edge-http-port');
      // Nothing of the app, no edge, and the holder still serving.
      expect(await engine.listContainers({ all: true, filters: { label: [`gangway.app=gtest-edge-held-${suffix}`] } })).toEqual([]);
      expect(await engine.listContainers({ all: true, filters: { label: ['gangway.role=edge'] } })).toEqual([]);
      expect((await holder.inspect()).State.Running).toBe(true);
    } finally {
      await holder.remove({ force: true }).catch(() => undefined);
      await engine.getNetwork(`gtest-edge-held-${suffix}-net`).remove().catch(() => undefined);
      await tunnel.stop();
    }
  });

  it('refuses every bad input of the edge under load on both apps, each naming its input, before anything changes; the previous config keeps serving', async () => {
    const appsOf = async () => (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => `${c.Id} ${c.State}`).sort();
    const before = { a: await appsOf(), routes: { a: await routeRecord(apps.a), b: await routeRecord(apps.b) }, edges: (await edgeContainers()).map((c) => c.Id) };
    const expired = createLeaf({
      dir: tmp, name: 'expired', commonName: names.a, usage: 'serverAuth', subjectAltName: `DNS:${names.a}`,
      ca: { cert: lab.caFile, key: lab.caFile.replace(/\.crt$/, '.key') },
      validity: { notBefore: '20200101000000Z', notAfter: '20200201000000Z' },
    });
    const cases: Array<{ what: string; input: string; values: Record<string, string>; message: RegExp }> = [
      { what: 'a hostname that is not a DNS name', input: 'hostname', values: { hostname: `a_${suffix}..edge.test` }, message: /is not a valid DNS name/ },
      { what: 'a key that does not match the certificate', input: 'tls-key', values: { 'tls-key': certs.b.key }, message: /is not the key of the certificate/ },
      { what: 'an expired certificate', input: 'tls-certificate', values: { 'tls-certificate': fs.readFileSync(expired.cert, 'utf8'), 'tls-key': fs.readFileSync(expired.key, 'utf8') }, message: /expired on 2020-02-01/ },
      { what: 'a certificate that does not cover the hostname', input: 'tls-certificate', values: { 'tls-certificate': certs.b.cert, 'tls-key': certs.b.key }, message: new RegExp(`does not cover "${names.a.replace(/\./g, '\\.')}"`) },
      { what: 'tls: acme without hostname', input: 'tls', values: { hostname: '', tls: 'acme', 'tls-certificate': '', 'tls-key': '' }, message: /"hostname" is empty/ },
      { what: 'a path-prefix without a leading /', input: 'path-prefix', values: { 'path-prefix': 'api' }, message: /a path prefix starts with "\/"/ },
    ];
    const loads = { a: loadOn('a'), b: loadOn('b') };
    await new Promise((r) => setTimeout(r, 1000));
    const refused: Record<string, { exitCode: number | null; ms: number }> = {};
    for (const c of cases) {
      const run = await deploy(inputs('a', { image: v1.imageRef, ...c.values }));
      refused[c.what] = { exitCode: run.main.exitCode, ms: run.ms };
      expect(run.main.exitCode, `${c.what}: ${run.main.log}`).toBe(1);
      expect(run.main.log, c.what).toContain(`Input "${c.input}"`);
      expect(run.main.log, c.what).toMatch(c.message);
      // Refused before connecting: no SSH session was opened for it.
      expect(run.main.log, c.what).not.toMatch(/connected to|pulled /);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const samples = { a: await loads.a.stop(), b: await loads.b.stop() };
    const sums = { a: summarize(samples.a), b: summarize(samples.b) };
    figures['bad inputs under load'] = { refused, a: sums.a, b: sums.b };
    expect(sums.a.total).toBeGreaterThan(50);
    expect(sums.a.failed + sums.b.failed).toBe(0);
    expect({ a: await appsOf(), routes: { a: await routeRecord(apps.a), b: await routeRecord(apps.b) }, edges: (await edgeContainers()).map((c) => c.Id) }).toEqual(before);
    expect(findSecretLeaks(deployRuns.runs, { 'tls-key a': certs.a.key, 'tls-key b': certs.b.key, 'tls-key expired': fs.readFileSync(expired.key, 'utf8') })).toEqual([]);
  });

  it('tls: acme: the edge gets the certificate from the lab\'s ACME CA itself, and renews a short-lived one with no deploy and 0 failed', async () => {
    const acme = lab.acme;
    if (!acme) throw new Error('the lab has no ACME CA (lab/.state/lab.json has no acme): take the lab down and up again');
    const ca = acme.shortLived;
    const first = await deploy({
      ...inputs('a', { image: v1.imageRef }),
      app: apps.c,
      hostname: names.c,
      tls: 'acme',
      'tls-certificate': '',
      'tls-key': '',
      'acme-directory': ca.directoryUrl,
      'acme-directory-ca': caPem,
      'acme-email': 'ops@edge.test',
      'edge-renew-interval': '5s',
    });
    expect(first.main.exitCode, first.main.log).toBe(0);
    // What pebble issues chains to a root it made at its start.
    const root = await fetchPem(ca.rootUrl);
    const started = Date.now();
    const issued = await until200(names.c, root, 60_000);
    figures['acme: deploy to first HTTPS answer ms'] = Date.now() - started;
    expect(issued.serial).toBeTruthy();
    const lifetimeMs = (ca.validitySeconds ?? 120) * 1000;
    // Caddy renews with a third of the lifetime left: wait for a new serial under load, with no deploy.
    const load = startLoad({ host: lab.target.address, port: 443, hostname: names.c, tls: { ca: root }, rate: 20, clients: 4, keepAliveShare: 0, maxMs: lifetimeMs + 60_000 });
    let renewed: Awaited<ReturnType<typeof get>> | undefined;
    const deadline = Date.now() + lifetimeMs + 30_000;
    while (Date.now() < deadline) {
      const now = await get(names.c, { ca: root }).catch(() => undefined);
      if (now?.serial && now.serial !== issued.serial) {
        renewed = now;
        break;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const sum = summarize(await load.stop());
    figures['acme renewal under load (no deploy)'] = { first: { serial: issued.serial, validTo: issued.validTo }, renewed: renewed ? { serial: renewed.serial, validTo: renewed.validTo } : 'none', load: sum };
    expect(renewed, `no renewal within ${lifetimeMs + 30_000} ms`).toBeDefined();
    expect(sum.total).toBeGreaterThan(100);
    expect(sum.failed).toBe(0);
  }, 600_000);

  it('tls-certificate-path: certbot\'s files on the server, read where they are; a renewal on disk is served with no deploy and 0 failed; bad files are refused before anything changes', async () => {
    // certbot's layout, on the target's filesystem (the lab's targets share this machine's): live/NAME/*.pem
    // are links into archive/NAME/, and a renewal writes new files there and moves the links.
    const root = path.join(tmp, 'letsencrypt');
    const live = path.join(root, 'live', names.a);
    const archive = path.join(root, 'archive', names.a);
    fs.mkdirSync(live, { recursive: true });
    fs.mkdirSync(archive, { recursive: true });
    const ca = { cert: lab.caFile, key: lab.caFile.replace(/\.crt$/, '.key') };
    const certbotIssues = (n: number): string => {
      const leaf = createLeaf({ dir: tmp, name: `certbot-${n}`, commonName: names.a, ca, usage: 'serverAuth', subjectAltName: `DNS:${names.a}` });
      fs.copyFileSync(leaf.cert, path.join(archive, `fullchain${n}.pem`));
      fs.copyFileSync(leaf.key, path.join(archive, `privkey${n}.pem`));
      for (const [link, file] of [['fullchain.pem', `fullchain${n}.pem`], ['privkey.pem', `privkey${n}.pem`]] as const) {
        fs.symlinkSync(`../../archive/${names.a}/${file}`, path.join(live, `${link}.new`));
        fs.renameSync(path.join(live, `${link}.new`), path.join(live, link));
      }
      return new X509Certificate(fs.readFileSync(leaf.cert)).serialNumber;
    };
    const first = certbotIssues(1);
    const fromServer = { 'tls-certificate': '', 'tls-key': '', 'tls-certificate-path': path.join(live, 'fullchain.pem'), 'tls-key-path': path.join(live, 'privkey.pem'), 'edge-renew-interval': '2s' };
    const loads = { a: loadOn('a'), b: loadOn('b') };
    await new Promise((r) => setTimeout(r, 1000));
    const deployed = await deploy(inputs('a', { image: v2.imageRef, ...fromServer }));
    expect(deployed.main.exitCode, deployed.main.log).toBe(0);
    expect(deployed.main.log).toContain(`certificate directories ${root} mounted read-only`);
    expect((await get(names.a)).serial).toBe(first);
    // certbot renews on disk: the edge serves the new certificate with no deploy.
    const renewedAt = Date.now();
    const second = certbotIssues(2);
    let served = '';
    while (Date.now() - renewedAt < 30_000) {
      served = (await get(names.a)).serial ?? '';
      if (served === second) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const reloadMs = Date.now() - renewedAt;
    expect(served, 'the renewed certificate was not served within 30 s').toBe(second);
    await new Promise((r) => setTimeout(r, 2000));
    const samples = { a: await loads.a.stop(), b: await loads.b.stop() };
    const sums = { a: summarize(samples.a), b: summarize(samples.b) };
    figures['tls-certificate-path: deploy, then a certbot renewal on disk under load'] = { deployMs: deployed.ms, renewalServedAfterMs: reloadMs, a: sums.a, b: sums.b };
    expect(sums.a.total).toBeGreaterThan(50);
    expect(sums.a.failed + sums.b.failed).toBe(0);

    // Bad files, each refused naming its input, before the edge or the app changes.
    fs.writeFileSync(path.join(live, 'other-privkey.pem'), certs.b.key);
    const expired = createLeaf({ dir: path.join(tmp), name: 'expired-on-server', commonName: names.a, ca, usage: 'serverAuth', subjectAltName: `DNS:${names.a}`, validity: { notBefore: '20200101000000Z', notAfter: '20200201000000Z' } });
    const before = { a: (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => c.Id).sort(), edges: (await edgeContainers()).map((c) => c.Id) };
    const bad: Array<{ what: string; input: string; values: Record<string, string>; message: RegExp }> = [
      { what: 'a key that is not the certificate\'s', input: 'tls-key-path', values: { 'tls-key-path': path.join(live, 'other-privkey.pem') }, message: /cannot load/ },
      { what: 'a directory that does not exist', input: 'tls-certificate-path', values: { 'tls-certificate-path': path.join(tmp, 'nowhere', 'live', names.a, 'fullchain.pem'), 'tls-key-path': path.join(tmp, 'nowhere', 'live', names.a, 'privkey.pem') }, message: /does not exist on the server/ },
      { what: 'an expired certificate', input: 'tls-certificate-path', values: { 'tls-certificate-path': expired.cert, 'tls-key-path': expired.key }, message: /expired on 2020-02-01/ },
    ];
    for (const c of bad) {
      const run = await deploy(inputs('a', { image: v1.imageRef, ...fromServer, ...c.values }));
      expect(run.main.exitCode, `${c.what}: ${run.main.log}`).toBe(1);
      expect(run.main.log, c.what).toContain(`Input "${c.input}"`);
      expect(run.main.log, c.what).toMatch(c.message);
    }
    expect({ a: (await target.listContainers({ all: true, filters: { label: [`gangway.app=${apps.a}`] } })).map((c) => c.Id).sort(), edges: (await edgeContainers()).map((c) => c.Id) }).toEqual(before);
    expect((await get(names.a)).serial).toBe(second);
    expect(await version('a')).toBe('v2');
    expect(findSecretLeaks(deployRuns.runs, { 'tls-key b': certs.b.key })).toEqual([]);

    // Back to the certificate from inputs, as the tests after this one expect.
    const back = await deploy(inputs('a', { image: v2.imageRef }));
    expect(back.main.exitCode, back.main.log).toBe(0);
    expect((await get(names.a)).serial).toBe(new X509Certificate(certs.a.cert).serialNumber);
  }, 300_000);

  it('upgrades the edge under load on both apps: the new edge starts beside the old one; failed and reset requests reported', async () => {
    // A new edge image: the same Caddy under another reference, so the edge's spec changes.
    await target.getImage(edgeImage).tag({ repo: edgeImage.split(':')[0] ?? 'caddy', tag: `${edgeImage.split(':')[1] ?? '2'}-upgraded` });
    const before = (await edgeContainers()).filter((c) => c.State === 'running').map((c) => c.Id);
    const loads = { a: loadOn('a'), b: loadOn('b') };
    await new Promise((r) => setTimeout(r, 2000));
    const upgraded = await deploy(inputs('a', { image: v2.imageRef, 'edge-image': `${edgeImage}-upgraded` }));
    await new Promise((r) => setTimeout(r, 2000));
    const samples = { a: await loads.a.stop(), b: await loads.b.stop() };
    expect(upgraded.main.exitCode, upgraded.main.log).toBe(0);
    expect(upgraded.main.log).toContain('upgrading the edge');
    const after = (await edgeContainers()).filter((c) => c.State === 'running');
    expect(after).toHaveLength(1);
    expect(before).not.toContain(after[0]?.Id);
    const sums = { a: summarize(samples.a), b: summarize(samples.b) };
    const resets = (s: typeof samples.a) => s.filter((x) => /ECONNRESET|socket hang up/.test(x.error ?? '')).length;
    figures['edge upgrade under load'] = { a: sums.a, b: sums.b, resets: { a: resets(samples.a), b: resets(samples.b) } };
    expect(sums.a.failed + sums.b.failed).toBe(0);
    expect(await version('b')).toBe('v1');
  });

  it('two apps switched at the same moment by two runs, both asking for a new edge image: one upgrades the edge, the other waits for the edge lock; no route lost, no edge left over, 0 failed on both', async () => {
    // The previous test left the edge on the "-upgraded" image; both runs ask for the first one again.
    const before = (await edgeContainers()).map((c) => c.Id);
    const loads = { a: loadOn('a'), b: loadOn('b') };
    await new Promise((r) => setTimeout(r, 2000));
    // Separate runs of the action, as two workflows deploying two apps would: each under its own app lock.
    const [a, b] = await Promise.all([deploy(inputs('a', { image: v1.imageRef })), deploy(inputs('b', { image: v2.imageRef }))]);
    await new Promise((r) => setTimeout(r, 2000));
    const samples = { a: await loads.a.stop(), b: await loads.b.stop() };
    expect(a.main.exitCode, a.main.log).toBe(0);
    expect(b.main.exitCode, b.main.log).toBe(0);
    expect([a, b].filter((r) => r.main.log.includes('upgrading the edge'))).toHaveLength(1);
    const edges = await edgeContainers();
    expect(edges.map((c) => `${c.Names[0]} ${c.State}`)).toEqual(['/gangway-edge running']);
    expect(before).not.toContain(edges[0]?.Id);
    // The edge lock is released by whoever took it.
    expect((await target.listContainers({ all: true })).filter((c) => c.Names.includes('/gangway-edge.lock'))).toEqual([]);
    expect(await version('a')).toBe('v1');
    expect(await version('b')).toBe('v2');
    const sums = { a: summarize(samples.a), b: summarize(samples.b) };
    figures['A and B switched at once, edge upgraded by one'] = { a: sums.a, b: sums.b, waitedForEdgeLock: [a, b].filter((r) => r.main.log.includes('waiting for the deploy lock of gangway-edge')).length };
    expect(sums.a.failed + sums.b.failed).toBe(0);
  });
});
