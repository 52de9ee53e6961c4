// From the parsed `checks` (or the defaults) to what is requested: absolute URLs, bodies as bytes,
// upload files read from the workspace, and the version check that `expect-version` asks for.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigurationError, isConfigurationError, resolveWorkspacePath, type PathRoots } from '@gangway/kit';
import { multipartFile } from './multipart.ts';
import { describeStatus, DEFAULT_STATUS, type CheckSpec } from './schema.ts';
import { parseStatusSpec } from './status.ts';

export interface Check extends CheckSpec {
  target: URL;
  payload?: { bytes: Buffer; contentType?: string };
  /** Set on the version check: what /version must report. */
  expectVersion?: string;
}

/** Uploads larger than this are refused: a smoke test sends a sample, not a data set. */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

function defaultCheck(index: number, name: string, pathname: string): CheckSpec {
  const status = parseStatusSpec(DEFAULT_STATUS);
  return { index, name, method: 'GET', path: pathname, headers: {}, status, statusText: describeStatus(status), contains: [], matches: [], json: [], redirects: 'no-follow' };
}

/** `readyz` then `version`, as the app serves them. */
export function defaultChecks(readinessPath: string, versionPath: string): CheckSpec[] {
  return [defaultCheck(1, 'readiness', readinessPath), defaultCheck(2, 'version', versionPath)];
}

function targetOf(spec: CheckSpec, base: URL | undefined): URL {
  if (spec.url !== undefined) return new URL(spec.url);
  if (!base) {
    throw new ConfigurationError(`Input "checks", check ${spec.index} (${spec.name}) gives the path "${spec.path}" but input "url" is empty. Set "url" to the app's base address, or give the check a full "url".`, 'url');
  }
  const joined = new URL(base.href);
  const basePath = joined.pathname.replace(/\/+$/, '');
  const [pathname, search] = (spec.path as string).split(/\?(.*)/s, 2) as [string, string | undefined];
  joined.pathname = `${basePath}${pathname}`;
  joined.search = search ? `?${search}` : '';
  return joined;
}

/**
 * The upload's file, inside the workspace or RUNNER_TEMP (symlinks followed): `/proc/self/environ`
 * or `../../.ssh/id_rsa` would otherwise send the step's environment or the runner's files.
 */
function uploadFile(spec: CheckSpec & { upload: NonNullable<CheckSpec['upload']> }, roots: PathRoots, where: string): string {
  try {
    return resolveWorkspacePath(spec.upload.file, 'checks', roots);
  } catch (error) {
    if (!isConfigurationError(error)) throw error;
    throw new ConfigurationError(`${where}: ${error.message.replace(/^Input "checks" is /, '')}`, 'checks');
  }
}

function payloadOf(spec: CheckSpec, roots: PathRoots): Check['payload'] {
  if (spec.upload) {
    const where = `Input "checks", check ${spec.index} (${spec.name}), key "upload"`;
    const file = uploadFile({ ...spec, upload: spec.upload }, roots, where);
    if (!existsSync(file) || !statSync(file).isFile()) throw new ConfigurationError(`${where}: the file "${spec.upload.file}" does not exist in the workspace (${roots.workspace}).`, 'checks');
    const size = statSync(file).size;
    if (size > MAX_UPLOAD_BYTES) throw new ConfigurationError(`${where}: "${spec.upload.file}" is ${size} bytes; a sample upload may have at most ${MAX_UPLOAD_BYTES}.`, 'checks');
    const form = multipartFile(spec.upload.field, file, spec.upload.type, readFileSync(file));
    return { bytes: form.body, contentType: form.contentType };
  }
  if (spec.body === undefined) return undefined;
  if (typeof spec.body === 'string') return { bytes: Buffer.from(spec.body) };
  return { bytes: Buffer.from(JSON.stringify(spec.body)), contentType: 'application/json' };
}

export interface PlanOptions {
  base: URL | undefined;
  /** Uploads are read from here (relative paths) and must lie inside it or runnerTemp. */
  workspace: string;
  runnerTemp?: string;
  readinessPath: string;
  versionPath: string;
  expectVersion: string | undefined;
}

/**
 * The checks to run, in order. With no `checks`, the defaults. With `expect-version`, the check
 * whose path is `version-path` carries the version match; when no check has that path, a
 * `version` check is added at the end.
 */
export function planChecks(specs: CheckSpec[], options: PlanOptions): Check[] {
  const list = specs.length > 0 ? [...specs] : defaultChecks(options.readinessPath, options.versionPath);
  const checks: Check[] = list.map((spec) => {
    const payload = payloadOf(spec, { workspace: options.workspace, ...(options.runnerTemp ? { runnerTemp: options.runnerTemp } : {}) });
    return { ...spec, target: targetOf(spec, options.base), ...(payload ? { payload } : {}) };
  });
  if (options.expectVersion === undefined) return checks;
  const versionTarget = options.base ? targetOf(defaultCheck(0, 'version', options.versionPath), options.base) : undefined;
  const samePath = (a: URL, b: URL): boolean => a.origin === b.origin && a.pathname.replace(/\/+$/, '') === b.pathname.replace(/\/+$/, '');
  const existing = versionTarget ? checks.find((c) => c.method === 'GET' && samePath(c.target, versionTarget)) : undefined;
  if (existing) {
    existing.expectVersion = options.expectVersion;
    return checks;
  }
  if (!options.base) {
    throw new ConfigurationError('Input "expect-version" is set but input "url" is empty: the version is read from url + version-path. Set "url".', 'url');
  }
  let name = 'version';
  if (checks.some((c) => c.name === name)) name = `version (${options.versionPath})`;
  const spec = defaultCheck(checks.length + 1, name, options.versionPath);
  return [...checks, { ...spec, target: versionTarget as URL, expectVersion: options.expectVersion }];
}

/** A URL for logs and reports: without any user:password part. */
export function displayUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
