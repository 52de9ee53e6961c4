// The whole system beside the web container: worker roles (the same image, their own command, env
// and replica count, no proxy) and accessories (named long-lived services such as Redis or
// Postgres, created once and kept across deploys). Both inputs are YAML mappings, read and checked
// here before anything connects.
import { ConfigurationError, parseDuration, parseImageReference, type ImageReference } from '@gangway/kit';
import { isMap, parseDocument } from 'yaml';
import { parseGpus, parseVolumes, type GpuRequest, type VolumeMount } from './container.ts';
import { CONTROL, parseCommandLine } from './values.ts';

/** How a worker role's new containers prove they work before the web switches. */
export type RoleReadiness = { kind: 'http'; path: string } | { kind: 'docker' } | { kind: 'none' } | { kind: 'auto' };

export interface RoleSettings {
  name: string;
  /** The role's own env, added to (and overriding) the app's env. Plain configuration: put secrets in `env`. */
  env: Map<string, string>;
  command?: string[];
  replicas: number;
  /** `auto`: the image's HEALTHCHECK when it has one, else staying up for `graceMs`. */
  readiness: RoleReadiness;
  /** How long a new container must stay up (running, not restarted) after it is ready. */
  graceMs: number;
  gpus?: GpuRequest;
  stopTimeoutMs?: number;
  /** The role's own volumes (a worker gets none of the web's unless it names them). */
  volumes: VolumeMount[];
  /** The servers this role runs on (host labels, as `host` names them); undefined: the web's. */
  hosts?: string[];
}

export interface AccessorySettings {
  name: string;
  image: ImageReference;
  /** Values are secrets: registered with the masker before they are checked. */
  env: Map<string, string>;
  volumes: VolumeMount[];
  command?: string[];
  /** A port published on loopback or a private address only; undefined: reached on the app's network alone. */
  publish?: { hostIp: string; hostPort: number; containerPort: number };
}

const ROLE_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const ROLE_KEYS = ['env', 'command', 'replicas', 'readiness', 'grace', 'gpus', 'stop-timeout', 'volumes', 'hosts'] as const;
const ACCESSORY_KEYS = ['image', 'env', 'volumes', 'command', 'port'] as const;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Worker roles per app; more would be a mistake, and names and logs grow with them. */
const MAX_ROLES = 8;
const MAX_REPLICAS = 32;

/** The YAML of `input` as a plain object of name → mapping, or undefined when the input is empty. */
function readMapping(raw: string | undefined, input: string, example: string): Map<string, Record<string, unknown>> | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  // The failsafe schema: every scalar stays the string it was written as (no 0123 → 123, no yes → true).
  const doc = parseDocument(raw, { prettyErrors: false, uniqueKeys: true, schema: 'failsafe' });
  if (doc.errors.length > 0) {
    throw new ConfigurationError(`Input "${input}" is not valid YAML (${doc.errors[0]?.message.split('\n')[0] ?? 'parse error'}). Write one entry a line, for example: ${example}`, input);
  }
  if (!isMap(doc.contents)) throw new ConfigurationError(`Input "${input}" must be a mapping of names to settings, for example: ${example}`, input);
  let json: Record<string, unknown>;
  try {
    json = doc.toJS({ maxAliasCount: 0 }) as Record<string, unknown>;
  } catch {
    throw new ConfigurationError(`Input "${input}" uses a YAML anchor or alias (& or *), which is not supported here. Write each setting out.`, input);
  }
  const out = new Map<string, Record<string, unknown>>();
  for (const [name, value] of Object.entries(json)) {
    if (name === '<<') throw new ConfigurationError(`Input "${input}" uses a YAML merge key (<<), which is not supported here. Write each setting out.`, input);
    if (value === null || value === undefined || value === '') out.set(name, {});
    else if (typeof value === 'object' && !Array.isArray(value)) out.set(name, value as Record<string, unknown>);
    else throw new ConfigurationError(`Input "${input}": "${name}" must map to its settings ({ ... }), not to a ${Array.isArray(value) ? 'list' : 'single value'}. For example: ${example}`, input);
  }
  return out;
}

/** Every scalar under `value`, at any depth: the accessories' env values are masked whatever shape a typo gives them. */
function scalarsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(scalarsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(scalarsOf);
  return typeof value === 'number' || typeof value === 'boolean' ? [String(value)] : [];
}

function unknownKeys(settings: Record<string, unknown>, allowed: readonly string[], where: string, input: string): void {
  for (const key of Object.keys(settings)) {
    if (!allowed.includes(key)) throw new ConfigurationError(`Input "${input}": ${where} has the unknown key "${key}". The keys are ${allowed.join(', ')}.`, input);
  }
}

/** A scalar. The error names where, and the shape found, never the value (it may be a secret). */
function stringOf(value: unknown, where: string, input: string): string {
  if (typeof value === 'string') return value;
  throw new ConfigurationError(`Input "${input}": ${where} must be a single value, not a ${Array.isArray(value) ? 'list' : 'mapping'}${where.endsWith('env') ? ' (write env as [KEY=value, ...] or as KEY: value lines)' : ''}.`, input);
}

/** `env: [KEY=value, ...]` or `env: { KEY: value }`. */
function envOf(value: unknown, where: string, input: string): Map<string, string> {
  const env = new Map<string, string>();
  if (value === undefined) return env;
  const pairs: Array<[string, string]> = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      const line = stringOf(item, `${where} env`, input);
      const eq = line.indexOf('=');
      if (eq <= 0) throw new ConfigurationError(`Input "${input}": ${where} has an env entry that is not KEY=value (its text is not shown: it may be a secret).`, input);
      pairs.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) pairs.push([k, stringOf(v, `${where} env ${k}`, input)]);
  } else {
    throw new ConfigurationError(`Input "${input}": ${where} env must be a list of KEY=value (or a mapping).`, input);
  }
  for (const [key, val] of pairs) {
    if (!ENV_KEY.test(key)) throw new ConfigurationError(`Input "${input}": ${where} env key "${key}" is not a variable name (letters, digits, _).`, input);
    if (CONTROL.test(val)) throw new ConfigurationError(`Input "${input}": the value of ${where} env ${key} holds control characters.`, input);
    env.set(key, val);
  }
  return env;
}

function commandOf(value: unknown, where: string, input: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return parseCommandLine(JSON.stringify(value.map((v) => stringOf(v, `${where} command`, input))), input);
  return parseCommandLine(stringOf(value, `${where} command`, input), input);
}

function durationOf(value: unknown, where: string, input: string): number {
  try {
    return parseDuration(stringOf(value, where, input), input);
  } catch {
    throw new ConfigurationError(`Input "${input}": ${where} is ${typeof value === 'string' ? `"${value}"` : 'not a single value'}, not a duration. Use e.g. 10s or 1m.`, input);
  }
}


export interface RolesInput {
  /** `web: { env: [...] }`: plain configuration for the web container alone (the app's `env` is masked as secrets). */
  webEnv: Map<string, string>;
  roles: RoleSettings[];
}

/** `roles`: worker roles by name, and `web` for the web container's own plain env. The web role is otherwise the app itself (image, env, ports, readiness). */
export function parseRoles(raw: string | undefined, input = 'roles', hostLabelOf: (raw: string) => string = (h) => h): RolesInput {
  const example = 'worker: { env: [APP_ROLE=worker], replicas: 2 }';
  const map = readMapping(raw, input, example);
  const roles: RoleSettings[] = [];
  let webEnv = new Map<string, string>();
  if (!map) return { webEnv, roles };
  if (map.size > MAX_ROLES) throw new ConfigurationError(`Input "${input}" names ${map.size} roles; at most ${MAX_ROLES}.`, input);
  for (const [name, r] of map) {
    if (name === 'web') {
      if (Object.keys(r).some((k) => k !== 'env')) {
        throw new ConfigurationError(`Input "${input}": "web" is the app itself, set by image, env, container-port and the other inputs; it takes only env here (plain configuration, for example web: { env: [APP_ROLE=web] }).`, input);
      }
      webEnv = envOf(r.env, 'role web', input);
      continue;
    }
    if (!ROLE_NAME.test(name)) throw new ConfigurationError(`Input "${input}": "${name}" is not a role name. Use 1 to 31 lower-case letters, digits and "-", starting with a letter (for example worker).`, input);
    const where = `role ${name}`;
    unknownKeys(r, ROLE_KEYS, where, input);
    const replicas = r.replicas === undefined ? 1 : typeof r.replicas === 'string' && /^\d+$/.test(r.replicas) ? Number(r.replicas) : Number.NaN;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
      throw new ConfigurationError(`Input "${input}": ${where} has replicas ${typeof r.replicas === 'string' ? r.replicas : 'that is not a number'}; give a whole number from 1 to ${MAX_REPLICAS}.`, input);
    }
    let readiness: RoleReadiness = { kind: 'auto' };
    if (r.readiness !== undefined) {
      const value = stringOf(r.readiness, `${where} readiness`, input);
      if (value === 'docker' || value === 'none') readiness = { kind: value };
      else if (/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(value)) readiness = { kind: 'http', path: value };
      else throw new ConfigurationError(`Input "${input}": ${where} readiness is "${value}"; give docker (the image's HEALTHCHECK), none (staying up for grace), or an HTTP path on container-port such as /readyz.`, input);
    }
    const command = commandOf(r.command, where, input);
    const gpus = r.gpus === undefined ? undefined : parseGpus(stringOf(r.gpus, `${where} gpus`, input), input);
    const stopTimeoutMs = r['stop-timeout'] === undefined ? undefined : durationOf(r['stop-timeout'], `${where} stop-timeout`, input);
    const volumesRaw = r.volumes === undefined ? [] : Array.isArray(r.volumes) ? r.volumes.map((v) => stringOf(v, `${where} volumes`, input)) : [stringOf(r.volumes, `${where} volumes`, input)];
    let hosts: string[] | undefined;
    if (r.hosts !== undefined) {
      const list = Array.isArray(r.hosts) ? r.hosts.map((h) => stringOf(h, `${where} hosts`, input)) : [stringOf(r.hosts, `${where} hosts`, input)];
      if (list.length === 0) throw new ConfigurationError(`Input "${input}": ${where} has an empty hosts list. Name its servers, or leave hosts out to run it beside the web.`, input);
      hosts = [...new Set(list.map(hostLabelOf))];
    }
    roles.push({
      name,
      ...(hosts ? { hosts } : {}),
      volumes: parseVolumes(volumesRaw, input),
      env: envOf(r.env, where, input),
      ...(command ? { command } : {}),
      replicas,
      readiness,
      graceMs: r.grace === undefined ? 5000 : durationOf(r.grace, `${where} grace`, input),
      ...(gpus ? { gpus } : {}),
      ...(stopTimeoutMs === undefined ? {} : { stopTimeoutMs }),
    });
  }
  return { webEnv, roles };
}

/** Loopback, or an address that is not routed on the internet: RFC 1918, CGNAT (VPN overlays), 198.18.0.0/15, IPv6 ULA. Octets are written plainly (no leading zeros). */
export function isPrivateAddress(ip: string): boolean {
  const v4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    if ([a, b, Number(v4[3]), Number(v4[4])].some((n) => n > 255)) return false;
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 198 && (b === 18 || b === 19));
  }
  const v6 = ip.toLowerCase();
  return v6 === '::1' || /^f[cd][0-9a-f]{2}:[0-9a-f:]*$/.test(v6);
}

/** `port`: `6379` (loopback), or `ADDRESS:HOSTPORT:CONTAINERPORT` / `ADDRESS:PORT` on a loopback or private address. */
function accessoryPort(value: unknown, where: string, input: string): AccessorySettings['publish'] {
  const raw = stringOf(value, `${where} port`, input);
  const port = (p: string | undefined): number => {
    const n = Number(p);
    if (!/^\d+$/.test(p ?? '') || n < 1 || n > 65535) throw new ConfigurationError(`Input "${input}": ${where} port "${raw}" has no valid port number (1-65535).`, input);
    return n;
  };
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([\d.]+)):(\d+)(?::(\d+))?$/.exec(raw);
  if (/^\d+$/.test(raw)) return { hostIp: '127.0.0.1', hostPort: port(raw), containerPort: port(raw) };
  if (/^\d+:\d+$/.test(raw)) {
    throw new ConfigurationError(`Input "${input}": ${where} port is "${raw}": name the address to bind, as in 127.0.0.1:${raw} (an accessory's port is never bound on every address).`, input);
  }
  if (!m) throw new ConfigurationError(`Input "${input}": ${where} port is "${raw}"; write PORT (on 127.0.0.1) or ADDRESS:PORT[:CONTAINER_PORT] with a loopback or private address.`, input);
  const hostIp = m[1] ?? m[2] ?? '';
  if (!isPrivateAddress(hostIp)) {
    throw new ConfigurationError(
      `Input "${input}": ${where} publishes on ${hostIp}, which is ${hostIp === '0.0.0.0' || hostIp === '::' ? 'every address of the server' : 'a public address'}. An accessory's port is bound to loopback (127.0.0.1) or a private address (10/8, 172.16/12, 192.168/16, 100.64/10, a VPN's) only; the app's roles reach it by name on the app's network without any port.`,
      input,
    );
  }
  const hostPort = port(m[3]);
  return { hostIp, hostPort, containerPort: m[4] === undefined ? hostPort : port(m[4]) };
}

/** `accessories`: services by name. `secret` registers each env value with the masker before it is checked. */
export function parseAccessories(raw: string | undefined, secret: (value: string) => void, input = 'accessories'): AccessorySettings[] {
  const example = 'redis: { image: redis:7, volumes: [redis-data:/data] }';
  const map = readMapping(raw, input, example);
  if (!map) return [];
  // Env values are secrets (a database password): masked before anything below can print them,
  // whatever shape a typo gives them (a whole KEY=value line, a nested mapping).
  for (const a of map.values()) {
    for (const text of scalarsOf(a.env)) {
      secret(text);
      if (text.includes('=')) secret(text.slice(text.indexOf('=') + 1));
    }
  }
  const out: AccessorySettings[] = [];
  for (const [name, a] of map) {
    if (!ROLE_NAME.test(name) || name === 'web' || name === 'proxy') throw new ConfigurationError(`Input "${input}": "${name}" is not an accessory name. Use 1 to 31 lower-case letters, digits and "-", starting with a letter (for example redis); not web or proxy.`, input);
    const where = `accessory ${name}`;
    unknownKeys(a, ACCESSORY_KEYS, where, input);
    if (a.image === undefined) throw new ConfigurationError(`Input "${input}": ${where} has no image. Give one, for example image: redis:7.`, input);
    const parsed = parseImageReference(stringOf(a.image, `${where} image`, input), input);
    const image = parsed.digest || parsed.tag ? parsed : { ...parsed, tag: 'latest' };
    const volumesRaw = a.volumes === undefined ? [] : Array.isArray(a.volumes) ? a.volumes.map((v) => stringOf(v, `${where} volumes`, input)) : [stringOf(a.volumes, `${where} volumes`, input)];
    const command = commandOf(a.command, where, input);
    const publish = a.port === undefined ? undefined : accessoryPort(a.port, where, input);
    out.push({ name, image, env: envOf(a.env, where, input), volumes: parseVolumes(volumesRaw, input), ...(command ? { command } : {}), ...(publish ? { publish } : {}) });
  }
  return out;
}

/** `upgrade-accessories`: names of declared accessories to move to their declared image. */
export function parseUpgrades(names: string[], accessories: AccessorySettings[], input = 'upgrade-accessories'): string[] {
  for (const name of names) {
    if (!accessories.some((a) => a.name === name)) {
      const declared = accessories.map((a) => a.name);
      throw new ConfigurationError(
        `Input "${input}" names "${name}", which is not a declared accessory${declared.length > 0 ? ` (declared: ${declared.join(', ')})` : ' (the input "accessories" declares none)'}. Name an accessory from "accessories".`,
        input,
      );
    }
  }
  return [...new Set(names)];
}
