import { describe, expect, it } from 'vitest';
import { classify, decisiveFailure, HINTS } from '../src/classify.ts';

describe('classify', () => {
  it.each([
    ['AUTH: Received control message: AUTH_FAILED', 'auth'],
    ['Options error: Unrecognized option or missing or extra parameter(s) in client.ovpn:3: bogus (2.6.14)', 'config'],
    ['ERROR: Cannot open TUN/TAP dev /dev/net/tun: No such file or directory (errno=2)', 'tun'],
    ['VERIFY ERROR: depth=0, error=unable to get local issuer certificate: CN=gangway', 'tls'],
    ['TLS Error: TLS handshake failed', 'tls'],
    ['Initialization Sequence Completed With Errors ( see http://openvpn.net/howto.html#mitm )', 'routes'],
  ])('"%s" decides %s at once', (line, category) => {
    expect(decisiveFailure(line)).toBe(category);
    expect(classify({ messages: ['noise', line], states: [] }).category).toBe(category);
  });

  it('does not decide on ordinary lines', () => {
    expect(decisiveFailure('read UDPv4 [ECONNREFUSED]: Connection refused (fd=5,code=111)')).toBeUndefined();
    expect(decisiveFailure('TLS key negotiation failed to occur within 60 seconds (check your network connectivity)')).toBeUndefined();
  });

  it('a timeout after TLS trouble is a tls failure; plain silence is a timeout', () => {
    expect(classify({ messages: ['TLS key negotiation failed to occur within 60 seconds'], states: [], timedOutAfterMs: 60_000 }).category).toBe('tls');
    const t = classify({ messages: ['UDPv4 link remote: [AF_INET]198.18.0.250:1194'], states: ['WAIT,'], timedOutAfterMs: 5000 });
    expect(t).toMatchObject({ category: 'timeout', retryable: true });
    expect(t.reason).toMatch(/last state was WAIT/);
  });

  it('prefers the password refusal and the auth-failure exit over anything else', () => {
    expect(classify({ messages: ['TLS Error: TLS handshake failed'], states: [], passwordRefused: true }).category).toBe('auth');
    expect(classify({ messages: [], states: ['EXITING,auth-failure'] }).category).toBe('auth');
  });

  it('every category has a hint', () => {
    for (const hint of Object.values(HINTS)) expect(hint.length).toBeGreaterThan(20);
  });

  it('an exit without a known cause is "exited" with its code', () => {
    expect(classify({ messages: [], states: [], exit: { code: 1, signal: null } })).toMatchObject({ category: 'exited', reason: expect.stringMatching(/code 1/) as unknown });
  });
});
