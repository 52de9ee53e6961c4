// The steady load (load.ts) as a process of its own, for running it where the test process
// cannot be: inside a lab namespace (`nsenter --net=/var/run/netns/NAME node load-cli.ts ...`),
// to watch a service from the server's side while the network to it is the fault.
// Runs until SIGTERM or --ms, then prints the samples' summary as one JSON line.
import { parseArgs } from 'node:util';
import { startLoad, summarize } from './load.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    path: { type: 'string', default: '/version' },
    // The Host header: a name the shared edge routes (--host stays the address dialled).
    hostname: { type: 'string' },
    rate: { type: 'string', default: '40' },
    clients: { type: 'string', default: '4' },
    ms: { type: 'string', default: '120000' },
  },
});
if (!values.host || !values.port) throw new Error('load-cli: --host and --port are required');
const run = startLoad({ host: values.host, port: Number(values.port), path: values.path, rate: Number(values.rate), clients: Number(values.clients), maxMs: Number(values.ms), ...(values.hostname ? { hostname: values.hostname } : {}) });
let done = false;
const finish = async (): Promise<void> => {
  if (done) return;
  done = true;
  const samples = await run.stop();
  process.stdout.write(`${JSON.stringify({ summary: summarize(samples), failures: samples.filter((s) => s.error).map((s) => ({ at: Math.round(s.at), error: s.error })) })}\n`);
  process.exit(0);
};
process.on('SIGTERM', () => void finish());
setTimeout(() => void finish(), Number(values.ms) + 1000);
console.error(`load-cli: ${values.rate} req/s against ${values.host}:${values.port}${values.path}${values.hostname ? ` (Host: ${values.hostname})` : ''}`);
