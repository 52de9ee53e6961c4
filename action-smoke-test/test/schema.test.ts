import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@gangway/kit';
import { parseChecks } from '../src/schema.ts';
import { parseStatusSpec, statusAllowed } from '../src/status.ts';
import { parseJsonPath, readJsonPath } from '../src/json-path.ts';
import { parseRegex } from '../src/regex.ts';

function configError(yaml: string): ConfigurationError {
  try {
    parseChecks(yaml);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).input).toBe('checks');
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('the checks schema', () => {
  it('reads a full check with its defaults filled in', () => {
    const [check, upload] = parseChecks(`
- path: /api/v1/items?limit=1
  method: post
  headers: { Authorization: Bearer t0ken, X-Trace: 7 }
  body: { name: anchor }
  status: [200, 201-204]
  contains: anchor
  matches: "(?i)ANCHOR"
  json:
    status: ok
    items[0].id: { in: [1, 2] }
    count: { exists: true }
    name: { matches: "^anc" }
  max-latency: 500ms
  redirects: follow
- path: /api/v1/ocr
  upload: samples/word.png
`);
    expect(check).toMatchObject({
      index: 1,
      name: 'POST /api/v1/items?limit=1',
      method: 'POST',
      headers: { Authorization: 'Bearer t0ken', 'X-Trace': '7' },
      body: { name: 'anchor' },
      status: [{ from: 200, to: 200 }, { from: 201, to: 204 }],
      statusText: '200, 201-204',
      contains: ['anchor'],
      maxLatencyMs: 500,
      redirects: 'follow',
    });
    expect(check?.matches[0]?.test('an anchor')).toBe(true);
    expect(check?.json.map((j) => j.path)).toEqual(['status', 'items[0].id', 'count', 'name']);
    expect(upload).toMatchObject({ name: 'POST /api/v1/ocr', method: 'POST', upload: { file: 'samples/word.png', field: 'file', type: 'image/png' }, statusText: '200-299', redirects: 'no-follow' });
  });

  it('takes an empty input or an empty document as no checks', () => {
    expect(parseChecks('')).toEqual([]);
    expect(parseChecks('# nothing\n')).toEqual([]);
  });

  it('names the check (index and path) and the key for an unknown key', () => {
    const error = configError('- path: /readyz\n- path: /version\n  staus: 200\n');
    expect(error.message).toBe(
      'Input "checks", check 2 (/version), key "staus": is not a known key. Known keys: name, path, url, method, headers, body, status, contains, matches, json, max-latency, redirects, upload.',
    );
  });

  it.each([
    ['600-100', /check 1 \(\/x\), key "status": "600-100" has 600, which is not an HTTP status \(100 to 599\)/],
    ['299-200', /check 1 \(\/x\), key "status": "299-200" is a range that ends before it starts. Write the lower code first \(200-299\)/],
    ['abc', /key "status": "abc" is not a status/],
    ['[200, 99]', /key "status": "99" has 99, which is not an HTTP status/],
    ['[]', /key "status": is empty/],
  ])('rejects the bad status %s, naming the check', (status, message) => {
    expect(configError(`- path: /x\n  status: ${status}\n`).message).toMatch(message);
  });

  it('accepts status classes, ranges and lists', () => {
    expect(parseStatusSpec('2xx')).toEqual([{ from: 200, to: 299 }]);
    expect(parseStatusSpec('200, 301-302')).toEqual([{ from: 200, to: 200 }, { from: 301, to: 302 }]);
    expect(statusAllowed(302, parseStatusSpec([200, '3xx']))).toBe(true);
    expect(statusAllowed(404, parseStatusSpec([200, '3xx']))).toBe(false);
  });

  it.each([
    ['- 42\n', /check 1: expected a mapping/],
    ['path: /readyz\n', /must be a YAML list/],
    ['- path: /a\n  url: http://x/\n', /check 1 \(\/a\), key "url": is given together with "path"/],
    ['- method: GET\n', /check 1: has neither "path" nor "url"/],
    ['- path: readyz\n', /key "path": "readyz" must start with "\/"/],
    ['- url: ftp://files/x\n', /key "url": "ftp:\/\/files\/x" is not http or https/],
    ['- path: /a\n  method: FETCH\n', /key "method": "FETCH" is not one of/],
    ['- path: /a\n  body: x\n', /key "body": cannot be sent with GET/],
    ['- path: /a\n  redirects: sometimes\n', /check 1 \(\/a\), key "redirects": "sometimes" is not one of: follow, no-follow, fail/],
    ['- path: /a\n  max-latency: 500\n', /key "max-latency": expected a duration/],
    ['- path: /a\n  max-latency: fast\n', /key "max-latency": "fast" is not a duration/],
    ['- path: /a\n  matches: "(unclosed"\n', /key "matches": "\(unclosed" is not a valid regular expression/],
    ['- path: /a\n  json: [status]\n', /key "json": expected a mapping/],
    ['- path: /a\n  json: { status: { eq: ok } }\n', /key "json.status": unknown key "eq"/],
    ['- path: /a\n  json: { "a..b": 1 }\n', /key "json.a..b": "a..b" is not a JSON path/],
    ['- path: /a\n  json: { s: { in: [] } }\n', /key "json.s.in": expected a non-empty list/],
    ['- path: /a\n  json: { s: { exists: yes } }\n', /key "json.s.exists": expected true or false/],
    ['- path: /a\n  headers: [x]\n', /key "headers": expected a mapping/],
    ['- path: /a\n  headers: { "bad header": x }\n', /key "headers": "bad header" is not a valid header name/],
    ['- path: /a\n  upload: { path: x.png }\n', /key "upload": unknown key "path"/],
    ['- path: /a\n  method: GET\n  upload: x.png\n', /key "upload": needs method POST or PUT, not GET/],
    ['- path: /a\n- path: /a\n', /check 2 \(GET \/a\): the name is the same as check 1's/],
    ['- path: /a\n  path: /b\n', /not valid YAML/],
    ['- path: [/a\n', /not valid YAML/],
  ])('rejects %j', (yaml, message) => {
    expect(configError(yaml).message).toMatch(message);
  });
});

describe('JSON paths and regular expressions', () => {
  it('reads nested keys, indexes and quoted keys', () => {
    const doc = { a: { 'odd key': [1, { b: 'x' }] }, list: [1, 2, 3] };
    expect(readJsonPath(doc, parseJsonPath('a["odd key"][1].b'))).toEqual({ found: true, value: 'x' });
    expect(readJsonPath(doc, parseJsonPath('$.list[-1]'))).toEqual({ found: true, value: 3 });
    expect(readJsonPath(doc, parseJsonPath('a.missing'))).toEqual({ found: false });
    expect(readJsonPath(doc, parseJsonPath('$'))).toEqual({ found: true, value: doc });
  });
  it('understands /re/flags and (?i)', () => {
    expect(parseRegex('/gang.ay/i').test('GANGWAY')).toBe(true);
    expect(parseRegex('(?i)gangway').test('Gangway')).toBe(true);
    expect(parseRegex('^v\\d').test('v1')).toBe(true);
  });
});
