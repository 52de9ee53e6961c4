// Route clashes: a network the VPN routes that the runner already reaches another way is
// shadowed (traffic goes to the runner's own network), and the VPN "succeeds" but reaches nothing.
// IPv4 and IPv6 alike; the address math is node:net's (isIP, BlockList).
import { spawnSync } from 'node:child_process';
import { BlockList, isIP } from 'node:net';

export interface Route {
  /** CIDR, e.g. 198.19.0.0/24 or fd00:19::/64; `default` is 0.0.0.0/0 or ::/0. */
  dst: string;
  dev?: string;
  type?: string;
}

export interface Overlap {
  vpn: string;
  runner: string;
  runnerDev: string;
}

type Family = 'ipv4' | 'ipv6';

/** The rows of `ip -j -4|-6 route show table main` as Route[] (empty when they are not JSON). */
export function routesFromIpJson(json: string, family: Family): Route[] {
  try {
    const rows = JSON.parse(json) as Array<{ dst: string; dev?: string; type?: string }>;
    const all = family === 'ipv4' ? '0.0.0.0/0' : '::/0';
    const host = family === 'ipv4' ? 32 : 128;
    return rows.map((row) => ({
      dst: row.dst === 'default' ? all : row.dst.includes('/') ? row.dst : `${row.dst}/${host}`,
      ...(row.dev ? { dev: row.dev } : {}),
      ...(row.type ? { type: row.type } : {}),
    }));
  } catch {
    return [];
  }
}

/** The runner's main routing table, IPv4 and IPv6, as Route[] (empty when `ip` is missing). */
export function readRoutes(): Route[] {
  return (['ipv4', 'ipv6'] as const).flatMap((family) => {
    const r = spawnSync('ip', ['-j', family === 'ipv4' ? '-4' : '-6', 'route', 'show', 'table', 'main'], { encoding: 'utf8' });
    return r.status === 0 ? routesFromIpJson(r.stdout, family) : [];
  });
}

interface Cidr {
  address: string;
  prefix: number;
  family: Family;
}

function parseCidr(cidr: string): Cidr | undefined {
  const slash = cidr.indexOf('/');
  const address = slash === -1 ? cidr : cidr.slice(0, slash);
  const version = isIP(address);
  if (version === 0 || address.includes('%')) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Two CIDRs share addresses. Prefixes are nested or apart, so they overlap exactly when the
 * wider one holds an address of the narrower. Different families never overlap.
 */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y || x.family !== y.family) return false;
  const [wide, narrow] = x.prefix <= y.prefix ? [x, y] : [y, x];
  const list = new BlockList();
  list.addSubnet(wide.address, wide.prefix, wide.family);
  return list.check(narrow.address, narrow.family);
}

/** What `redirect-gateway ipv6` installs in place of ::/0 (as def1 splits 0.0.0.0/0 in halves). */
const IPV6_REDIRECT = new Set(['::/3', '2000::/4', '3000::/4', 'fc00::/7']);

/** A VPN route that stands for "everything else": the redirect-gateway halves and their IPv6 set. */
function isCatchAll(route: Cidr, dst: string): boolean {
  return route.prefix <= 1 || (route.family === 'ipv6' && IPV6_REDIRECT.has(dst));
}

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** Within fe80::/10: every interface has its own, so they never clash. */
function isLinkLocal(route: Cidr): boolean {
  return route.family === 'ipv6' && route.prefix >= 10 && LINK_LOCAL.check(route.address, 'ipv6');
}

/**
 * VPN routes (those on `vpnDev`) that a runner route at least as specific shadows, in part or
 * whole. Ignored: the runner's default routes (every VPN route is more specific), the VPN's
 * own redirect-gateway routes (0.0.0.0/1 and 128.0.0.0/1; for IPv6 ::/3, 2000::/4, 3000::/4 and
 * fc00::/7), IPv6 link-local routes, and routes of type unreachable or blackhole (they carry
 * no traffic anywhere).
 */
export function findOverlaps(routes: Route[], vpnDev: string): Overlap[] {
  const parsed = routes.flatMap((r) => {
    const cidr = parseCidr(r.dst);
    return cidr && !isLinkLocal(cidr) ? [{ route: r, cidr }] : [];
  });
  const vpn = parsed.filter(({ route, cidr }) => route.dev === vpnDev && !isCatchAll(cidr, route.dst));
  const runner = parsed.filter(({ route, cidr }) => route.dev !== vpnDev && route.dev !== undefined && cidr.prefix > 0 && (route.type ?? 'unicast') === 'unicast');
  const out: Overlap[] = [];
  for (const v of vpn) {
    for (const r of runner) {
      if (r.cidr.family === v.cidr.family && r.cidr.prefix >= v.cidr.prefix && cidrsOverlap(v.route.dst, r.route.dst)) {
        out.push({ vpn: v.route.dst, runner: r.route.dst, runnerDev: r.route.dev as string });
      }
    }
  }
  return out;
}
