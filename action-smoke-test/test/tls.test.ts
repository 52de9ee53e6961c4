// https with a private CA on 127.0.0.1: refused without `ca`, accepted with it (the name checked
// against the certificate is the URL's host, reached through `resolve`), and with `insecure`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttempt } from '../src/attempt.ts';
import { planChecks, type Check } from '../src/check-plan.ts';
import { createHttpClient, type HttpClientOptions } from '../src/http-client.ts';
import { parseChecks } from '../src/schema.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gangway-smoke-tls-'));
let server: https.Server;
let port = 0;
let ca = '';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Smoke Test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=app.smoke.test');
  writeFileSync(path.join(dir, 'ext'), 'subjectAltName=DNS:app.smoke.test\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext');
  ca = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  server = https.createServer({ key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.crt')) }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ host: req.headers.host, sni: (req.socket as { servername?: string }).servername }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function check(): Check {
  return planChecks(parseChecks('- path: /\n  json: { host: "app.smoke.test:PORT", sni: app.smoke.test }'.replace('PORT', String(port))), {
    base: new URL(`https://app.smoke.test:${port}`),
    workspace: dir,
    readinessPath: '/readyz',
    versionPath: '/version',
    expectVersion: undefined,
  })[0] as Check;
}

async function attempt(options: Partial<HttpClientOptions>) {
  const client = createHttpClient({ resolve: [{ host: 'app.smoke.test', address: '127.0.0.1' }], insecure: false, maxBodyBytes: 1 << 20, ...options });
  return runAttempt(check(), client, AbortSignal.timeout(3000));
}

describe('https', () => {
  it('refuses a certificate from an unknown CA and says to give ca', async () => {
    const result = await attempt({});
    expect(result.failures[0]?.code).toBe('tls');
    expect(result.failures[0]?.message).toMatch(/TLS with app\.smoke\.test:\d+ failed: .*give the server's CA in "ca"/);
  });

  it('trusts the private CA given in ca, with SNI and Host from the URL while connecting to the resolve address', async () => {
    const result = await attempt({ ca });
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(true);
  });

  it('skips verification only with insecure', async () => {
    expect((await attempt({ insecure: true })).passed).toBe(true);
  });
});
