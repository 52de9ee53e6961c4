import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChallenge, requestedReference, resolveImage } from '../../scripts/resolve-image.ts';

const digest = 'sha256:' + 'ab'.repeat(32);
let server: Server;
let registry: string;

beforeAll(async () => {
  // A registry with the token flow of Docker Hub, GHCR and distribution's token auth.
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      const ok = req.headers.authorization === `Basic ${Buffer.from('ci:pw').toString('base64')}` && url.searchParams.get('scope') === 'repository:team/app:pull';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token: 'tok' }) : '{}');
      return;
    }
    if (req.headers.authorization !== 'Bearer tok') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="registry",scope="repository:team/app:pull"` }).end();
      return;
    }
    expect(req.method).toBe('HEAD');
    expect(req.headers.accept).toContain('application/vnd.oci.image.index.v1+json');
    if (url.pathname === '/v2/team/app/manifests/v1.2.3' || url.pathname === `/v2/team/app/manifests/${digest}`) res.writeHead(200, { 'docker-content-digest': digest }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('resolve-image (the deploy dispatch gate)', () => {
  it('turns a tag into the digest reference the registry serves', async () => {
    expect(await resolveImage(`${registry}/team/app:v1.2.3`, { username: 'ci', password: 'pw' })).toEqual({ imageRef: `${registry}/team/app@${digest}`, digest });
    expect((await resolveImage(`${registry}/team/app@${digest}`, { username: 'ci', password: 'pw' })).imageRef).toBe(`${registry}/team/app@${digest}`);
  });

  it('fails for a tag the registry does not have, or bad credentials', async () => {
    await expect(resolveImage(`${registry}/team/app:v9`, { username: 'ci', password: 'pw' })).rejects.toThrow(/team\/app:v9 is not in the registry/);
    await expect(resolveImage(`${registry}/team/app:v1.2.3`, { username: 'ci', password: 'nope' })).rejects.toThrow(/token service answered HTTP 401/);
  });

  it('reads a bare tag or sha against the repository', () => {
    expect(requestedReference('v1.2.3', 'r.example.com/team/app')).toBe('r.example.com/team/app:v1.2.3');
    expect(requestedReference('r.example.com/team/app:v1', undefined)).toBe('r.example.com/team/app:v1');
    expect(() => requestedReference('v1', undefined)).toThrow(/--repository/);
    expect(parseChallenge('Bearer realm="https://auth.example.com/token",service="reg"')).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'reg' } });
  });
});
