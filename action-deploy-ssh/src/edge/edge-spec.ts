// The shared edge's container, as values: one per host, on the host's network so that it owns the
// edge's ports itself (no Docker port mapping, which only one container can hold): a second edge can
// then bind the same ports beside it (SO_REUSEPORT, which Caddy sets on its TCP listeners) while the
// first one finishes, so an edge upgrade drops no connection. Pure; edge/edge.ts runs it.
import { createHash } from 'node:crypto';
import type { ContainerCreateOptions } from '../host/engine.ts';
import { LABEL } from '../labels.ts';
import { SERVER_FILES_ROOT } from '../settings/edge.ts';
import { DATA_DIR, EDGE_CONFIG, EDGE_DIR, LOAD_LOCK, WATCH_FILE } from './caddy-config.ts';

export const EDGE_NAME = 'gangway-edge';
/** The edge's config (caddy.json, one route file per app, certificates from inputs). */
export const EDGE_CONFIG_VOLUME = 'gangway-edge-config';
/** Caddy's storage: ACME account and certificates, shared by an old and a new edge during an upgrade. */
export const EDGE_DATA_VOLUME = 'gangway-edge-data';
/** Bumped when the edge's container settings (not its routes) change: running edges are upgraded. */
const EDGE_SPEC_VERSION = 2;

export interface EdgeDesign {
  imageId: string;
  imageRef: string;
  httpPort: number;
  httpsPort: number;
  /** Seconds the edge is given to finish requests in flight when it stops. */
  stopTimeoutS: number;
  /** Server directories of certificate files (tls-certificate-path), mounted read-only under SERVER_FILES_ROOT. */
  mounts: string[];
}

/**
 * The edge's command ($1 the config, $2 WATCH_FILE, $3 LOAD_LOCK): Caddy, and beside it a watch of the
 * certificate files on the server that the routes name ($2: the interval in seconds, then one path a
 * line). When their content changes (certbot renewed them), the edge reloads its config, which reads
 * them again; under the same lock as a deploy's load, so a watch never reloads an older config over a
 * newer one. The shell waits on Caddy alone: when Caddy exits (a crash too) the container exits with
 * it, and the engine's restart policy brings it back. SIGTERM goes to Caddy at once, which finishes
 * its requests in flight; the watch, a background subshell, never delays it.
 */
export const EDGE_COMMAND_SCRIPT = [
  'caddy=',
  'watch=',
  'trap \'[ -z "$watch" ] || kill "$watch" 2>/dev/null; [ -z "$caddy" ] || kill -TERM "$caddy" 2>/dev/null\' TERM INT',
  'caddy run --config "$1" & caddy=$!',
  '(',
  '  trap - TERM INT',
  '  sum() { sed -n \'2,$p\' "$1" 2>/dev/null | while IFS= read -r f; do [ -n "$f" ] && cat "$f"; done 2>/dev/null | cksum; }',
  '  last=$(sum "$2")',
  '  while :; do',
  `    interval=$(sed -n 1p "$2" 2>/dev/null); case "$interval" in ''|*[!0-9]*) interval=600;; esac`,
  '    sleep "$interval"',
  '    now=$(sum "$2")',
  '    if [ "$now" != "$last" ]; then',
  `      if ( exec 9>"$3"; flock 9; caddy reload --config "$1" --force ); then echo 'gangway-edge: certificate files changed on the server: config reloaded'; else echo 'gangway-edge: certificate files changed on the server, and the reload failed: still serving the previous ones' >&2; fi`,
  '    fi',
  '    last=$now',
  '  done',
  ') & watch=$!',
  // A trapped signal ends a wait early: wait again until Caddy has finished its requests and exited.
  'status=0',
  'while :; do wait "$caddy"; status=$?; kill -0 "$caddy" 2>/dev/null || break; done',
  'kill "$watch" 2>/dev/null',
  'exit "$status"',
].join('\n');

export function edgeSpecHash(d: EdgeDesign): string {
  return createHash('sha256').update(JSON.stringify({ v: EDGE_SPEC_VERSION, ...d })).digest('hex').slice(0, 16);
}

export function edgeContainerSpec(d: EdgeDesign, name: string): ContainerCreateOptions {
  return {
    name,
    Image: d.imageRef,
    Entrypoint: [],
    Cmd: ['sh', '-c', EDGE_COMMAND_SCRIPT, 'gangway-edge', EDGE_CONFIG, WATCH_FILE, LOAD_LOCK],
    // Graceful: Caddy stops accepting and finishes requests in flight (the config's grace_period).
    StopSignal: 'SIGTERM',
    StopTimeout: d.stopTimeoutS,
    Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'edge', [LABEL.proxySpec]: edgeSpecHash(d), 'gangway.edge.ports': `${d.httpPort},${d.httpsPort}`, 'gangway.edge.mounts': d.mounts.join(',') },
    HostConfig: {
      NetworkMode: 'host',
      RestartPolicy: { Name: 'unless-stopped' },
      Mounts: [
        { Type: 'volume', Source: EDGE_CONFIG_VOLUME, Target: EDGE_DIR },
        { Type: 'volume', Source: EDGE_DATA_VOLUME, Target: DATA_DIR.replace(/\/caddy$/, '') },
        ...d.mounts.map((dir) => ({ Type: 'bind' as const, Source: dir, Target: `${SERVER_FILES_ROOT}${dir}`, ReadOnly: true })),
      ],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/** A TCP socket of /proc/net/tcp{,6}, as the edge (host network) sees the host's sockets. */
export interface TcpSocket {
  local: { address: string; port: number };
  remote: { address: string; port: number };
  /** 0A = LISTEN, 01 = ESTABLISHED (the kernel's TCP states, hex). */
  state: string;
}

function ipv4(hex: string): string {
  // Four bytes in the host's (little-endian) order.
  const bytes = hex.match(/../g)?.map((b) => parseInt(b, 16)) ?? [];
  return bytes.reverse().join('.');
}

function ipv6(hex: string): string {
  // Four 32-bit words, each in little-endian order.
  const words = hex.toLowerCase().match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse());
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(`${bytes[i] ?? '00'}${bytes[i + 1] ?? '00'}`.replace(/^0+(?=.)/, ''));
  const mapped = groups.join(':');
  // ::ffff:a.b.c.d, as Caddy's dual-stack sockets show IPv4 peers.
  const m = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(mapped);
  if (m?.[1] && m[2]) {
    const v = (parseInt(m[1], 16) << 16) | parseInt(m[2], 16);
    return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  return mapped;
}

function endpoint(text: string): { address: string; port: number } {
  const [hex = '', port = '0'] = text.split(':');
  return { address: hex.length === 8 ? ipv4(hex) : ipv6(hex), port: parseInt(port, 16) };
}

/** The sockets in the text of /proc/net/tcp and /proc/net/tcp6 (header lines skipped). */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!/^\d+:$/.test(fields[0] ?? '') || fields.length < 4) continue;
    sockets.push({ local: endpoint(fields[1] ?? ''), remote: endpoint(fields[2] ?? ''), state: (fields[3] ?? '').toUpperCase() });
  }
  return sockets;
}

export const TCP_LISTEN = '0A';
export const TCP_ESTABLISHED = '01';
export const TCP_SYN_SENT = '02';

/** What the edge container runs to see the host's TCP sockets (its image has cat: Debian's and Alpine's both do). */
export const SOCKETS_COMMAND = ['cat', '/proc/net/tcp', '/proc/net/tcp6'];

/** The host's listeners on `port`, any address. */
export function listenersOn(sockets: TcpSocket[], port: number): number {
  return sockets.filter((s) => s.state === TCP_LISTEN && s.local.port === port).length;
}

/** Connections the edge is still opening to `address:port` (to a container that is gone, until Caddy's dial timeout). */
export function dialsTo(sockets: TcpSocket[], address: string, port: number): number {
  return sockets.filter((s) => s.state === TCP_SYN_SENT && s.remote.address === address && s.remote.port === port).length;
}

/** Connections open from the edge to `address:port` (requests in flight to an old container). */
export function connectionsTo(sockets: TcpSocket[], address: string, port: number): number {
  return sockets.filter((s) => s.state === TCP_ESTABLISHED && s.remote.address === address && s.remote.port === port).length;
}
