import { describe, expect, it } from 'vitest';
import { describeRegistryFailure } from '../src/docker/index.ts';

// Texts as Docker Engine 20.10 reports them (seen on the lab's engines through the fault proxy).
describe('describeRegistryFailure', () => {
  it('connection refused: not transient, names the address', () => {
    const f = describeRegistryFailure('Get "https://198.18.0.1:19549/v2/": dial tcp 198.18.0.1:19549: connect: connection refused');
    expect(f).toMatchObject({ kind: 'refused', transient: false });
    expect(f.cause).toBe('connection refused: nothing listens at 198.18.0.1:19549');
  });

  it('timeouts: connect, TLS handshake, response', () => {
    expect(describeRegistryFailure('Get "https://r:5000/v2/": dial tcp 198.18.0.9:5000: i/o timeout')).toMatchObject({ kind: 'timeout', transient: true, cause: 'unreachable: no answer in time (connecting at 198.18.0.9:5000)' });
    expect(describeRegistryFailure('Get "https://r:5000/v2/": net/http: TLS handshake timeout').cause).toContain('TLS handshake');
    expect(describeRegistryFailure('Get "https://r/v2/": net/http: request canceled (Client.Timeout exceeded while awaiting headers)').kind).toBe('timeout');
  });

  it('no route, DNS', () => {
    expect(describeRegistryFailure('dial tcp 198.18.0.77:5000: connect: no route to host').kind).toBe('unreachable');
    expect(describeRegistryFailure('Get "https://nope.example/v2/": dial tcp: lookup nope.example on 127.0.0.11:53: no such host').kind).toBe('dns');
  });

  it('HTTP 5xx: transient, with the status and its words', () => {
    const f = describeRegistryFailure('received unexpected HTTP status: 500 Internal Server Error');
    expect(f).toMatchObject({ kind: 'status', status: 500, transient: true });
    expect(f.cause).toBe('HTTP 500 Internal Server Error (a server error in the registry)');
    expect(describeRegistryFailure('received unexpected HTTP status: 503 Service Unavailable').status).toBe(503);
  });

  it('the engine says how often it tried the image config', () => {
    const f = describeRegistryFailure('error pulling image configuration: download failed after attempts=6: received unexpected HTTP status: 502 Bad Gateway');
    expect(f).toMatchObject({ kind: 'status', status: 502, engineAttempts: 6 });
  });

  it('a cut transfer', () => {
    expect(describeRegistryFailure('unexpected EOF')).toMatchObject({ kind: 'cut', transient: true });
    expect(describeRegistryFailure('read tcp 198.18.0.2:40000->198.18.0.1:5000: read: connection reset by peer').kind).toBe('cut');
  });

  it('not retried: auth, missing image, TLS, rate limit is', () => {
    expect(describeRegistryFailure('Head "https://r/v2/a/manifests/x": no basic auth credentials')).toMatchObject({ kind: 'auth', transient: false });
    expect(describeRegistryFailure('manifest for r/a:nope not found: manifest unknown: manifest unknown')).toMatchObject({ kind: 'not-found', transient: false });
    expect(describeRegistryFailure('Get "https://r/v2/": x509: certificate signed by unknown authority')).toMatchObject({ kind: 'tls', transient: false });
    expect(describeRegistryFailure('toomanyrequests: You have reached your pull rate limit.')).toMatchObject({ kind: 'status', status: 429, transient: true });
  });

  it('anything else: its first line, not retried', () => {
    expect(describeRegistryFailure('something odd\nmore')).toEqual({ kind: 'unknown', transient: false, cause: 'something odd' });
  });
});
