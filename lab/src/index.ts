// The lab's entry points: labUp / labDown / labStatus (the CLI and the test runner call these).
import fs from 'node:fs';
import path from 'node:path';
import { acmeDirectoryAnswers, describeAcme, ensureAcme, upAcme } from './acme.ts';
import { enginePing, removeCgroupParent, stopEngine, unmountUnder } from './engine.ts';
import { run } from './exec.ts';
import { buildRootfs, importImage, nginxRecipe, nodeRecipe } from './images.ts';
import type { BuiltImage } from './images.ts';
import { closeLedger, emptyLedger, ledger, makeDir, note, openLedger, readLedger } from './ledger.ts';
import type { Ledger, RecordedProcess } from './ledger.ts';
import { addBridge, addHostRule, deleteLink, deleteNetns, deleteRule, netnsExists, processesInNetns, restoreSysctl, setHostSysctl } from './net.ts';
import { withLabLock } from './lock.ts';
import { daemonCgroupBase, removeCgroupTree } from './cgroups.ts';
import { ensurePackages } from './packages.ts';
import { createCa } from './pki.ts';
import { caDir, dataDir, dataOnTmpfs, dataTmpfsSize, labStateFile, lanPlan, logDir, plannedTargets, runnerPlan, stateDir } from './plan.ts';
import { isAlive, stopAll, stopProcess } from './processes.ts';
import { formatDuration, phase, say } from './progress.ts';
import { configureRegistry, registryAnswers, startRegistry } from './registry.ts';
import { ensureDeployUser } from './sshd.ts';
import { readLabState, writeLabState } from './state.ts';
import type { LabState, TargetState } from './state.ts';
import { createTargetNetwork, startTargetServices } from './target.ts';
import { ensureVpnExtras } from './vpn-extras.ts';
import { createLan, ensureLan, lanState } from './lan.ts';
import { startEngine } from './engine.ts';

export type { AcmeCaState, AcmeState, LabState, TargetState, VpnState } from './state.ts';
export { readLabState, LabNotUpError } from './state.ts';

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, dockerd, sshd, iptables): run it as root');
}

/** Addresses outside the lab must never see lab traffic: unknown VPN destinations fail at once, here. */
const vpnSpaceRoute = ['unreachable', '198.19.0.0/16'];

export interface ProcessHealth {
  name: string;
  pid: number;
  alive: boolean;
}

export interface LabStatus {
  /** up: every recorded process alive and every namespace present; half-up: some of it; down: nothing recorded. */
  status: 'up' | 'half-up' | 'down';
  processes: ProcessHealth[];
  netns: Array<{ name: string; exists: boolean }>;
  engines: Array<{ name: string; answers: boolean }>;
  registryAnswers?: boolean;
  /** Both pebbles' ACME directories answer (absent when lab.json has no ACME CA). */
  acmeAnswers?: boolean;
  state?: LabState;
}

function ledgerHealth(l: Ledger): { healthy: boolean; processes: ProcessHealth[]; netns: Array<{ name: string; exists: boolean }> } {
  const processes = l.processes.map((p) => ({ name: p.name, pid: p.pid, alive: isAlive(p) }));
  const netns = l.netns.map((name) => ({ name, exists: netnsExists(name) }));
  const healthy = processes.length > 0 && processes.every((p) => p.alive) && netns.every((n) => n.exists) && fs.existsSync(labStateFile);
  return { healthy, processes, netns };
}

export async function labStatus(): Promise<LabStatus> {
  const l = readLedger();
  if (!l) return { status: 'down', processes: [], netns: [], engines: [] };
  const h = ledgerHealth(l);
  const engines = await Promise.all(
    l.processes.filter((p) => p.dockerSocket).map(async (p) => ({ name: p.name, answers: await enginePing(p.dockerSocket ?? '') })),
  );
  let state: LabState | undefined;
  let registryOk: boolean | undefined;
  let acmeOk: boolean | undefined;
  try {
    state = readLabState();
    registryOk = (await registryAnswers(state.registry.caFile).catch(() => 0)) === 401;
    const acme = state.acme;
    if (acme) acmeOk = (await Promise.all([acme, acme.shortLived].map((a) => acmeDirectoryAnswers(a.directoryUrl, acme.caFile)))).every(Boolean);
  } catch {
    state = undefined;
  }
  const up = h.healthy && engines.every((e) => e.answers) && registryOk === true && acmeOk !== false;
  return {
    status: up ? 'up' : 'half-up',
    processes: h.processes,
    netns: h.netns,
    engines,
    ...(registryOk === undefined ? {} : { registryAnswers: registryOk }),
    ...(acmeOk === undefined ? {} : { acmeAnswers: acmeOk }),
    ...(state ? { state } : {}),
  };
}

export function describeLab(s: LabState): string {
  const lines = [
    `registry   https://${s.registry.host}  user ${s.registry.username}  (password in ${labStateFile})  CA ${s.registry.caFile}`,
    `runner     ${s.runner.dockerHost}  bridge ${s.runner.bridge} ${s.runner.bridgeSubnet}  pool ${s.runner.addressPool}`,
  ];
  for (const t of s.targets) {
    lines.push(
      `${t.name.padEnd(10)} ssh ${t.username}@${t.sshHost}:${t.sshPort} (only through the VPN)  key ${t.privateKeyFile}`,
      `           host key ${t.fingerprint}  docker ${t.dockerSocket}  apps publish on ${t.address}`,
      `           vpn ${t.vpn.proto} ${t.vpn.remoteHost}:${t.vpn.remotePort} -> ${t.vpn.network}  client config ${t.vpn.configFile}`,
      `           lan ${t.lanAddress ?? '(none yet: run lab:up)'} (other targets only)`,
    );
  }
  if (s.lan) lines.push(`lan        bridge ${s.lan.bridge} ${s.lan.subnet}: target to target only (the host has no address on it)`);
  lines.push(`images     ${[...s.images.node, ...s.images.nginx].join(', ')} (runner and every target)`);
  if (s.acme) lines.push(...describeAcme(s.acme));
  lines.push(`state      ${labStateFile}`);
  return lines.join('\n');
}

/** Remove what a previous run left in the state dir (but not the cache, which lives elsewhere). */
function resetStateDir(keepLogs: boolean): void {
  if (!fs.existsSync(stateDir)) return;
  for (const entry of fs.readdirSync(stateDir)) {
    if (keepLogs && entry === 'logs') continue;
    fs.rmSync(path.join(stateDir, entry), { recursive: true, force: true });
  }
}

async function buildBaseImages(): Promise<BuiltImage[]> {
  return Promise.all([
    phase('base image rootfs: node:24-bookworm-slim', async () => {
      const img = await buildRootfs(await nodeRecipe());
      say(`  node rootfs ${img.fromCache ? 'from cache' : 'built'}: ${img.tarball}`);
      return img;
    }),
    phase('base image rootfs: nginx', async () => {
      const img = await buildRootfs(nginxRecipe());
      say(`  nginx rootfs ${img.fromCache ? 'from cache' : 'built'}: ${img.tarball}`);
      return img;
    }),
  ]);
}

/**
 * A running lab with fewer targets than planned (plannedTargets() grew from one to two) gets the
 * missing ones added in place, recorded in the same ledger: no down/up that would break the tests
 * others run on the first target meanwhile.
 */
async function addMissingTargets(previous: Ledger, state: LabState): Promise<LabState> {
  const have = new Set(state.targets.map((t) => t.name));
  const missing = plannedTargets().filter((t) => !have.has(t.name));
  if (missing.length === 0) return state;
  say(`the lab is up with ${state.targets.length} target(s): adding ${missing.map((t) => t.name).join(', ')}`);
  openLedger(previous);
  try {
    const images = await buildBaseImages();
    const added: TargetState[] = [];
    for (const t of missing) {
      await phase(`${t.name}: namespace, veth ${t.hostAddress} <-> ${t.nsAddress}, firewall`, () => createTargetNetwork(t));
      added.push(await startTargetServices(t));
      await phase(`base images into ${t.name}`, () => Promise.all(images.map((img) => importImage(t.socket, img))));
    }
    const pids: Record<string, number> = {};
    for (const p of readLedger()?.processes ?? []) pids[p.name] = p.pid;
    const targets = [...state.targets, ...added].sort((a, b) => a.index - b.index);
    const next: LabState = { ...state, targets, pids: { ...state.pids, ...pids } };
    writeLabState(next);
    return next;
  } finally {
    closeLedger();
  }
}

export interface LabUpOptions {
  /** Print the summary at the end (the CLI does; tests may not care). */
  printSummary?: boolean;
}

export async function labUp(options: LabUpOptions = {}): Promise<LabState> {
  requireRoot();
  return withLabLock('up', () => labUpLocked(options));
}

async function labUpLocked(options: LabUpOptions): Promise<LabState> {
  const started = performance.now();
  await phase('Debian packages', () => {
    const installed = ensurePackages();
    if (installed.length > 0) say(`  installed ${installed.join(' ')}`);
  });

  const previous = readLedger();
  if (previous) {
    const h = ledgerHealth(previous);
    if (h.healthy) {
      const state = ensureLan(await ensureAcme(await ensureVpnExtras(await addMissingTargets(previous, readLabState()))));
      say(`the lab is already up (since ${state.startedAt}): nothing to do`);
      if (options.printSummary !== false) console.log(describeLab(state));
      return state;
    }
    say('a previous lab is half-up: taking it down first');
    await labDownLocked({});
  }

  resetStateDir(false);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(logDir, { recursive: true });
  openLedger(emptyLedger());
  try {
    // mmdebstrap runs in the background while the daemons come up.
    const images = buildBaseImages();
    images.catch(() => undefined);

    const ca = await phase('lab CA', () => createCa(caDir, 'Gangway lab CA'));
    await phase('host network: runner bridge, NAT, VPN-space route', () => {
      setHostSysctl('net.ipv4.ip_forward', '1');
      addBridge(runnerPlan.bridge, runnerPlan.bridgeCidr);
      // The runner engine runs with --iptables=false (it must not rewrite the host's firewall); these two
      // tagged rules give its containers the way out that builds need, and down deletes exactly them.
      for (const source of [runnerPlan.bridgeSubnet, runnerPlan.addressPool]) {
        addHostRule('nat', 'POSTROUTING', ['-s', source, '!', '-d', '198.18.0.0/15', '-j', 'MASQUERADE']);
      }
      note((l) => l.routes.push(vpnSpaceRoute));
      run('ip', ['route', 'add', ...vpnSpaceRoute]);
    });
    if (dataOnTmpfs()) {
      await phase(`tmpfs (${dataTmpfsSize}) for engine data-roots and registry storage at ${dataDir}`, () => {
        makeDir(dataDir, 0o711);
        note((l) => l.mounts.push(dataDir));
        run('mount', ['-t', 'tmpfs', '-o', `size=${dataTmpfsSize},mode=0711`, 'gangway-lab', dataDir]);
      });
    }
    const runner = await phase('runner Docker engine', () =>
      startEngine({
        name: 'runner-dockerd',
        dataRoot: runnerPlan.dataRoot,
        execRoot: runnerPlan.execRoot,
        socket: runnerPlan.socket,
        cgroupParent: runnerPlan.cgroupParent,
        configDir: runnerPlan.configDir,
        networkArgs: ['--bridge', runnerPlan.bridge, '--default-address-pool', `base=${runnerPlan.addressPool},size=24`, '--iptables=false'],
      }),
    );
    const targets = plannedTargets();
    for (const t of targets) await phase(`${t.name}: namespace, veth ${t.hostAddress} <-> ${t.nsAddress}, firewall`, () => createTargetNetwork(t));
    await phase(`lab LAN: bridge ${lanPlan.bridge} (no host address), ${targets.map((t) => `${t.name} ${t.lanAddress}`).join(', ')}`, () => createLan(ledger(), targets));

    const registrySetup = await phase('registry config, TLS certificate, htpasswd', () => configureRegistry(ca));
    const registry = await phase(`registry on https://${registrySetup.host}`, () => startRegistry(registrySetup));

    await phase(`user deploy (docker group, key login only)`, () => {
      const { created } = ensureDeployUser();
      if (created) say('  created user deploy');
    });
    const targetStates: TargetState[] = [];
    for (const t of targets) targetStates.push(await startTargetServices(t));

    const built = await images;
    // The same cached tarball imported into every engine at once (faster here than docker save | load):
    // identical layers (same diff ids) everywhere, image ids differ only by their creation time.
    const sockets = [runnerPlan.socket, ...targets.map((t) => t.socket)];
    // The ACME CA comes up while the engines import (its daemons are recorded before upAcme's first await,
    // so a failed import still takes them down).
    const [acme] = await Promise.all([
      phase('ACME CA: pebble (+ short-lived), pebble-challtestsrv DNS, edge ports 80/443 on the targets', () => upAcme(ca, targets)),
      phase(`base images into ${sockets.length} engines`, () => Promise.all(sockets.flatMap((socket) => built.map((img) => importImage(socket, img))))),
    ]);

    const first = targetStates[0];
    if (!first) throw new Error('no target planned');
    const pids: Record<string, number> = {};
    for (const p of readLedger()?.processes ?? []) pids[p.name] = p.pid;
    const state: LabState = {
      version: 1,
      startedAt: new Date().toISOString(),
      stateDir,
      caFile: ca.cert,
      registry: { host: registrySetup.host, address: registrySetup.host.split(':')[0] ?? '', port: Number(registrySetup.host.split(':')[1]), username: registrySetup.username, password: registrySetup.password, caFile: registrySetup.caFile, pid: registry.pid },
      runner: { dockerHost: `unix://${runnerPlan.socket}`, socket: runnerPlan.socket, bridge: runnerPlan.bridge, bridgeSubnet: runnerPlan.bridgeSubnet, addressPool: runnerPlan.addressPool, pid: runner.pid },
      target: first,
      vpn: first.vpn,
      targets: targetStates,
      lan: lanState(),
      images: { node: built[0]?.recipe.tags ?? [], nginx: built[1]?.recipe.tags ?? [] },
      acme,
      pids,
    };
    writeLabState(state);
    closeLedger();
    const withExtras = await phase('VPN extras for action-vpn-connect (auth server, wrong certificate)', () => ensureVpnExtras(state));
    say(`lab up in ${formatDuration(performance.now() - started)}`);
    if (options.printSummary !== false) console.log(describeLab(withExtras));
    return withExtras;
  } catch (e) {
    closeLedger();
    say(`lab:up failed: ${e instanceof Error ? e.message : String(e)}`);
    say('taking down what it started (logs kept in lab/.state/logs)');
    await labDownLocked({ keepLogs: true }).catch((d: unknown) => say(`clean-up failed too: ${d instanceof Error ? d.message : String(d)}`));
    throw e;
  }
}

/** Links the runner engine made on the host: user-network bridges in its pool, container veths on its bridges. */
function runnerEngineLinks(): string[] {
  const r = run('ip', ['-j', 'addr', 'show'], { allowFailure: true });
  if (r.status !== 0) return [];
  const links = JSON.parse(r.stdout) as Array<{ ifname: string; master?: string; addr_info?: Array<{ family: string; local: string }> }>;
  const poolBridges = links
    .filter((l) => l.ifname.startsWith('br-') && (l.addr_info ?? []).some((a) => a.family === 'inet' && inRunnerPool(a.local)))
    .map((l) => l.ifname);
  const bridges = new Set([runnerPlan.bridge, ...poolBridges]);
  const enslaved = links.filter((l) => l.master !== undefined && bridges.has(l.master) && l.ifname.startsWith('veth')).map((l) => l.ifname);
  return [...enslaved, ...poolBridges];
}

function inRunnerPool(address: string): boolean {
  const [a, b, c] = address.split('.').map(Number);
  return a === 198 && b === 18 && c !== undefined && c >= 16 && c < 32;
}

export interface LabDownOptions {
  keepLogs?: boolean;
}

export async function labDown(options: LabDownOptions = {}): Promise<void> {
  requireRoot();
  return withLabLock('down', () => labDownLocked(options));
}

async function labDownLocked(options: LabDownOptions): Promise<void> {
  const started = performance.now();
  const l = readLedger();
  if (!l) {
    say('the lab is not up: nothing to take down');
    resetStateDir(true);
    return;
  }
  const engines = l.processes.filter((p) => p.dockerSocket);
  const others = l.processes.filter((p) => !p.dockerSocket);
  await phase('stop Docker engines (containers, networks, containerd, shims)', () => Promise.all(engines.map((p: RecordedProcess) => stopEngine(p))));
  await phase('stop sshd, OpenVPN servers, registry, ACME CA and its DNS', () => Promise.all(others.map((p) => stopProcess(p))));
  // Whatever still runs inside a lab namespace came from the lab (e.g. sshd sessions orphaned by a crashed
  // listener, a shim whose engine was SIGKILLed): stop it, or it would keep the namespace alive.
  await phase('stop leftovers inside the lab namespaces', () => stopAll(l.netns.flatMap(processesInNetns), 3000));
  await phase('remove network: rules, routes, namespaces, links', () => {
    for (const link of runnerEngineLinks()) deleteLink(link);
    for (const r of [...l.rules].reverse()) deleteRule(r);
    for (const route of l.routes) run('ip', ['route', 'del', ...route], { allowFailure: true });
    for (const ns of [...l.netns].reverse()) deleteNetns(ns);
    for (const link of [...l.links].reverse()) deleteLink(link);
    for (const [key, value] of Object.entries(l.sysctls)) restoreSysctl(key, value);
  });
  await phase('remove cgroups', async () => {
    for (const parent of l.cgroupParents) await removeCgroupParent(parent);
    const base = daemonCgroupBase();
    if (base) removeCgroupTree(base);
  });
  await phase('remove mounts and directories', () => {
    for (const m of [...(l.mounts ?? [])].reverse()) unmountUnder(m);
    for (const p of [...l.paths].reverse()) {
      unmountUnder(p);
      // rm is much faster than fs.rmSync on engine data-roots; --one-file-system never crosses a mount.
      run('rm', ['-rf', '--one-file-system', p], { allowFailure: true });
    }
  });
  resetStateDir(options.keepLogs ?? false);
  say(`lab down in ${formatDuration(performance.now() - started)}`);
}
