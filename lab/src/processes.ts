// Daemons the lab starts: spawned detached, recorded by pid (with start time), stopped by that pid only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from './exec.ts';
import { note } from './ledger.ts';
import type { RecordedProcess } from './ledger.ts';
import { logDir, pidDir } from './plan.ts';
import { cgroupPids, daemonCgroupBase, removeCgroupTree } from './cgroups.ts';

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined if the pid is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function allPids(): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** The recorded process is still the one the lab started. */
export function isAlive(p: Pick<RecordedProcess, 'pid' | 'startTime'>): boolean {
  return processStartTime(p.pid) === p.startTime && !isZombie(p.pid);
}

/** Every live descendant of `pid`, with start times (so a later kill hits only those processes). */
export function descendants(pid: number): Array<{ pid: number; startTime: string }> {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const ppid = parentPid(p);
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(p);
    children.set(ppid, list);
  }
  const out: Array<{ pid: number; startTime: string }> = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    const startTime = processStartTime(p);
    if (startTime !== undefined) out.push({ pid: p, startTime });
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Processes whose command line names `marker` (a lab-only path such as an engine's exec-root). */
export function processesNaming(marker: string): Array<{ pid: number; startTime: string }> {
  const out: Array<{ pid: number; startTime: string }> = [];
  for (const p of allPids()) {
    if (p === process.pid) continue;
    if (!commandLine(p).includes(marker)) continue;
    const startTime = processStartTime(p);
    if (startTime !== undefined) out.push({ pid: p, startTime });
  }
  return out;
}

export interface DaemonSpec {
  name: string;
  cmd: string;
  args: string[];
  /** Where the daemon writes its own pidfile; otherwise the lab writes `pids/NAME.pid`. */
  pidFile?: string;
  dockerSocket?: string;
  execRoot?: string;
  /** The daemon's environment (default: the lab's own). */
  env?: NodeJS.ProcessEnv;
}

/** Start a daemon in the foreground mode of its own, detached in a new session, logging to logs/NAME.log. */
export function startDaemon(spec: DaemonSpec): RecordedProcess {
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(pidDir, { recursive: true });
  const logFile = path.join(logDir, `${spec.name}.log`);
  const fd = fs.openSync(logFile, 'a');
  // The daemon enters its own cgroup before it execs, so everything it ever forks can be found again.
  const base = daemonCgroupBase();
  const cgroup = base ? path.join(base, spec.name) : undefined;
  if (cgroup) fs.mkdirSync(cgroup, { recursive: true });
  const [cmd, args] = cgroup
    ? ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', path.join(cgroup, 'cgroup.procs'), spec.cmd, ...spec.args]]
    : [spec.cmd, spec.args];
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: spec.env ?? process.env });
  fs.closeSync(fd);
  child.on('error', () => undefined);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.cmd})`);
  const pidFile = spec.pidFile ?? path.join(pidDir, `${spec.name}.pid`);
  if (!spec.pidFile) fs.writeFileSync(pidFile, `${child.pid}\n`);
  const recorded: RecordedProcess = {
    name: spec.name,
    pid: child.pid,
    startTime: processStartTime(child.pid) ?? 'unknown',
    pidFile,
    logFile,
    ...(spec.dockerSocket ? { dockerSocket: spec.dockerSocket } : {}),
    ...(spec.execRoot ? { execRoot: spec.execRoot } : {}),
    ...(cgroup ? { cgroup } : {}),
  };
  note((l) => l.processes.push(recorded));
  return recorded;
}

export function logTail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Throw with the daemon's log tail if it has died (used while waiting for readiness). */
export function assertRunning(p: RecordedProcess): void {
  if (!isAlive(p)) throw new DaemonDiedError(p);
}

export class DaemonDiedError extends Error {
  constructor(p: RecordedProcess) {
    super(`${p.name} (pid ${p.pid}) exited during start-up; last lines of ${p.logFile}:\n${logTail(p.logFile)}`);
    this.name = 'DaemonDiedError';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(procs: Array<{ pid: number; startTime: string }>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (procs.every((p) => !isAlive(p))) return true;
    await sleep(50);
  }
  return procs.every((p) => !isAlive(p));
}

/**
 * SIGTERM the recorded process, wait, then SIGKILL; then the same for every descendant seen before
 * the signal (a daemon's children, e.g. dockerd's containerd or sshd's sessions) that outlived it.
 */
export async function stopProcess(p: Pick<RecordedProcess, 'pid' | 'startTime' | 'name' | 'cgroup'>, graceMs = 10_000): Promise<void> {
  if (isAlive(p)) {
    const family = descendants(p.pid);
    signal(p.pid, 'SIGTERM');
    if (!(await waitGone([p], graceMs))) {
      signal(p.pid, 'SIGKILL');
      await waitGone([p], 2000);
    }
    await stopAll(family, 3000);
  }
  // Whatever it forked and lost track of (a crash re-parents children to init) is still in its cgroup.
  if (p.cgroup) {
    await stopAll(withStartTimes(cgroupPids(p.cgroup)), 3000);
    removeCgroupTree(p.cgroup);
  }
}

export function withStartTimes(pids: number[]): Array<{ pid: number; startTime: string }> {
  return pids.flatMap((pid) => {
    const startTime = processStartTime(pid);
    return startTime === undefined ? [] : [{ pid, startTime }];
  });
}

/** SIGTERM each still-alive process (identified by pid + start time), wait, SIGKILL the rest. */
export async function stopAll(procs: Array<{ pid: number; startTime: string }>, graceMs: number): Promise<void> {
  const alive = procs.filter(isAlive);
  if (alive.length === 0) return;
  for (const p of alive) signal(p.pid, 'SIGTERM');
  if (await waitGone(alive, graceMs)) return;
  for (const p of alive) if (isAlive(p)) signal(p.pid, 'SIGKILL');
  await waitGone(alive, 2000);
}
