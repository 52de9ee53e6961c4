import { describe, expect, it } from 'vitest';
import { cidrsOverlap, findOverlaps, type Route } from '../src/routes.ts';

describe('route clashes', () => {
  it('overlap of CIDRs', () => {
    expect(cidrsOverlap('10.0.0.0/8', '10.1.2.0/24')).toBe(true);
    expect(cidrsOverlap('10.1.2.0/24', '10.0.0.0/8')).toBe(true);
    expect(cidrsOverlap('198.19.0.0/24', '198.19.1.0/24')).toBe(false);
    expect(cidrsOverlap('0.0.0.0/0', '1.2.3.4/32')).toBe(true);
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
});
