// The edge's container spec and the socket table it drains on, by value.
import { describe, expect, it } from 'vitest';
import { connectionsTo, edgeContainerSpec, edgeSpecHash, listenersOn, parseProcNetTcp, type EdgeDesign } from '../src/edge/edge-spec.ts';

// As the kernel writes them: addresses in host byte order (little-endian here), ports in hex.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3350312 1 0000000000000000 100 0 0 10 0
   1: 010012C6:A1B2 0300C8C6:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3350651 1 0000000000000000 100 0 0 10 0
   2: 010012C6:A1B3 0300C8C6:1F90 06 00000000:00000000 00:00000000 00000000     0        0 3350652 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF0000010012C6:A1B4 0000000000000000FFFF00000300C8C6:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
`;

describe('edge spec', () => {
  it('reads /proc/net/tcp and tcp6: listeners per port, and open connections to a container (IPv4-mapped too)', () => {
    const sockets = parseProcNetTcp(`${TCP}${TCP6}`);
    expect(sockets).toHaveLength(5);
    expect(sockets[1]).toEqual({ local: { address: '198.18.0.1', port: 0xa1b2 }, remote: { address: '198.200.0.3', port: 8080 }, state: '01' });
    expect(listenersOn(sockets, 80)).toBe(1);
    expect(listenersOn(sockets, 443)).toBe(1);
    // One established over IPv4, one over IPv6 (mapped); the TIME_WAIT one (06) is no request in flight.
    expect(connectionsTo(sockets, '198.200.0.3', 8080)).toBe(2);
    expect(connectionsTo(sockets, '198.200.0.4', 8080)).toBe(0);
  });

  it('runs Caddy on the host network with its two volumes and a graceful stop; the hash follows image and ports', () => {
    const design: EdgeDesign = { imageId: 'sha256:1', imageRef: 'caddy:2', httpPort: 80, httpsPort: 443, stopTimeoutS: 35 };
    const spec = edgeContainerSpec(design, 'gangway-edge');
    expect(spec).toMatchObject({ name: 'gangway-edge', Image: 'caddy:2', Cmd: ['caddy', 'run', '--config', '/etc/gangway-edge/caddy.json'], StopSignal: 'SIGTERM', StopTimeout: 35 });
    expect(spec.HostConfig?.NetworkMode).toBe('host');
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(spec.HostConfig?.Mounts?.map((m) => `${m.Source}:${m.Target}`)).toEqual(['gangway-edge-config:/etc/gangway-edge', 'gangway-edge-data:/data']);
    expect(spec.Labels?.['gangway.role']).toBe('edge');
    expect(edgeSpecHash(design)).toBe(edgeSpecHash({ ...design }));
    expect(edgeSpecHash({ ...design, imageRef: 'caddy:2.8' })).not.toBe(edgeSpecHash(design));
    expect(edgeSpecHash({ ...design, httpsPort: 8443 })).not.toBe(edgeSpecHash(design));
  });
});
