// lab.json: what a running lab looks like to everything that uses it (tests, benchmarks, e2e).
import fs from 'node:fs';
import { labStateFile } from './plan.ts';

export interface VpnState {
  /** Complete inline client config (.ovpn): `openvpn --config FILE` is all a runner needs. */
  configFile: string;
  ca: string;
  cert: string;
  key: string;
  tlsCrypt: string;
  /** Where the OpenVPN server listens (the target's veth address). */
  remoteHost: string;
  remotePort: number;
  proto: 'udp';
  /** The VPN subnet and the server's own address in it (sshd and published ports). */
  network: string;
  serverAddress: string;
  /** The server accepts several clients with the same certificate at once. */
  duplicateCn: true;
  serverConfigFile: string;
  managementSocket: string;
  pid: number;
  /** action-vpn-connect's scenarios (vpn-extras.ts), on the first target only. */
  auth?: VpnAuthState;
  wrongCert?: VpnWrongCertState;
}

/** A second OpenVPN server on the first target that also checks a username and password (auth-user-pass-verify). */
export interface VpnAuthState {
  port: number;
  network: string;
  serverAddress: string;
  username: string;
  password: string;
  /** Inline client config for this server (with a bare `auth-user-pass`). */
  configFile: string;
  serverConfigFile: string;
  pid: number;
  startTime: string;
}

/** A client certificate and key signed by a CA that no lab server trusts. */
export interface VpnWrongCertState {
  cert: string;
  key: string;
  ca: string;
}

export interface TargetState {
  name: string;
  /** Network namespace (ip netns) of the target host. */
  netns: string;
  index: number;
  sshHost: string;
  sshPort: number;
  username: string;
  privateKeyFile: string;
  /** known_hosts text (one line) for the target's host key at sshHost. */
  knownHosts: string;
  knownHostsFile: string;
  /** SHA256:... of the host key, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** The Docker socket path on the target (forward a stream-local channel to it over SSH). */
  dockerSocket: string;
  /** The engine's data-root on this machine (the chaos suite fills it to make the disk full). */
  dataRoot?: string;
  /** Set when the data-root is a filesystem of its own of this size. */
  dataRootSize?: string;
  /** The target's VPN address: what apps publish ports on and clients reach them at. */
  address: string;
  /** The target's veth address (only OpenVPN's UDP port answers there). */
  vethAddress: string;
  /** The host's end of the target's veth. */
  hostVethAddress: string;
  /**
   * The target's address on the lab LAN (`lan` in lab.json, src/lan.ts), `198.18.100.(index+1)`: the private
   * network between targets. Other targets (and their containers) reach it; the root namespace cannot.
   */
  lanAddress: string;
  dockerBridge: string;
  dockerAddressPool: string;
  vpn: VpnState;
  pids: { dockerd: number; sshd: number; openvpn: number };
}

/** One pebble: an ACME directory (RFC 8555) whose listener has a certificate from the lab CA. */
export interface AcmeCaState {
  /** e.g. https://198.18.0.1:14000/dir */
  directoryUrl: string;
  /** Pebble's management API (same TLS): GET /roots/0, /intermediates/0. */
  managementUrl: string;
  /** The root this pebble issues under (PEM): generated anew at every start, fetch it, never cache it. */
  rootUrl: string;
  /** Certificate lifetime in seconds (`certificateValidityPeriod`); null: pebble's default, 5 years. */
  validitySeconds: number | null;
  configFile: string;
  pid: number;
  startTime: string;
}

/** The lab's ACME CA (src/acme.ts): Debian's pebble 2.4.0, with pebble-challtestsrv as its DNS. */
export interface AcmeState extends AcmeCaState {
  /** The lab CA: what an ACME client must trust to talk to pebble (not what pebble issues under). */
  caFile: string;
  /** Where pebble listens (the host's end of the first target's veth). */
  address: string;
  /** A second pebble whose certificates live `validitySeconds` (GANGWAY_LAB_ACME_SHORT_VALIDITY, 120 s): for renewals. */
  shortLived: AcmeCaState;
  /** Where pebble validates http-01 and tls-alpn-01: the edge's ports. */
  challengePorts: { http: number; tls: number };
  /** The PEBBLE_* settings both pebbles run with. */
  env: Record<string, string>;
  dns: {
    /** HOST:PORT, udp and tcp: pebble resolves challenge hostnames here. */
    server: string;
    /** pebble-challtestsrv's management API: POST /add-a {"host","addresses"}, /clear-a {"host"}. */
    managementUrl: string;
    /** A answer for every name not set otherwise: the first target's vethAddress (no AAAA). */
    defaultA: string;
    pid: number;
    startTime: string;
  };
}

/** The lab LAN between the targets (src/lan.ts). */
export interface LanState {
  /** The bridge in the root namespace every target's `lan0` is a port of. */
  bridge: string;
  /** e.g. 198.18.100.0/24; target N is .(N+1) (`targets[].lanAddress`). */
  subnet: string;
  /** Always null: the root namespace has no address on the LAN (and an unreachable route to it). */
  hostAddress: null;
}

export interface LabState {
  version: 1;
  startedAt: string;
  stateDir: string;
  /** The lab CA (signs the registry's certificate). */
  caFile: string;
  registry: {
    /** addr:port, e.g. 198.18.0.1:5000 */
    host: string;
    address: string;
    port: number;
    username: string;
    password: string;
    caFile: string;
    pid: number;
  };
  runner: {
    /** unix:///run/gangway-lab/runner/docker.sock */
    dockerHost: string;
    socket: string;
    bridge: string;
    bridgeSubnet: string;
    addressPool: string;
    pid: number;
  };
  /** The first target (targets[0]); `vpn` is its VPN. */
  target: TargetState;
  vpn: VpnState;
  targets: TargetState[];
  /** The private network between the targets (`lab:up` adds it to a lab started before it existed). */
  lan: LanState;
  images: { node: string[]; nginx: string[] };
  /** The ACME CA standing in for Let's Encrypt (absent on a lab started before it existed: `lab:up` adds it). */
  acme?: AcmeState;
  pids: Record<string, number>;
}

export class LabNotUpError extends Error {
  constructor(detail: string) {
    super(`The Gangway lab is not up (${detail}). Start it with \`npm run lab:up\` (as root).`);
    this.name = 'LabNotUpError';
  }
}

export function labStateExists(): boolean {
  return fs.existsSync(labStateFile);
}

/** Read lab/.state/lab.json; throws LabNotUpError when the lab is not up. */
export function readLabState(): LabState {
  let text: string;
  try {
    text = fs.readFileSync(labStateFile, 'utf8');
  } catch {
    throw new LabNotUpError(`no ${labStateFile}`);
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1) throw new LabNotUpError(`unknown lab.json version ${String(state.version)}`);
  return state;
}

export function writeLabState(state: LabState): void {
  const tmp = `${labStateFile}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, labStateFile);
}
