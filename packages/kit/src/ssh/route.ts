// Why a connection that worked stopped answering: which interface this machine routes the
// host through. A VPN tunnel (a tun/tap device) whose server went away stays up and swallows
// every packet, so an SSH session through it does not fail, it falls silent until keepalive
// gives up; saying "the VPN" then is the difference between a re-run and an hour of guessing.
import { lookup } from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';

export interface RouteInfo {
  /** The outgoing interface, when a route to the host exists. */
  iface?: string;
  /** The interface is a tun/tap device (OpenVPN, WireGuard-go and the like). */
  tunnel: boolean;
  /** No usable route: none at all, or a reject (unreachable/prohibit) route. */
  noRoute: boolean;
  address: string;
}

const RTF_UP = 0x1;
const RTF_REJECT = 0x200;

/** /proc/net/route holds addresses as little-endian hex. */
function parseHexAddress(hex: string): number {
  const n = Number.parseInt(hex, 16);
  return (((n & 0xff) << 24) | (((n >> 8) & 0xff) << 16) | (((n >> 16) & 0xff) << 8) | ((n >> 24) & 0xff)) >>> 0;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n >>> 0; x; x >>>= 1) count += x & 1;
  return count;
}

/** Longest-prefix match over a /proc/net/route table (the kernel's main table for IPv4). */
export function matchRoute(table: string, address: string): { iface: string; reject: boolean } | undefined {
  const target = ipv4ToNumber(address);
  let best: { iface: string; reject: boolean; bits: number; metric: number } | undefined;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flagsHex, , , metricText, maskHex] = f as [string, string, string, string, string, string, string, string];
    const flags = Number.parseInt(flagsHex, 16);
    if (!(flags & RTF_UP) && !(flags & RTF_REJECT)) continue;
    const mask = parseHexAddress(maskHex);
    if (((target & mask) >>> 0) !== ((parseHexAddress(dest) & mask) >>> 0)) continue;
    const bits = popcount(mask);
    const metric = Number(metricText);
    if (!best || bits > best.bits || (bits === best.bits && metric < best.metric)) best = { iface, reject: (flags & RTF_REJECT) !== 0 || iface === '*', bits, metric };
  }
  return best ? { iface: best.iface, reject: best.reject } : undefined;
}

export function isTunnelInterface(iface: string): boolean {
  return fs.existsSync(`/sys/class/net/${iface}/tun_flags`);
}

/** How this machine reaches `host` now (IPv4 on Linux; undefined where it cannot tell). */
export async function routeTo(host: string): Promise<RouteInfo | undefined> {
  let address = host;
  try {
    if (net.isIP(host) === 0) address = (await lookup(host, { family: 4 })).address;
    if (net.isIP(address) !== 4) return undefined;
    const table = fs.readFileSync('/proc/net/route', 'utf8');
    const match = matchRoute(table, address);
    if (!match || match.reject) return { tunnel: false, noRoute: true, address };
    return { iface: match.iface, tunnel: isTunnelInterface(match.iface), noRoute: false, address };
  } catch {
    return undefined;
  }
}

/** One sentence on the likely cause of a connection to `host` that was lost, or ''. */
export async function lostConnectionHint(host: string): Promise<string> {
  const route = await routeTo(host);
  if (!route) return '';
  if (route.noRoute) return `This machine has no route to ${route.address} any more: the VPN (or the interface) that carried it is gone. Check the VPN step's log and the VPN server.`;
  if (route.tunnel) return `${route.address} is reached through ${route.iface ?? 'a tunnel'}, a VPN tunnel: a VPN whose server went away keeps its tunnel up but carries nothing, which is how this looks. Check the VPN server (and the VPN step's log).`;
  return '';
}
