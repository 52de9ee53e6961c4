// Pure: which directives of a user's .ovpn the action lets OpenVPN see. OpenVPN runs as root,
// so this is an ALLOW-list of what a client config needs; anything else is refused before
// OpenVPN starts (or, where removing it is harmless, dropped with a warning). A block-list
// let `providers`, `engine` (shared objects loaded as root) and `status`, `replay-persist`
// (files written as root) through.
import path from 'node:path';
import { ConfigurationError, resolveWorkspacePath, type PathRoots } from '@gangway/kit';
import type { ConfigItem } from './config-items.ts';

/** Options a client config legitimately holds; kept as written. */
const CLIENT_OPTIONS = new Set([
  // role and device
  'client', 'tls-client', 'pull', 'dev', 'dev-type', 'topology', 'disable-dco', 'user', 'group', 'nice', 'mlock',
  // where and how to reach the server
  'remote', 'remote-random', 'remote-random-hostname', 'proto', 'proto-force', 'port', 'rport', 'lport', 'bind', 'nobind', 'local',
  'resolv-retry', 'float', 'connect-retry', 'connect-retry-max', 'connect-timeout', 'server-poll-timeout', 'explicit-exit-notify',
  'http-proxy-option', 'socks-proxy-retry', 'bind-dev', 'mark', 'passtos',
  // liveness and restarts
  'keepalive', 'ping', 'ping-restart', 'ping-exit', 'ping-timer-rem', 'inactive', 'session-timeout', 'persist-key', 'persist-tun',
  'persist-remote-ip', 'persist-local-ip',
  // sizes and buffers
  'tun-mtu', 'tun-mtu-extra', 'link-mtu', 'mssfix', 'fragment', 'mtu-disc', 'sndbuf', 'rcvbuf', 'txqueuelen', 'fast-io', 'tcp-nodelay', 'shaper',
  // routes and what the server pushes
  'route', 'route-ipv6', 'route-gateway', 'route-metric', 'route-delay', 'route-nopull', 'pull-filter', 'redirect-gateway', 'redirect-private',
  'block-ipv6', 'allow-pull-fqdn', 'dhcp-option', 'dns', 'ifconfig-nowarn', 'allow-recursive-routing', 'block-outside-dns',
  // TLS and the server's identity
  'remote-cert-tls', 'remote-cert-ku', 'remote-cert-eku', 'ns-cert-type', 'verify-x509-name', 'verify-hash', 'peer-fingerprint', 'key-direction',
  'tls-version-min', 'tls-version-max', 'tls-cipher', 'tls-ciphersuites', 'tls-groups', 'tls-cert-profile', 'ecdh-curve', 'tls-timeout',
  'hand-window', 'tran-window', 'tls-exit', 'reneg-sec', 'reneg-bytes', 'reneg-pkts', 'push-peer-info',
  // data channel
  'cipher', 'data-ciphers', 'data-ciphers-fallback', 'ncp-ciphers', 'auth', 'replay-window', 'mute-replay-warnings', 'no-replay',
  'comp-lzo', 'compress', 'allow-compression', 'comp-noadapt', 'disable-occ',
  // log verbosity (the log itself is the action's)
  'verb', 'mute', 'suppress-timestamps',
  // every other option of the config has been judged here, so unknown ones may stay ignorable
  'ignore-unknown-option',
]);

/** Options that read a file (their first argument) or take an inline <block>: the file must lie in the workspace. */
export const FILE_OPTIONS = new Set(['ca', 'cert', 'key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'extra-certs', 'pkcs12', 'crl-verify']);

/** Inline blocks a client config may hold (besides <auth-user-pass>, which the action takes out, and <connection>, checked line by line). */
const INLINE_BLOCKS = new Set([...FILE_OPTIONS, 'peer-fingerprint']);

/** The options OpenVPN accepts inside a <connection> block that this action lets through. */
const CONNECTION_OPTIONS = new Set([
  'remote', 'proto', 'port', 'rport', 'lport', 'bind', 'nobind', 'local', 'float', 'connect-retry', 'connect-retry-max', 'connect-timeout',
  'server-poll-timeout', 'explicit-exit-notify', 'fragment', 'link-mtu', 'mssfix', 'mtu-disc', 'tun-mtu', 'tun-mtu-extra', 'http-proxy',
  'http-proxy-option', 'socks-proxy',
]);

/** Hooks that run programs as root, and what only they read: kept only with `allow-scripts: true`. */
export const SCRIPT_OPTIONS = new Set([
  'up', 'down', 'route-up', 'route-pre-down', 'ipchange', 'tls-verify', 'learn-address', 'plugin', 'client-connect', 'client-disconnect',
  'auth-user-pass-verify', 'iproute', 'script-security', 'setenv', 'setenv-safe', 'up-delay', 'up-restart', 'down-pre',
]);

/** The action owns these (it sets its own): removed, and said so in a note. */
const REPLACED = new Set([
  'auth-nocache', 'auth-retry', 'management', 'management-hold', 'management-query-passwords', 'management-signal', 'management-forget-disconnect',
  'management-up-down', 'management-log-cache', 'management-client-user', 'management-client-group',
]);

/** Harmless to remove (the action keeps OpenVPN's log and pid itself): dropped with a warning. */
const DROPPED: Record<string, string> = {
  log: 'the action keeps OpenVPN\'s log in its private directory',
  'log-append': 'the action keeps OpenVPN\'s log in its private directory',
  syslog: 'the action keeps OpenVPN\'s log in its private directory',
  writepid: 'the action tracks the process itself',
};

/** Refused with a reason of their own; everything not listed anywhere above is refused too. */
const REFUSED: Record<string, string> = {
  config: 'it includes another file the action cannot check; put its options in the config itself',
  cd: 'OpenVPN runs from the config file\'s folder (or the workspace), which the action sets',
  daemon: 'the action runs OpenVPN and must see it exit',
  chroot: 'the action needs OpenVPN\'s files where it put them',
  askpass: 'encrypted private keys are not supported; give an unencrypted key through the "key" input (a secret)',
  'management-external-key': 'the management interface is the action\'s own',
  'management-external-cert': 'the management interface is the action\'s own',
  providers: 'it loads OpenSSL provider libraries into OpenVPN, which runs as root',
  engine: 'it loads an OpenSSL engine library into OpenVPN, which runs as root',
  'pkcs11-providers': 'it loads PKCS#11 libraries into OpenVPN, which runs as root',
  status: 'it writes a file as root',
  'tls-export-cert': 'it writes files as root',
  'replay-persist': 'it writes a file as root',
  'ifconfig-pool-persist': 'it writes a file as root',
  'dev-node': 'it opens a device node the config names, as root',
  'tmp-dir': 'it has OpenVPN write files into a folder the config names, as root',
};

/** What the action does with one directive of the user's config. */
export type Verdict =
  | { kind: 'keep' }
  /** Keep, after checking that a file argument lies in the workspace. */
  | { kind: 'file' }
  /** Handled by the credentials logic (username/password over the management interface). */
  | { kind: 'auth-user-pass' }
  | { kind: 'script' }
  | { kind: 'replace' }
  | { kind: 'drop'; why: string }
  | { kind: 'refuse'; why: string };

const UNKNOWN = 'which is not one of the options a client config needs (the action\'s README lists those it accepts); remove it';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The verdict on one directive `name args...`. */
export function judgeDirective(name: string, args: string[]): Verdict {
  if (name in REFUSED) return { kind: 'refuse', why: `which this action refuses: ${REFUSED[name] as string}` };
  if (name === 'management') {
    const [host, port] = args;
    if (port === 'unix' || (host !== undefined && isLoopback(host))) return { kind: 'replace' };
    return { kind: 'refuse', why: `on ${host ?? '?'}, which would open OpenVPN's management interface (it controls a root process) beyond this machine; the action uses its own local socket, so remove the line` };
  }
  if (REPLACED.has(name)) return { kind: 'replace' };
  if (name in DROPPED) return { kind: 'drop', why: DROPPED[name] as string };
  if (name === 'setenv' && args[0]?.toLowerCase() === 'opt' && args[1] !== undefined) {
    // "setenv opt X ..." applies option X (ignored only if OpenVPN does not know it): judge X.
    const inner = judgeDirective(args[1].replace(/^--/, '').toLowerCase(), args.slice(2));
    if (inner.kind === 'refuse' && inner.why === UNKNOWN) return { kind: 'drop', why: `"setenv opt ${args[1]}" marks an option the action does not accept as optional` };
    return inner;
  }
  if (SCRIPT_OPTIONS.has(name)) return { kind: 'script' };
  if (name === 'auth-user-pass') return { kind: 'auth-user-pass' };
  if (FILE_OPTIONS.has(name)) return { kind: 'file' };
  if (name === 'http-proxy' || name === 'socks-proxy') {
    // A third argument is a credentials file (or "stdin"): credentials belong in secrets.
    return args.length <= 2 ? { kind: 'keep' } : { kind: 'refuse', why: 'with a credentials argument, which this action does not support; use a proxy without authentication' };
  }
  if (CLIENT_OPTIONS.has(name)) return { kind: 'keep' };
  return { kind: 'refuse', why: UNKNOWN };
}

/** Whether an inline block may stay in the config (credentials and <connection> are handled by the caller). */
export function inlineBlockAllowed(name: string): boolean {
  return INLINE_BLOCKS.has(name);
}

/** The verdict on a directive inside a <connection> block: only connection options, judged as above. */
export function judgeConnectionDirective(name: string, args: string[]): Verdict {
  if (!CONNECTION_OPTIONS.has(name)) return { kind: 'refuse', why: 'inside a <connection> block, which holds only how to reach a server (remote, proto, port, ...); remove it' };
  return judgeDirective(name, args);
}

/**
 * Checks the file a FILE_OPTIONS directive names: inline (`[[INLINE]]`) or a path inside the
 * workspace or RUNNER_TEMP, resolved from OpenVPN's working directory, symlinks followed.
 */
export function checkFileArgument(o: { name: string; args: string[]; line: number; input: string; configDir: string; roots: PathRoots }): void {
  const file = o.args[0];
  if (file === undefined) {
    throw new ConfigurationError(`Input "${o.input}": line ${o.line} has "${o.name}" without a file. Give the file, or the ${o.name} as an inline <${o.name}> block.`, o.input);
  }
  if (file === '[[INLINE]]') return;
  try {
    resolveWorkspacePath(path.resolve(o.configDir, file), o.input, o.roots);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError(
      `Input "${o.input}": line ${o.line} has "${o.name} ${file}", a file outside the workspace (OpenVPN would read it as root). Put the file in the repository, give it inline as <${o.name}>, or pass it as an input (a secret).`,
      o.input,
    );
  }
}

export interface VetOptions {
  /** Which input the config came from (for messages). */
  input: string;
  /** OpenVPN's working directory: relative file names in the config resolve here. */
  configDir: string;
  roots: PathRoots;
}

/**
 * Throws a ConfigurationError naming the line and the directive for the first one the action
 * refuses (inside <connection> blocks too), and for a file argument outside the workspace.
 * Runs before anything else happens, so a refused config never reaches OpenVPN.
 */
export function vetDirectives(items: ConfigItem[], o: VetOptions, inConnection = false): void {
  for (const item of items) {
    if (item.kind === 'other') continue;
    if (item.kind === 'block') {
      if (item.name === 'connection' && !inConnection) {
        vetDirectives(item.items ?? [], o, true);
        continue;
      }
      if (item.name === 'auth-user-pass' && !inConnection) continue;
      if (!inlineBlockAllowed(item.name) || inConnection) {
        throw new ConfigurationError(`Input "${o.input}": line ${item.line} opens an inline <${item.name}> block, which this action refuses${inConnection ? ' inside <connection>' : ''}: inline blocks may hold ${[...INLINE_BLOCKS].join(', ')} and auth-user-pass. Remove it.`, o.input);
      }
      continue;
    }
    const verdict = inConnection ? judgeConnectionDirective(item.name, item.args) : judgeDirective(item.name, item.args);
    if (verdict.kind === 'refuse') throw new ConfigurationError(`Input "${o.input}": line ${item.line} uses "${item.name}", ${verdict.why}.`, o.input);
    if (verdict.kind === 'file') checkFileArgument({ name: item.name, args: item.args, line: item.line, input: o.input, configDir: o.configDir, roots: o.roots });
  }
}
