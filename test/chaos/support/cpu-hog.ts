// For the chaos suite: a loaded machine, as when another CPU-heavy job runs beside the deploy.
// One busy-loop child per CPU, each bounded (it ends by itself after `maxMs` at the latest),
// started and stopped by the test itself, by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface CpuHog {
  pids: number[];
  /** Kills each child by its pid and waits until it has exited; the CPU time they burnt (ms). */
  stop(): Promise<{ cpuMs: number }>;
}

const LOOP = 'const end = Date.now() + Number(process.argv[1]); let x = 0; while (Date.now() < end) x = (x * 1103515245 + 12345) % 2147483648;';

export function startCpuHog(options: { children?: number; maxMs?: number } = {}): CpuHog {
  const count = options.children ?? os.availableParallelism();
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) children.push(spawn(process.execPath, ['-e', LOOP, String(options.maxMs ?? 180_000)], { stdio: 'ignore' }));
  return {
    pids: children.map((c) => c.pid).filter((p): p is number => p !== undefined),
    async stop() {
      let cpuMs = 0;
      await Promise.all(
        children.map(async (child) => {
          const pid = child.pid;
          if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          cpuMs += procCpuMs(pid);
          process.kill(pid, 'SIGKILL');
          await exited;
        }),
      );
      return { cpuMs };
    },
  };
}

/** utime + stime of a process so far, in ms (Linux /proc, 100 ticks a second; 0 where it cannot be read). */
function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}
