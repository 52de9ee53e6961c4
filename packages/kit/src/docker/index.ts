export { parseDockerHost, defaultDockerHost, dockerModemOptions, DEFAULT_DOCKER_SOCKET, type DockerHost } from './docker-host.ts';
export { registryAuthHeader, registryServerAddress, type RegistryCredentials } from './registry-auth.ts';
export { parseImageReference, formatImageReference, isValidTag, type ImageReference } from './image-ref.ts';
export {
  readJsonMessages,
  messageError,
  EngineStreamError,
  decodeBuildkitStatus,
  buildkitStatusOf,
  builtImageIdOf,
  pushedDigestOf,
  type ProgressMessage,
  type BuildkitStatus,
  type BuildkitVertex,
  type BuildkitVertexLog,
  type BuildkitVertexWarning,
} from './progress.ts';
export { describeRegistryFailure, type RegistryFailure, type RegistryFailureKind } from './registry-errors.ts';
export { engineStatusCode, isEngineStatus, isEngineNotFound, engineErrorText, engineErrorMessage } from './engine-errors.ts';
export { DockerStreamDemuxer, readDockerStream, demuxDockerOutput, type DockerStreamChunk, type DockerStreamName, type DockerOutput } from './stream.ts';
