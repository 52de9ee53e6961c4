// The shared edge's whole Caddy config (JSON), rendered from every app's route at once. Caddy swaps a
// config as one unit: a config it refuses leaves the previous one serving, so a broken route of one app
// never takes another down. Pure: tested by value, and loaded into a real Caddy by the lab tests.
//
// The shape, per host:
// - server "http" on the edge's HTTP port: apps with tls: off are proxied there; names with TLS are
//   redirected to HTTPS (308), except ACME's challenge path, which Caddy answers itself.
// - server "https" on the edge's HTTPS port: names with TLS, with their certificate (files, or ACME).
// - per route: maintenance (503 + Retry-After + a plain page), or a reverse proxy to the app's container,
//   with the previous container as the backup while the new one settles.
// - a request for a name no app has gets 404 from the edge, never another app's answer.
import { byHostname, type EdgeRoute, type EdgeUpstream } from './routes.ts';

/** Where Gangway keeps the edge's files, inside the edge container (a volume: they outlive the container). */
export const EDGE_DIR = '/etc/gangway-edge';
export const EDGE_CONFIG = `${EDGE_DIR}/caddy.json`;
/** One JSON record per app: written and removed only by that app's deploys. */
export const ROUTES_DIR = `${EDGE_DIR}/routes`;
/** Certificates given as inputs, per app. */
export const CERTS_DIR = `${EDGE_DIR}/certs`;
/** What the edge watches on the server: the interval in seconds, then the certificate files (edge-spec.ts). */
export const WATCH_FILE = `${EDGE_DIR}/watch`;
/** Held (flock) by a deploy's load (edge.ts's LOAD) and by the edge's reload after a certificate file changed. */
export const LOAD_LOCK = `${EDGE_DIR}/.load.lock`;
/** Caddy's own storage (ACME accounts, certificates, locks): a volume, shared by an old and a new edge. */
export const DATA_DIR = '/data/caddy';
/** The admin API: a unix socket inside the edge container only; Gangway reaches it with docker exec. */
export const ADMIN_SOCKET = '/run/gangway-edge-admin.sock';

export interface EdgeWide {
  httpPort: number;
  httpsPort: number;
  /** How long an old edge (or an old config's servers) finishes requests in flight. */
  gracePeriodMs: number;
  /** How often Caddy looks at certificates to renew. */
  renewIntervalMs: number;
  /** Seconds a client is told to wait while an app is in maintenance. */
  maintenanceRetryAfterS: number;
}

export const EDGE_DEFAULTS: EdgeWide = { httpPort: 80, httpsPort: 443, gracePeriodMs: 30_000, renewIntervalMs: 10 * 60_000, maintenanceRetryAfterS: 120 };

const duration = (ms: number): string => `${Math.max(0, Math.round(ms))}ms`;

/** How long Caddy waits before it tries a failed request again (on the backup while a new container settles). */
export const RETRY_INTERVAL_MS = 100;
/**
 * How long after a container failed a request the edge may still hold that request, waiting to try it
 * again on the backup. Caddy (2.6, the lab's; current Caddy 2 the same) ends those waits when its config
 * is replaced: such a request, a GET it would have sent on, is answered 502. A rollback therefore lets
 * this much pass after the last failure it can see before it loads the config without the failed
 * container (front.ts, blue-green.ts); by then those requests are on the backup and finish there,
 * config or no config.
 */
export const RETRY_WINDOW_MS = 3 * RETRY_INTERVAL_MS;
/** Caddy's default dial timeout (not set in the config): a connection to an address that no longer answers fails after it. */
export const DIAL_TIMEOUT_MS = 3000;

function pathMatch(prefix: string): Record<string, unknown> {
  return prefix === '/' ? {} : { path: [prefix, `${prefix}/*`] };
}

const plainHeaders = (extra: Record<string, string[]> = {}) => ({ 'Content-Type': ['text/plain; charset=utf-8'], 'Cache-Control': ['no-store'], ...extra });

function maintenancePage(route: EdgeRoute, wide: EdgeWide): Record<string, unknown> {
  const message = route.maintenance?.message ?? 'This service is down for maintenance. Please try again shortly.';
  return { handler: 'static_response', status_code: 503, headers: plainHeaders({ 'Retry-After': [String(wide.maintenanceRetryAfterS)] }), body: `${message}\n` };
}

const dial = (u: EdgeUpstream): { dial: string } => ({ dial: `${u.address.includes(':') ? `[${u.address}]` : u.address}:${u.port}` });

function proxy(route: EdgeRoute): Record<string, unknown> {
  const upstreams = [dial(route.upstream), ...(route.backup ? [dial(route.backup)] : [])];
  return {
    handler: 'reverse_proxy',
    upstreams,
    // Idle connections to a container close after 4 s (below Node's 5 s keep-alive): once a switch is
    // done, the connections left to the old container are the requests still in flight (edge.ts drains on them).
    transport: { protocol: 'http', keep_alive: { idle_timeout: '4s' } },
    ...(route.backup
      ? {
          // Settling: the new container first; a request it fails to take (refused, reset before an answer)
          // goes to the previous one, and one failure takes the new one out for a while.
          load_balancing: { selection_policy: { policy: 'first' }, try_duration: '5s', try_interval: duration(RETRY_INTERVAL_MS) },
          health_checks: { passive: { fail_duration: '10s', max_fails: 1 } },
        }
      : { load_balancing: { try_duration: '5s', try_interval: duration(RETRY_INTERVAL_MS) } }),
  };
}

function appRoute(route: EdgeRoute, hostname: string, wide: EdgeWide, tls: boolean): Record<string, unknown> {
  const handle: Record<string, unknown>[] = [];
  if (tls && route.hsts) handle.push({ handler: 'headers', response: { set: { 'Strict-Transport-Security': ['max-age=31536000'] } } });
  handle.push(route.maintenance ? maintenancePage(route, wide) : proxy(route));
  return { match: [{ host: [hostname], ...pathMatch(route.pathPrefix) }], handle, terminal: true };
}

function notRouted(): Record<string, unknown> {
  return { handle: [{ handler: 'static_response', status_code: 404, headers: plainHeaders(), body: 'No app is routed here.\n' }], terminal: true };
}

/** Caddy's whole config for the edge: every app's route, TLS, and the admin socket. */
export function caddyConfig(routes: readonly EdgeRoute[], wide: EdgeWide = EDGE_DEFAULTS): Record<string, unknown> {
  const httpRoutes: Record<string, unknown>[] = [];
  const httpsRoutes: Record<string, unknown>[] = [];
  const tlsNames: string[] = [];
  const loadFiles: Record<string, unknown>[] = [];
  const acmePolicies = new Map<string, { subjects: string[]; issuer: Record<string, unknown> }>();
  type Policy = { subjects: string[]; issuer: Record<string, unknown> };
  const httpsSuffix = wide.httpsPort === 443 ? '' : `:${wide.httpsPort}`;

  for (const [hostname, hostRoutes] of byHostname(routes)) {
    const tls = hostRoutes[0]?.tls ?? { mode: 'off' };
    if (tls.mode === 'off') {
      for (const route of hostRoutes) httpRoutes.push(appRoute(route, hostname, wide, false));
      continue;
    }
    tlsNames.push(hostname);
    for (const route of hostRoutes) httpsRoutes.push(appRoute(route, hostname, wide, true));
    // Plain HTTP for a TLS name: a redirect to the same URL over HTTPS (ACME's challenge path is answered by Caddy).
    httpRoutes.push({
      match: [{ host: [hostname] }],
      handle: [{ handler: 'static_response', status_code: 308, headers: { Location: [`https://{http.request.host}${httpsSuffix}{http.request.uri}`] } }],
      terminal: true,
    });
  }
  // Certificate files and ACME policies, per app (an app's names share its TLS setting), in app order.
  for (const route of [...routes].sort((a, b) => a.app.localeCompare(b.app))) {
    if (route.tls.mode === 'certificate') {
      loadFiles.push({ certificate: route.tls.certificateFile, key: route.tls.keyFile, tags: [`gangway-${route.app}`] });
    } else if (route.tls.mode === 'acme') {
      const issuer = {
        module: 'acme',
        ca: route.tls.directory,
        ...(route.tls.email ? { email: route.tls.email } : {}),
        ...(route.tls.trustedRootsFile ? { trusted_roots_pem_files: [route.tls.trustedRootsFile] } : {}),
        // The HTTP challenge only: the edge's HTTPS port may not be 443, and TLS-ALPN needs 443.
        challenges: { http: { alternate_port: wide.httpPort }, 'tls-alpn': { disabled: true } },
      };
      const key = JSON.stringify(issuer);
      const policy: Policy = acmePolicies.get(key) ?? { subjects: [], issuer };
      for (const name of route.hostnames) if (!policy.subjects.includes(name)) policy.subjects.push(name);
      acmePolicies.set(key, policy);
    }
  }
  httpRoutes.push(notRouted());
  httpsRoutes.push(notRouted());

  const servers: Record<string, unknown> = {
    http: {
      listen: [`:${wide.httpPort}`],
      protocols: ['h1'],
      routes: httpRoutes,
      // Gangway writes the redirects itself (above), per name, so that tls: off names stay plain HTTP.
      automatic_https: { disable_redirects: true },
    },
  };
  if (tlsNames.length > 0) {
    servers['https'] = {
      listen: [`:${wide.httpsPort}`],
      // No HTTP/3: Caddy 2.6 binds UDP without SO_REUSEPORT, so a second edge could not start beside the first.
      protocols: ['h1', 'h2'],
      routes: httpsRoutes,
      tls_connection_policies: [{}],
      automatic_https: { disable_redirects: true },
    };
  }
  const tlsApp: Record<string, unknown> = {
    automation: {
      policies: [...acmePolicies.values()].map((p) => ({ subjects: p.subjects.sort(), issuers: [p.issuer] })),
      renew_interval: duration(wide.renewIntervalMs),
    },
    ...(loadFiles.length > 0 ? { certificates: { load_files: loadFiles } } : {}),
  };
  return {
    admin: { listen: `unix/${ADMIN_SOCKET}`, config: { persist: false } },
    logging: { logs: { default: { level: 'WARN' } } },
    storage: { module: 'file_system', root: DATA_DIR },
    apps: {
      http: { http_port: wide.httpPort, https_port: wide.httpsPort, grace_period: duration(wide.gracePeriodMs), servers },
      tls: tlsApp,
    },
  };
}
