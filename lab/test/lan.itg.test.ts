// The lab LAN (src/lan.ts) on its real parts: a container on target 2 reaches a Redis container on target 1
// published on target 1's LAN address (redis-cli PING, and Redis sees the caller as target 2's LAN address:
// target 2's engine masquerades its containers to it), while the root namespace, where the runner lives,
// cannot reach that address at all (no address on the LAN, an unreachable route: the connect fails at once).
// Run it holding the lab lock:
//   flock /tmp/gangway-lab.lock npx vitest run --project lab lab/test/lan.itg.test.ts
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { afterAll, expect, it } from 'vitest';
import { describeNeeding } from '../../app/test/prerequisite.ts';
import { lanPlan } from '../src/plan.ts';
import { ensureRedisImage } from '../src/redis-image.ts';
import { labStateExists, readLabState } from '../src/state.ts';
import type { LabState, TargetState } from '../src/state.ts';
import { tcpProbe } from '../src/testing/probe.ts';

const lab: LabState | undefined = labStateExists() ? readLabState() : undefined;

function missingPrerequisite(): string | undefined {
  if (!lab) return 'no lab is up (lab/.state/lab.json is missing): flock /tmp/gangway-lab.lock npm run lab:up';
  if (lab.targets.length < 2) return 'the lab has one target: the LAN needs two (GANGWAY_LAB_TARGETS >= 2)';
  if (!lab.lan || lab.targets.some((t) => !t.lanAddress)) return 'the lab has no LAN (it was started before lab/src/lan.ts existed): flock /tmp/gangway-lab.lock npm run lab:up adds it';
  if (process.getuid?.() !== 0) return 'the lab\'s engine sockets need root';
  return undefined;
}


/** The container's output once it exits (bounded), demultiplexed (no TTY). */
async function runToEnd(container: Docker.Container, timeoutMs: number): Promise<{ code: number; output: string }> {
  const waited = await Promise.race([
    container.wait() as Promise<{ StatusCode: number }>,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the container did not exit within ${timeoutMs} ms`)), timeoutMs)),
  ]);
  const logs = await container.logs({ stdout: true, stderr: true, follow: false });
  // Multiplexed frames: 8-byte header (stream, 0, 0, 0, size BE32), then the payload.
  let output = '';
  for (let i = 0; i + 8 <= logs.length; ) {
    const size = logs.readUInt32BE(i + 4);
    output += logs.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return { code: waited.StatusCode, output };
}

describeNeeding(missingPrerequisite())('the lab LAN between targets', () => {
  // A skipped suite still runs this body: nothing here may read the (missing) lab.
  const [t1, t2] = (lab?.targets ?? []) as [TargetState, TargetState];
  const suffix = randomBytes(4).toString('hex');
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('gives every target an address of its own on the LAN subnet, and the host none', () => {
    expect(lab?.lan).toEqual({ bridge: lanPlan.bridge, subnet: lanPlan.subnet, hostAddress: null });
    const addresses = lab?.targets.map((t) => t.lanAddress) ?? [];
    expect(new Set(addresses).size).toBe(addresses.length);
    for (const t of lab?.targets ?? []) expect(t.lanAddress).toBe(`${lanPlan.prefix}.${t.index + 1}`);
    // The root namespace is not on the LAN: no address in the subnet, and its route there is `unreachable`.
    const hostAddrs = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout;
    expect(hostAddrs).not.toContain(` ${lanPlan.prefix}.`);
    expect(spawnSync('ip', ['route', 'show', lanPlan.subnet], { encoding: 'utf8' }).stdout.trim()).toBe(`unreachable ${lanPlan.subnet}`);
    const route = spawnSync('ip', ['route', 'get', t1.lanAddress], { encoding: 'utf8' });
    expect(route.status).not.toBe(0);
    expect(route.stderr).toMatch(/No route to host/);
  });

  it('lets a container on target 2 reach Redis published on target 1\'s LAN address, and the host not at all', async () => {
    const started = performance.now();
    const docker1 = new Docker({ socketPath: t1.dockerSocket });
    const docker2 = new Docker({ socketPath: t2.dockerSocket });
    const [redis1, redis2] = await Promise.all([ensureRedisImage(t1.dockerSocket), ensureRedisImage(t2.dockerSocket)]);

    const server = await docker1.createContainer({
      name: `lan-itg-redis-${suffix}`,
      Image: redis1.tag,
      ExposedPorts: { '6379/tcp': {} },
      HostConfig: { PortBindings: { '6379/tcp': [{ HostIp: t1.lanAddress, HostPort: '6379' }] } },
    });
    cleanups.push(() => server.remove({ force: true }));
    await server.start();
    const binding = (await server.inspect()).NetworkSettings.Ports['6379/tcp']?.[0];
    expect(binding).toEqual({ HostIp: t1.lanAddress, HostPort: '6379' });

    // On target 2's default bridge: out through target 2's lan0, masqueraded to its LAN address. Retries
    // while Redis starts (bounded), then asks Redis who it sees.
    const script = [
      'i=0',
      `until redis-cli -h ${t1.lanAddress} -p 6379 PING > /tmp/ping 2>&1 && grep -qx PONG /tmp/ping; do`,
      '  i=$((i + 1)); [ "$i" -ge 100 ] && { cat /tmp/ping; exit 1; }; sleep 0.1',
      'done',
      'cat /tmp/ping',
      `redis-cli -h ${t1.lanAddress} -p 6379 CLIENT INFO`,
    ].join('\n');
    // Once on the default bridge, once on a user-defined network (what a compose project gets).
    const network = await docker2.createNetwork({ Name: `lan-itg-${suffix}` });
    cleanups.push(() => network.remove());
    const clients = await Promise.all(
      [undefined, network.id].map(async (networkId, i) => {
        const client = await docker2.createContainer({
          name: `lan-itg-cli${i}-${suffix}`,
          Image: redis2.tag,
          User: 'redis',
          Entrypoint: ['sh', '-c'],
          Cmd: [script],
          ...(networkId ? { HostConfig: { NetworkMode: networkId } } : {}),
        });
        cleanups.push(() => client.remove({ force: true }));
        await client.start();
        return runToEnd(client, 20_000);
      }),
    );
    for (const { code, output } of clients) {
      expect(code, output).toBe(0);
      expect(output).toMatch(/^PONG$/m);
      // Redis on target 1 sees target 2's LAN address: the packets crossed the LAN, not some other path.
      expect(output).toContain(`addr=${t2.lanAddress}:`);
    }

    // The root namespace (the runner) cannot reach target 1's LAN address: the connect fails at once.
    const probeStarted = performance.now();
    expect(await tcpProbe(t1.lanAddress, 6379, 2000)).toBe('unreachable');
    expect(performance.now() - probeStarted).toBeLessThan(500);
    // ...and the published port is on the LAN address only: target 1's VPN-facing veth still answers nothing.
    expect(await tcpProbe(t1.vethAddress, 6379, 1000)).toBe('timeout');
    console.log(`lab LAN: ${t2.name} container -> ${t1.lanAddress}:6379 PONG; host -> unreachable; ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
});
