// Action start to first SSH byte: the deploy-ssh bundle started the way the runner starts it
// (`node dist/index.js` with INPUT_* variables), against a loopback listener that records when
// the client's first byte (its SSH identification line) arrives and then hangs up. The clock starts
// as the harness's RunnerJob starts the step (its own set-up, a few ms of file writes, counts
// against the action). Beside it, in the same rounds, bare node opening a TCP connection and writing
// one byte: the floor.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { RunnerJob } from '../../packages/harness/src/index.ts';
import type { FirstByte } from './readme-figures.ts';


const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : Math.round(((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2);
};

/** Resolves with ms from now until `server` sees its next first byte, once `start` has run. */
async function timeToFirstByte(server: net.Server, start: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  const byte = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no byte within 10 s')), 10_000);
    server.once('byte', () => {
      clearTimeout(timer);
      resolve(Math.round(performance.now() - started));
    });
  });
  const [ms] = await Promise.all([byte, start()]);
  return ms;
}

function bareNode(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `require('node:net').connect(${port}, '127.0.0.1', function () { this.end('x') })`], { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bare node exited ${code}`))));
  });
}

export async function measureFirstByte(o: { actionDir: string; inputs: Record<string, string>; rounds: number }): Promise<FirstByte> {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      server.emit('byte');
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const inputs = { ...o.inputs, host: `127.0.0.1:${port}`, 'connect-timeout': '2s', 'connect-attempts': '1' };
  const action = async (): Promise<void> => {
    const job = new RunnerJob();
    try {
      // The listener hangs up after the first byte: the step then fails to connect, as it should.
      await job.main(o.actionDir, { inputs, timeoutMs: 60_000 });
    } finally {
      job.cleanup();
    }
  };
  const result: FirstByte = { rounds: o.rounds, actionMs: 0, bareNodeMs: 0, action: [], bareNode: [] };
  try {
    // One of each first, not counted: the file cache.
    await timeToFirstByte(server, action);
    await timeToFirstByte(server, () => bareNode(port));
    for (let i = 0; i < o.rounds; i++) {
      result.action.push(await timeToFirstByte(server, action));
      result.bareNode.push(await timeToFirstByte(server, () => bareNode(port)));
    }
  } finally {
    server.close();
  }
  result.actionMs = median(result.action);
  result.bareNodeMs = median(result.bareNode);
  return result;
}
