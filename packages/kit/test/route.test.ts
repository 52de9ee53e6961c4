import { describe, expect, it } from 'vitest';
import { matchRoute } from '../src/ssh/route.ts';

// /proc/net/route as the kernel writes it (addresses little-endian hex).
const TABLE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
tun0\t000013C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
*\t000013C6\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0
gw-t1-host\t000012C6\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0
`;

describe('matchRoute', () => {
  it('takes the longest prefix: the VPN /24 over the reject /16 over the default route', () => {
    expect(matchRoute(TABLE, '198.19.0.1')).toEqual({ iface: 'tun0', reject: false });
    expect(matchRoute(TABLE, '198.19.1.1')).toEqual({ iface: '*', reject: true });
    expect(matchRoute(TABLE, '198.18.0.2')).toEqual({ iface: 'gw-t1-host', reject: false });
    expect(matchRoute(TABLE, '203.0.113.9')).toEqual({ iface: 'eth0', reject: false });
  });
  it('without a matching route: undefined', () => {
    expect(matchRoute(TABLE.split('\n').filter((l) => !l.startsWith('eth0')).join('\n'), '203.0.113.9')).toBeUndefined();
  });
});
