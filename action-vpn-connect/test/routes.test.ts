import { describe, expect, it } from 'vitest';
import { cidrsOverlap, findOverlaps, routesFromIpJson, type Route } from '../src/routes.ts';

describe('route clashes', () => {
  it('overlap of CIDRs', () => {
    expect(cidrsOverlap('10.0.0.0/8', '10.1.2.0/24')).toBe(true);
    expect(cidrsOverlap('10.1.2.0/24', '10.0.0.0/8')).toBe(true);
    expect(cidrsOverlap('198.19.0.0/24', '198.19.1.0/24')).toBe(false);
    expect(cidrsOverlap('0.0.0.0/0', '1.2.3.4/32')).toBe(true);
  });

  it('overlap of IPv6 CIDRs, and none across families or with junk', () => {
    expect(cidrsOverlap('2001:db8::/32', '2001:db8:1:2::/64')).toBe(true);
    expect(cidrsOverlap('2001:db8:1:2::/64', '2001:db8::/32')).toBe(true);
    expect(cidrsOverlap('fd00:19::/64', 'fd00:19:0:1::/64')).toBe(false);
    expect(cidrsOverlap('::/0', '2001:db8::1/128')).toBe(true);
    expect(cidrsOverlap('fc00::/7', 'fd12:3456::/48')).toBe(true);
    // A base address with host bits set still names its network.
    expect(cidrsOverlap('10.1.2.3/8', '10.200.0.0/16')).toBe(true);
    expect(cidrsOverlap('::ffff:10.0.0.0/104', '10.0.0.0/8')).toBe(false);
    expect(cidrsOverlap(':::::/64', '::/0')).toBe(false);
    expect(cidrsOverlap('10.0.0.0/33', '10.0.0.0/8')).toBe(false);
    expect(cidrsOverlap('2001:db8::/129', '::/0')).toBe(false);
  });

  it('flags VPN routes shadowed by an equal or more specific runner route, and nothing else', () => {
    const routes: Route[] = [
      { dst: '0.0.0.0/0', dev: 'eth0' },
      { dst: '172.17.0.0/16', dev: 'docker0' },
      { dst: '198.19.0.0/16', type: 'unreachable' },
      { dst: '198.19.0.0/24', dev: 'tun3' },
      { dst: '172.16.0.0/12', dev: 'tun3' },
      { dst: '0.0.0.0/1', dev: 'tun3' },
      { dst: '10.8.0.0/24', dev: 'tun3' },
      { dst: '10.0.0.0/8', dev: 'eth0' },
    ];
    expect(findOverlaps(routes, 'tun3')).toEqual([{ vpn: '172.16.0.0/12', runner: '172.17.0.0/16', runnerDev: 'docker0' }]);
  });

  it('another tunnel to the same network is a clash (its route may win)', () => {
    const routes: Route[] = [
      { dst: '198.19.0.0/24', dev: 'tun0' },
      { dst: '198.19.0.0/24', dev: 'tun1' },
    ];
    expect(findOverlaps(routes, 'tun1')).toEqual([{ vpn: '198.19.0.0/24', runner: '198.19.0.0/24', runnerDev: 'tun0' }]);
  });

  it('flags an IPv6 VPN route shadowed by a runner route, and skips redirect-gateway ipv6, link-local and defaults', () => {
    const routes: Route[] = [
      { dst: '::/0', dev: 'eth0' },
      { dst: 'fd00::/64', dev: 'eth0' },
      { dst: 'fe80::/64', dev: 'eth0' },
      { dst: 'fe80::/64', dev: 'tun3' },
      { dst: 'fd00:19:0:5::/64', dev: 'docker0' },
      { dst: '2001:db8:7::/48', type: 'unreachable' },
      { dst: 'fd00:19::/48', dev: 'tun3' },
      { dst: '2001:db8:7::/48', dev: 'tun3' },
      { dst: '::/3', dev: 'tun3' },
      { dst: '2000::/4', dev: 'tun3' },
      { dst: '3000::/4', dev: 'tun3' },
      { dst: 'fc00::/7', dev: 'tun3' },
      { dst: '172.16.0.0/12', dev: 'tun3' },
      { dst: '172.17.0.0/16', dev: 'docker0' },
    ];
    expect(findOverlaps(routes, 'tun3')).toEqual([
      { vpn: 'fd00:19::/48', runner: 'fd00:19:0:5::/64', runnerDev: 'docker0' },
      { vpn: '172.16.0.0/12', runner: '172.17.0.0/16', runnerDev: 'docker0' },
    ]);
  });

  it("reads ip's JSON for both families: default and host routes get their prefix", () => {
    const v6 = routesFromIpJson(
      '[{"dst":"fd00::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[]},{"dst":"default","gateway":"fd00::1","dev":"eth0","flags":[]},{"dst":"2001:db8::5","dev":"tun0","flags":[]},{"type":"unreachable","dst":"2001:db8:7::/48","dev":"lo","flags":[]}]',
      'ipv6',
    );
    expect(v6).toEqual([
      { dst: 'fd00::/64', dev: 'eth0' },
      { dst: '::/0', dev: 'eth0' },
      { dst: '2001:db8::5/128', dev: 'tun0' },
      { dst: '2001:db8:7::/48', dev: 'lo', type: 'unreachable' },
    ]);
    expect(routesFromIpJson('[{"dst":"default","dev":"eth0"},{"dst":"192.0.2.7","dev":"tun0"}]', 'ipv4')).toEqual([
      { dst: '0.0.0.0/0', dev: 'eth0' },
      { dst: '192.0.2.7/32', dev: 'tun0' },
    ]);
    expect(routesFromIpJson('not json', 'ipv4')).toEqual([]);
  });
});
