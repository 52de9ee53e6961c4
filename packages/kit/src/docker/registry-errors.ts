/**
 * What a Docker engine's registry error means. The engine passes on Go's error text
 * (`dial tcp 198.18.0.1:5000: connect: connection refused`, `received unexpected HTTP status:
 * 500 Internal Server Error`, `unexpected EOF`), usually without naming the registry; this
 * turns it into a cause a person can act on, and says whether trying again could help.
 */

export type RegistryFailureKind =
  /** Nothing listens at the address (wrong host or port, or the registry is down). */
  | 'refused'
  /** No answer in time: connect, TLS handshake or response. */
  | 'timeout'
  /** No route to the address (network or VPN down). */
  | 'unreachable'
  /** The registry's name does not resolve. */
  | 'dns'
  /** TLS failed: certificate not trusted, wrong name, or plain HTTP on a TLS port. */
  | 'tls'
  /** The registry answered with an HTTP error status. */
  | 'status'
  /** The registry refused the credentials, or they grant no pull. */
  | 'auth'
  /** No such repository, tag or digest. */
  | 'not-found'
  /** A transfer stopped half-way (connection closed or reset mid-body). */
  | 'cut'
  | 'unknown';

export interface RegistryFailure {
  kind: RegistryFailureKind;
  /** The HTTP status, for `status` (and 429). */
  status?: number;
  /** How many attempts the engine itself made, when it says so (`download failed after attempts=6`). */
  engineAttempts?: number;
  /** Whether the same request a little later may succeed. */
  transient: boolean;
  /** One clause: what went wrong, in words. */
  cause: string;
}

const STATUS = /(?:unexpected HTTP status|status code|HTTP status):?\s*(\d{3})(?:\s+([A-Za-z][A-Za-z ]*[a-z]))?/i;

/** Classifies an engine's error text about a registry (a pull, a push, a login). */
export function describeRegistryFailure(text: string): RegistryFailure {
  const t = text.trim();
  const attempts = /download failed after attempts=(\d+)/.exec(t);
  const base = attempts ? { engineAttempts: Number(attempts[1]) } : {};
  const address = /dial tcp ([^\s:]+:\d+|\[[^\]]+\]:\d+)/.exec(t)?.[1];
  const at = address ? ` at ${address}` : '';
  if (/connection refused/i.test(t)) return { ...base, kind: 'refused', transient: false, cause: `connection refused: nothing listens${at}` };
  if (/no route to host|network is unreachable|host is unreachable/i.test(t)) {
    return { ...base, kind: 'unreachable', transient: false, cause: `unreachable: no route to the registry${at}` };
  }
  if (/no such host|server misbehaving|Temporary failure in name resolution/i.test(t)) {
    return { ...base, kind: 'dns', transient: false, cause: "unreachable: the registry's name does not resolve" };
  }
  if (/i\/o timeout|timed out|TLS handshake timeout|Client\.Timeout exceeded|deadline exceeded|request canceled while waiting/i.test(t)) {
    return { ...base, kind: 'timeout', transient: true, cause: `unreachable: no answer in time (${/TLS handshake timeout/i.test(t) ? 'TLS handshake' : /dial tcp/.test(t) ? `connecting${at}` : 'waiting for the response'})` };
  }
  if (/x509:|certificate|tls:|server gave HTTP response to HTTPS client|first record does not look like a TLS handshake/i.test(t)) {
    return { ...base, kind: 'tls', transient: false, cause: `TLS failed (${/x509: ([^\n]+)/.exec(t)?.[1]?.trim() ?? 'the certificate is not trusted, or the port does not speak TLS'}): trust the registry's CA on the server (/etc/docker/certs.d/<host:port>/ca.crt)` };
  }
  if (/toomanyrequests|too many requests|\b429\b/i.test(t)) return { ...base, kind: 'status', status: 429, transient: true, cause: 'HTTP 429 Too Many Requests (rate limited)' };
  const status = STATUS.exec(t);
  if (status) {
    const code = Number(status[1]);
    const words = status[2]?.trim();
    if (code === 401 || code === 403) return { ...base, kind: 'auth', status: code, transient: false, cause: `HTTP ${code}: the credentials were refused` };
    if (code === 404) return { ...base, kind: 'not-found', status: code, transient: false, cause: 'HTTP 404: no such image' };
    return { ...base, kind: 'status', status: code, transient: code >= 500, cause: `HTTP ${code}${words ? ` ${words}` : ''}${code >= 500 ? ' (a server error in the registry)' : ''}` };
  }
  if (/unauthorized|authentication required|no basic auth credentials|denied|incorrect username or password/i.test(t)) {
    return { ...base, kind: 'auth', transient: false, cause: 'the registry refused the credentials (check registry-username and registry-password, and that they may pull this repository)' };
  }
  if (/manifest unknown|not found|name unknown|blob unknown|does not exist/i.test(t)) {
    return { ...base, kind: 'not-found', transient: false, cause: 'no such image in the registry (check the repository, tag or digest)' };
  }
  if (/unexpected EOF|connection reset|broken pipe|EOF$|closed network connection|stream error|short read/i.test(t)) {
    return { ...base, kind: 'cut', transient: true, cause: 'the transfer was cut mid-way (the connection closed before the whole response arrived)' };
  }
  return { ...base, kind: 'unknown', transient: false, cause: t.split('\n')[0] ?? t };
}
