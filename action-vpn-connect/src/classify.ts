// Pure: why a connection attempt failed, from OpenVPN's log lines and state transitions.
import { formatDuration } from '@gangway/kit';

export type FailureCategory =
  | 'config'
  | 'auth'
  | 'tls'
  | 'tun'
  | 'dns'
  | 'routes'
  | 'timeout'
  | 'exited'
  | 'check-host'
  | 'cancelled';

export interface Failure {
  category: FailureCategory;
  /** One sentence: what happened. */
  reason: string;
  /** What to do about it. */
  hint: string;
  /** Worth another attempt when `retries` allows (the server may answer next time). */
  retryable: boolean;
}

export const HINTS: Record<FailureCategory, string> = {
  config: 'OpenVPN rejected the configuration. Check the option named in the log line above against `openvpn --help` for the OpenVPN version on the runner.',
  auth: 'The server rejected the username or password. Check the "username" and "password" inputs (the secrets behind them) and that the account may use the VPN.',
  tls: 'The TLS handshake failed: the server does not accept this client certificate (wrong CA, expired or revoked), or the "ca" does not match the server, or the tls-auth/tls-crypt key differs from the server\'s.',
  tun: 'OpenVPN could not create the tun device. The runner needs /dev/net/tun and root (or passwordless sudo).',
  dns: 'The server\'s host name does not resolve from the runner. Check the "remote" line, or use the server\'s IP address.',
  routes: 'OpenVPN connected but could not set every pushed route or address ("Initialization Sequence Completed With Errors"). Look for the failed "route" or "ip" command in the log: usually a route that clashes with one the runner already has.',
  timeout: 'No VPN session within "connect-timeout". Check the "remote" host, port and proto (udp/tcp) and that a firewall lets the runner reach it; raise "connect-timeout" for slow servers.',
  exited: 'OpenVPN exited before it connected. The last lines of its log above say why.',
  'check-host': 'The tunnel is up but "check-host" does not accept TCP connections through it. Check that the host and port are right, that the service runs, and that the VPN routes that address.',
  cancelled: 'The job was cancelled while connecting; OpenVPN was stopped.',
};

export interface Evidence {
  /** OpenVPN log messages (without time stamps), oldest first. */
  messages: string[];
  /** State names seen, with descriptions: `CONNECTED,ERROR`, `EXITING,auth-failure`. */
  states: string[];
  /** The management interface said the password was refused. */
  passwordRefused?: boolean;
  fatal?: string;
  /** The OpenVPN process exited (code or signal). */
  exit?: { code: number | null; signal: string | null };
  timedOutAfterMs?: number;
  /** The handshake went silent this long after the server's certificate checked out. */
  handshakeStalledMs?: number;
  cancelled?: boolean;
}

/** The client checked the server's certificate: the server is reachable and the right one. */
export const SERVER_VERIFIED = /^VERIFY OK: depth=0\b/;
/** The TLS handshake completed (both sides accepted each other's certificates). */
export const HANDSHAKE_DONE = /Peer Connection Initiated|^Control Channel: TLS/;

/**
 * A server that rejects the client's certificate drops the session without a word the client
 * sees (OpenVPN 2.6 logs "Sent fatal SSL alert" on the server only): the client's handshake just
 * stops after the server's certificate verified.
 */
export function handshakeStalled(messages: string[]): boolean {
  return messages.some((m) => SERVER_VERIFIED.test(m)) && !messages.some((m) => HANDSHAKE_DONE.test(m));
}

interface Rule {
  category: FailureCategory;
  test: RegExp;
  /** Ends the attempt as soon as it is seen (no point waiting for the timeout). */
  decisive: boolean;
}

/** Rules in priority order: the first that matches any message wins. */
const RULES: Rule[] = [
  { category: 'auth', test: /AUTH_FAILED|auth-failure|Verification Failed: 'Auth'/, decisive: true },
  { category: 'config', test: /Options error|Error opening configuration file|Cannot load (CA|certificate|private key)|Cannot pre-load/, decisive: true },
  { category: 'tun', test: /Cannot open TUN\/TAP|Cannot ioctl TUNSETIFF|Cannot allocate TUN\/TAP|ERROR: Cannot open TUN/, decisive: true },
  {
    category: 'tls',
    test: /TLS Error: TLS handshake failed|VERIFY ERROR|VERIFY KU ERROR|VERIFY EKU ERROR|VERIFY X509NAME ERROR|certificate verify failed|SSL alert number|tls-crypt unwrapping failed|tls-crypt-v2 unwrap|TLS Error: cannot locate HMAC|TLS Error: incoming packet authentication failed|TLS Error: TLS object -> incoming plaintext read error|TLS_ERROR: BIO read/,
    decisive: true,
  },
  { category: 'dns', test: /RESOLVE: Cannot resolve host address/, decisive: false },
  { category: 'routes', test: /Initialization Sequence Completed With Errors/, decisive: true },
  { category: 'tls', test: /TLS key negotiation failed to occur/, decisive: false },
];

/** The first message that decides the attempt has failed (so it ends before the timeout). */
export function decisiveFailure(message: string): FailureCategory | undefined {
  return RULES.find((r) => r.decisive && r.test.test(message))?.category;
}

function lastMatching(messages: string[], test: RegExp): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (test.test(messages[i] as string)) return messages[i];
  return undefined;
}

export function classify(e: Evidence): Failure {
  if (e.cancelled) return failure('cancelled', 'The job was cancelled while connecting.');
  if (e.passwordRefused || e.states.some((s) => s.startsWith('EXITING,auth-failure'))) {
    return failure('auth', 'The server refused the credentials (AUTH_FAILED).');
  }
  if (e.states.includes('CONNECTED,ERROR')) return failure('routes', 'OpenVPN reported "Initialization Sequence Completed With Errors".');
  const all = [...e.messages, ...(e.fatal ? [e.fatal] : [])];
  for (const rule of RULES) {
    const line = lastMatching(all, rule.test);
    if (line) return failure(rule.category, `OpenVPN: ${line.trim()}`);
  }
  if (e.handshakeStalledMs !== undefined || (e.timedOutAfterMs !== undefined && handshakeStalled(e.messages))) {
    const quiet = e.handshakeStalledMs ?? e.timedOutAfterMs ?? 0;
    return failure('tls', `The server answered and its certificate verified, but it went silent after receiving this client's certificate (no answer for ${formatDuration(quiet)}): it does not accept the client certificate.`);
  }
  if (e.timedOutAfterMs !== undefined) {
    const unreachable = lastMatching(e.messages, /EHOSTUNREACH|ENETUNREACH|ECONNREFUSED|No route to host|Network is unreachable|Connection refused/);
    const last = e.states.at(-1);
    const detail = unreachable ? ` The runner's last attempt to reach the server said: ${unreachable.trim()}` : last ? ` OpenVPN's last state was ${last.split(',')[0] ?? last}.` : '';
    return failure('timeout', `No VPN session within ${formatDuration(e.timedOutAfterMs)}.${detail}`);
  }
  if (e.fatal) return failure('exited', `OpenVPN stopped: ${e.fatal}`);
  if (e.exit) {
    const how = e.exit.signal ? `signal ${e.exit.signal}` : `code ${String(e.exit.code)}`;
    return failure('exited', `OpenVPN exited (${how}) before it connected.`);
  }
  return failure('exited', 'OpenVPN stopped before it connected.');
}

function failure(category: FailureCategory, reason: string): Failure {
  return { category, reason, hint: HINTS[category], retryable: category === 'timeout' || category === 'exited' || category === 'dns' };
}

/** The error a failed connection throws: category, reason and hint in one message. */
export class VpnConnectError extends Error {
  readonly failure: Failure;
  constructor(f: Failure) {
    super(`VPN connection failed [${f.category}]: ${f.reason} Hint: ${f.hint}`);
    this.name = 'VpnConnectError';
    this.failure = f;
  }
}
