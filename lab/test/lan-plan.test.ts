// The lab LAN's addresses (src/plan.ts `lanPlan`): one a target, all in the LAN subnet, and the subnet apart
// from every other range of the lab (veths, runner, engines' bridges and pools, VPNs).
import { describe, expect, it } from 'vitest';
import { lanPlan, runnerPlan, targetPlan } from '../src/plan.ts';

function toInt(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) >>> 0;
}

function range(cidr: string): [number, number] {
  const [address = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = toInt(address) - (toInt(address) % size);
  return [start, start + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

describe('the lab LAN plan', () => {
  const targets = [1, 2, 3, 4, 5, 6, 7].map(targetPlan);

  it('gives target N the address .(N+1) of the LAN subnet, inside 198.18.0.0/15', () => {
    expect(overlaps(lanPlan.subnet, '198.18.0.0/15')).toBe(true);
    expect(range(lanPlan.subnet)[1] - range(lanPlan.subnet)[0]).toBe(255);
    for (const t of targets) {
      expect(t.lanAddress).toBe(`${lanPlan.prefix}.${t.index + 1}`);
      expect(overlaps(`${t.lanAddress}/32`, lanPlan.subnet)).toBe(true);
    }
    expect(new Set(targets.map((t) => t.lanAddress)).size).toBe(targets.length);
  });

  it('uses a subnet no other part of the lab uses', () => {
    const others = [
      runnerPlan.bridgeSubnet,
      runnerPlan.addressPool,
      '198.19.0.0/16',
      ...targets.flatMap((t) => [`${t.hostAddress}/${t.vethPrefix}`, t.dockerBip, t.dockerPool]),
    ];
    for (const cidr of others) expect(overlaps(lanPlan.subnet, cidr), cidr).toBe(false);
  });

  it('names the links within the kernel\'s 15 characters', () => {
    for (const name of [lanPlan.bridge, ...targets.flatMap((t) => [t.lanHost, t.lanNs])]) expect(name.length).toBeLessThanOrEqual(15);
  });
});
