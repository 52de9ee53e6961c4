import { describe, expect, it } from 'vitest';
import { credentialsMatch, decodeCredentialsHost } from '../src/buildkit-session.ts';

describe('BuildKit session credentials', () => {
  it('reads the host the engine asks about', () => {
    const host = Buffer.from('198.18.0.1:5000');
    expect(decodeCredentialsHost(Buffer.concat([Buffer.from([0x0a, host.length]), host]))).toBe('198.18.0.1:5000');
    expect(decodeCredentialsHost(Buffer.alloc(0))).toBe('');
  });
  it('hands credentials only to the registry they belong to', () => {
    const lab = { username: 'u', password: 'p', serveraddress: '198.18.0.1:5000' };
    expect(credentialsMatch('198.18.0.1:5000', lab)).toBe(true);
    expect(credentialsMatch('ghcr.io', lab)).toBe(false);
    const hub = { username: 'u', password: 'p', serveraddress: 'https://index.docker.io/v1/' };
    expect(credentialsMatch('registry-1.docker.io', hub)).toBe(true);
    expect(credentialsMatch('evil.example', hub)).toBe(false);
  });
});
