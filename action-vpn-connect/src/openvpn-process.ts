// The OpenVPN process: found or installed, started detached (it outlives main, post stops it),
// identified by pid AND start time (a recycled pid is never signalled), stopped by pid only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError, sleep } from '@gangway/kit';

export interface Privilege {
  /** Runs as root: no sudo needed. */
  root: boolean;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (arguments as an array, never a shell), with `sudo -n` when not root. */
export function runPrivileged(privilege: Privilege, cmd: string, args: string[], env?: NodeJS.ProcessEnv): RunResult {
  const [c, a] = privilege.root ? [cmd, args] : ['sudo', ['-n', cmd, ...args]];
  const r = spawnSync(c, a, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? r.error.message : '') };
}

/** Root, or passwordless sudo; anything else cannot create a tun device. */
export function detectPrivilege(): Privilege {
  if (process.getuid?.() === 0) return { root: true };
  const r = spawnSync('sudo', ['-n', 'true'], { encoding: 'utf8' });
  if (r.status === 0) return { root: false };
  throw new ConfigurationError('The runner is not root and has no passwordless sudo, so OpenVPN cannot create a tun device. Use a runner with sudo (GitHub-hosted runners have it) or run the job as root.');
}

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

export function findOpenVpn(searchPath = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of [...searchPath.split(path.delimiter).filter(Boolean), ...SBIN]) {
    const candidate = path.join(dir, 'openvpn');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** apt-get install openvpn (update first when the package is unknown to apt). */
export function installOpenVpn(privilege: Privilege, log: (line: string) => void): string {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = runPrivileged(privilege, 'apt-get', ['install', '-y', '--no-install-recommends', 'openvpn'], env);
  if (r.status !== 0) {
    log('apt-get install failed; running apt-get update first');
    runPrivileged(privilege, 'apt-get', ['update'], env);
    r = runPrivileged(privilege, 'apt-get', ['install', '-y', '--no-install-recommends', 'openvpn'], env);
  }
  for (const line of r.stdout.trim().split('\n').slice(-5)) if (line) log(line);
  const found = findOpenVpn();
  if (r.status !== 0 || !found) {
    throw new ConfigurationError(`Input "install" is true but "apt-get install openvpn" failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}. Install OpenVPN in an earlier step.`, 'install');
  }
  return found;
}

export function openVpnVersion(binary: string): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n')[0]?.trim() ?? '';
}

/** A process as the action knows it: pid plus /proc start time. */
export interface ProcessId {
  pid: number;
  startTime: string;
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isRunning(p: ProcessId): boolean {
  return processStartTime(p.pid) === p.startTime;
}

export function identify(pid: number): ProcessId | undefined {
  const startTime = processStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

export function signalProcess(p: ProcessId, signal: 'SIGTERM' | 'SIGKILL', privilege: Privilege): void {
  if (!isRunning(p)) return;
  if (privilege.root || process.getuid?.() === 0) {
    try {
      process.kill(p.pid, signal);
    } catch {
      // gone
    }
    return;
  }
  runPrivileged(privilege, 'kill', [`-${signal.replace('SIG', '')}`, String(p.pid)]);
}

export async function waitGone(p: ProcessId, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(p)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

export interface Started {
  child: ChildProcess;
  /** Resolves when the process (or sudo around it) exits. */
  exited: Promise<{ code: number | null; signal: string | null }>;
}

export interface StartOptions {
  binary: string;
  /** The derived config (with its key blocks): handed over on OpenVPN's standard input, never written to a file. */
  configText: string;
  cwd: string;
  /** OpenVPN's stdout and stderr (errors before the management interface is up land here). */
  logFile: string;
  pidFile: string;
  privilege: Privilege;
}

/** The system's folders only: not the runner's PATH, to which a workflow may have added the workspace (OpenVPN and its scripts run as root). */
export const OPENVPN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The whole environment OpenVPN (and sudo around it) starts with. It lives as long as the job,
 * so it must not inherit the step's: that holds every `INPUT_*`, secrets included.
 */
export function openVpnEnvironment(): NodeJS.ProcessEnv {
  return { PATH: OPENVPN_PATH };
}

/** The process-start boundary (a test may watch what OpenVPN is started with). */
export type SpawnFunction = typeof spawn;

/**
 * Starts OpenVPN in its own session with its output in a file: it must outlive this step's
 * process, and must not hold the step's stdout open (the runner waits for it to close).
 * It reads its config from standard input (`--config stdin`), so the keys in it never reach a
 * disk; it reads it once, at start (a SIGHUP would re-read it, and the action never sends one).
 */
export function startOpenVpn(o: StartOptions, spawnProcess: SpawnFunction = spawn): Started {
  const fd = fs.openSync(o.logFile, 'a', 0o600);
  const args = ['--cd', o.cwd, '--config', 'stdin', '--writepid', o.pidFile];
  const [cmd, argv] = o.privilege.root ? [o.binary, args] : ['sudo', ['-n', o.binary, ...args]];
  const child = spawnProcess(cmd, argv, { detached: true, stdio: ['pipe', fd, fd], env: openVpnEnvironment() });
  fs.closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: 127, signal: null }));
  });
  // An OpenVPN that exits before reading it all closes the pipe: its exit is what gets reported.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(o.configText);
  return { child, exited };
}

/** Lines at the end of a file (OpenVPN's own output), or [] when it cannot be read. */
export function tailLines(file: string, n: number): string[] {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

export function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}
