// Every input, read once into one typed object and validated before any request is made.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigurationError, createRedactor, formatDuration, isConfigurationError, isValidHost, resolveWorkspacePath, runnerPathRoots, type Inputs } from '@gangway/kit';
import { planChecks, type Check } from './check-plan.ts';
import type { ResolveRule } from './http-client.ts';
import type { ProbeTiming } from './probe.ts';
import { parseChecks } from './schema.ts';
import { registerInputSecrets, stripUserinfo } from './url-secrets.ts';

export interface SmokeSettings {
  url?: URL;
  checks: Check[];
  expectVersion?: string;
  versionPath: string;
  readinessPath: string;
  timing: ProbeTiming;
  resolve: ResolveRule[];
  ca?: string;
  insecure: boolean;
  latencySamples: number;
  /** The p95 latency the samples must stay within. */
  p95BudgetMs?: number;
  /** Values never to print: header values and URL passwords (also registered with the runner). */
  secrets: string[];
  /** The check sampled for latency. */
  latencyCheck?: Check;
}

/** Where path inputs (`ca`, a check's `upload`) may point: the workspace, or RUNNER_TEMP. */
export interface Environment {
  /** GITHUB_WORKSPACE; relative paths resolve against it. */
  workspace: string;
  runnerTemp?: string;
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const roots = runnerPathRoots(env);
  return { workspace: roots.workspace, ...(roots.runnerTemp ? { runnerTemp: roots.runnerTemp } : {}) };
}

function parseBaseUrl(raw: string | undefined): URL | undefined {
  if (raw === undefined) return undefined;
  // The password (registered already) never goes into a message.
  const shown = stripUserinfo(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError(`Input "url" is "${shown}", which is not an absolute URL. Write it as http://host:port or https://host.`, 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigurationError(`Input "url" is "${shown}": only http and https are supported.`, 'url');
  if (url.search || url.hash) throw new ConfigurationError(`Input "url" is "${shown}": give the base address without a query or fragment; put those in the checks' paths.`, 'url');
  return url;
}

function parsePath(inputs: Inputs, name: string, fallback: string): string {
  const value = inputs.string(name) ?? fallback;
  if (!value.startsWith('/')) throw new ConfigurationError(`Input "${name}" is "${value}"; it must start with "/".`, name);
  return value;
}

/** `host:address` or `host:port:address` (curl's --resolve), one a line or comma-separated. */
export function parseResolve(lines: string[]): ResolveRule[] {
  return lines.map((line) => {
    const fail = (why: string): never => {
      throw new ConfigurationError(`Input "resolve" has "${line}": ${why}. Write host:address or host:port:address, like app.example.com:198.19.0.1.`, 'resolve');
    };
    const first = line.indexOf(':');
    if (first <= 0) fail('there is no address');
    const host = line.slice(0, first).trim();
    let rest = line.slice(first + 1).trim();
    let port: number | undefined;
    const withPort = /^(\d{1,5}):(.+)$/.exec(rest);
    if (withPort && !isIP(rest)) {
      port = Number(withPort[1]);
      rest = (withPort[2] as string).trim();
      if (port < 1 || port > 65535) fail(`${port} is not a port`);
    }
    const address = rest.replace(/^\[(.*)\]$/, '$1');
    if (!isValidHost(host) || isIP(host)) fail(`"${host}" is not a host name`);
    if (!isIP(address)) fail(`"${rest}" is not an IP address`);
    return { host, address, ...(port !== undefined ? { port } : {}) };
  });
}

function readCa(inputs: Inputs, env: Environment): string | undefined {
  const raw = inputs.raw('ca');
  if (raw === '') return undefined;
  let pem = raw;
  if (!raw.includes('-----BEGIN')) {
    // A file: inside the workspace or RUNNER_TEMP only, symlinks followed.
    const file = resolveWorkspacePath(raw.trim(), 'ca', env);
    if (!existsSync(file) || !statSync(file).isFile()) throw new ConfigurationError(`Input "ca" is neither a PEM certificate nor a file in the workspace ("${raw}" does not exist).`, 'ca');
    pem = readFileSync(file, 'utf8');
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    throw new ConfigurationError('Input "ca" holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----).', 'ca');
  }
  return pem;
}

export function readSettings(inputs: Inputs, env: Environment = readEnvironment()): SmokeSettings {
  // URL passwords and header values are masked before anything is validated, so no error can
  // print them; errors carry no userinfo either, and anything that slipped through is redacted.
  const secrets = registerInputSecrets(inputs.raw('url'), inputs.raw('checks'));
  const redact = createRedactor(secrets);
  try {
    return readValidSettings(inputs, env, secrets);
  } catch (error) {
    if (isConfigurationError(error)) throw new ConfigurationError(redact(stripUserinfo(error.message)), error.input);
    throw error;
  }
}

function readValidSettings(inputs: Inputs, env: Environment, secrets: string[]): SmokeSettings {
  const url = parseBaseUrl(inputs.string('url'));
  const expectVersion = inputs.string('expect-version');
  const versionPath = parsePath(inputs, 'version-path', '/version');
  const readinessPath = parsePath(inputs, 'readiness-path', '/readyz');
  const specs = parseChecks(inputs.raw('checks'));
  if (specs.length === 0 && !url) throw new ConfigurationError('Input "url" is required when "checks" is empty (the default checks are url + readiness-path and url + version-path).', 'url');

  const timing: ProbeTiming = {
    initialDelayMs: inputs.duration('initial-delay') ?? 0,
    timeoutMs: inputs.duration('timeout') ?? 10_000,
    intervalMs: inputs.duration('interval') ?? 1000,
    maxIntervalMs: inputs.duration('max-interval') ?? 10_000,
    deadlineMs: inputs.duration('deadline') ?? 120_000,
    successThreshold: inputs.integer('success-threshold', { min: 1, max: 100 }) ?? 1,
  };
  const positive = (name: string, ms: number): void => {
    if (ms <= 0) throw new ConfigurationError(`Input "${name}" must be more than 0.`, name);
  };
  positive('timeout', timing.timeoutMs);
  positive('interval', timing.intervalMs);
  positive('deadline', timing.deadlineMs);
  if (timing.maxIntervalMs < timing.intervalMs) {
    throw new ConfigurationError(`Input "max-interval" (${formatDuration(timing.maxIntervalMs)}) is shorter than "interval" (${formatDuration(timing.intervalMs)}). Make it at least as long.`, 'max-interval');
  }
  if (timing.initialDelayMs >= timing.deadlineMs) {
    throw new ConfigurationError(`Input "initial-delay" (${formatDuration(timing.initialDelayMs)}) is not shorter than "deadline" (${formatDuration(timing.deadlineMs)}): no check could run. Lengthen the deadline.`, 'initial-delay');
  }

  const resolve = parseResolve(inputs.list('resolve'));
  const ca = readCa(inputs, env);
  const insecure = inputs.boolean('insecure', false);
  if (insecure && ca) throw new ConfigurationError('Inputs "insecure" and "ca" are both set. Trust the CA (keep "ca") or turn verification off (insecure: true), not both.', 'insecure');

  const latencySamples = inputs.integer('latency-samples', { min: 0, max: 1000 }) ?? 0;
  const p95BudgetMs = inputs.duration('p95-budget');
  if (p95BudgetMs !== undefined && latencySamples === 0) {
    throw new ConfigurationError('Input "p95-budget" is set but "latency-samples" is 0: nothing would be measured. Set latency-samples (20 or more for a meaningful p95).', 'latency-samples');
  }

  const checks = planChecks(specs, { base: url, workspace: env.workspace, ...(env.runnerTemp ? { runnerTemp: env.runnerTemp } : {}), readinessPath, versionPath, expectVersion });
  const latencyName = inputs.string('latency-check');
  let latencyCheck: Check | undefined;
  if (latencySamples > 0) {
    latencyCheck = latencyName !== undefined ? checks.find((c) => c.name === latencyName) : checks.find((c) => !c.upload && (c.method === 'GET' || c.method === 'HEAD'));
    if (!latencyCheck) {
      const names = checks.map((c) => `"${c.name}"`).join(', ');
      throw new ConfigurationError(
        latencyName !== undefined ? `Input "latency-check" is "${latencyName}", which names no check. The checks are: ${names}.` : `Input "latency-samples" is set but no check is a plain GET to sample. Name one in "latency-check" (${names}).`,
        'latency-check',
      );
    }
  }
  return {
    ...(url ? { url } : {}),
    checks,
    ...(expectVersion !== undefined ? { expectVersion } : {}),
    versionPath,
    readinessPath,
    timing,
    resolve,
    ...(ca ? { ca } : {}),
    insecure,
    latencySamples,
    secrets,
    ...(p95BudgetMs !== undefined ? { p95BudgetMs } : {}),
    ...(latencyCheck ? { latencyCheck } : {}),
  };
}
