// The shared edge (issue #18): which names and path an app answers on through the host's one edge on
// 80/443, how it serves TLS, and maintenance mode. Everything here is checked before anything connects;
// what only the server can tell (another app holding the name, 80/443 held by something else) is
// checked on the server before any change.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ConfigurationError, type Inputs } from '@gangway/kit';
import { absolutePath, CONTROL } from './values.ts';

export const TLS_MODES = ['off', 'certificate', 'acme'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

export type EdgeTls =
  | { mode: 'off' }
  /** PEM from inputs (the key is a secret, registered before this runs). */
  | { mode: 'certificate'; source: 'inputs'; certificate: string; key: string; notAfter: Date }
  /** Files already on the server (certbot's /etc/letsencrypt/live/...), read by the edge. */
  | { mode: 'certificate'; source: 'server'; certificatePath: string; keyPath: string }
  /** `directoryCa`: PEM of the private CA that signed the directory's own HTTPS certificate (not needed for Let's Encrypt). */
  | { mode: 'acme'; email?: string; directory: string; directoryCa?: string };

export interface EdgeSettings {
  /** Lower-case DNS names, each at most once. */
  hostnames: string[];
  /** Starts with "/", no trailing "/" (except "/" itself). */
  pathPrefix: string;
  tls: EdgeTls;
  hsts: boolean;
  maintenance?: { on: boolean; message?: string };
  httpPort: number;
  httpsPort: number;
  /** How often the edge looks for certificates to renew (it renews one with a third of its life left). */
  renewIntervalMs: number;
}

/** Where no certificate directory is mounted from: the host's devices, kernel and runtime state (the engine's socket). */
/** Where no certificate directory is mounted from: the host's devices, kernel, runtime state, engine and credentials. */
const NEVER_MOUNTED = ['/proc', '/sys', '/dev', '/run', '/var/run', '/var/lib/docker', '/var/lib/containerd', '/var/lib/kubelet', '/boot', '/root', '/etc/ssh', '/etc/docker', '/etc/kubernetes', '/etc/sudoers.d', '/etc/shadow'];

/** Where the edge sees a mounted server directory: under this root, never over a directory of its own image. */
export const SERVER_FILES_ROOT = '/gangway-host';

/**
 * The server directory the edge mounts (read-only, at the same path under SERVER_FILES_ROOT) to read a
 * certificate file there: the file's own directory, or for certbot's layout (DIR/live/NAME/file,
 * symlinks into DIR/archive/NAME) DIR itself, so that the links resolve and a renewal, which only moves
 * them, is seen. Undefined when that directory must not be mounted: "/" or one directly under it, the
 * host's runtime state or credentials, or a hidden directory (.ssh, .docker) on the way.
 */
export function serverMountOf(file: string): string | undefined {
  const segments = file.split('/').slice(1, -1);
  const live = segments.length >= 3 && segments.at(-2) === 'live' ? segments.slice(0, -2) : segments;
  const dir = `/${live.join('/')}`;
  if (live.length < 2 || live.some((segment) => segment.startsWith('.')) || NEVER_MOUNTED.some((root) => dir === root || dir.startsWith(`${root}/`))) return undefined;
  return dir;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name as a certificate and a Host header carry it: labels of letters, digits and inner "-". */
export function validateHostname(raw: string, input = 'hostname'): string {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  const valid = name.length > 0 && name.length <= 253 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels.at(-1) ?? '');
  if (!valid) {
    throw new ConfigurationError(
      `Input "${input}": "${raw}" is not a valid DNS name. Give names such as app.example.com: labels of letters, digits and "-" (not at either end), at most 63 characters each, separated by dots; no scheme, port or path.`,
      input,
    );
  }
  return name;
}

export function validatePathPrefix(raw: string, input = 'path-prefix'): string {
  if (!raw.startsWith('/')) {
    throw new ConfigurationError(`Input "${input}" is "${raw}": a path prefix starts with "/" (for example /api).`, input);
  }
  if (!/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/.test(raw) || raw.includes('//') || raw.split('/').some((s) => s === '..' || s === '.')) {
    throw new ConfigurationError(`Input "${input}" is "${raw}": use a plain URL path such as /api or /app/v1 (no query, no "..", no doubled slashes, no spaces).`, input);
  }
  return raw.length > 1 ? raw.replace(/\/$/, '') : raw;
}

/**
 * The certificate must parse, match its key, be valid now, and cover every hostname. Without `keyPem`
 * (files on the server, whose key never leaves it) the edge's own load checks the pair.
 */
export function checkCertificate(certificatePem: string, keyPem: string | undefined, hostnames: string[], now = new Date()): Date {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (error) {
    throw new ConfigurationError(`Input "tls-certificate" is not a PEM certificate (${(error as Error).message}). Give the certificate chain, leaf first, as PEM.`, 'tls-certificate');
  }
  let matches = true;
  try {
    if (keyPem !== undefined) matches = certificate.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    // The key's text never goes into the message: it is a secret.
    throw new ConfigurationError('Input "tls-key" is not a PEM private key. Give the unencrypted private key of the certificate, as PEM.', 'tls-key');
  }
  if (!matches) {
    throw new ConfigurationError(`Input "tls-key" is not the key of the certificate in "tls-certificate" (subject ${certificate.subject.replace(/\n/g, ', ')}). Give the key the certificate was issued for.`, 'tls-key');
  }
  const notAfter = new Date(certificate.validTo);
  const notBefore = new Date(certificate.validFrom);
  if (notAfter.getTime() <= now.getTime()) {
    throw new ConfigurationError(`Input "tls-certificate": the certificate expired on ${notAfter.toISOString()}. Renew it, or use tls: acme.`, 'tls-certificate');
  }
  if (notBefore.getTime() > now.getTime()) {
    throw new ConfigurationError(`Input "tls-certificate": the certificate is not valid before ${notBefore.toISOString()}.`, 'tls-certificate');
  }
  for (const name of hostnames) {
    if (certificate.checkHost(name) === undefined) {
      throw new ConfigurationError(`Input "tls-certificate": the certificate does not cover "${name}" (it covers ${certificate.subjectAltName ?? certificate.subject}). Give a certificate whose names include every hostname.`, 'tls-certificate');
    }
  }
  return notAfter;
}

function readTls(inputs: Inputs, hostnames: string[], tlsKey: string | undefined): EdgeTls {
  const mode = inputs.choice('tls', TLS_MODES, 'off');
  const certificate = inputs.string('tls-certificate');
  const certificatePath = inputs.string('tls-certificate-path');
  const keyPath = inputs.string('tls-key-path');
  const given = (name: string, value: unknown) => value !== undefined && mode !== 'certificate' && name;
  const stray = [given('tls-certificate', certificate), given('tls-key', tlsKey), given('tls-certificate-path', certificatePath), given('tls-key-path', keyPath)].find(Boolean);
  if (stray) throw new ConfigurationError(`Input "${stray}" is set, but tls is "${mode}": set tls: certificate to serve it, or remove it.`, stray);
  if (mode !== 'acme') {
    for (const name of ['acme-email', 'acme-directory', 'acme-directory-ca']) {
      if (inputs.string(name) !== undefined) throw new ConfigurationError(`Input "${name}" is set, but tls is "${mode}": it is only read with tls: acme.`, name);
    }
  }
  if (mode === 'off') return { mode };
  if (hostnames.length === 0) {
    throw new ConfigurationError(`Input "tls" is "${mode}" but "hostname" is empty: TLS on the edge is per hostname. Give the app's hostname, or set tls: off.`, 'hostname');
  }
  if (mode === 'acme') {
    const email = inputs.string('acme-email');
    // Letters, digits and . _ % + - only: the edge reads {placeholders} in its config.
    if (email !== undefined && !/^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(email)) {
      throw new ConfigurationError(`Input "acme-email" is "${email}", which is not an e-mail address. Give the address the CA may write to about expiring certificates.`, 'acme-email');
    }
    const directory = inputs.string('acme-directory') ?? LETS_ENCRYPT_DIRECTORY;
    let url: URL;
    try {
      url = new URL(directory);
    } catch {
      throw new ConfigurationError(`Input "acme-directory" is "${directory}", which is not a URL. Give the ACME directory URL (default ${LETS_ENCRYPT_DIRECTORY}).`, 'acme-directory');
    }
    if (url.protocol !== 'https:' || url.username || url.password) {
      throw new ConfigurationError(`Input "acme-directory" is "${directory}": an ACME directory is an https:// URL without credentials.`, 'acme-directory');
    }
    const directoryCa = inputs.string('acme-directory-ca');
    if (directoryCa !== undefined) {
      try {
        new X509Certificate(directoryCa);
      } catch (error) {
        throw new ConfigurationError(`Input "acme-directory-ca" is not a PEM certificate (${(error as Error).message}). Give the CA certificate that signed the ACME directory's HTTPS certificate.`, 'acme-directory-ca');
      }
    }
    return { mode, ...(email ? { email } : {}), directory: url.href, ...(directoryCa ? { directoryCa } : {}) };
  }
  // certificate: from inputs, or from files on the server; not both, and never half of one.
  const fromInputs = certificate !== undefined || tlsKey !== undefined;
  const fromServer = certificatePath !== undefined || keyPath !== undefined;
  if (fromInputs && fromServer) {
    throw new ConfigurationError('Give the certificate either as "tls-certificate" + "tls-key" or as "tls-certificate-path" + "tls-key-path" (files on the server), not both.', certificate === undefined ? 'tls-key' : 'tls-certificate');
  }
  if (fromServer) {
    if (certificatePath === undefined || keyPath === undefined) {
      const missing = certificatePath === undefined ? 'tls-certificate-path' : 'tls-key-path';
      throw new ConfigurationError(`Input "${missing}" is needed with the other one: the edge reads both files on the server.`, missing);
    }
    const files = { 'tls-certificate-path': absolutePath(certificatePath, 'tls-certificate-path', 'the certificate file'), 'tls-key-path': absolutePath(keyPath, 'tls-key-path', 'the key file') };
    for (const [input, file] of Object.entries(files)) {
      if (!serverMountOf(file)) {
        throw new ConfigurationError(
          `Input "${input}" is "${file}": the edge reads it by mounting its directory read-only, and does not mount "/", a directory directly under it, a hidden directory, or the host's runtime state and credentials (/proc, /sys, /dev, /run, /var/lib/docker, /boot, /root, /etc/ssh, /etc/docker, ...). Keep the certificate in a directory of its own, such as /etc/letsencrypt/live/NAME/ or /etc/ssl/NAME/.`,
          input,
        );
      }
    }
    return { mode, source: 'server', certificatePath: files['tls-certificate-path'], keyPath: files['tls-key-path'] };
  }
  if (certificate === undefined || tlsKey === undefined) {
    const missing = certificate === undefined ? 'tls-certificate' : 'tls-key';
    throw new ConfigurationError(`tls: certificate needs "tls-certificate" and "tls-key" (PEM), or "tls-certificate-path" and "tls-key-path" (files on the server). "${missing}" is missing.`, missing);
  }
  const notAfter = checkCertificate(certificate, tlsKey, hostnames);
  return { mode, source: 'inputs', certificate, key: tlsKey, notAfter };
}

/**
 * The app's place on the shared edge, or undefined when it has no `hostname` (today's behaviour: its
 * own port through `publish`). `tls-key` is read as a secret (registered before this runs).
 */
export function readEdge(inputs: Inputs, tlsKey: string | undefined): EdgeSettings | undefined {
  const hostnames = inputs.list('hostname').map((name) => validateHostname(name));
  const duplicate = hostnames.find((name, i) => hostnames.indexOf(name) !== i);
  if (duplicate) throw new ConfigurationError(`Input "hostname" names "${duplicate}" twice. Give each name once.`, 'hostname');
  const tls = readTls(inputs, hostnames, tlsKey);
  const maintenanceRaw = inputs.string('maintenance');
  const message = inputs.string('maintenance-message');
  if (hostnames.length === 0) {
    const edgeOnly = ['path-prefix', 'hsts', 'maintenance', 'maintenance-message', 'edge-http-port', 'edge-https-port', 'edge-renew-interval'].find((name) => inputs.string(name) !== undefined);
    if (edgeOnly) throw new ConfigurationError(`Input "${edgeOnly}" works through the shared edge, which an app joins with "hostname". Give the app's hostname, or remove "${edgeOnly}".`, edgeOnly);
    return undefined;
  }
  if (message !== undefined && (CONTROL.test(message) || message.length > 500)) {
    throw new ConfigurationError('Input "maintenance-message" must be one line of at most 500 characters (it is shown as plain text).', 'maintenance-message');
  }
  // The edge (Caddy) expands {placeholders} in a response body: {env.*} or {file.*} would read the edge's
  // environment or files (another app's key) into a public page. Braces are refused, not escaped.
  if (message !== undefined && /[{}]/.test(message)) {
    throw new ConfigurationError('Input "maintenance-message" holds "{" or "}", which the edge would read as a placeholder. Write the message without braces.', 'maintenance-message');
  }
  const hsts = inputs.boolean('hsts', false);
  if (hsts && tls.mode === 'off') {
    throw new ConfigurationError('Input "hsts" is true, but tls is "off": HSTS tells browsers to use HTTPS only, so it needs tls: certificate or tls: acme.', 'hsts');
  }
  const httpPort = inputs.port('edge-http-port') ?? 80;
  const httpsPort = inputs.port('edge-https-port') ?? 443;
  const renewIntervalMs = inputs.duration('edge-renew-interval') ?? 10 * 60_000;
  if (renewIntervalMs < 1000 || renewIntervalMs > 24 * 3_600_000) {
    throw new ConfigurationError(`Input "edge-renew-interval" is ${inputs.raw('edge-renew-interval')}: give between 1s and 24h (default 10m).`, 'edge-renew-interval');
  }
  if (httpPort === httpsPort) throw new ConfigurationError(`Inputs "edge-http-port" and "edge-https-port" are both ${httpPort}. Give two different ports.`, 'edge-https-port');
  return {
    hostnames,
    pathPrefix: validatePathPrefix(inputs.string('path-prefix') ?? '/'),
    tls,
    hsts,
    ...(maintenanceRaw === undefined ? {} : { maintenance: { on: inputs.boolean('maintenance', false), ...(message ? { message } : {}) } }),
    httpPort,
    httpsPort,
    renewIntervalMs,
  };
}
