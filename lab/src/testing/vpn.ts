// For tests: the real OpenVPN client with the lab's client config, as a child of the test
// process (own log and pidfile, stopped by its pid). The lab server has duplicate-cn, so any
// number of these tunnels may run next to the lab's own and each other.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface VpnTunnel {
  child: ChildProcess;
  pid: number;
  logFile: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts `openvpn --config FILE` and resolves once its log says "Initialization Sequence Completed". */
export async function connectLabVpn(configFile: string, options: { timeoutMs?: number; dir?: string } = {}): Promise<VpnTunnel> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gangway-vpn-'));
  const logFile = path.join(dir, 'openvpn.log');
  const pidFile = path.join(dir, 'openvpn.pid');
  const child = spawn('openvpn', ['--config', configFile, '--log', logFile, '--writepid', pidFile], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    if (text.includes('Initialization Sequence Completed')) return { child, pid: child.pid ?? 0, logFile, dir, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  throw new Error(`the OpenVPN client did not connect:\n${tail}`);
}
