import type { Client, ClientChannel } from 'ssh2';
import { errorMessage, toError } from '../errors.ts';

/**
 * One word for a POSIX shell, single-quoted: every byte stands for itself (a `'` becomes
 * `'\''`). The SSH protocol hands `exec` one string to the user's login shell, so this is
 * the only way an argument reaches the server. NUL cannot be passed at all.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('an argument for the server holds a NUL byte');
  if (/^[A-Za-z0-9_./=:@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface CommandResult {
  /** null when the command ended by a signal, or the server reported no status. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` on the server over an exec channel of the open connection, every word quoted
 * (see shellQuote), bounded by `timeoutMs`; output beyond `maxOutputBytes` is dropped. For
 * small read-only queries (free space); the deploy itself never needs a shell.
 */
export function runOverSsh(client: Client, argv: string[], options: { timeoutMs: number; maxOutputBytes?: number }): Promise<CommandResult> {
  if (argv.length === 0) return Promise.reject(new Error('no command given'));
  const command = argv.map(shellQuote).join(' ');
  const limit = options.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    let channel: ClientChannel | undefined;
    const timer = setTimeout(() => {
      channel?.close();
      reject(new Error(`${argv[0] ?? ''} did not finish on the server within ${options.timeoutMs} ms`));
    }, Math.max(1, Math.round(options.timeoutMs)));
    const settle = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    try {
      client.exec(command, (err, stream) => {
        if (err) {
          settle(() => reject(new Error(`the server refused to run ${argv[0] ?? ''}: ${errorMessage(err)}`)));
          return;
        }
        channel = stream;
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let outBytes = 0;
        let errBytes = 0;
        let exitCode: number | null = null;
        stream.on('data', (c: Buffer) => {
          if (outBytes < limit) out.push(c);
          outBytes += c.length;
        });
        stream.stderr.on('data', (c: Buffer) => {
          if (errBytes < limit) errs.push(c);
          errBytes += c.length;
        });
        stream.on('exit', (code: number | null) => {
          exitCode = typeof code === 'number' ? code : null;
        });
        stream.on('error', (e: Error) => settle(() => reject(e)));
        stream.on('close', () =>
          settle(() => resolve({ exitCode, stdout: Buffer.concat(out).toString('utf8').slice(0, limit), stderr: Buffer.concat(errs).toString('utf8').slice(0, limit) })),
        );
      });
    } catch (error) {
      settle(() => reject(toError(error)));
    }
  });
}
