// One connection attempt, driven over the management interface, and the teardown that main
// (on failure or cancellation) and post share.
import { errorMessage } from '@gangway/kit';
import { classify, decisiveFailure, handshakeStalled, SERVER_VERIFIED, VpnConnectError, type Evidence, type Failure } from './classify.ts';
import { ManagementClient, quoteArg, type LogNotification, type ManagementSession, type Notification, type StateNotification } from './management.ts';
import type { Credentials } from './ovpn-config.ts';
import { isRunning, linkExists, signalProcess, waitGone, type Privilege, type ProcessId } from './openvpn-process.ts';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export interface AttemptOptions {
  session: ManagementSession;
  /** Resolves when the OpenVPN process exits. */
  exited: Promise<ExitInfo>;
  credentials?: Credentials;
  timeoutMs: number;
  /** How long the handshake may stay silent after the server's certificate verified (default 10 s). */
  handshakeStallMs?: number;
  signal?: AbortSignal;
  onLog?: (entry: LogNotification) => void;
  onState?: (state: StateNotification) => void;
}

export interface Connection {
  /** The runner's address in the VPN. */
  ip: string;
  remoteIp: string;
  remotePort: string;
  /** The tun device, from "TUN/TAP device tunN opened". */
  interface: string | undefined;
  /** Every log message of the attempt, oldest first. */
  messages: string[];
  states: string[];
}

export class AttemptFailed extends VpnConnectError {
  readonly messages: string[];
  constructor(failure: Failure, messages: string[]) {
    super(failure);
    this.messages = messages;
  }
}

const DEVICE_OPENED = /(?:TUN\/TAP|DCO) device (\S+) opened/;

/**
 * Releases OpenVPN from its hold, answers its credential query and waits for CONNECTED.
 * Fails fast on a decisive log line (auth, TLS, config, tun), on exit, on timeout and on
 * cancellation; every failure carries a category, a hint and the messages seen.
 */
export function awaitConnection(o: AttemptOptions): Promise<Connection> {
  const messages: string[] = [];
  const states: string[] = [];
  let iface: string | undefined;
  let passwordRefused = false;
  let fatal: string | undefined;
  let settled = false;
  let stallTimer: NodeJS.Timeout | undefined;

  return new Promise<Connection>((resolve, reject) => {
    const cleanups: Array<() => void> = [];
    const finish = (result: { ok: Connection } | { evidence: Partial<Evidence> }): void => {
      if (settled) return;
      settled = true;
      for (const c of cleanups) c();
      if ('ok' in result) {
        resolve(result.ok);
        return;
      }
      const failure = classify({ messages, states, passwordRefused, ...(fatal ? { fatal } : {}), ...result.evidence });
      reject(new AttemptFailed(failure, messages));
    };
    const failSoon = (evidence: Partial<Evidence>): void => {
      // Let the lines OpenVPN writes right after the cause arrive (they often name it better).
      const t = setTimeout(() => finish({ evidence }), 300);
      cleanups.push(() => clearTimeout(t));
    };

    const onNotification = (n: Notification): void => {
      if (settled) return;
      switch (n.type) {
        case 'log': {
          messages.push(n.message);
          o.onLog?.(n);
          const device = DEVICE_OPENED.exec(n.message);
          if (device) iface = device[1];
          if (decisiveFailure(n.message)) failSoon({});
          if (SERVER_VERIFIED.test(n.message) && !stallTimer) {
            const stallMs = o.handshakeStallMs ?? 10_000;
            stallTimer = setTimeout(() => {
              if (handshakeStalled(messages)) finish({ evidence: { handshakeStalledMs: stallMs } });
            }, stallMs);
            cleanups.push(() => clearTimeout(stallTimer));
          }
          return;
        }
        case 'state': {
          states.push(`${n.name},${n.description}`);
          o.onState?.(n);
          if (n.name === 'CONNECTED') {
            if (n.description === 'SUCCESS') finish({ ok: { ip: n.localIp, remoteIp: n.remoteIp, remotePort: n.remotePort, interface: iface, messages, states } });
            else failSoon({});
          }
          if (n.name === 'EXITING') failSoon({});
          return;
        }
        case 'password': {
          if (n.failed) {
            passwordRefused = true;
            failSoon({});
            return;
          }
          if (n.need === 'Auth') {
            if (!o.credentials) {
              messages.push('The server asks for a username and password, and none were given.');
              finish({ evidence: {} });
              return;
            }
            const { username, password } = o.credentials;
            o.session
              .command(`username "Auth" ${quoteArg(username)}`)
              .then(() => o.session.command(`password "Auth" ${quoteArg(password)}`))
              .catch((e: unknown) => {
                messages.push(`Sending the credentials failed: ${errorMessage(e)}`);
                finish({ evidence: {} });
              });
            return;
          }
          if (n.need) {
            messages.push(`Options error: OpenVPN asks for '${n.need}', which this action cannot answer (an encrypted key or a proxy password in the config).`);
            finish({ evidence: {} });
          }
          return;
        }
        case 'fatal':
          fatal = n.message;
          failSoon({});
          return;
        default:
          return;
      }
    };
    o.session.onNotification(onNotification);
    o.session.onClose(() => {
      if (settled) return;
      // The process is going away: give its exit a moment to be seen.
      const t = setTimeout(() => finish({ evidence: { exit: { code: null, signal: null } } }), 2000);
      cleanups.push(() => clearTimeout(t));
    });
    void o.exited.then((exit) => failSoon({ exit }));

    const timer = setTimeout(() => finish({ evidence: { timedOutAfterMs: o.timeoutMs } }), o.timeoutMs);
    cleanups.push(() => clearTimeout(timer));
    if (o.signal) {
      const onAbort = (): void => finish({ evidence: { cancelled: true } });
      if (o.signal.aborted) onAbort();
      o.signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => o.signal?.removeEventListener('abort', onAbort));
    }

    // `hold off` first: a later restart (ping-restart) must not wait for a client that is gone.
    void (async () => {
      try {
        await o.session.command('state on');
        await o.session.command('log on all');
        await o.session.command('hold off');
        await o.session.command('hold release');
      } catch (e) {
        if (settled) return;
        messages.push(`Management interface: ${errorMessage(e)}`);
        failSoon({});
      }
    })();
  });
}

export interface StopOptions {
  process: ProcessId | undefined;
  /** An open management session, or the socket to open one on. */
  session?: ManagementSession;
  socketPath?: string;
  interface?: string;
  privilege: Privilege;
  /** How long OpenVPN gets to exit after `signal SIGTERM` before it is killed. */
  graceMs: number;
}

export interface StopResult {
  /** How it ended: it was already gone, it exited on request, or it had to be killed. */
  how: 'already-gone' | 'management' | 'SIGTERM' | 'SIGKILL' | 'survived';
  ms: number;
  /** The tun device is gone (removed by OpenVPN, or by the action when it lingered). */
  interfaceGone: boolean;
}

/**
 * Stops the action's OpenVPN: `signal SIGTERM` over the management socket (it then removes its
 * routes and tun device), then SIGTERM and SIGKILL by pid (checked against its start time).
 */
export async function stopTunnel(o: StopOptions): Promise<StopResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  let how: StopResult['how'] = 'already-gone';
  if (o.process && isRunning(o.process)) {
    let session = o.session;
    let opened = false;
    if (!session && o.socketPath) {
      session = await ManagementClient.connect(o.socketPath).catch(() => undefined);
      opened = session !== undefined;
    }
    let asked = false;
    if (session) {
      asked = await session.command('signal SIGTERM').then(
        () => true,
        () => false,
      );
    }
    if (asked && (await waitGone(o.process, o.graceMs))) how = 'management';
    else {
      signalProcess(o.process, 'SIGTERM', o.privilege);
      if (await waitGone(o.process, asked ? 2000 : o.graceMs)) how = 'SIGTERM';
      else {
        signalProcess(o.process, 'SIGKILL', o.privilege);
        how = (await waitGone(o.process, 2000)) ? 'SIGKILL' : 'survived';
      }
    }
    if (opened) session?.close();
  }
  let interfaceGone = true;
  if (o.interface && how !== 'survived') {
    // OpenVPN's tun device is not persistent: the kernel removes it when the process closes it.
    // A device of that name seen later may already be another tunnel's, so it is never deleted here.
    for (let i = 0; i < 20 && linkExists(o.interface); i++) await new Promise((r) => setTimeout(r, 50));
    interfaceGone = !linkExists(o.interface);
  }
  return { how, ms: elapsed(), interfaceGone };
}
