/** Credentials for one registry, as the Engine API takes them (`X-Registry-Auth`, `/auth`). */
export interface RegistryCredentials {
  username: string;
  password: string;
  /** The registry host (`ghcr.io`, `198.18.0.1:5000`); `docker.io` for Docker Hub. */
  serveraddress: string;
}

/**
 * The `X-Registry-Auth` header value: the credentials as JSON, base64 with the URL-safe
 * alphabet and padding kept (what the engine decodes). Sent with each request that
 * needs it, so no docker config file is written anywhere.
 */
export function registryAuthHeader(credentials: RegistryCredentials): string {
  const json = JSON.stringify({ username: credentials.username, password: credentials.password, serveraddress: credentials.serveraddress });
  return Buffer.from(json, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The address the engine expects for a registry host: Docker Hub has its own legacy name. */
export function registryServerAddress(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}
