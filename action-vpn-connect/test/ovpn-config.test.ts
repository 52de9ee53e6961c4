import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { deriveConfig, detectTlsKeyType, firstRemote, inlineSecrets, parseOvpn, splitWords } from '../src/ovpn-config.ts';
import { BASE, CA, CERT, INLINE, KEY, STATIC, V2 } from './fixtures.ts';

const base = { input: 'config', parts: {}, managementSocket: '/tmp/gw/mgmt.sock', allowScripts: false, configDir: os.tmpdir(), roots: { workspace: os.tmpdir() } };

describe('parsing .ovpn', () => {
  it('splits words with quotes and escapes, and stops at comments', () => {
    expect(splitWords('remote "my host" 1194 # comment')).toEqual(['remote', 'my host', '1194']);
    expect(splitWords("auth-user-pass 'a b'")).toEqual(['auth-user-pass', 'a b']);
    expect(splitWords('up /etc/x\\ y.sh')).toEqual(['up', '/etc/x y.sh']);
  });

  it('finds inline blocks and their secrets', () => {
    const parsed = parseOvpn(INLINE, 'config');
    expect(inlineSecrets(parsed)).toEqual([CA, CERT, KEY, STATIC]);
    expect(firstRemote(parsed)).toEqual({ host: 'vpn.example.edu', port: 1194, proto: 'udp' });
  });

  it('rejects an unclosed block, naming the input', () => {
    expect(() => parseOvpn(`${BASE}\n<key>\n${KEY}\n`, 'config-file')).toThrow(/Input "config-file".*<key>.*never closed/);
  });
});

describe('deriving the config the action runs', () => {
  it('keeps the user options, replaces the ones it controls, drops its log and pid file with a warning, adds the management interface', () => {
    const user = `${INLINE}log /var/log/x.log\nmanagement 127.0.0.1 7505\nwritepid /run/x.pid\nauth-nocache\n`;
    const d = deriveConfig(parseOvpn(user, 'config'), base);
    expect(d.text).toContain('remote vpn.example.edu 1194');
    expect(d.text).toContain(`<key>\n${KEY}\n</key>`);
    expect(d.text).not.toMatch(/^log |127\.0\.0\.1 7505|^writepid/m);
    expect(d.text).toMatch(/^management \/tmp\/gw\/mgmt\.sock unix$/m);
    expect(d.text).toMatch(/^management-hold$/m);
    expect(d.text).toMatch(/^management-query-passwords$/m);
    expect(d.notes.join('\n')).toMatch(/replaced: auth-nocache, management/);
    expect(d.warnings).toEqual([
      expect.stringMatching(/^Line 32: "log" was dropped/),
      expect.stringMatching(/^Line 34: "writepid" was dropped/),
    ]);
  });

  it('sends credentials over the management interface: auth-user-pass without a file, auth-nocache', () => {
    const d = deriveConfig(parseOvpn(`${INLINE}auth-user-pass /etc/creds.txt\n`, 'config'), { ...base, credentials: { username: 'u', password: 'p' } });
    expect(d.text).toMatch(/^auth-user-pass$/m);
    expect(d.text).not.toContain('/etc/creds.txt');
    expect(d.text).toMatch(/^auth-nocache$/m);
    expect(d.credentials).toEqual({ username: 'u', password: 'p' });
  });

  it('refuses a credentials file without the username/password inputs, and a bare auth-user-pass without them', () => {
    expect(() => deriveConfig(parseOvpn(`${INLINE}auth-user-pass creds.txt\n`, 'config'), base)).toThrow(/Give them as the "username" and "password" inputs/);
    expect(() => deriveConfig(parseOvpn(`${INLINE}auth-user-pass\n`, 'config'), base)).toThrow(/Set the "username" and "password" inputs/);
  });

  it('takes an inline <auth-user-pass> out of the file and into the management interface', () => {
    const d = deriveConfig(parseOvpn(`${INLINE}<auth-user-pass>\nalice\ns3cret-pw\n</auth-user-pass>\n`, 'config'), base);
    expect(d.credentials).toEqual({ username: 'alice', password: 's3cret-pw' });
    expect(d.text).not.toContain('s3cret-pw');
  });

  it('drops script hooks unless allowed', () => {
    const user = `${INLINE}script-security 2\nup /etc/openvpn/update-resolv-conf\ndown /etc/openvpn/update-resolv-conf\n`;
    const dropped = deriveConfig(parseOvpn(user, 'config'), base);
    expect(dropped.text).not.toContain('update-resolv-conf');
    expect(dropped.warnings.join('\n')).toMatch(/Script hooks were dropped.*down, script-security, up/);
    expect(dropped.text).not.toContain('script-security');
    expect(deriveConfig(parseOvpn(user, 'config'), { ...base, allowScripts: true }).text).toContain('up /etc/openvpn/update-resolv-conf');
  });

  it('adds the parts given as inputs inline; refuses a part given twice', () => {
    const d = deriveConfig(parseOvpn(BASE, 'config'), { ...base, parts: { ca: CA, cert: CERT, key: KEY, tlsKey: { type: 'tls-auth', pem: STATIC } } });
    expect(d.text).toContain(`<ca>\n${CA}\n</ca>`);
    expect(d.text).toContain(`<tls-auth>\n${STATIC}\n</tls-auth>`);
    expect(d.text).toMatch(/^key-direction 1$/m);
    expect(() => deriveConfig(parseOvpn(INLINE, 'config'), { ...base, parts: { key: KEY } })).toThrow(/Input "key" is given, and the config in "config" already has "key"/);
    expect(() => deriveConfig(parseOvpn(INLINE, 'config'), { ...base, parts: { tlsKey: { type: 'tls-crypt', pem: STATIC } } })).toThrow(/already has "tls-crypt"/);
  });

  it('refuses configs it cannot run safely', () => {
    expect(() => deriveConfig(parseOvpn('client\ndev tun\n', 'config'), base)).toThrow(/no "remote" line/);
    expect(() => deriveConfig(parseOvpn(`${INLINE}config other.conf\n`, 'config'), base)).toThrow(/line 32 uses "config", which this action refuses/);
    expect(() => deriveConfig(parseOvpn(`${INLINE}askpass pass.txt\n`, 'config'), base)).toThrow(/encrypted private keys/);
  });
});

describe('TLS key type by PEM header', () => {
  it('detects tls-crypt-v2; a static key is tls-auth with key-direction, tls-crypt without', () => {
    expect(detectTlsKeyType(V2, false, 'tls-key')).toBe('tls-crypt-v2');
    expect(detectTlsKeyType(STATIC, false, 'tls-key')).toBe('tls-crypt');
    expect(detectTlsKeyType(STATIC, true, 'tls-key')).toBe('tls-auth');
    expect(() => detectTlsKeyType(V2.replace(/client/g, 'server'), false, 'tls-key')).toThrow(/SERVER key/);
    expect(() => detectTlsKeyType(KEY, false, 'tls-key')).toThrow(/not an OpenVPN TLS key/);
  });
});
