// The lab's ACME CA, standing in for Let's Encrypt (issue #18): Debian 12's `pebble` 2.4.0, with its
// `pebble-challtestsrv` as the DNS pebble resolves challenge hostnames with. All of it on the host, on the
// first target's host-side veth address (198.18.0.1, where the registry is): every target reaches it over
// its default route, and its listeners present a certificate from the lab CA (trust `caFile`).
//
// What pebble 2.4.0 can and cannot do (read from `pebble -h`, /usr/share/doc/pebble and the binary; each
// one seen working here):
// - Certificate lifetime: YES. The config key `certificateValidityPeriod` (seconds, one value per pebble
//   process; log line "Using certificate validity period of N seconds") sets notAfter = notBefore + N - 1 s.
//   Without it, pebble 2.4.0 issues 5-year certificates. `pebble -h` and the README do not mention the key,
//   the binary does (config struct field CertificateValidityPeriod). So the lab runs TWO pebbles: the
//   default one (5-year certificates) and a short-lived one (GANGWAY_LAB_ACME_SHORT_VALIDITY seconds, 120 by
//   default) for tests that force a renewal. Each has its own root.
// - No rate limits (README), no ARI (renewalInfo) and no ACME profiles (not in the binary), no OCSP responder
//   (`ocspResponderURL` only puts a URL in certificates; unset here).
// - Roots: generated anew at every start, never the same twice: GET <managementUrl>/roots/0 (and
//   /intermediates/0) for the one in use; never put one in a system trust store. Chain: leaf +
//   1 intermediate (PEBBLE_CHAIN_LENGTH=1, the default).
// - Validation ports: `httpPort`/`tlsPort` in the config, here 80 and 443 (the edge's ports).
// - DNS: pebble has no resolver settings of its own beyond `-dnsserver HOST:PORT`; without it, the
//   system resolver. Here it asks pebble-challtestsrv, which answers A for ANY name with `-defaultIPv4`
//   (the first target's veth address) and no AAAA (`-defaultIPv6 ""`); per-name answers through its
//   management API (POST /add-a {"host","addresses"}, POST /clear-a {"host"}). Its own http-01/tls-alpn-01
//   responders are turned off: the lab validates against the real target.
// - Env: PEBBLE_VA_NOSLEEP=1 (no random 0-15 s sleep before each validation), PEBBLE_WFE_NONCEREJECT=0
//   (pebble otherwise rejects 5 % of good nonces to exercise clients' badNonce retries), PEBBLE_AUTHZREUSE=0
//   (by default pebble reuses a valid authorization for a new order 50 % of the time; 0 makes every order,
//   renewals included, answer a fresh challenge: deterministic, and the harder case for an edge; Let's
//   Encrypt itself reuses them for up to 30 days). PEBBLE_VA_ALWAYS_VALID (skip validation) is left off.
//
// Reaching the target's port 80/443: the targets answer nothing on their veth but OpenVPN, and the host
// keeps no tunnel, so pebble (on the host) could not reach a challenge. The edge's ports are the public
// ones of a real server (Let's Encrypt must reach them), so in every target namespace TCP 80 and 443 from
// the host's veth address to the target's veth address are accepted and DNAT-ed to the target's VPN
// address: whatever serves 80/443 there (a container published on the VPN address, the engine's default;
// a host-networked edge; a process on 0.0.0.0) answers pebble at <vethAddress>:80/443. SSH, the engine and
// every other port stay VPN-only. DNS answers the first target's vethAddress for any name.
import fs from 'node:fs';
import https from 'node:https';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { run, waitFor } from './exec.ts';
import { closeLedger, openLedger, readLedger } from './ledger.ts';
import type { RecordedProcess } from './ledger.ts';
import { inNetns } from './net.ts';
import { createLeaf } from './pki.ts';
import type { CertFiles } from './pki.ts';
import { caDir, plannedTargets, registryAddress, stateDir, targetPlan } from './plan.ts';
import type { TargetPlan } from './plan.ts';
import { assertRunning, isAlive, startDaemon } from './processes.ts';
import { say } from './progress.ts';
import { writeLabState } from './state.ts';
import type { AcmeCaState, AcmeState, LabState } from './state.ts';

export const acmePorts = { directory: 14000, management: 15000, shortDirectory: 14001, shortManagement: 15001, dns: 8053, dnsManagement: 8055 } as const;
/** The challenge ports pebble validates on: the edge's. */
export const acmeChallengePorts = { http: 80, tls: 443 } as const;
export const acmeEnv = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } as const;

export function shortValiditySeconds(): number {
  const raw = process.env['GANGWAY_LAB_ACME_SHORT_VALIDITY'] ?? '120';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10) throw new Error(`GANGWAY_LAB_ACME_SHORT_VALIDITY=${raw} is not a whole number of seconds ≥ 10`);
  return n;
}

/** Where the targets' http-01/tls-alpn-01 listeners are reached (see the comment at the top). */
function edgeRules(t: Pick<TargetPlan, 'vethNs' | 'hostAddress' | 'nsAddress' | 'vpnServerAddress'>): Array<{ table: string; spec: string[] }> {
  const match = ['-i', t.vethNs, '-s', t.hostAddress, '-d', t.nsAddress, '-p', 'tcp', '-m', 'multiport', '--dports', `${acmeChallengePorts.http},${acmeChallengePorts.tls}`, '-m', 'comment', '--comment', 'gangway-lab acme'];
  return [
    // Before the veth's DROP (mangle sees the packet first, before Docker's DNAT).
    { table: 'mangle', spec: [...match, '-j', 'ACCEPT'] },
    // Before Docker's jump to its DOCKER chain: the packet goes to the VPN address, where ports are published.
    { table: 'nat', spec: [...match, '-j', 'DNAT', '--to-destination', t.vpnServerAddress] },
  ];
}

/** Idempotent: inserts each rule at the top of PREROUTING unless it is there (rules go with the namespace). */
export function openEdgePorts(t: TargetPlan): void {
  for (const r of edgeRules(t)) {
    const check = inNetns(t.name, 'iptables', ['-w', '-t', r.table, '-C', 'PREROUTING', ...r.spec]);
    if (run(check.cmd, check.args, { allowFailure: true }).status === 0) continue;
    const insert = inNetns(t.name, 'iptables', ['-w', '-t', r.table, '-I', 'PREROUTING', '1', ...r.spec]);
    run(insert.cmd, insert.args);
  }
}

function get(url: string, ca: Buffer, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** GET the ACME directory with the lab CA: true when it answers 200 with a newOrder URL. */
export async function acmeDirectoryAnswers(directoryUrl: string, caFile: string): Promise<boolean> {
  try {
    const r = await get(directoryUrl, fs.readFileSync(caFile));
    return r.status === 200 && (JSON.parse(r.body) as { newOrder?: string }).newOrder !== undefined;
  } catch {
    return false;
  }
}

/** The root pebble issues under (PEM), from its management API: it changes at every start. */
export async function fetchAcmeRoot(ca: Pick<AcmeCaState, 'rootUrl'>, caFile: string): Promise<string> {
  const r = await get(ca.rootUrl, fs.readFileSync(caFile), 5000);
  if (r.status !== 200 || !r.body.includes('BEGIN CERTIFICATE')) throw new Error(`GET ${ca.rootUrl} answered ${r.status}`);
  return r.body;
}

interface PebbleSpec {
  name: string;
  directoryPort: number;
  managementPort: number;
  validitySeconds: number | null;
}

function writePebbleConfig(dir: string, spec: PebbleSpec, tls: CertFiles): string {
  const address = registryAddress();
  const config = {
    pebble: {
      listenAddress: `${address}:${spec.directoryPort}`,
      managementListenAddress: `${address}:${spec.managementPort}`,
      certificate: tls.cert,
      privateKey: tls.key,
      httpPort: acmeChallengePorts.http,
      tlsPort: acmeChallengePorts.tls,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(spec.validitySeconds === null ? {} : { certificateValidityPeriod: spec.validitySeconds }),
    },
  };
  const file = path.join(dir, `${spec.name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

function caState(spec: PebbleSpec, configFile: string, proc: RecordedProcess): AcmeCaState {
  const address = registryAddress();
  const managementUrl = `https://${address}:${spec.managementPort}`;
  return {
    directoryUrl: `https://${address}:${spec.directoryPort}/dir`,
    managementUrl,
    rootUrl: `${managementUrl}/roots/0`,
    validitySeconds: spec.validitySeconds,
    configFile,
    pid: proc.pid,
    startTime: proc.startTime,
  };
}

/** Starts challtestsrv (DNS) and the two pebbles, waits until each answers. Needs an open ledger. */
export async function startAcme(ca: CertFiles, defaultA: string): Promise<AcmeState> {
  const dir = path.join(stateDir, 'acme');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const address = registryAddress();
  const tls = createLeaf({ dir, name: 'pebble', commonName: 'Gangway lab ACME CA (pebble)', ca, usage: 'serverAuth', subjectAltName: `IP:${address}` });
  const dnsServer = `${address}:${acmePorts.dns}`;

  const dns = startDaemon({
    name: 'acme-dns',
    cmd: 'pebble-challtestsrv',
    args: [
      '-defaultIPv4', defaultA, '-defaultIPv6', '',
      '-dns01', dnsServer, '-management', `${address}:${acmePorts.dnsManagement}`,
      // Its own challenge responders stay off: pebble validates against the real target.
      '-http01', '', '-https01', '', '-tlsalpn01', '',
    ],
  });
  const specs: PebbleSpec[] = [
    { name: 'pebble', directoryPort: acmePorts.directory, managementPort: acmePorts.management, validitySeconds: null },
    { name: 'pebble-short', directoryPort: acmePorts.shortDirectory, managementPort: acmePorts.shortManagement, validitySeconds: shortValiditySeconds() },
  ];
  const env = { ...process.env, ...acmeEnv };
  const pebbles = specs.map((spec) => {
    const configFile = writePebbleConfig(dir, spec, tls);
    const proc = startDaemon({ name: spec.name, cmd: 'pebble', args: ['-config', configFile, '-dnsserver', dnsServer], env });
    return { spec, configFile, proc };
  });

  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([dnsServer]);
  await Promise.all([
    waitFor(`pebble-challtestsrv's DNS on ${dnsServer}`, 10_000, async () => {
      assertRunning(dns);
      const answer = await resolver.resolve4('ready.acme.gangway-lab.test');
      return answer.includes(defaultA) ? true : undefined;
    }),
    ...pebbles.map(({ spec, proc }) =>
      waitFor(`${spec.name} on ${address}:${spec.directoryPort}`, 10_000, async () => {
        assertRunning(proc);
        return (await acmeDirectoryAnswers(`https://${address}:${spec.directoryPort}/dir`, ca.cert)) ? true : undefined;
      }, 50),
    ),
  ]);
  const [main, short] = pebbles;
  if (!main || !short) throw new Error('unreachable: two pebbles');
  return {
    caFile: ca.cert,
    address,
    ...caState(main.spec, main.configFile, main.proc),
    shortLived: caState(short.spec, short.configFile, short.proc),
    challengePorts: { ...acmeChallengePorts },
    env: { ...acmeEnv },
    dns: {
      server: dnsServer,
      managementUrl: `http://${address}:${acmePorts.dnsManagement}`,
      defaultA,
      pid: dns.pid,
      startTime: dns.startTime,
    },
  };
}

/** The address the DNS answers by default: the first target's veth address (its 80/443 reach its VPN address). */
export function acmeDefaultA(): string {
  return targetPlan(1).nsAddress;
}

/** lab:up: the edge ports on every target, then the ACME part. Needs an open ledger. */
export async function upAcme(ca: CertFiles, targets: TargetPlan[] = plannedTargets()): Promise<AcmeState> {
  for (const t of targets) openEdgePorts(t);
  return startAcme(ca, acmeDefaultA());
}

/**
 * On a running lab (`lab:up` while up): adds the ACME part when lab.json has none (a lab started
 * before it existed), and the edge-port rules on targets added since. Returns the updated state.
 */
export async function ensureAcme(state: LabState): Promise<LabState> {
  const targets = state.targets.map((t) => targetPlan(t.index));
  for (const t of targets) openEdgePorts(t);
  const current = state.acme;
  if (current && [current, current.shortLived, current.dns].every((p) => isAlive(p))) return state;
  if (current) throw new Error('the lab\'s ACME CA has died: take the lab down and up again (npm run lab:down && npm run lab:up)');
  const ledger = readLedger();
  if (!ledger) throw new Error('the lab has no ledger: bring it up first');
  say('acme: pebble (ACME CA) and pebble-challtestsrv (its DNS) on a running lab');
  openLedger(ledger);
  let acme: AcmeState;
  try {
    acme = await startAcme({ cert: state.caFile, key: path.join(caDir, 'ca.key') }, acmeDefaultA());
  } finally {
    closeLedger();
  }
  const next: LabState = { ...state, acme, pids: { ...state.pids, pebble: acme.pid, 'pebble-short': acme.shortLived.pid, 'acme-dns': acme.dns.pid } };
  writeLabState(next);
  return next;
}

export function describeAcme(a: AcmeState): string[] {
  return [
    `acme       ${a.directoryUrl} (pebble, 5-year certificates; root ${a.rootUrl}, new at each start)  TLS from CA ${a.caFile}`,
    `           short-lived (${a.shortLived.validitySeconds ?? '?'} s): ${a.shortLived.directoryUrl}  root ${a.shortLived.rootUrl}`,
    `           validates on :${a.challengePorts.http}/:${a.challengePorts.tls}; DNS ${a.dns.server} answers ${a.dns.defaultA} for any name (management ${a.dns.managementUrl})`,
  ];
}
