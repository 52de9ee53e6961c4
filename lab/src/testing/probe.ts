// For lab tests: one TCP connect with a hard bound, to tell open from refused, unreachable or silent.
import net from 'node:net';

export type Probe = 'open' | 'refused' | 'unreachable' | 'timeout' | 'error';

/** One TCP connect with a hard bound: the answer is how it ended. */
export function tcpProbe(host: string, port: number, timeoutMs = 2000): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (r: Probe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (e: NodeJS.ErrnoException) =>
      done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? 'unreachable' : 'error'),
    );
  });
}
