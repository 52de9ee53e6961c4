// The TCP probe of `check-host`: the tunnel counts as useful only when that port accepts.
import net from 'node:net';
import { errorMessage, sleep, type HostPort } from '@gangway/kit';

export interface ProbeResult {
  ok: boolean;
  ms: number;
  attempts: number;
  error?: string;
}

function connectOnce(target: HostPort, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
  });
}

/** Tries until a connection is accepted or `timeoutMs` is spent (routes may settle a moment after CONNECTED). */
export async function probeTcp(target: HostPort, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    signal?.throwIfAborted();
    attempts++;
    const left = deadline - Date.now();
    let last: string;
    try {
      await connectOnce(target, Math.max(200, Math.min(left, 3000)));
      return { ok: true, ms: Math.round(performance.now() - started), attempts };
    } catch (error) {
      last = errorMessage(error);
    }
    if (Date.now() + 250 >= deadline) return { ok: false, ms: Math.round(performance.now() - started), attempts, error: last };
    await sleep(250, signal);
  }
}
