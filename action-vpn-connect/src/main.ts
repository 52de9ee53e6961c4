// main: validate, prepare a private directory, start OpenVPN, connect over the management
// interface, check the result; on any failure stop OpenVPN and remove every file first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as core from '@actions/core';
import { ConfigurationError, createRedactor, errorMessage, formatDuration, PhaseClock, retry, sleep, type Redact } from '@gangway/kit';
import { classify, HINTS, VpnConnectError, type Failure } from './classify.ts';
import { ManagementClient, type LogNotification } from './management.ts';
import {
  detectPrivilege,
  findOpenVpn,
  identify,
  installOpenVpn,
  isRunning,
  openVpnVersion,
  runPrivileged,
  startOpenVpn,
  tailLines,
  type Privilege,
  type ProcessId,
} from './openvpn-process.ts';
import { deriveConfig, type DerivedConfig } from './ovpn-config.ts';
import { probeTcp, type ProbeResult } from './probe.ts';
import { printableLogLines } from './redact.ts';
import { writeConnectSummary, type ConnectReport } from './report.ts';
import { findOverlaps, readRoutes, type Overlap } from './routes.ts';
import { clearSaved, saveDir, saveInterface, saveProcess } from './saved-state.ts';
import { readSettings, type Settings } from './settings.ts';
import { AttemptFailed, awaitConnection, stopTunnel, type Connection } from './tunnel.ts';
import { removePrivateDir } from './workdir.ts';

const LOG_TAIL = 25;

/** The action's private directory: OpenVPN's early output, its pid file and the management socket. Never a key. */
export interface Workdir {
  dir: string;
  logFile: string;
  pidFile: string;
  socket: string;
}

/** A fresh 0700 directory under RUNNER_TEMP (unix socket paths are limited to 107 bytes: fall back to the system temp). */
export function createWorkdir(runnerTemp: string): Workdir {
  let dir = fs.mkdtempSync(path.join(runnerTemp, 'gangway-vpn-'));
  if (path.join(dir, 'mgmt.sock').length > 100) {
    fs.rmSync(dir, { recursive: true, force: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-vpn-'));
  }
  fs.chmodSync(dir, 0o700);
  return {
    dir,
    logFile: path.join(dir, 'openvpn.log'),
    pidFile: path.join(dir, 'openvpn.pid'),
    socket: path.join(dir, 'mgmt.sock'),
  };
}

/** OpenVPN's own output (before the management interface is up) without its time stamps. */
function fileMessages(logFile: string): string[] {
  return tailLines(logFile, 200).map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ''));
}

function printTail(messages: string[], redact: Redact): void {
  const lines = printableLogLines(messages, redact).slice(-LOG_TAIL);
  if (lines.length === 0) return;
  core.info(`Last lines of OpenVPN's log:`);
  for (const line of lines) core.info(`  ${line}`);
}

/**
 * Under sudo, OpenVPN (root) creates the management socket with root's ownership, and only
 * its owner may connect: hand it to the runner's user once it exists (OpenVPN waits in its
 * hold until a client connects, so nothing is missed meanwhile). The socket's directory is
 * the action's 0700 one, so no one else can reach it.
 */
async function handOverSocket(socket: string, privilege: Privilege, timeoutMs: number, exited: () => boolean, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(socket)) {
    if (exited() || Date.now() > deadline) return;
    await sleep(50, signal);
  }
  runPrivileged(privilege, 'chown', [`${process.getuid?.() ?? ''}:${process.getgid?.() ?? ''}`, socket]);
}

interface Attempt {
  connection: Connection;
  process: ProcessId;
  session: ManagementClient;
}

async function connectOnce(
  s: Settings,
  w: Workdir,
  derived: DerivedConfig,
  binary: string,
  privilege: Privilege,
  redact: Redact,
  signal: AbortSignal,
): Promise<Attempt> {
  fs.writeFileSync(w.logFile, '', { mode: 0o600 });
  const started = startOpenVpn({ binary, configText: derived.text, cwd: s.configDir, logFile: w.logFile, pidFile: w.pidFile, privilege });
  let exit: { code: number | null; signal: string | null } | undefined;
  void started.exited.then((e) => (exit = e));
  const childId = started.child.pid !== undefined ? identify(started.child.pid) : undefined;
  if (childId) saveProcess(childId);
  let processId = childId;
  let session: ManagementClient | undefined;
  const fail = async (failure: Failure, messages: string[]): Promise<never> => {
    await stopTunnel({ process: processId, ...(session ? { session } : {}), socketPath: w.socket, privilege, graceMs: 3000 });
    session?.close();
    throw new AttemptFailed(failure, messages);
  };
  try {
    if (!privilege.root) await handOverSocket(w.socket, privilege, s.connectTimeoutMs, () => exit !== undefined, signal);
    session = await ManagementClient.connectWhenReady(w.socket, {
      timeoutMs: s.connectTimeoutMs,
      signal,
      stillWorth: () => (exit ? `OpenVPN exited (code ${String(exit.code)}) before its management interface was up` : undefined),
    });
  } catch (error) {
    await new Promise((r) => setTimeout(r, 100));
    const messages = fileMessages(w.logFile);
    const failure = classify({ messages, states: [], ...(signal.aborted ? { cancelled: true } : exit ? { exit } : { timedOutAfterMs: s.connectTimeoutMs }) });
    if (failure.category === 'exited' && !exit) failure.reason = `${failure.reason} (${errorMessage(error)})`;
    return fail(failure, messages);
  }
  const pidText = await session.command('pid').catch(() => '');
  const realPid = Number(/pid=(\d+)/.exec(pidText)?.[1]);
  const real = realPid > 0 ? identify(realPid) : undefined;
  if (real) {
    processId = real;
    saveProcess(real);
  }
  const showLog = (entry: LogNotification): void => {
    if (entry.flags.includes('D')) return;
    for (const line of printableLogLines([entry.message], redact)) core.info(line);
  };
  try {
    const connection = await awaitConnection({
      session,
      exited: started.exited,
      ...(derived.credentials ? { credentials: derived.credentials } : {}),
      timeoutMs: s.connectTimeoutMs,
      signal,
      onLog: showLog,
      onState: (st) => core.info(`[state] ${st.name}${st.description ? ` ${st.description}` : ''}${st.localIp ? ` ${st.localIp}` : ''}`),
    });
    started.child.unref();
    if (!processId) throw new Error('OpenVPN connected but its pid is unknown');
    return { connection, process: processId, session };
  } catch (error) {
    if (error instanceof AttemptFailed) {
      const messages = error.messages.length > 0 ? error.messages : fileMessages(w.logFile);
      return fail(error.failure, messages);
    }
    return fail(classify({ messages: [errorMessage(error)], states: [] }), []);
  }
}

export async function main(signal: AbortSignal): Promise<void> {
  const settings = readSettings();
  const redact = createRedactor(settings.secrets);
  const clock = new PhaseClock();
  const privilege = detectPrivilege();

  let binary = findOpenVpn();
  if (!binary) {
    if (!settings.install) {
      throw new ConfigurationError('OpenVPN is not installed on this runner. Set "install: true" to install it with apt-get, or install it in an earlier step.', 'install');
    }
    binary = await clock.time('install openvpn', () => core.group('Install OpenVPN (apt-get)', async () => installOpenVpn(privilege, (l) => core.info(l))));
  }
  const version = openVpnVersion(binary);

  const w = createWorkdir(process.env['RUNNER_TEMP'] ?? os.tmpdir());
  saveDir(w.dir, w.socket, privilege.root);
  let derived: DerivedConfig;
  try {
    derived = deriveConfig(settings.config, {
      input: settings.configInput,
      parts: settings.parts,
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      managementSocket: w.socket,
      allowScripts: settings.allowScripts,
      configDir: settings.configDir,
      roots: settings.roots,
    });
  } catch (error) {
    removePrivateDir(w.dir, privilege);
    clearSaved();
    throw error;
  }
  const server = derived.server ? `${derived.server.host}:${derived.server.port}/${derived.server.proto}` : undefined;
  const report: ConnectReport = { status: 'failed', server, attempts: 0, overlaps: [], openvpn: version, phases: clock.phases };

  let attempt: Attempt | undefined;
  try {
    core.info(`${version}; the derived config goes to OpenVPN on its standard input (no copy on disk; the original is untouched)`);
    for (const note of derived.notes) core.info(`Note: ${note}`);
    for (const warning of derived.warnings) core.warning(warning);
    const connectStarted = performance.now();
    attempt = await clock.time('connect', () =>
      retry(
        (n) => {
          report.attempts = n;
          return core.group(`Connect to ${server ?? 'the VPN'} (attempt ${n} of ${settings.retries + 1})`, () =>
            connectOnce(settings, w, derived, binary, privilege, redact, signal),
          );
        },
        {
          attempts: settings.retries + 1,
          initialDelayMs: 2000,
          maxDelayMs: 15_000,
          signal,
          shouldRetry: (e) => e instanceof AttemptFailed && e.failure.retryable,
          onRetry: (e, n, delay) => {
            const f = (e as AttemptFailed).failure;
            core.warning(`Attempt ${n} failed [${f.category}]: ${f.reason} Retrying in ${formatDuration(delay)}.`);
          },
        },
      ),
    );
    const a = attempt;
    report.connectMs = Math.round(performance.now() - connectStarted);
    report.ip = a.connection.ip;
    report.pid = a.process.pid;
    if (a.connection.interface) {
      report.interface = a.connection.interface;
      saveInterface(a.connection.interface);
    }
    a.session.close();
    core.info(`Connected in ${formatDuration(report.connectMs)}: ${a.connection.ip} on ${a.connection.interface ?? '?'} (OpenVPN pid ${a.process.pid})`);

    const overlaps: Overlap[] = a.connection.interface ? findOverlaps(readRoutes(), a.connection.interface) : [];
    report.overlaps = overlaps;
    for (const o of overlaps) {
      core.warning(`Route clash: the VPN routes ${o.vpn} through ${a.connection.interface ?? 'the tunnel'}, but the runner already routes ${o.runner} through ${o.runnerDev} (as or more specifically): traffic to ${o.runner} may take ${o.runnerDev} instead of this tunnel.`);
    }

    const check = settings.checkHost;
    if (check) {
      const target = `${check.host}:${check.port}`;
      const result: ProbeResult = await clock.time('check-host', () =>
        core.group(`Check that ${target} accepts TCP through the tunnel`, async () => {
          const r = await probeTcp(check, settings.checkTimeoutMs, signal);
          core.info(r.ok ? `${target} accepted a TCP connection after ${formatDuration(r.ms)} (${r.attempts} attempt(s))` : `${target}: ${r.error ?? 'no answer'}`);
          return r;
        }),
      );
      report.checkHost = { target, ...result };
      if (!result.ok) {
        const f: Failure = { category: 'check-host', reason: `${target} did not accept a TCP connection within ${formatDuration(settings.checkTimeoutMs)} (${result.error ?? 'no answer'}).`, hint: HINTS['check-host'], retryable: false };
        throw new VpnConnectError(f);
      }
    }
    report.status = 'connected';
    core.setOutput('ip', a.connection.ip);
    core.setOutput('interface', a.connection.interface ?? '');
    core.setOutput('pid', String(a.process.pid));
    await writeConnectSummary(report);
  } catch (error) {
    const cancelled = signal.aborted;
    const failure: Failure | undefined = error instanceof VpnConnectError ? error.failure : cancelled ? classify({ messages: [], states: [], cancelled: true }) : undefined;
    if (error instanceof AttemptFailed && error.failure.category !== 'cancelled') printTail(error.messages, redact);
    await core.group('Stop OpenVPN and remove its files', async () => {
      if (attempt) {
        const stopped = await stopTunnel({ process: attempt.process, socketPath: w.socket, ...(attempt.connection.interface ? { interface: attempt.connection.interface } : {}), privilege, graceMs: 3000 });
        core.info(`OpenVPN stopped (${stopped.how}) in ${formatDuration(stopped.ms)}`);
      }
      removePrivateDir(w.dir, privilege);
      clearSaved();
    });
    if (failure) report.failure = { category: failure.category, reason: failure.reason, hint: failure.hint };
    await writeConnectSummary(report).catch(() => undefined);
    if (failure && !(error instanceof VpnConnectError)) throw new VpnConnectError(failure);
    throw error;
  }
  if (!isRunning(attempt.process)) core.warning('OpenVPN exited right after connecting; the post step will report it.');
}
