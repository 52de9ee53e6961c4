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
