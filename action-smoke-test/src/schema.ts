// The `checks` input: a YAML list of checks, parsed and validated completely before any request.
// Every error names the check (by its 1-based index and its path or url) and the key at fault.
import { ConfigurationError, errorMessage, parseDuration } from '@gangway/kit';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { parseStatusSpec, type StatusRange } from './status.ts';
import { parseJsonPath, type JsonPathStep } from './json-path.ts';
import { parseRegex } from './regex.ts';
import { stripUserinfo } from './url-secrets.ts';

export type RedirectMode = 'follow' | 'no-follow' | 'fail';
export const REDIRECT_MODES: readonly RedirectMode[] = ['follow', 'no-follow', 'fail'];

export interface JsonAssertion {
  /** The path as written (`checks.model`, `lines[0].text`). */
  path: string;
  steps: JsonPathStep[];
  equals?: unknown;
  in?: unknown[];
  exists?: boolean;
  matches?: RegExp;
}

export interface UploadSpec {
  /** As written in the check, relative to the workspace. */
  file: string;
  /** Multipart field name. */
  field: string;
  /** Content type of the file part. */
  type: string;
}

/** One check as written, validated; URLs are resolved later against `url`. */
export interface CheckSpec {
  /** 1-based position in the list. */
  index: number;
  name: string;
  method: string;
  path?: string;
  url?: string;
  headers: Record<string, string>;
  /** A string is sent as is; an object or list as JSON. */
  body?: string | object;
  status: StatusRange[];
  /** The status rule as people read it: `200-299`, `200, 204`. */
  statusText: string;
  contains: string[];
  matches: RegExp[];
  json: JsonAssertion[];
  maxLatencyMs?: number;
  redirects: RedirectMode;
  upload?: UploadSpec;
}

export const CHECK_KEYS = ['name', 'path', 'url', 'method', 'headers', 'body', 'status', 'contains', 'matches', 'json', 'max-latency', 'redirects', 'upload'] as const;
const JSON_ASSERTION_KEYS = ['equals', 'in', 'exists', 'matches'] as const;
const UPLOAD_KEYS = ['file', 'field', 'type'] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export const DEFAULT_STATUS = '200-299';

const UPLOAD_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.pdf': 'application/pdf',
};

export function uploadTypeFor(file: string): string {
  const dot = file.lastIndexOf('.');
  return UPLOAD_TYPES[dot === -1 ? '' : file.slice(dot).toLowerCase()] ?? 'application/octet-stream';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Builds errors that say which check and which key. */
class CheckContext {
  readonly index: number;
  label: string;

  constructor(index: number, raw: Record<string, unknown>) {
    this.index = index;
    const where = typeof raw.path === 'string' ? raw.path : typeof raw.url === 'string' ? raw.url : typeof raw.name === 'string' ? raw.name : undefined;
    // A URL's user:password never goes into a label (the password is masked, the label still shown).
    this.label = where === undefined ? `check ${index}` : `check ${index} (${stripUserinfo(where)})`;
  }

  fail(key: string | undefined, why: string): never {
    const at = key === undefined ? '' : `, key "${key}"`;
    throw new ConfigurationError(`Input "checks", ${this.label}${at}: ${why}`, 'checks');
  }
}

function stringOrList(ctx: CheckContext, key: string, value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (typeof item === 'string' && item !== '') return item;
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    return ctx.fail(key, `expected a string or a list of strings, got ${typeName(item)}.`);
  });
}

function parseHeaders(ctx: CheckContext, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) ctx.fail('headers', `expected a mapping of header names to values, got ${typeName(value)}.`);
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) ctx.fail('headers', `"${name}" is not a valid header name.`);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') ctx.fail('headers', `the value of "${name}" must be a string, got ${typeName(v)}.`);
    const text = String(v);
    if (/[\r\n]/.test(text)) ctx.fail('headers', `the value of "${name}" has a line break.`);
    if (name.toLowerCase() in lowerKeys(headers)) ctx.fail('headers', `"${name}" is given twice.`);
    headers[name] = text;
  }
  return headers;
}

function lowerKeys(record: Record<string, string>): Record<string, true> {
  return Object.fromEntries(Object.keys(record).map((k) => [k.toLowerCase(), true]));
}

function parseJsonAssertions(ctx: CheckContext, value: unknown): JsonAssertion[] {
  if (!isPlainObject(value)) ctx.fail('json', `expected a mapping of JSON paths to expected values (path: value, or path: {equals|in|exists|matches}), got ${typeName(value)}.`);
  return Object.entries(value).map(([path, rule]) => {
    let steps: JsonPathStep[];
    try {
      steps = parseJsonPath(path);
    } catch (error) {
      return ctx.fail(`json.${path}`, errorMessage(error));
    }
    const key = `json.${path}`;
    if (!isPlainObject(rule)) return { path, steps, equals: rule };
    const unknown = Object.keys(rule).filter((k) => !(JSON_ASSERTION_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0) ctx.fail(key, `unknown key "${unknown[0]}". Use one of: ${JSON_ASSERTION_KEYS.join(', ')} (or give the expected value directly).`);
    if (Object.keys(rule).length === 0) ctx.fail(key, `says nothing to check. Use one of: ${JSON_ASSERTION_KEYS.join(', ')}.`);
    const assertion: JsonAssertion = { path, steps };
    if ('equals' in rule) assertion.equals = rule.equals;
    if ('in' in rule) {
      if (!Array.isArray(rule.in) || rule.in.length === 0) ctx.fail(`${key}.in`, `expected a non-empty list of allowed values, got ${typeName(rule.in)}.`);
      assertion.in = rule.in;
    }
    if ('exists' in rule) {
      if (typeof rule.exists !== 'boolean') ctx.fail(`${key}.exists`, `expected true or false, got ${typeName(rule.exists)}.`);
      assertion.exists = rule.exists;
    }
    if ('matches' in rule) {
      if (typeof rule.matches !== 'string') ctx.fail(`${key}.matches`, `expected a regular expression as a string, got ${typeName(rule.matches)}.`);
      try {
        assertion.matches = parseRegex(rule.matches);
      } catch (error) {
        ctx.fail(`${key}.matches`, errorMessage(error));
      }
    }
    return assertion;
  });
}

function parseUpload(ctx: CheckContext, value: unknown): UploadSpec {
  if (typeof value === 'string') {
    if (value.trim() === '') ctx.fail('upload', 'is empty. Give a file path relative to the workspace.');
    return { file: value.trim(), field: 'file', type: uploadTypeFor(value.trim()) };
  }
  if (!isPlainObject(value)) ctx.fail('upload', `expected a file path or {file, field, type}, got ${typeName(value)}.`);
  const unknown = Object.keys(value).filter((k) => !(UPLOAD_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) ctx.fail('upload', `unknown key "${unknown[0]}". Use: ${UPLOAD_KEYS.join(', ')}.`);
  if (typeof value.file !== 'string' || value.file.trim() === '') ctx.fail('upload.file', 'is required: a file path relative to the workspace.');
  const file = value.file.trim();
  for (const k of ['field', 'type'] as const) {
    if (value[k] !== undefined && (typeof value[k] !== 'string' || value[k] === '')) ctx.fail(`upload.${k}`, `expected a string, got ${typeName(value[k])}.`);
  }
  const field = (value.field as string | undefined) ?? 'file';
  if (/["\r\n]/.test(field)) ctx.fail('upload.field', 'must not contain quotes or line breaks.');
  return { file, field, type: (value.type as string | undefined) ?? uploadTypeFor(file) };
}

function parseCheck(raw: unknown, index: number): CheckSpec {
  if (!isPlainObject(raw)) {
    throw new ConfigurationError(`Input "checks", check ${index}: expected a mapping (path: /readyz, status: 200, ...), got ${typeName(raw)}.`, 'checks');
  }
  const ctx = new CheckContext(index, raw);
  const unknown = Object.keys(raw).filter((k) => !(CHECK_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) ctx.fail(unknown[0], `is not a known key. Known keys: ${CHECK_KEYS.join(', ')}.`);

  const text = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.trim() === '') return ctx.fail(key, `expected a non-empty string, got ${typeName(v)}.`);
    return v.trim();
  };

  const path = text('path');
  const url = text('url');
  if (path === undefined && url === undefined) ctx.fail(undefined, 'has neither "path" nor "url". Give one.');
  if (path !== undefined && url !== undefined) ctx.fail('url', 'is given together with "path". Give one of them.');
  if (path !== undefined && !path.startsWith('/')) ctx.fail('path', `"${stripUserinfo(path)}" must start with "/".`);
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return ctx.fail('url', `"${stripUserinfo(url)}" is not an absolute URL.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ctx.fail('url', `"${stripUserinfo(url)}" is not http or https.`);
  }

  const upload = raw.upload === undefined ? undefined : parseUpload(ctx, raw.upload);
  const methodRaw = text('method');
  const method = (methodRaw ?? (upload ? 'POST' : 'GET')).toUpperCase();
  if (!METHODS.includes(method)) ctx.fail('method', `"${methodRaw}" is not one of: ${METHODS.join(', ')}.`);
  if (upload && method !== 'POST' && method !== 'PUT') ctx.fail('upload', `needs method POST or PUT, not ${method}.`);

  let body: string | object | undefined;
  if (raw.body !== undefined && raw.body !== null) {
    if (upload) ctx.fail('body', 'cannot be given with "upload" (the upload is the body).');
    if (method === 'GET' || method === 'HEAD') ctx.fail('body', `cannot be sent with ${method}.`);
    const b = raw.body;
    if (typeof b === 'string' || typeof b === 'object') body = b;
    else body = JSON.stringify(b);
  }

  const statusRaw = raw.status ?? DEFAULT_STATUS;
  let status: StatusRange[];
  try {
    status = parseStatusSpec(statusRaw);
  } catch (error) {
    return ctx.fail('status', errorMessage(error));
  }

  const matches = raw.matches === undefined ? [] : stringOrList(ctx, 'matches', raw.matches).map((pattern) => {
    try {
      return parseRegex(pattern);
    } catch (error) {
      return ctx.fail('matches', errorMessage(error));
    }
  });

  let maxLatencyMs: number | undefined;
  if (raw['max-latency'] !== undefined) {
    const v = raw['max-latency'];
    if (typeof v !== 'string') return ctx.fail('max-latency', `expected a duration like "500ms" or "2s", got ${typeName(v)}.`);
    try {
      maxLatencyMs = parseDuration(v, 'max-latency');
    } catch {
      return ctx.fail('max-latency', `"${v}" is not a duration. Use a number with a unit: ms, s, m (for example "500ms").`);
    }
    if (maxLatencyMs <= 0) ctx.fail('max-latency', 'must be more than 0.');
  }

  const redirects = (text('redirects') ?? 'no-follow') as RedirectMode;
  if (!REDIRECT_MODES.includes(redirects)) ctx.fail('redirects', `"${redirects}" is not one of: ${REDIRECT_MODES.join(', ')}.`);

  // The default name is shown in logs, annotations, the summary and the report: no userinfo.
  const name = text('name') ?? `${method} ${stripUserinfo(path ?? (url as string))}`;
  ctx.label = `check ${index} (${name})`;
  return {
    index,
    name,
    method,
    ...(path !== undefined ? { path } : {}),
    ...(url !== undefined ? { url } : {}),
    headers: raw.headers === undefined ? {} : parseHeaders(ctx, raw.headers),
    ...(body !== undefined ? { body } : {}),
    status,
    statusText: describeStatus(status),
    contains: raw.contains === undefined ? [] : stringOrList(ctx, 'contains', raw.contains),
    matches,
    json: raw.json === undefined ? [] : parseJsonAssertions(ctx, raw.json),
    ...(maxLatencyMs !== undefined ? { maxLatencyMs } : {}),
    redirects,
    ...(upload ? { upload } : {}),
  };
}

export function describeStatus(ranges: StatusRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(', ');
}

/** Parses the `checks` input. Empty → []. Names must be unique (they key the report). */
export function parseChecks(text: string): CheckSpec[] {
  if (text.trim() === '') return [];
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (error) {
    const why = error instanceof YAMLParseError ? error.message.split('\n')[0] : String(error);
    throw new ConfigurationError(`Input "checks" is not valid YAML: ${why}`, 'checks');
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) {
    throw new ConfigurationError(`Input "checks" must be a YAML list ("- path: /readyz"), got ${typeName(doc)}.`, 'checks');
  }
  const checks = doc.map((raw, i) => parseCheck(raw, i + 1));
  const seen = new Map<string, number>();
  for (const check of checks) {
    const other = seen.get(check.name);
    if (other !== undefined) {
      throw new ConfigurationError(`Input "checks", check ${check.index} (${check.name}): the name is the same as check ${other}'s. Give one of them a "name".`, 'checks');
    }
    seen.set(check.name, check.index);
  }
  return checks;
}
