// Running the system tools the lab is made of. Arguments are always arrays: nothing is spliced into a shell.
import { spawn, spawnSync } from 'node:child_process';

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  readonly result: RunResult;
  constructor(command: string, result: RunResult) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n');
    super(`\`${command}\` exited with ${result.status}${detail ? `:\n${detail}` : ''}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].join(' ');
}

/** Run to completion (synchronously): for quick commands. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args, {
    input: options.input,
    env: options.env ?? process.env,
    cwd: options.cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: options.timeoutMs,
  });
  if (r.error) throw new Error(`cannot run \`${describe(cmd, args)}\`: ${r.error.message}`);
  const result: RunResult = { status: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr };
  if (result.status !== 0 && !options.allowFailure) throw new CommandError(describe(cmd, args), result);
  return result;
}

/** Run to completion without blocking the event loop: for long work that runs alongside other phases. */
export function runAsync(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      // Keep the tail only: mmdebstrap is chatty.
      err.push(b);
      errLen += b.length;
      while (errLen > 256 * 1024 && err.length > 1) errLen -= err.shift()?.length ?? 0;
    });
    child.on('error', (e) => reject(new Error(`cannot run \`${describe(cmd, args)}\`: ${e.message}`)));
    child.on('close', (code, signal) => {
      const result: RunResult = {
        status: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (result.status !== 0 && !options.allowFailure) reject(new CommandError(describe(cmd, args), result));
      else resolve(result);
    });
    child.stdin.end(options.input);
  });
}

/** `a | b`, both spawned directly; rejects when either side fails. */
export function pipe(
  left: { cmd: string; args: readonly string[] },
  right: { cmd: string; args: readonly string[] },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const a = spawn(left.cmd, left.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const b = spawn(right.cmd, right.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    a.stdout.pipe(b.stdin);
    let aErr = '';
    let bErr = '';
    a.stderr.on('data', (d: Buffer) => (aErr += d.toString()));
    b.stderr.on('data', (d: Buffer) => (bErr += d.toString()));
    b.stdout.resume();
    let pending = 2;
    let failed = false;
    const done = (which: string, code: number | null, errText: string): void => {
      if (failed) return;
      if (code !== 0) {
        failed = true;
        a.kill();
        b.kill();
        reject(new Error(`\`${which}\` exited with ${code}: ${errText.trim()}`));
        return;
      }
      if (--pending === 0) resolve();
    };
    a.on('error', reject);
    b.on('error', reject);
    a.on('close', (code) => done(describe(left.cmd, left.args), code, aErr));
    b.on('close', (code) => done(describe(right.cmd, right.args), code, bErr));
  });
}

/** Quote for a POSIX shell: only used for mmdebstrap hook scripts the lab writes itself. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
