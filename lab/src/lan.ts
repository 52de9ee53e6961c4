// The lab LAN: the private network real deployments put their servers on (workers on a GPU host reach
// Redis on the web host over it), between the lab's targets.
//
// - A bridge in the root namespace, `gw-lan`, with NO address (IPv4 or IPv6): a switch the host is not on.
// - Per target a second veth: `lan0` in the namespace with `198.18.100.(index+1)/24` (no default route through
//   it, IPv6 off), the host end (`gw-tN-lan`, no address) a port of the bridge.
// - The host gets `unreachable 198.18.100.0/24`: with no address on the subnet the host would otherwise send
//   LAN addresses out of its default route; this way a connect from the root namespace (the runner, its
//   engine's containers) fails at once, and the runner still reaches targets only through their VPNs.
// - A host `FORWARD -i gw-lan -o gw-lan -j ACCEPT` (tagged): br_netfilter hands bridged IPv4 frames to the
//   host's FORWARD chain (bridge-nf-call-iptables), which must not drop them should its policy be DROP.
// - Nothing changes in the namespaces' firewalls: their mangle/PREROUTING rules match `-i <vethNs>` (the
//   VPN-facing veth) only, so LAN traffic passes them. Docker's own rules carry it: a port published on the
//   LAN address (or 0.0.0.0) is DNAT-ed (`PREROUTING --dst-type LOCAL -j DOCKER`) and accepted (`FORWARD
//   -o docker0 -j DOCKER`); containers going out to the LAN are masqueraded to their target's LAN address
//   (`POSTROUTING -s <bip> ! -o docker0 -j MASQUERADE`), so the other side sees `198.18.100.(index+1)`.
//
// All of it recorded in the ledger before it is made (links, route, host rule); the namespace ends go with
// the namespaces. `lab:up` makes it with the targets; `lab:up` on a running lab adds what is missing.
import { run } from './exec.ts';
import { closeLedger, note, openLedger, readLedger } from './ledger.ts';
import type { Ledger, RecordedRule } from './ledger.ts';
import { addBridge, addBridgePort, addHostRule, linkExists } from './net.ts';
import { lanPlan, targetPlan } from './plan.ts';
import type { TargetPlan } from './plan.ts';
import { say } from './progress.ts';
import { writeLabState } from './state.ts';
import type { LabState, LanState } from './state.ts';

export const lanRoute: string[] = ['unreachable', lanPlan.subnet];
const lanForward = { table: 'filter', chain: 'FORWARD', spec: ['-i', lanPlan.bridge, '-o', lanPlan.bridge, '-j', 'ACCEPT'] } as const;

export function lanState(): LanState {
  return { bridge: lanPlan.bridge, subnet: lanPlan.subnet, hostAddress: null };
}

function sameRoute(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function hasForwardRule(l: Ledger): boolean {
  return l.rules.some((r: RecordedRule) => r.netns === undefined && r.table === lanForward.table && r.chain === lanForward.chain && r.spec.slice(0, lanForward.spec.length).every((x, i) => x === lanForward.spec[i]));
}

/** The bridge, the host's unreachable route and FORWARD rule: whichever of them is missing. Needs an open ledger. */
export function ensureLanBridge(l: Ledger): void {
  if (!l.links.includes(lanPlan.bridge) || !linkExists(lanPlan.bridge)) {
    if (l.links.includes(lanPlan.bridge)) note((x) => { x.links = x.links.filter((n) => n !== lanPlan.bridge); });
    addBridge(lanPlan.bridge);
  }
  if (!l.routes.some((r) => sameRoute(r, lanRoute))) {
    note((x) => x.routes.push(lanRoute));
    run('ip', ['route', 'add', ...lanRoute]);
  }
  if (!hasForwardRule(l)) addHostRule(lanForward.table, lanForward.chain, [...lanForward.spec]);
}

/** The target's `lan0` on the bridge. Needs an open ledger and the bridge. */
export function attachToLan(t: TargetPlan): void {
  addBridgePort({ netns: t.name, bridge: lanPlan.bridge, hostName: t.lanHost, nsName: t.lanNs, nsAddress: t.lanAddress, prefix: lanPlan.prefixLength });
}

/** `lab:up` (fresh): the bridge, then every target onto it. Needs an open ledger. */
export function createLan(l: Ledger, targets: TargetPlan[]): void {
  ensureLanBridge(l);
  for (const t of targets) attachToLan(t);
}

/** A target is on the LAN when its namespace has `lan0` with its LAN address. */
function onLan(t: TargetPlan): boolean {
  if (!linkExists(t.lanHost)) return false;
  return run('ip', ['-n', t.name, '-4', '-o', 'addr', 'show', 'dev', t.lanNs], { allowFailure: true }).stdout.includes(` ${t.lanAddress}/`);
}

/**
 * On a running lab (`lab:up` while up): adds the LAN when the lab has none (a lab started before it
 * existed), puts targets added since on it, and writes `lanAddress` into lab.json. Returns the updated state.
 */
export function ensureLan(state: LabState): LabState {
  const previous = readLedger();
  if (!previous) throw new Error('the lab has no ledger: bring it up first');
  const targets = state.targets.map((t) => targetPlan(t.index));
  const bridgeOk = previous.links.includes(lanPlan.bridge) && linkExists(lanPlan.bridge) && previous.routes.some((r) => sameRoute(r, lanRoute)) && hasForwardRule(previous);
  const missing = targets.filter((t) => !onLan(t));
  if (!bridgeOk || missing.length > 0) {
    say(`lab LAN: ${bridgeOk ? '' : `bridge ${lanPlan.bridge} (${lanPlan.subnet}, no host address)`}${!bridgeOk && missing.length > 0 ? ', ' : ''}${missing.map((t) => `${t.name} ${t.lanAddress}`).join(', ')} on a running lab`);
    const l = openLedger(previous);
    try {
      ensureLanBridge(l);
      for (const t of missing) {
        // A half-made port (recorded, but its address never set) is made again from scratch.
        if (l.links.includes(t.lanHost) && linkExists(t.lanHost)) run('ip', ['link', 'del', t.lanHost]);
        attachToLan(t);
      }
    } finally {
      closeLedger();
    }
  }
  const stale = state.targets.some((t) => t.lanAddress !== targetPlan(t.index).lanAddress) || state.lan?.bridge !== lanPlan.bridge;
  if (!stale) return state;
  const withLan = state.targets.map((t) => ({ ...t, lanAddress: targetPlan(t.index).lanAddress }));
  const next: LabState = { ...state, lan: lanState(), targets: withLan, target: withLan[0] ?? state.target };
  writeLabState(next);
  return next;
}
