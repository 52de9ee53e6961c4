import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, Inputs, mapInputs } from '@gangway/kit';
import { parseResolve, readSettings } from '../src/settings.ts';

const workspace = mkdtempSync(path.join(tmpdir(), 'gangway-smoke-settings-'));
const settings = (values: Record<string, string>) => readSettings(new Inputs(mapInputs(values)), { workspace });

function fails(values: Record<string, string>, message: RegExp, input?: string): void {
  try {
    settings(values);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(message);
    if (input) expect((error as ConfigurationError).input).toBe(input);
    return;
  }
  throw new Error('expected a ConfigurationError');
}

describe('settings', () => {
  it('defaults: readiness and version on url, 10s per attempt, 2m deadline', () => {
    const s = settings({ url: 'http://198.19.0.1:8080/' });
    expect(s.checks.map((c) => [c.name, c.target.href, c.expectVersion])).toEqual([
      ['readiness', 'http://198.19.0.1:8080/readyz', undefined],
      ['version', 'http://198.19.0.1:8080/version', undefined],
    ]);
    expect(s.timing).toEqual({ initialDelayMs: 0, timeoutMs: 10_000, intervalMs: 1000, maxIntervalMs: 10_000, deadlineMs: 120_000, successThreshold: 1 });
  });

  it('adds the version check to custom checks when expect-version is set, or marks the one on version-path', () => {
    expect(settings({ url: 'http://h:1/base', checks: '- path: /readyz', 'expect-version': 'abc1234' }).checks.map((c) => [c.name, c.target.href, c.expectVersion])).toEqual([
      ['GET /readyz', 'http://h:1/base/readyz', undefined],
      ['version', 'http://h:1/base/version', 'abc1234'],
    ]);
    expect(settings({ url: 'http://h:1', checks: '- path: /version\n  name: v', 'expect-version': 'abc1234' }).checks.map((c) => [c.name, c.expectVersion])).toEqual([['v', 'abc1234']]);
  });

  it('reads an upload from the workspace as a multipart body', () => {
    writeFileSync(path.join(workspace, 'word.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const [check] = settings({ url: 'http://h:1', checks: '- path: /api/v1/ocr\n  upload: word.png' }).checks;
    expect(check?.payload?.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(check?.payload?.bytes.toString('latin1')).toContain('Content-Disposition: form-data; name="file"; filename="word.png"\r\nContent-Type: image/png');
  });

  it.each([
    [{ checks: '' }, /Input "url" is required when "checks" is empty/, 'url'],
    [{ url: 'ftp://h' }, /only http and https/, 'url'],
    [{ url: 'h:8080' }, /only http and https|not an absolute URL/, 'url'],
    [{ url: 'http://h', timeout: '10' }, /Input "timeout" is "10", which has no unit/, 'timeout'],
    [{ url: 'http://h', interval: '2s', 'max-interval': '1s' }, /"max-interval" \(1.0s\) is shorter than "interval"/, 'max-interval'],
    [{ url: 'http://h', 'initial-delay': '2m' }, /"initial-delay" \(2m00s\) is not shorter than "deadline"/, 'initial-delay'],
    [{ url: 'http://h', 'success-threshold': '0' }, /success-threshold/, 'success-threshold'],
    [{ url: 'http://h', 'p95-budget': '300ms' }, /"p95-budget" is set but "latency-samples" is 0/, 'latency-samples'],
    [{ url: 'http://h', 'latency-samples': '5', 'latency-check': 'nope' }, /"latency-check" is "nope", which names no check. The checks are: "readiness", "version"/, 'latency-check'],
    [{ url: 'http://h', insecure: 'yes' }, /Input "insecure" is "yes", which is not a boolean/, 'insecure'],
    [{ url: 'http://h', ca: 'missing.pem' }, /Input "ca" is neither a PEM certificate nor a file/, 'ca'],
    [{ url: 'http://h', resolve: 'app.example.com' }, /Input "resolve" has "app.example.com": there is no address/, 'resolve'],
    [{ url: 'http://h', resolve: 'app.example.com:not-an-ip' }, /"not-an-ip" is not an IP address/, 'resolve'],
    [{ url: 'http://h', checks: '- path: /x\n  upload: nothing-here.png' }, /check 1 \(POST \/x\), key "upload": the file "nothing-here.png" does not exist in the workspace/, 'checks'],
    [{ checks: '- path: /readyz' }, /check 1 \(GET \/readyz\) gives the path "\/readyz" but input "url" is empty/, 'url'],
  ])('rejects %j', (values, message, input) => fails(values, message, input));

  it('reads resolve rules with and without a port', () => {
    expect(parseResolve(['app.example.com:198.19.0.1', 'api.example.com:8443:198.19.0.2', 'v6.example.com:[::1]'])).toEqual([
      { host: 'app.example.com', address: '198.19.0.1' },
      { host: 'api.example.com', port: 8443, address: '198.19.0.2' },
      { host: 'v6.example.com', address: '::1' },
    ]);
  });
});
