// The shared edge's inputs (issue #18): every bad value is refused before anything connects, with an
// error naming the input; certificates are checked with real ones made by openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, Inputs, mapInputs } from '@gangway/kit';
import { checkCertificate, LETS_ENCRYPT_DIRECTORY, readEdge, validateHostname, validatePathPrefix } from '../src/settings/edge.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gangway-edge-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate and its key for `names`, valid from now for `days`. */
function certificate(name: string, names: string[], options: { days?: number } = {}): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  const san = names.map((n) => `DNS:${n}`).join(',');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`];
  args.push('-days', String(options.days ?? 30));
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

function edgeFrom(values: Record<string, string>) {
  // As the runner hands inputs over: trimmed (readSettings reads tls-key with the other secrets).
  return readEdge(new Inputs(mapInputs(values)), values['tls-key']?.trim());
}

function rejects(values: Record<string, string>, input: string, message?: RegExp): ConfigurationError {
  let caught: unknown;
  try {
    edgeFrom(values);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ConfigurationError for ${JSON.stringify(Object.keys(values))}`).toBeInstanceOf(ConfigurationError);
  expect((caught as ConfigurationError).input).toBe(input);
  if (message) expect((caught as Error).message).toMatch(message);
  return caught as ConfigurationError;
}

const good = certificate('good', ['shop.example.test', 'www.shop.example.test']);
const other = certificate('other', ['shop.example.test']);
const wildcard = certificate('wildcard', ['*.example.test']);

describe('edge settings', () => {
  it('leaves an app without hostname on its own port (no edge), and refuses edge-only inputs there', () => {
    expect(edgeFrom({})).toBeUndefined();
    rejects({ maintenance: 'true' }, 'maintenance', /hostname/);
    rejects({ 'path-prefix': '/api' }, 'path-prefix', /hostname/);
    rejects({ 'edge-http-port': '8080' }, 'edge-http-port', /hostname/);
  });

  it('reads names, prefix, ports and maintenance with their defaults', () => {
    const edge = edgeFrom({ hostname: 'Shop.Example.test., www.shop.example.test', 'path-prefix': '/api/', maintenance: 'true', 'maintenance-message': 'Back at 14:00' });
    expect(edge).toEqual({
      hostnames: ['shop.example.test', 'www.shop.example.test'],
      pathPrefix: '/api',
      tls: { mode: 'off' },
      hsts: false,
      maintenance: { on: true, message: 'Back at 14:00' },
      httpPort: 80,
      httpsPort: 443,
      renewIntervalMs: 600_000,
    });
    expect(edgeFrom({ hostname: 'a.test' })?.pathPrefix).toBe('/');
    expect(edgeFrom({ hostname: 'a.test' })?.maintenance).toBeUndefined();
  });

  it('refuses names that are not DNS names, and a name given twice', () => {
    for (const bad of ['https://shop.test', 'shop.test:443', 'shop_test.example', '-shop.test', 'shop-.test', 'a..b', '1.2.3.4', `${'a'.repeat(64)}.test`, 'shop.test/x', 'sh op.test']) {
      expect(() => validateHostname(bad), bad).toThrow(ConfigurationError);
    }
    expect(validateHostname('xn--bcher-kva.example')).toBe('xn--bcher-kva.example');
    rejects({ hostname: 'shop.test, SHOP.test' }, 'hostname', /twice/);
    rejects({ hostname: 'shop.test, bad_name.test' }, 'hostname', /bad_name\.test.*not a valid DNS name/);
  });

  it('refuses a path prefix without a leading slash, or one that is not a plain path', () => {
    rejects({ hostname: 'a.test', 'path-prefix': 'api' }, 'path-prefix', /starts with "\/"/);
    for (const bad of ['/a/../b', '/a//b', '/a b', '/a?x=1', '/a#b']) expect(() => validatePathPrefix(bad), bad).toThrow(ConfigurationError);
    expect(validatePathPrefix('/')).toBe('/');
  });

  it('refuses tls: acme (or certificate) without hostname', () => {
    rejects({ tls: 'acme' }, 'hostname', /tls is per hostname|TLS on the edge is per hostname/);
    rejects({ tls: 'certificate', 'tls-certificate': good.cert, 'tls-key': good.key }, 'hostname');
  });

  it('takes acme with the Let\'s Encrypt directory by default, and checks email and directory', () => {
    expect(edgeFrom({ hostname: 'shop.example.test', tls: 'acme' })?.tls).toEqual({ mode: 'acme', directory: LETS_ENCRYPT_DIRECTORY });
    expect(edgeFrom({ hostname: 'shop.example.test', tls: 'acme', 'acme-email': 'ops@example.test', 'acme-directory': 'https://198.18.0.1:14000/dir' })?.tls).toEqual({ mode: 'acme', email: 'ops@example.test', directory: 'https://198.18.0.1:14000/dir' });
    rejects({ hostname: 'a.test', tls: 'acme', 'acme-email': 'not-an-address' }, 'acme-email');
    rejects({ hostname: 'a.test', tls: 'acme', 'acme-directory': 'http://ca.test/dir' }, 'acme-directory', /https/);
    rejects({ hostname: 'a.test', tls: 'acme', 'acme-directory': 'https://user:pw@ca.test/dir' }, 'acme-directory', /credentials/);
    rejects({ hostname: 'a.test', 'acme-email': 'ops@example.test' }, 'acme-email', /only read with tls: acme/);
  });

  it('takes a certificate that matches its key, is valid now and covers every hostname', () => {
    const edge = edgeFrom({ hostname: 'shop.example.test, www.shop.example.test', tls: 'certificate', 'tls-certificate': good.cert, 'tls-key': good.key, hsts: 'true' });
    // Inputs arrive trimmed, as the runner hands them over.
    expect(edge?.tls).toMatchObject({ mode: 'certificate', source: 'inputs', certificate: good.cert.trim(), key: good.key.trim() });
    expect(edge?.hsts).toBe(true);
    expect(edgeFrom({ hostname: 'a.example.test', tls: 'certificate', 'tls-certificate': wildcard.cert, 'tls-key': wildcard.key })?.tls.mode).toBe('certificate');
  });

  it('refuses a key that does not match, an expired certificate, one that misses a hostname, and never prints the key', () => {
    const mismatch = rejects({ hostname: 'shop.example.test', tls: 'certificate', 'tls-certificate': good.cert, 'tls-key': other.key }, 'tls-key', /not the key of the certificate/);
    expect(mismatch.message).not.toContain('PRIVATE KEY');
    // openssl 3.0 cannot back-date a certificate: a 1-day one is checked as if 2 days had passed.
    const shortLived = certificate('short', ['shop.example.test'], { days: 1 });
    const later = new Date(Date.now() + 2 * 86_400_000);
    expect(() => checkCertificate(shortLived.cert, shortLived.key, ['shop.example.test'], later)).toThrow(/expired on \d{4}-/);
    expect(checkCertificate(shortLived.cert, shortLived.key, ['shop.example.test']).getTime()).toBeGreaterThan(Date.now());
    rejects({ hostname: 'shop.example.test, api.example.test', tls: 'certificate', 'tls-certificate': good.cert, 'tls-key': good.key }, 'tls-certificate', /does not cover "api\.example\.test"/);
    rejects({ hostname: 'deep.a.example.test', tls: 'certificate', 'tls-certificate': wildcard.cert, 'tls-key': wildcard.key }, 'tls-certificate', /does not cover/);
    const garbage = rejects({ hostname: 'shop.example.test', tls: 'certificate', 'tls-certificate': good.cert, 'tls-key': 'not a key but a secret' }, 'tls-key', /not a PEM private key/);
    expect(garbage.message).not.toContain('secret');
    rejects({ hostname: 'shop.example.test', tls: 'certificate', 'tls-certificate': 'nope', 'tls-key': good.key }, 'tls-certificate', /not a PEM certificate/);
  });

  it('takes certificate files on the server as clean absolute paths, whole pairs only, never with PEM inputs', () => {
    const edge = edgeFrom({ hostname: 'shop.example.test', tls: 'certificate', 'tls-certificate-path': '/etc/letsencrypt/live/shop.example.test/fullchain.pem', 'tls-key-path': '/etc/letsencrypt/live/shop.example.test/privkey.pem' });
    expect(edge?.tls).toEqual({ mode: 'certificate', source: 'server', certificatePath: '/etc/letsencrypt/live/shop.example.test/fullchain.pem', keyPath: '/etc/letsencrypt/live/shop.example.test/privkey.pem' });
    rejects({ hostname: 'a.test', tls: 'certificate', 'tls-certificate-path': '/etc/ssl/a.pem' }, 'tls-key-path');
    rejects({ hostname: 'a.test', tls: 'certificate', 'tls-certificate-path': 'certs/a.pem', 'tls-key-path': '/etc/ssl/a.key' }, 'tls-certificate-path', /absolute path/);
    rejects({ hostname: 'a.test', tls: 'certificate', 'tls-certificate-path': '/etc/../root/a.pem', 'tls-key-path': '/etc/ssl/a.key' }, 'tls-certificate-path');
    rejects({ hostname: 'shop.example.test', tls: 'certificate', 'tls-certificate': good.cert, 'tls-key': good.key, 'tls-key-path': '/etc/ssl/a.key' }, 'tls-certificate', /not both/);
    rejects({ hostname: 'a.test', tls: 'certificate' }, 'tls-certificate', /missing/);
    rejects({ hostname: 'a.test', 'tls-certificate': good.cert }, 'tls-certificate', /tls is "off"/);
    // The edge mounts the file's directory: never "/", a top-level one, or the host's runtime state.
    rejects({ hostname: 'a.test', tls: 'certificate', 'tls-certificate-path': '/etc/a.pem', 'tls-key-path': '/etc/ssl/a/a.key' }, 'tls-certificate-path', /directory of its own/);
    rejects({ hostname: 'a.test', tls: 'certificate', 'tls-certificate-path': '/etc/ssl/a/a.pem', 'tls-key-path': '/run/secrets/a.key' }, 'tls-key-path', /runtime state/);
  });

  it('refuses hsts without TLS, equal edge ports, and a multi-line maintenance message', () => {
    rejects({ hostname: 'a.test', hsts: 'true' }, 'hsts', /HTTPS/);
    rejects({ hostname: 'a.test', 'edge-http-port': '8443', 'edge-https-port': '8443' }, 'edge-https-port');
    rejects({ hostname: 'a.test', 'maintenance-message': 'line one\nline two' }, 'maintenance-message');
    // Caddy placeholders would read the edge's env or files into the public page.
    rejects({ hostname: 'a.test', 'maintenance-message': 'Back soon {file./etc/gangway-edge/certs/b/key.pem}' }, 'maintenance-message', /placeholder/);
    rejects({ hostname: 'a.test', tls: 'acme', 'acme-email': 'ops+{env.HOME}@example.test' }, 'acme-email');
    rejects({ hostname: 'a.test', 'edge-renew-interval': '100ms' }, 'edge-renew-interval');
    rejects({ 'edge-renew-interval': '1m' }, 'edge-renew-interval', /hostname/);
    expect(edgeFrom({ hostname: 'a.test', 'edge-http-port': '8080', 'edge-https-port': '8443' })).toMatchObject({ httpPort: 8080, httpsPort: 8443 });
  });
});
