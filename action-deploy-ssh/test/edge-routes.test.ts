// The shared edge's routing rules, by value: which app answers, and which routes cannot share a host.
import { describe, expect, it } from 'vitest';
import { byHostname, conflictOf, inEdge, mountsFor, routeFor, routeOf, serverMounts, underPrefix, watchedFiles, type EdgeRoute } from '../src/edge/routes.ts';
import { serverMountOf, type EdgeSettings } from '../src/settings/edge.ts';

const upstream = (name: string) => ({ name, address: '198.18.200.2', port: 8080 });

function route(app: string, hostnames: string[], pathPrefix = '/', extra: Partial<EdgeRoute> = {}): EdgeRoute {
  return { app, hostnames, pathPrefix, upstream: upstream(`${app}-1`), tls: { mode: 'off' }, hsts: false, ...extra };
}

describe('edge routes', () => {
  it('matches a prefix by whole path segments', () => {
    expect(underPrefix('/api', '/api')).toBe(true);
    expect(underPrefix('/api/v1/x', '/api')).toBe(true);
    expect(underPrefix('/apix', '/api')).toBe(false);
    expect(underPrefix('/anything', '/')).toBe(true);
  });

  it('sends a request to the app with the longest matching prefix on its hostname', () => {
    const routes = [route('site', ['shop.test']), route('api', ['shop.test'], '/api'), route('notebook', ['nb.test'])];
    expect(routeFor(routes, 'shop.test', '/api/orders')?.app).toBe('api');
    expect(routeFor(routes, 'SHOP.test:443', '/apix')?.app).toBe('site');
    expect(routeFor(routes, 'nb.test', '/')?.app).toBe('notebook');
    expect(routeFor(routes, 'other.test', '/')).toBeUndefined();
  });

  it('refuses a hostname + prefix another app holds, naming the app; its own earlier route is no conflict', () => {
    const others = [route('dashboard', ['dash.uni.test']), route('api', ['shop.test'], '/api')];
    const taken = conflictOf(others, route('notebook', ['nb.uni.test', 'dash.uni.test']));
    expect(taken?.input).toBe('hostname');
    expect(taken?.message).toMatch(/"dash\.uni\.test" is already routed to app "dashboard"/);
    expect(conflictOf(others, route('api2', ['shop.test'], '/api'))?.message).toMatch(/under \/api is already routed to app "api"/);
    expect(conflictOf(others, route('dashboard', ['dash.uni.test']))).toBeUndefined();
    expect(conflictOf(others, route('site', ['shop.test']))).toBeUndefined();
  });

  it('refuses two apps that would serve one hostname with different TLS or HSTS', () => {
    const acme = { mode: 'acme' as const, directory: 'https://acme.test/dir' };
    const others = [route('api', ['shop.test'], '/api', { tls: acme, hsts: true })];
    expect(conflictOf(others, route('site', ['shop.test'], '/', { tls: { mode: 'off' } }))?.input).toBe('tls');
    expect(conflictOf(others, route('site', ['shop.test'], '/', { tls: acme, hsts: false }))?.input).toBe('hsts');
    expect(conflictOf(others, route('site', ['shop.test'], '/', { tls: acme, hsts: true }))).toBeUndefined();
  });

  it('groups routes by hostname, longest prefix first, in a stable order', () => {
    const grouped = byHostname([route('site', ['b.test', 'a.test']), route('api', ['b.test'], '/api/v1'), route('docs', ['b.test'], '/docs')]);
    expect([...grouped.keys()]).toEqual(['a.test', 'b.test']);
    expect(grouped.get('b.test')?.map((r) => r.app)).toEqual(['api', 'docs', 'site']);
  });

  it('builds a route from the settings, with maintenance only when on', () => {
    const edge: EdgeSettings = { hostnames: ['shop.test'], pathPrefix: '/', tls: { mode: 'off' }, hsts: false, maintenance: { on: true, message: 'back soon' }, httpPort: 80, httpsPort: 443, renewIntervalMs: 600_000 };
    expect(routeOf('shop', edge, upstream('shop-2'), { mode: 'off' }, upstream('shop-1'))).toEqual({
      app: 'shop',
      hostnames: ['shop.test'],
      pathPrefix: '/',
      upstream: upstream('shop-2'),
      backup: upstream('shop-1'),
      tls: { mode: 'off' },
      hsts: false,
      maintenance: { message: 'back soon' },
    });
    expect(routeOf('shop', { ...edge, maintenance: { on: false } }, upstream('shop-2'), { mode: 'off' }).maintenance).toBeUndefined();
  });

  it('mounts the directory of a certificate file on the server (certbot\'s whole tree for its live/ links), never / or the host\'s runtime state', () => {
    expect(serverMountOf('/etc/letsencrypt/live/shop.test/fullchain.pem')).toBe('/etc/letsencrypt');
    expect(serverMountOf('/srv/tls/letsencrypt/live/shop.test/privkey.pem')).toBe('/srv/tls/letsencrypt');
    expect(serverMountOf('/etc/ssl/shop/cert.pem')).toBe('/etc/ssl/shop');
    expect(serverMountOf('/etc/ssl/cert.pem')).toBe('/etc/ssl');
    for (const refused of ['/cert.pem', '/etc/cert.pem', '/run/secrets/cert.pem', '/var/run/x/cert.pem', '/proc/self/cert', '/var/lib/docker/volumes/x/cert.pem', '/root/certs/cert.pem', '/etc/ssh/keys/x.pem', '/etc/docker/certs.d/cert.pem', '/home/deploy/.ssh/id.pem', '/home/deploy/.docker/cert.pem']) {
      expect(serverMountOf(refused), refused).toBeUndefined();
    }
    // As a route records them: the files as the edge sees them, under its root for server directories.
    const fromServer = (app: string, cert: string, key: string) => route(app, [`${app}.test`], '/', { tls: { mode: 'certificate', certificateFile: inEdge(cert), keyFile: inEdge(key), fromServer: true } });
    const routes = [
      fromServer('shop', '/etc/letsencrypt/live/shop.test/fullchain.pem', '/etc/letsencrypt/live/shop.test/privkey.pem'),
      fromServer('blog', '/etc/ssl/blog/cert.pem', '/etc/ssl/blog/key.pem'),
      fromServer('docs', '/etc/letsencrypt/live/docs.test/fullchain.pem', '/etc/letsencrypt/live/docs.test/privkey.pem'),
      // Written into the edge's volume from inputs: nothing to mount or watch.
      route('api', ['api.test'], '/', { tls: { mode: 'certificate', certificateFile: '/etc/gangway-edge/certs/api/1.cert.pem', keyFile: '/etc/gangway-edge/certs/api/1.key.pem' } }),
    ];
    expect(serverMounts(routes)).toEqual(['/etc/letsencrypt', '/etc/ssl/blog']);
    expect(watchedFiles(routes)).toEqual([
      '/gangway-host/etc/letsencrypt/live/docs.test/fullchain.pem',
      '/gangway-host/etc/letsencrypt/live/docs.test/privkey.pem',
      '/gangway-host/etc/letsencrypt/live/shop.test/fullchain.pem',
      '/gangway-host/etc/letsencrypt/live/shop.test/privkey.pem',
      '/gangway-host/etc/ssl/blog/cert.pem',
      '/gangway-host/etc/ssl/blog/key.pem',
    ]);
    expect(mountsFor(['/etc/letsencrypt/live/a.test/fullchain.pem', '/etc/letsencrypt/live/a.test/privkey.pem', '/cert.pem'])).toEqual(['/etc/letsencrypt']);
  });
});
