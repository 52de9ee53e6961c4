// First: ssh2's pure-JS fallback needs __dirname in an ES-module bundle.
import './esm-globals.ts';

export {
  parseKnownHosts,
  keysForHost,
  knownHostsName,
  fingerprintOf,
  parseFingerprint,
  hostKeyAlgorithms,
  hostKeyCheck,
  type HostKeyTrust,
  type HostKeyCheck,
  type KnownHostKey,
} from './host-keys.ts';
export { openSsh, SshConnectError, type SshEndpoint, type SshOptions, type SshSession, type SshFailure } from './connect.ts';
export { openDockerOverSsh, dockerThrough, type DockerTransport } from './docker.ts';
export { forwardTcp, httpGetThroughSsh, type ForwardedHttpResponse } from './forward.ts';
export { runOverSsh, shellQuote, type CommandResult } from './exec.ts';
export { lostConnectionHint, matchRoute, routeTo, isTunnelInterface, type RouteInfo } from './route.ts';
