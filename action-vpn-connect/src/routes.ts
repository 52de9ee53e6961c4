// Route clashes: a network the VPN routes that the runner already reaches another way is
// shadowed (traffic goes to the runner's own network), and the VPN "succeeds" but reaches nothing.
import { spawnSync } from 'node:child_process';

export interface Route {
  /** CIDR, e.g. 198.19.0.0/24; `default` is 0.0.0.0/0. */
  dst: string;
  dev?: string;
  type?: string;
}

export interface Overlap {
  vpn: string;
  runner: string;
  runnerDev: string;
}

/** `ip -j -4 route show table main` as Route[] (empty when `ip` is missing). */
export function readRoutes(): Route[] {
  const r = spawnSync('ip', ['-j', '-4', 'route', 'show', 'table', 'main'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  try {
    const rows = JSON.parse(r.stdout) as Array<{ dst: string; dev?: string; type?: string }>;
    return rows.map((row) => ({ dst: row.dst === 'default' ? '0.0.0.0/0' : row.dst.includes('/') ? row.dst : `${row.dst}/32`, ...(row.dev ? { dev: row.dev } : {}), ...(row.type ? { type: row.type } : {}) }));
  } catch {
    return [];
  }
}

function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { base: value - (value % 2 ** (32 - bits)), bits };
}

/** Two CIDRs share addresses. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const bits = Math.min(x.bits, y.bits);
  const size = 2 ** (32 - bits);
  return Math.floor(x.base / size) === Math.floor(y.base / size);
}

/**
 * VPN routes (those on `vpnDev`) that a runner route at least as specific shadows, in part or
 * whole. Ignored: the runner's default route (every VPN route is more specific), the VPN's
 * own redirect-gateway halves (0.0.0.0/1, 128.0.0.0/1), and routes of type unreachable or
 * blackhole (they carry no traffic anywhere).
 */
export function findOverlaps(routes: Route[], vpnDev: string): Overlap[] {
  const bitsOf = (cidr: string): number => Number(cidr.split('/')[1] ?? 32);
  const vpn = routes.filter((r) => r.dev === vpnDev && bitsOf(r.dst) > 1);
  const runner = routes.filter((r) => r.dev !== vpnDev && r.dev !== undefined && bitsOf(r.dst) > 0 && (r.type ?? 'unicast') === 'unicast');
  const out: Overlap[] = [];
  for (const v of vpn) {
    for (const r of runner) {
      if (bitsOf(r.dst) >= bitsOf(v.dst) && cidrsOverlap(v.dst, r.dst)) out.push({ vpn: v.dst, runner: r.dst, runnerDev: r.dev as string });
    }
  }
  return out;
}
