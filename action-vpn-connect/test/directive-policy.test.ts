// The allow-list of a client config's directives (issue #16, item 5): OpenVPN runs as root, so
// what may load code or write files is refused before it starts, naming the line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { judgeDirective, vetDirectives } from '../src/directive-policy.ts';
import { deriveConfig, parseOvpn } from '../src/ovpn-config.ts';
import { CA, CERT, INLINE, KEY, STATIC } from './fixtures.ts';

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-policy-ws-'));
const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-policy-out-'));
afterAll(() => {
  fs.rmSync(ws, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});
const roots = { workspace: ws };
const options = { input: 'config', parts: {}, managementSocket: '/tmp/gw/mgmt.sock', allowScripts: false, configDir: ws, roots };
const derive = (text: string, allowScripts = false) => deriveConfig(parseOvpn(text, 'config'), { ...options, allowScripts });
/** The 1-based number of the line that starts with `start`. */
const lineOf = (text: string, start: string): number => text.split('\n').findIndex((l) => l.startsWith(start)) + 1;
const vet = (text: string, configDir = ws) => vetDirectives(parseOvpn(text, 'config').items, { input: 'config', configDir, roots });

/** The lab's client config as lab/src/vpn.ts writes it (and its auth variant), with made-up keys. */
const LAB_CLIENT = [
  '# Gangway lab: client config for gw-target1 (inline; use as-is).',
  'client', 'dev tun', 'proto udp', 'remote 198.18.0.2 1194', 'nobind', 'remote-cert-tls server',
  'verify-x509-name gw-target1-vpn-server name', 'tls-version-min 1.2', 'connect-retry 1', 'verb 3',
  `<ca>\n${CA}\n</ca>`, `<cert>\n${CERT}\n</cert>`, `<key>\n${KEY}\n</key>`, `<tls-crypt>\n${STATIC}\n</tls-crypt>`, '',
].join('\n');

/** What exported client profiles (easy-rsa's sample, Access Server, pfSense) hold. */
const TYPICAL_PROFILE = [
  'client', 'dev tun', 'dev-type tun', 'proto udp', 'remote vpn.example.edu 1194 udp', 'remote vpn2.example.edu 443 tcp-client', 'remote-random',
  'resolv-retry infinite', 'nobind', 'user nobody', 'group nogroup', 'persist-key', 'persist-tun', 'remote-cert-tls server',
  'verify-x509-name "C=DE, CN=vpn.example.edu"', 'key-direction 1', 'cipher AES-256-GCM', 'data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305',
  'data-ciphers-fallback AES-256-CBC', 'auth SHA256', 'auth-nocache', 'comp-lzo no', 'allow-compression no', 'verb 3', 'mute 20',
  'connect-retry 2 30', 'connect-retry-max 5', 'connect-timeout 20', 'server-poll-timeout 10', 'keepalive 10 60', 'ping 10', 'ping-restart 60',
  'explicit-exit-notify 1', 'float', 'tun-mtu 1500', 'mssfix 1450', 'sndbuf 0', 'rcvbuf 0', 'route 10.20.0.0 255.255.0.0', 'route-nopull',
  'pull-filter ignore "redirect-gateway"', 'route-metric 50', 'redirect-gateway def1', 'tls-client', 'tls-version-min 1.2', 'tls-cipher DEFAULT:@SECLEVEL=2',
  'reneg-sec 0', 'topology subnet', 'ifconfig-nowarn', 'setenv opt block-outside-dns', 'push-peer-info', 'ignore-unknown-option block-outside-dns',
  '<connection>', 'remote vpn3.example.edu 1194', 'proto tcp-client', 'connect-timeout 10', '</connection>',
  `<ca>\n${CA}\n</ca>`, `<cert>\n${CERT}\n</cert>`, `<key>\n${KEY}\n</key>`, `<tls-auth>\n${STATIC}\n</tls-auth>`, '',
].join('\n');

describe('the directives a client config may hold (allow-list)', () => {
  it("keeps every line of the lab's client config and of the test fixtures", () => {
    const d = derive(LAB_CLIENT);
    for (const line of LAB_CLIENT.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('<') && !l.includes('-----'))) {
      if (!/^(MII|FAKE|0123|fedc)/.test(line)) expect(d.text).toContain(line);
    }
    expect(d.warnings).toEqual([]);
    const auth = deriveConfig(parseOvpn(LAB_CLIENT.replace('verb 3', 'verb 3\nauth-user-pass'), 'config'), { ...options, credentials: { username: 'u', password: 'p' } });
    expect(auth.warnings).toEqual([]);
    expect(() => derive(INLINE)).not.toThrow();
  });

  it('keeps what typical exported client profiles hold', () => {
    const d = derive(TYPICAL_PROFILE);
    expect(d.warnings).toEqual([]);
    for (const line of ['resolv-retry infinite', 'user nobody', 'setenv opt block-outside-dns', 'pull-filter ignore "redirect-gateway"', 'remote vpn3.example.edu 1194']) {
      expect(d.text).toContain(line);
    }
  });

  it.each([
    ['providers legacy default', 'providers', /loads OpenSSL provider libraries into OpenVPN, which runs as root/],
    ['pkcs11-providers /usr/lib/x86_64-linux-gnu/evil.so', 'pkcs11-providers', /loads PKCS#11 libraries/],
    ['engine dynamic', 'engine', /loads an OpenSSL engine library/],
    ['status /etc/cron.d/x 10', 'status', /writes a file as root/],
    ['tls-export-cert /etc/cron.d', 'tls-export-cert', /writes files as root/],
    ['replay-persist /etc/cron.d/x', 'replay-persist', /writes a file as root/],
    ['config /etc/openvpn/other.conf', 'config', /includes another file/],
    ['cd /etc', 'cd', /OpenVPN runs from the config file's folder/],
    ['daemon', 'daemon', /must see it exit/],
    ['management 0.0.0.0 7505', 'management', /on 0\.0\.0\.0, which would open OpenVPN's management interface/],
    ['management 198.18.0.1 7505', 'management', /on 198\.18\.0\.1/],
    ['chroot /tmp', 'chroot', /refuses/],
    ['dev-node /etc/passwd', 'dev-node', /device node/],
    ['tmp-dir /etc', 'tmp-dir', /write files into a folder/],
    ['http-proxy proxy.example 3128 /etc/shadow', 'http-proxy', /credentials argument/],
    ['memstats /etc/cron.d/x', 'memstats', /not one of the options a client config needs/],
    ['gremlin 1', 'gremlin', /not one of the options a client config needs/],
    ['setenv opt status /etc/cron.d/x', 'setenv', /writes a file as root/],
  ])('refuses "%s" before OpenVPN starts, naming the directive and its line', (line, name, why) => {
    const text = `${LAB_CLIENT}${line}\n`;
    const lineNo = text.split('\n').length - 1;
    const message = new RegExp(`Input "config": line ${lineNo} uses "${name}", .*${why.source}`);
    expect(() => vet(text)).toThrow(message);
    expect(() => derive(text)).toThrow(message);
    expect(() => derive(text, true)).toThrow(message);
  });

  it('refuses a refused directive inside a <connection> block and an inline block it does not know, by line', () => {
    const status = `${LAB_CLIENT}<connection>\nremote 198.18.0.2 1194\nstatus /tmp/x\n</connection>\n`;
    expect(() => vet(status)).toThrow(new RegExp(`line ${lineOf(status, 'status')} uses "status", inside a <connection> block`));
    const up = `${LAB_CLIENT}<connection>\nremote 198.18.0.2 1194\nup /bin/sh\n</connection>\n`;
    expect(() => vet(up)).toThrow(new RegExp(`line ${lineOf(up, 'up ')} uses "up", inside a <connection> block`));
    const dh = `${LAB_CLIENT}<dh>\nx\n</dh>\n`;
    expect(() => vet(dh)).toThrow(new RegExp(`line ${lineOf(dh, '<dh>')} opens an inline <dh> block, which this action refuses`));
  });

  it('takes a management interface on loopback or a unix socket (the action sets its own), drops the log and pid file with a warning', () => {
    const d = derive(`${LAB_CLIENT}management 127.0.0.1 7505\nmanagement /run/x.sock unix\nlog-append /etc/cron.d/x\nwritepid /etc/cron.d/y\nsyslog\n`);
    expect(d.text).not.toMatch(/7505|\/run\/x\.sock|cron\.d|^syslog/m);
    expect(d.warnings.join('\n')).toMatch(/"log-append" was dropped.*\n.*"writepid" was dropped.*\n.*"syslog" was dropped/);
  });

  it('script directives (up, setenv, script-security, ...) stay only with allow-scripts: true', () => {
    const hooks = `${LAB_CLIENT}script-security 2\nup /etc/openvpn/update-resolv-conf\nsetenv PATH /usr/bin\nplugin /usr/lib/x.so\n`;
    const without = derive(hooks);
    expect(without.text).not.toMatch(/update-resolv-conf|setenv|script-security|plugin/);
    expect(without.warnings.join('\n')).toMatch(/Script hooks were dropped.*plugin, script-security, setenv, up.*allow-scripts: true/);
    expect(derive(hooks, true).text).toMatch(/^up \/etc\/openvpn\/update-resolv-conf$/m);
    expect(judgeDirective('setenv', ['opt', 'some-future-option'])).toMatchObject({ kind: 'drop' });
  });

  it('a file a directive names must lie in the workspace (relative to the config\'s folder, symlinks followed); inline is fine', () => {
    fs.mkdirSync(path.join(ws, 'vpn'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'vpn', 'ca.crt'), CA);
    fs.writeFileSync(path.join(outside, 'ca.crt'), CA);
    fs.symlinkSync(path.join(outside, 'ca.crt'), path.join(ws, 'vpn', 'escape.crt'));
    const base = LAB_CLIENT.replace(/<ca>[\s\S]*?<\/ca>\n/, '');
    expect(() => vet(`${base}ca ca.crt\n`, path.join(ws, 'vpn'))).not.toThrow();
    expect(() => vet(`${base}ca vpn/ca.crt\n`)).not.toThrow();
    const at = lineOf(`${base}ca x\n`, 'ca x');
    expect(() => vet(`${base}ca /etc/ssl/certs/ca-certificates.crt\n`)).toThrow(new RegExp(`line ${at} has "ca`));
    expect(() => vet(`${base}ca /etc/ssl/certs/ca-certificates.crt\n`)).toThrow(/has "ca \/etc\/ssl\/certs\/ca-certificates\.crt", a file outside the workspace/);
    expect(() => vet(`${base}ca ../${path.basename(outside)}/ca.crt\n`)).toThrow(/a file outside the workspace/);
    expect(() => vet(`${base}ca escape.crt\n`, path.join(ws, 'vpn'))).toThrow(/has "ca escape\.crt", a file outside the workspace/);
    expect(() => vet(`${base}tls-auth /etc/openvpn/ta.key 1\n`)).toThrow(/"tls-auth \/etc\/openvpn\/ta\.key", a file outside/);
  });
});
