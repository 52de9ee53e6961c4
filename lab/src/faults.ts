// Faults the chaos suite (issue #10) injects into a running lab, and their repair. Each acts on
// one target by name and only on processes the lab itself started (recorded pid + start time):
// sshd's per-connection processes, the target's OpenVPN server, the target's Docker engine.
// A daemon started again is recorded in the ledger and lab.json in place of the old one, so
// `lab:status` says up and `lab:down` stops the new one.
import path from 'node:path';
import { enginePing } from './engine.ts';
import { waitFor } from './exec.ts';
import { closeLedger, openLedger, readLedger, type RecordedProcess } from './ledger.ts';
import { withLabLock } from './lock.ts';
import { targetPlan, type TargetPlan } from './plan.ts';
import { descendants, isAlive, stopAll } from './processes.ts';
import { readLabState, writeLabState, type TargetState } from './state.ts';
import { startEngine } from './engine.ts';
import { targetEngineSpec } from './target.ts';
import { startVpnServer } from './vpn.ts';

function recorded(name: string): RecordedProcess {
  const p = readLedger()?.processes.find((x) => x.name === name);
  if (!p) throw new Error(`the lab ledger has no process ${name}`);
  return p;
}

function planOf(target: TargetState): TargetPlan {
  return targetPlan(target.index);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function gone(p: { pid: number; startTime: string }, timeoutMs: number): Promise<void> {
  await waitFor(`pid ${p.pid} to exit`, timeoutMs, () => (isAlive(p) ? undefined : true));
}

/** Replaces the ledger's record named `name` with `start()`'s and updates lab.json's pids. */
async function restartRecorded(name: string, start: () => Promise<RecordedProcess>, update: (t: TargetState, pid: number) => void, target: TargetState): Promise<RecordedProcess> {
  return withLabLock(`restart ${name}`, async () => {
    const ledger = readLedger();
    if (!ledger) throw new Error('the lab is not up (no ledger)');
    ledger.processes = ledger.processes.filter((p) => p.name !== name);
    openLedger(ledger);
    let proc: RecordedProcess;
    try {
      proc = await start();
    } finally {
      closeLedger();
    }
    const state = readLabState();
    const t = state.targets.find((x) => x.name === target.name);
    if (t) update(t, proc.pid);
    if (state.target.name === target.name && t) state.target = t;
    if (state.vpn && t && state.target.name === t.name) state.vpn = t.vpn;
    state.pids[name] = proc.pid;
    writeLabState(state);
    return proc;
  });
}

/**
 * Cuts every SSH connection to the target: SIGKILL to sshd's per-connection processes (not the
 * listener), so the client's TCP connection closes mid-session, as when sshd or the host goes
 * away under it. New connections are accepted at once. Returns how many processes it killed.
 */
export async function cutSshConnections(target: TargetState): Promise<number> {
  const listener = recorded(`${target.name}-sshd`);
  const sessions = descendants(listener.pid);
  for (const p of sessions) kill(p.pid, 'SIGKILL');
  await stopAll(sessions, 2000);
  return sessions.length;
}

/** SIGKILL to the target's OpenVPN server: its tunnel and the target's VPN address vanish with it. */
export async function killVpnServer(target: TargetState): Promise<void> {
  const p = recorded(`${target.name}-openvpn`);
  kill(p.pid, 'SIGKILL');
  await gone(p, 10_000);
}

/** Starts the target's OpenVPN server again from its files (same PKI, same address). */
export async function restoreVpnServer(target: TargetState): Promise<RecordedProcess> {
  const name = `${target.name}-openvpn`;
  const old = recorded(name);
  if (isAlive(old)) return old;
  const plan = planOf(target);
  const dir = path.dirname(target.vpn.serverConfigFile);
  return restartRecorded(
    name,
    () => startVpnServer(plan, { dir, serverConfig: target.vpn.serverConfigFile, clientConfig: target.vpn.configFile, ca: target.vpn.ca, cert: target.vpn.cert, key: target.vpn.key, tlsCrypt: target.vpn.tlsCrypt }),
    (t, pid) => {
      t.vpn.pid = pid;
      t.pids.openvpn = pid;
    },
    target,
  );
}

/**
 * Stops the target's Docker engine as `systemctl stop docker` would: SIGTERM (the engine stops its
 * containers within their stop timeouts) and waits until it has exited. Its socket stops
 * answering; as a Swarm node it is Down once the managers notice. startEngineAgain brings it back.
 */
export async function stopEngine(target: TargetState): Promise<void> {
  const old = recorded(`${target.name}-dockerd`);
  kill(old.pid, 'SIGTERM');
  await gone(old, 30_000);
}

/**
 * Starts the target's stopped Docker engine again from its plan (same data-root, so the same
 * containers, Swarm membership and images), recorded in the ledger and lab.json in place of the
 * old one. Returns when it answers.
 */
export async function startEngineAgain(target: TargetState): Promise<void> {
  const name = `${target.name}-dockerd`;
  const old = recorded(name);
  if (isAlive(old)) throw new Error(`${name} (pid ${old.pid}) is still running: stop it first`);
  const plan = planOf(target);
  await restartRecorded(
    name,
    () => startEngine(targetEngineSpec(plan)),
    (t, pid) => {
      t.pids.dockerd = pid;
    },
    target,
  );
  await waitFor(`${name} to answer`, 30_000, async () => ((await enginePing(target.dockerSocket)) ? true : undefined));
}

/**
 * Restarts the target's Docker engine as `systemctl restart docker` would: stopEngine, then
 * startEngineAgain, which brings back the containers whose restart policy says so. Returns when
 * it answers again.
 */
export async function restartEngine(target: TargetState): Promise<{ downMs: number }> {
  const started = performance.now();
  await stopEngine(target);
  await startEngineAgain(target);
  return { downMs: Math.round(performance.now() - started) };
}
