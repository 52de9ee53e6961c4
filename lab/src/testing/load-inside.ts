// The steady load and single requests from inside a target's network namespace (nsenter), for
// watching a service from the server's side: through no VPN tunnel that a step under test may
// bring up or tear down while the load runs.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { inNetns } from '../net.ts';
import type { TargetState } from '../state.ts';
import type { LoadSummary } from './load.ts';

export interface NetnsLoad {
  stop(): Promise<{ summary: LoadSummary; failures: Array<{ at: number; error: string }> }>;
}

/** Steady GETs from inside the target's namespace (load-cli.ts under nsenter), bounded by `maxMs`. */
export function loadFromInside(target: TargetState, host: string, port: number, maxMs = 180_000, options: { path?: string; rate?: number; clients?: number; hostname?: string } = {}): NetnsLoad {
  const cli = new URL('./load-cli.ts', import.meta.url).pathname;
  const args = [cli, '--host', host, '--port', String(port), '--ms', String(maxMs)];
  if (options.path) args.push('--path', options.path);
  if (options.rate) args.push('--rate', String(options.rate));
  if (options.clients) args.push('--clients', String(options.clients));
  if (options.hostname) args.push('--hostname', options.hostname);
  const command = inNetns(target.netns, process.execPath, args);
  const child = spawn(command.cmd, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await exited;
      const line = out.trim().split('\n').at(-1) ?? '';
      if (!line.startsWith('{')) throw new Error(`the load inside ${target.netns} printed no summary: ${out.slice(-500)}`);
      return JSON.parse(line) as Awaited<ReturnType<NetnsLoad['stop']>>;
    },
  };
}

/** One GET from inside the target's namespace: status and body, or the error as the status text. */
export async function getFromInside(target: TargetState, url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const script = `fetch(process.argv[1], { signal: AbortSignal.timeout(${timeoutMs}) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() }))).catch((e) => console.log(JSON.stringify({ status: 0, body: String(e.cause ?? e) })))`;
  const command = inNetns(target.netns, process.execPath, ['-e', script, url]);
  const { stdout } = await promisify(execFile)(command.cmd, command.args, { timeout: timeoutMs + 5000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { status: number; body: string };
}

/**
 * One plain-HTTP GET from inside the target's namespace with `hostname` as the Host header (a name the
 * shared edge routes, dialled at `address`): status, headers and body; status 0 and
 * the error as the body when it got no answer.
 */
export async function getFromInsideAs(target: TargetState, request: { address: string; port: number; path: string; hostname: string }, timeoutMs = 5000): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const script = `const [address, port, path, host] = process.argv.slice(1);
require('node:http').get({ host: address, port: Number(port), path, headers: { host }, agent: false, timeout: ${timeoutMs} }, (res) => {
  let body = ''; res.setEncoding('utf8'); res.on('data', (c) => (body += c));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, headers: res.headers, body })));
}).on('timeout', function () { this.destroy(new Error('timeout')); }).on('error', (e) => console.log(JSON.stringify({ status: 0, headers: {}, body: String(e) })));`;
  const command = inNetns(target.netns, process.execPath, ['-e', script, request.address, String(request.port), request.path, request.hostname]);
  const { stdout } = await promisify(execFile)(command.cmd, command.args, { timeout: timeoutMs + 5000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { status: number; headers: Record<string, string>; body: string };
}
