import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import { readSettings } from '../src/settings.ts';
import { BASE, CA, CERT, INLINE, KEY, STATIC, V2 } from './fixtures.ts';

let written = '';
beforeEach(() => {
  written = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written += String(chunk);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

const read = (values: Record<string, string>, workspace = os.tmpdir(), runnerTemp?: string) =>
  readSettings(new Inputs(mapInputs(values)), { workspace, ...(runnerTemp ? { runnerTemp } : {}) });

describe('readSettings', () => {
  it('registers every PEM line and the password before returning, but not the plain config lines', () => {
    const s = read({ config: INLINE, password: 'pw-123456', username: 'ci' });
    for (const pem of [CA, CERT, KEY, STATIC]) for (const line of pem.split('\n')) expect(written).toContain(`::add-mask::${line}`);
    expect(written).toContain('::add-mask::pw-123456');
    expect(written).not.toContain('::add-mask::dev tun');
    expect(s.credentials).toEqual({ username: 'ci', password: 'pw-123456' });
    expect(s.connectTimeoutMs).toBe(60_000);
    expect(s.retries).toBe(0);
  });

  it('needs exactly one of config and config-file', () => {
    expect(() => read({})).toThrow(/"config".*or "config-file".*is required/);
    expect(() => read({ config: INLINE, 'config-file': 'x.ovpn' })).toThrow(/both given/);
  });

  it('reads config-file relative to the workspace and runs OpenVPN from its folder', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-'));
    fs.mkdirSync(path.join(ws, 'vpn'));
    fs.writeFileSync(path.join(ws, 'vpn', 'c.ovpn'), INLINE);
    const s = read({ 'config-file': 'vpn/c.ovpn' }, ws);
    expect(s.configDir).toBe(path.join(ws, 'vpn'));
    expect(written).toContain(`::add-mask::${KEY.split('\n')[1] as string}`);
    expect(() => read({ 'config-file': 'nope.ovpn' }, ws)).toThrow(/"config-file" is "nope.ovpn", which cannot be read \(ENOENT\)/);
    fs.rmSync(ws, { recursive: true });
  });

  it('refuses a config-file outside the workspace and RUNNER_TEMP, also through a symlink; RUNNER_TEMP itself is fine', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-paths-'));
    const ws = path.join(root, 'ws');
    const temp = path.join(root, 'temp');
    const outside = path.join(root, 'outside');
    for (const d of [ws, temp, outside]) fs.mkdirSync(d);
    fs.writeFileSync(path.join(outside, 'c.ovpn'), INLINE);
    fs.writeFileSync(path.join(temp, 'c.ovpn'), INLINE);
    fs.symlinkSync(path.join(outside, 'c.ovpn'), path.join(ws, 'link.ovpn'));
    expect(() => read({ 'config-file': '../outside/c.ovpn' }, ws, temp)).toThrow(/Input "config-file" is "\.\.\/outside\/c\.ovpn", which resolves to .*outside the workspace/);
    expect(() => read({ 'config-file': path.join(outside, 'c.ovpn') }, ws, temp)).toThrow(/Input "config-file" .*outside the workspace/);
    expect(() => read({ 'config-file': '/proc/self/environ' }, ws, temp)).toThrow(/Input "config-file" is "\/proc\/self\/environ".*outside the workspace/);
    expect(() => read({ 'config-file': 'link.ovpn' }, ws, temp)).toThrow(/Input "config-file" is "link\.ovpn", which resolves to .*outside/);
    expect(read({ 'config-file': path.join(temp, 'c.ovpn') }, ws, temp).configDir).toBe(temp);
    fs.rmSync(root, { recursive: true });
  });

  it('refuses a directive the action does not allow before anything else happens, after masking the keys', () => {
    expect(() => read({ config: `${INLINE}providers legacy default\n` })).toThrow(/Input "config": line 32 uses "providers"/);
    expect(written).toContain(`::add-mask::${KEY.split('\n')[1] as string}`);
  });

  it('validates the PEM inputs and the TLS key type', () => {
    expect(() => read({ config: BASE, key: '/home/me/key.pem' })).toThrow(/Input "key" does not hold an unencrypted PEM private key/);
    expect(read({ config: BASE, 'tls-key': V2 }).parts.tlsKey?.type).toBe('tls-crypt-v2');
    expect(read({ config: `${BASE}\nkey-direction 1`, 'tls-key': STATIC }).parts.tlsKey?.type).toBe('tls-auth');
    expect(() => read({ config: BASE, 'tls-crypt': V2 })).toThrow(/Give it as "tls-crypt-v2"/);
    expect(() => read({ config: BASE, 'tls-crypt': STATIC, 'tls-auth': STATIC })).toThrow(/Give one TLS key/);
  });

  it('checks username and password together, one line each, and durations with units', () => {
    expect(() => read({ config: INLINE, username: 'ci' })).toThrow(/Input "password" is missing/);
    expect(() => read({ config: INLINE, 'connect-timeout': '30' })).toThrow(/no unit/);
    expect(() => read({ config: INLINE, retries: '11' })).toThrow(/out of range/);
    expect(() => read({ config: INLINE, 'check-host': '198.19.0.1' })).toThrow(/port is missing/);
    expect(read({ config: INLINE, 'check-host': '198.19.0.1:22' }).checkHost).toEqual({ host: '198.19.0.1', port: 22 });
  });
});
