// The edge's Caddy config, by value: what each kind of route turns into. The lab tests load the same
// configs into a real Caddy and send requests through it.
import { describe, expect, it } from 'vitest';
import { ADMIN_SOCKET, caddyConfig, EDGE_DEFAULTS } from '../src/edge/caddy-config.ts';
import type { EdgeRoute } from '../src/edge/routes.ts';

const up = (name: string, address = '198.18.200.2') => ({ name, address, port: 8080 });

function route(app: string, hostnames: string[], extra: Partial<EdgeRoute> = {}): EdgeRoute {
  return { app, hostnames, pathPrefix: '/', upstream: up(`${app}-1`), tls: { mode: 'off' }, hsts: false, ...extra };
}

interface Server {
  listen: string[];
  routes: Array<{ match?: Array<{ host: string[]; path?: string[] }>; handle: Array<Record<string, unknown>>; terminal: boolean }>;
}

function serversOf(config: Record<string, unknown>): Record<string, Server> {
  return (config as { apps: { http: { servers: Record<string, Server> } } }).apps.http.servers;
}

describe('edge caddy config', () => {
  it('serves tls: off names on the HTTP port only, ends with a 404 for unknown names, and has no HTTPS server', () => {
    const config = caddyConfig([route('dashboard', ['dash.test'])]);
    const servers = serversOf(config);
    expect(Object.keys(servers)).toEqual(['http']);
    expect(servers.http?.listen).toEqual([':80']);
    expect(servers.http?.routes[0]).toEqual({ match: [{ host: ['dash.test'] }], handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: '198.18.200.2:8080' }], transport: { protocol: 'http', keep_alive: { idle_timeout: '4s' } }, load_balancing: { try_duration: '5s', try_interval: '100ms' } }], terminal: true });
    expect(servers.http?.routes.at(-1)).toMatchObject({ handle: [{ handler: 'static_response', status_code: 404 }] });
    expect(config.admin).toEqual({ listen: `unix/${ADMIN_SOCKET}`, config: { persist: false } });
  });

  it('puts a settling route\'s previous container behind the new one as a backup, first-available', () => {
    const proxy = serversOf(caddyConfig([route('shop', ['shop.test'], { upstream: up('shop-2', '198.18.200.3'), backup: up('shop-1') })])).http?.routes[0]?.handle[0];
    expect(proxy).toMatchObject({
      upstreams: [{ dial: '198.18.200.3:8080' }, { dial: '198.18.200.2:8080' }],
      load_balancing: { selection_policy: { policy: 'first' } },
      health_checks: { passive: { max_fails: 1 } },
    });
  });

  it('orders one name\'s routes longest prefix first, with whole-segment path matchers', () => {
    const routes = serversOf(caddyConfig([route('site', ['shop.test']), route('api', ['shop.test'], { pathPrefix: '/api' })])).http?.routes ?? [];
    expect(routes.slice(0, 2).map((r) => r.match)).toEqual([[{ host: ['shop.test'], path: ['/api', '/api/*'] }], [{ host: ['shop.test'] }]]);
  });

  it('serves TLS names on HTTPS with their certificate files or ACME, and redirects their plain HTTP', () => {
    const config = caddyConfig(
      [
        route('shop', ['shop.test'], { tls: { mode: 'certificate', certificateFile: '/etc/gangway-edge/certs/shop/cert.pem', keyFile: '/etc/gangway-edge/certs/shop/key.pem' }, hsts: true }),
        route('blog', ['blog.test', 'www.blog.test'], { tls: { mode: 'acme', email: 'ops@blog.test', directory: 'https://198.18.0.1:14000/dir', trustedRootsFile: '/etc/gangway-edge/acme-ca.pem' } }),
      ],
      { ...EDGE_DEFAULTS, httpsPort: 8443 },
    );
    const servers = serversOf(config);
    expect(servers.https?.listen).toEqual([':8443']);
    const redirect = servers.http?.routes.find((r) => r.match?.[0]?.host.includes('shop.test'));
    expect(redirect?.handle[0]).toEqual({ handler: 'static_response', status_code: 308, headers: { Location: ['https://{http.request.host}:8443{http.request.uri}'] } });
    const shop = servers.https?.routes.find((r) => r.match?.[0]?.host.includes('shop.test'));
    expect(shop?.handle.map((h) => h.handler)).toEqual(['headers', 'reverse_proxy']);
    const tls = (config as { apps: { tls: Record<string, unknown> } }).apps.tls;
    expect(tls.certificates).toEqual({ load_files: [{ certificate: '/etc/gangway-edge/certs/shop/cert.pem', key: '/etc/gangway-edge/certs/shop/key.pem', tags: ['gangway-shop'] }] });
    expect(tls.automation).toMatchObject({
      policies: [{ subjects: ['blog.test', 'www.blog.test'], issuers: [{ module: 'acme', ca: 'https://198.18.0.1:14000/dir', email: 'ops@blog.test', trusted_roots_pem_files: ['/etc/gangway-edge/acme-ca.pem'] }] }],
    });
  });

  it('answers a route in maintenance with 503, Retry-After and a plain page instead of the app', () => {
    const handle = serversOf(caddyConfig([route('shop', ['shop.test'], { maintenance: { message: 'Back at 14:00' } })])).http?.routes[0]?.handle;
    expect(handle).toEqual([{ handler: 'static_response', status_code: 503, headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Cache-Control': ['no-store'], 'Retry-After': ['120'] }, body: 'Back at 14:00\n' }]);
  });

  it('is the same config for the same routes in any order', () => {
    const a = route('a', ['a.test']);
    const b = route('b', ['b.test'], { tls: { mode: 'acme', directory: 'https://acme.test/dir' } });
    const c = route('c', ['c.test'], { tls: { mode: 'certificate', certificateFile: '/c.pem', keyFile: '/c.key' } });
    const d = route('d', ['d.test'], { tls: { mode: 'certificate', certificateFile: '/d.pem', keyFile: '/d.key' } });
    expect(JSON.stringify(caddyConfig([a, b, c, d]))).toBe(JSON.stringify(caddyConfig([d, c, b, a])));
  });
});
