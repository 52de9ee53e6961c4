// The shared edge's routing table, as values: each app's route is its own record (written and removed
// only by that app's deploys); the edge's whole config is rendered from all of them at once. This module
// holds the rules that do not depend on the edge software: which app answers a request, and which routes
// cannot live side by side on one host. Pure functions, tested by value.
import { SERVER_FILES_ROOT, serverMountOf, type EdgeSettings } from '../settings/edge.ts';

export interface EdgeUpstream {
  /** The container's address on its network, as the edge (host network) reaches it. */
  address: string;
  port: number;
  /** The container's name, for logs and reports. */
  name: string;
}

export type RouteTls =
  | { mode: 'off' }
  /**
   * Files inside the edge container: written into its volume from inputs, or (`fromServer`) the server's
   * own files, their directory mounted read-only under SERVER_FILES_ROOT (see serverMountOf), watched for changes.
   */
  | { mode: 'certificate'; certificateFile: string; keyFile: string; fromServer?: true }
  /** `trustedRootsFile`: the private CA of the ACME directory's own HTTPS (acme-directory-ca), inside the edge. */
  | { mode: 'acme'; email?: string; directory: string; trustedRootsFile?: string };

export interface EdgeRoute {
  app: string;
  hostnames: string[];
  pathPrefix: string;
  /** The container that gets the traffic; while a new one settles, the previous one as the backup. */
  upstream: EdgeUpstream;
  backup?: EdgeUpstream;
  tls: RouteTls;
  hsts: boolean;
  /** Set: the edge answers this route with 503, Retry-After and a plain page. */
  maintenance?: { message?: string };
}

/** A route of `app` from its settings, pointing at `upstream`. */
export function routeOf(app: string, edge: EdgeSettings, upstream: EdgeUpstream, tls: RouteTls, backup?: EdgeUpstream): EdgeRoute {
  return {
    app,
    hostnames: [...edge.hostnames],
    pathPrefix: edge.pathPrefix,
    upstream,
    ...(backup ? { backup } : {}),
    tls,
    hsts: edge.hsts,
    ...(edge.maintenance?.on ? { maintenance: edge.maintenance.message ? { message: edge.maintenance.message } : {} } : {}),
  };
}

/** Whether `path` falls under `prefix` ("/api" covers "/api" and "/api/x", not "/apix"). */
export function underPrefix(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

/** The app that answers `hostname` + `path`: the route with the longest matching prefix. */
export function routeFor(routes: readonly EdgeRoute[], hostname: string, path: string): EdgeRoute | undefined {
  const host = hostname.toLowerCase().replace(/:\d+$/, '');
  return routes
    .filter((r) => r.hostnames.includes(host) && underPrefix(path, r.pathPrefix))
    .sort((a, b) => b.pathPrefix.length - a.pathPrefix.length)[0];
}

function sameTls(a: RouteTls, b: RouteTls): boolean {
  return JSON.stringify(a.mode === 'certificate' ? { mode: a.mode } : a) === JSON.stringify(b.mode === 'certificate' ? { mode: b.mode } : b);
}

/**
 * Why `route` cannot join the routes of the other apps on the host, or undefined. A hostname with the
 * same path prefix belongs to one app; apps that share a hostname under different prefixes must serve
 * it the same way (one certificate, one redirect, one HSTS policy per name).
 */
export function conflictOf(others: readonly EdgeRoute[], route: EdgeRoute): { input: 'hostname' | 'path-prefix' | 'tls' | 'hsts'; message: string } | undefined {
  for (const other of others) {
    if (other.app === route.app) continue;
    for (const name of route.hostnames.filter((h) => other.hostnames.includes(h))) {
      if (other.pathPrefix === route.pathPrefix) {
        return {
          input: 'hostname',
          message: `"${name}"${route.pathPrefix === '/' ? '' : ` under ${route.pathPrefix}`} is already routed to app "${other.app}" on this host. Give this app another hostname or path-prefix, or remove "${other.app}"'s route first.`,
        };
      }
      if (!sameTls(other.tls, route.tls)) {
        return { input: 'tls', message: `"${name}" is served by app "${other.app}" (under ${other.pathPrefix}) with tls: ${other.tls.mode}; one hostname has one TLS setting on a host. Use tls: ${other.tls.mode} here too, or another hostname.` };
      }
      if (other.hsts !== route.hsts) {
        return { input: 'hsts', message: `"${name}" is served by app "${other.app}" with hsts: ${other.hsts}; one hostname has one HSTS policy. Set hsts: ${other.hsts} here too.` };
      }
    }
  }
  return undefined;
}

/** Routes grouped by hostname, each name's routes longest prefix first: the shape every edge config takes. */
export function byHostname(routes: readonly EdgeRoute[]): Map<string, EdgeRoute[]> {
  const grouped = new Map<string, EdgeRoute[]>();
  for (const route of routes) {
    for (const name of route.hostnames) {
      const list = grouped.get(name) ?? [];
      list.push(route);
      grouped.set(name, list);
    }
  }
  for (const list of grouped.values()) list.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || a.app.localeCompare(b.app));
  return new Map([...grouped.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** A server file as the edge sees it (its directory mounted under SERVER_FILES_ROOT). */
export function inEdge(serverFile: string): string {
  return `${SERVER_FILES_ROOT}${serverFile}`;
}

/** The server directories these files need mounted into the edge, sorted, each once (files as on the server). */
export function mountsFor(serverFiles: readonly string[]): string[] {
  return [...new Set(serverFiles.map((f) => serverMountOf(f)).filter((d): d is string => d !== undefined))].sort();
}

/** The server directories every route's certificate files need mounted into the edge, sorted, each once. */
export function serverMounts(routes: readonly EdgeRoute[]): string[] {
  const files = routes.flatMap((r) => (r.tls.mode === 'certificate' && r.tls.fromServer ? [r.tls.certificateFile, r.tls.keyFile] : []));
  return mountsFor(files.filter((f) => f.startsWith(`${SERVER_FILES_ROOT}/`)).map((f) => f.slice(SERVER_FILES_ROOT.length)));
}

/** The certificate files (as the edge sees them) of every route that reads them from the server: the edge reloads when one changes. */
export function watchedFiles(routes: readonly EdgeRoute[]): string[] {
  return [...new Set(routes.flatMap((r) => (r.tls.mode === 'certificate' && r.tls.fromServer ? [r.tls.certificateFile, r.tls.keyFile] : [])))].sort();
}
