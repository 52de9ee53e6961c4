// A client for OpenVPN's management interface over its unix socket: a line protocol of
// commands answered by SUCCESS:/ERROR: (or lines ending in END), and `>KIND:` notifications.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { errorMessage, sleep } from '@gangway/kit';

export interface StateNotification {
  type: 'state';
  time: number;
  /** CONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP, ADD_ROUTES, CONNECTED, RECONNECTING, EXITING... */
  name: string;
  /** For CONNECTED: SUCCESS or ERROR; for EXITING/RECONNECTING: the signal or reason. */
  description: string;
  localIp: string;
  remoteIp: string;
  remotePort: string;
}

export interface LogNotification {
  type: 'log';
  time: number;
  /** I info, F fatal, N non-fatal error, W warning, D debug; may be empty. */
  flags: string;
  message: string;
}

export type Notification =
  | StateNotification
  | LogNotification
  | { type: 'password'; text: string; need?: string; failed?: string }
  | { type: 'fatal'; message: string }
  | { type: 'hold'; text: string }
  | { type: 'info'; text: string }
  | { type: 'other'; kind: string; text: string };

/** Parses one `>KIND:...` line; undefined for anything else. */
export function parseNotification(line: string): Notification | undefined {
  const m = /^>([A-Z0-9-]+):(.*)$/.exec(line);
  if (!m) return undefined;
  const kind = m[1] as string;
  const text = m[2] as string;
  switch (kind) {
    case 'STATE': {
      const [time, name, description, localIp, remoteIp, remotePort] = text.split(',');
      return { type: 'state', time: Number(time), name: name ?? '', description: description ?? '', localIp: localIp ?? '', remoteIp: remoteIp ?? '', remotePort: remotePort ?? '' };
    }
    case 'LOG':
      return parseLogEntry(text);
    case 'PASSWORD': {
      const need = /^Need '([^']+)'/.exec(text);
      const failed = /^Verification Failed: '([^']+)'/.exec(text);
      return { type: 'password', text, ...(need ? { need: need[1] as string } : {}), ...(failed ? { failed: failed[1] as string } : {}) };
    }
    case 'FATAL':
      return { type: 'fatal', message: text };
    case 'HOLD':
      return { type: 'hold', text };
    case 'INFO':
      return { type: 'info', text };
    default:
      return { type: 'other', kind, text };
  }
}

/** `TIME,FLAGS,MESSAGE` as in `>LOG:` lines and `log on all` history. */
export function parseLogEntry(text: string): LogNotification {
  const first = text.indexOf(',');
  const second = first === -1 ? -1 : text.indexOf(',', first + 1);
  if (first === -1 || second === -1) return { type: 'log', time: 0, flags: '', message: text };
  return { type: 'log', time: Number(text.slice(0, first)), flags: text.slice(first + 1, second), message: text.slice(second + 1) };
}

/** Quotes a command argument as the management interface parses it: "..." with \\ and \" escaped. */
export function quoteArg(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error('a management command argument cannot hold a line break or NUL');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export class ManagementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManagementError';
  }
}

interface Pending {
  command: string;
  resolve: (text: string) => void;
  reject: (error: Error) => void;
  /** `log on all` / `state on all`: SUCCESS, then history lines until END. */
  history: boolean;
}

/** What the connect logic needs from a management session (a fake in unit tests). */
export interface ManagementSession {
  command(command: string): Promise<string>;
  onNotification(listener: (n: Notification) => void): void;
  onClose(listener: () => void): void;
  close(): void;
}

export class ManagementClient implements ManagementSession {
  readonly #socket: net.Socket;
  readonly #events = new EventEmitter();
  readonly #queue: Pending[] = [];
  #buffer = '';
  #inHistory = false;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      for (const p of this.#queue.splice(0)) p.reject(new ManagementError(`the management interface closed before answering "${redactCommand(p.command)}"`));
      this.#events.emit('close');
    });
  }

  /** Connects once. */
  static connect(socketPath: string): Promise<ManagementClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const onError = (e: Error): void => reject(e);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new ManagementClient(socket));
      });
    });
  }

  /**
   * Connects as soon as the socket accepts, polling while `stillWorth()` says the server may
   * yet appear (its process alive, the deadline not reached).
   */
  static async connectWhenReady(socketPath: string, o: { timeoutMs: number; signal?: AbortSignal; stillWorth?: () => string | undefined }): Promise<ManagementClient> {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      o.signal?.throwIfAborted();
      try {
        return await ManagementClient.connect(socketPath);
      } catch (error) {
        const why = o.stillWorth?.();
        if (why) throw new ManagementError(why);
        if (Date.now() >= deadline) throw new ManagementError(`the management socket did not accept within ${o.timeoutMs} ms (${errorMessage(error)})`);
      }
      await sleep(50, o.signal);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  onNotification(listener: (n: Notification) => void): void {
    this.#events.on('notification', listener);
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#events.on('close', listener);
  }

  /** Sends one command; resolves with its SUCCESS text (or the lines before END), rejects on ERROR. */
  command(command: string): Promise<string> {
    if (/[\r\n]/.test(command)) return Promise.reject(new Error('a management command is one line'));
    if (this.#closed) return Promise.reject(new ManagementError(`the management interface is closed ("${redactCommand(command)}" not sent)`));
    return new Promise((resolve, reject) => {
      this.#queue.push({ command, resolve, reject, history: / on all$/.test(command) });
      this.#socket.write(`${command}\n`);
    });
  }

  close(): void {
    this.#socket.end();
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl = this.#buffer.indexOf('\n');
    while (nl !== -1) {
      const line = this.#buffer.slice(0, nl).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(nl + 1);
      this.#onLine(line);
      nl = this.#buffer.indexOf('\n');
    }
  }

  #multiline: string[] | undefined;

  #onLine(line: string): void {
    const notification = parseNotification(line);
    if (notification) {
      this.#events.emit('notification', notification);
      return;
    }
    if (this.#inHistory) {
      // `log on all` / `state on all` history, already answered with SUCCESS.
      if (line === 'END') this.#inHistory = false;
      else if (/^\d+,/.test(line)) this.#events.emit('notification', parseLogOrState(line));
      return;
    }
    const pending = this.#queue[0];
    if (!pending) return;
    if (line.startsWith('SUCCESS:')) {
      this.#queue.shift();
      if (pending.history) this.#inHistory = true;
      pending.resolve(line.slice('SUCCESS:'.length).trim());
      return;
    }
    if (line.startsWith('ERROR:')) {
      this.#queue.shift();
      pending.reject(new ManagementError(`"${redactCommand(pending.command)}" failed: ${line.slice('ERROR:'.length).trim()}`));
      return;
    }
    // A multi-line answer (e.g. `state`, `status`), ended by END.
    if (line === 'END') {
      this.#queue.shift();
      pending.resolve((this.#multiline ?? []).join('\n'));
      this.#multiline = undefined;
      return;
    }
    (this.#multiline ??= []).push(line);
  }
}

/** History lines of `state on all` look like `TIME,STATE,...`; those of `log on all` like `TIME,FLAGS,MESSAGE`. */
function parseLogOrState(line: string): Notification {
  return parseLogEntry(line);
}

/** A command as it may appear in an error: password arguments hidden. */
export function redactCommand(command: string): string {
  return /^password\b/.test(command) ? 'password [...]' : /^username\b/.test(command) ? 'username [...]' : command;
}
