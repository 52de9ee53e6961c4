// Benchmark of the OCR app (not a test): raw recognition in-process vs POST /api/v1/ocr on the real server,
// throughput at concurrency 1/2/4 (autocannon, loopback only, bounded by time), cold start to ready, RSS;
// then the Redis queue (issue #19): APP_ROLE=all (in-process) against web + 1 worker and web + 2 workers
// through Debian's redis-server on loopback, in interleaved rounds of the same run, and the queue's overhead
// per job at p50 (same image, concurrency 1, sample by sample) against the target of <= 10 ms.
// Prints tables (with the time each phase took) and writes bench/results/app.json.
//   Run: npm run bench:app -w app   (BENCH_* variables below shorten it)
import { APP_FIGURES } from '../../app/test/readme-figures.ts';
import { writeBlock } from '../../test/support/readme-block.ts';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { OcrEngine } from '../../app/src/ocr/engine.ts';
import { resolveModelPaths } from '../../app/src/ocr/model-paths.ts';
import { decodeToRgb } from '../../app/src/ocr/raw-image.ts';
import { percentile } from '../../app/src/results-store.ts';
import { spawnServer, type ChildServer } from '../../app/test/child-server.ts';
import { REDIS_SERVER, redisMissing, startTestRedis } from '../../app/test/redis-server.ts';
import { renderTextImage } from '../../app/test/text-images.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 3);
const CONCURRENCY = [1, 2, 4];
const OCR_WORKERS = process.env.BENCH_OCR_WORKERS ?? '1';
const OCR_THREADS = process.env.BENCH_OCR_THREADS ?? '1';
// The queue phase: seconds per configuration per round, rounds, connections, overhead samples (pairs).
const QUEUE_SECONDS = Number(process.env.BENCH_QUEUE_SECONDS ?? 8);
const QUEUE_ROUNDS = Number(process.env.BENCH_QUEUE_ROUNDS ?? 3);
const QUEUE_CONCURRENCY = Number(process.env.BENCH_QUEUE_CONCURRENCY ?? 4);
const QUEUE_SAMPLES = Number(process.env.BENCH_QUEUE_SAMPLES ?? 40);
const QUEUE_MAX_REQUESTS = 1000; // per configuration per round, on top of the time bound
const QUEUE_TARGET_MS = 10;
const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results/app.json');

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50) ?? NaN, p95: percentile(sorted, 95) ?? NaN, mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, n: sorted.length };
};
const ms = (value: number) => `${value.toFixed(1)} ms`;
const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
};

const missing = redisMissing();
if (missing) throw new Error(`the queue phase needs Debian's redis-server on loopback: ${missing}`);
const phasesMs: Record<string, number> = {};
let phaseStarted = performance.now();
const endPhase = (name: string) => {
  phasesMs[name] = performance.now() - phaseStarted;
  phaseStarted = performance.now();
};

const image = await renderTextImage(['Gangway deploys containers', 'without downtime 2026'], 'DejaVu Sans', 32);
const png = image.png;

// 1. Cold start: spawn to /readyz 200, each on a fresh DATA_DIR.
const coldStarts: number[] = [];
for (let i = 0; i < COLD_STARTS; i++) {
  const server = await spawnServer({ OCR_WORKERS, OCR_THREADS });
  coldStarts.push(await server.waitReady(60_000));
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(server.dataDir, { recursive: true, force: true });
}
endPhase('cold starts');

// 2. Raw (the same pipeline in this process: no HTTP, queue, validation or database) and HTTP (the real
//    server, one request at a time), sample by sample in turn so that both see the same machine load.
const engine = await OcrEngine.load(resolveModelPaths(process.env.MODELS_DIR), { intraOpThreads: Number(OCR_THREADS) });
const rgb = await decodeToRgb(png, 50_000_000);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gangway-bench-'));
const server: ChildServer = await spawnServer({ OCR_WORKERS, OCR_THREADS, QUEUE_MAX_WAITING: '64' }, dataDir);
await server.waitReady(60_000);
const pid = server.child.pid!;
const rssIdleMb = rssMb(pid, 'VmRSS');
const post = () => fetch(`${server.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
for (let i = 0; i < 3; i++) {
  await engine.recognize(rgb);
  await (await post()).arrayBuffer();
}
const rawTotal: number[] = [];
const rawSession: number[] = [];
const rawDecodeAndRecognize: number[] = [];
const http: number[] = [];
const serverTotal: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const rawStarted = performance.now();
  const decoded = await decodeToRgb(png, 50_000_000);
  const output = await engine.recognize(decoded);
  rawDecodeAndRecognize.push(performance.now() - rawStarted);
  rawTotal.push(output.timings.detectMs + output.timings.recognizeMs);
  rawSession.push(output.timings.sessionRunMs);

  const started = performance.now();
  const response = await post();
  const body = (await response.json()) as { text: string; timings: { totalMs: number } };
  http.push(performance.now() - started);
  serverTotal.push(body.timings.totalMs);
  if (response.status !== 200 || !body.text.includes('Gangway')) throw new Error(`unexpected answer ${response.status}: ${JSON.stringify(body)}`);
}
await engine.release();
endPhase('raw vs HTTP, one at a time');

// 3. Throughput at several concurrencies (bounded by time; loopback only).
const throughput: { connections: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number; requests: number }[] = [];
for (const connections of CONCURRENCY) {
  const result = await autocannon({
    url: `${server.url}/api/v1/ocr`,
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: png,
    connections,
    duration: THROUGHPUT_SECONDS,
    timeout: 30,
  });
  throughput.push({
    connections,
    requestsPerSecond: result.requests.total / THROUGHPUT_SECONDS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    requests: result.requests.total,
  });
}
const rssPeakMb = rssMb(pid, 'VmHWM');
const rssAfterMb = rssMb(pid, 'VmRSS');
endPhase('throughput (autocannon)');

// 4. The queue. One Redis (as the lab's image: append-only file, fsync on every write), and two queues of
//    their own: web A + 1 worker, web B + 2 workers, all started now and kept up, so that the rounds can
//    interleave all / web+1 / web+2 with nothing starting in between. Every process: OCR_WORKERS as above.
interface LoadRun { requests: number; ok: number; failed: number; statuses: Record<string, number>; elapsedMs: number; requestsPerSecond: number; latencyMs: ReturnType<typeof summary> }
type OcrAnswer = { text?: string; timings?: { queueMs?: number; decodeMs?: number; detectMs?: number; recognizeMs?: number } };
/** The model's own work in a job (decode, detect, recognize), as the process that ran it measured it. */
const computeMsOf = (body: OcrAnswer) => (body.timings?.decodeMs ?? NaN) + (body.timings?.detectMs ?? NaN) + (body.timings?.recognizeMs ?? NaN);
const postTo = (url: string) =>
  fetch(`${url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' }, signal: AbortSignal.timeout(60_000) });
const latenciesOf = new Map<string, number[]>(); // every 200's latency, per URL, over the rounds
/** `connections` loops of POSTs, bounded by time (no request starts after `seconds`) and by count. Only 200 with the text counts. */
async function load(url: string, connections: number, seconds: number, maxRequests: number): Promise<LoadRun> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let requests = 0;
  const begin = performance.now();
  const deadline = begin + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline && requests < maxRequests) {
      requests++;
      const started = performance.now();
      let status: string;
      try {
        const response = await postTo(url);
        const body = (await response.json()) as OcrAnswer;
        status = response.status === 200 && !body.text?.includes('Gangway') ? '200 without the text' : String(response.status);
      } catch (error) {
        status = `error ${(error as Error).name}`;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === '200') latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsedMs = performance.now() - begin;
  latenciesOf.set(url, [...(latenciesOf.get(url) ?? []), ...latencies]);
  return { requests, ok: latencies.length, failed: requests - latencies.length, statuses, elapsedMs, requestsPerSecond: latencies.length / (elapsedMs / 1000), latencyMs: summary(latencies) };
}

const redis = await startTestRedis();
const redisVersion = /v=(\S+)/.exec(spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).stdout)?.[1];
const queueChildren: ChildServer[] = [];
const queueProcess = async (role: 'web' | 'worker', queueName: string) => {
  const child = await spawnServer({ APP_ROLE: role, QUEUE_URL: redis.url, QUEUE_NAME: queueName, OCR_WORKERS, OCR_THREADS, QUEUE_MAX_WAITING: '64' });
  queueChildren.push(child);
  return child;
};
const configurations = [
  { name: 'all', label: 'all (in-process, no Redis)', workers: 0, url: server.url },
  { name: 'web+1', label: 'web + 1 worker (Redis)', workers: 1, url: '' },
  { name: 'web+2', label: 'web + 2 workers (Redis)', workers: 2, url: '' },
];
const measureQueue = async () => {
  for (const configuration of configurations.filter((c) => c.workers > 0)) {
    const queueName = `bench-${process.pid}-${configuration.name.replace('+', '-')}`;
    const web = await queueProcess('web', queueName);
    configuration.url = web.url;
    for (let i = 0; i < configuration.workers; i++) await queueProcess('worker', queueName);
  }
  await Promise.all(queueChildren.map((child) => child.waitReady(180_000)));
  for (const configuration of configurations) {
    for (let i = 0; i < 3; i++) await (await postTo(configuration.url)).arrayBuffer();
  }
  endPhase('queue: Redis, 2 webs, 3 workers to ready');

  // Overhead per job: the same image at concurrency 1, in-process and through the queue (web + 1 worker),
  // sample by sample in turn (the first of each pair alternates) so that both see the same machine load.
  // Besides the whole latency, each sample's time outside the model's compute (latency − decode − detect −
  // recognize, as the process that ran the model measured them): the in-process path and the queue run the
  // same model code, but in `all` the model shares a process (and the 2 cores) with the HTTP side, so its
  // compute time differs between the paths; what the queue itself adds is the time outside it.
  const queued = configurations[1]!;
  const inProcessMs: number[] = [];
  const queuedMs: number[] = [];
  const inProcessOutsideMs: number[] = [];
  const queuedOutsideMs: number[] = [];
  const queuedWaitMs: number[] = [];
  const timeOne = async (url: string, into: number[], outside: number[]) => {
    const started = performance.now();
    const response = await postTo(url);
    const body = (await response.json()) as OcrAnswer;
    const elapsed = performance.now() - started;
    if (response.status !== 200 || !body.text?.includes('Gangway')) throw new Error(`unexpected answer from ${url} ${response.status}: ${JSON.stringify(body)}`);
    const compute = computeMsOf(body);
    if (!Number.isFinite(compute)) throw new Error(`the answer from ${url} lacks the model's timings: ${JSON.stringify(body.timings)}`);
    into.push(elapsed);
    outside.push(elapsed - compute);
    return body;
  };
  for (let i = 0; i < QUEUE_SAMPLES; i++) {
    if (i % 2 === 0) await timeOne(server.url, inProcessMs, inProcessOutsideMs);
    const body = await timeOne(queued.url, queuedMs, queuedOutsideMs);
    queuedWaitMs.push(body.timings?.queueMs ?? NaN);
    if (i % 2 === 1) await timeOne(server.url, inProcessMs, inProcessOutsideMs);
  }
  const inProcess = summary(inProcessMs);
  const throughQueue = summary(queuedMs);
  const inProcessOutside = summary(inProcessOutsideMs);
  const throughQueueOutside = summary(queuedOutsideMs);
  /**
   * What a job through the queue costs more than in-process, p50 against p50 of the whole latency: the
   * issue's measure, which the ≤ 10 ms target applies to. It includes the model running in a process of its own.
   */
  const overheadP50Ms = throughQueue.p50 - inProcess.p50;
  /** The queue's machinery alone: time outside the model's compute, p50 against p50 (reported beside it). */
  const machineryP50Ms = throughQueueOutside.p50 - inProcessOutside.p50;
  endPhase('queue: overhead per job, concurrency 1');

  // Throughput at a fixed concurrency, in rounds; the order of the three turns every round.
  const rounds: Record<string, LoadRun[]> = Object.fromEntries(configurations.map((c) => [c.name, []]));
  for (let round = 0; round < QUEUE_ROUNDS; round++) {
    for (let k = 0; k < configurations.length; k++) {
      const configuration = configurations[(round + k) % configurations.length]!;
      rounds[configuration.name]!.push(await load(configuration.url, QUEUE_CONCURRENCY, QUEUE_SECONDS, QUEUE_MAX_REQUESTS));
    }
  }
  endPhase(`queue: throughput, ${QUEUE_ROUNDS} rounds × 3 × ${QUEUE_SECONDS} s`);
  const combined = (runs: LoadRun[]) => {
    const ok = runs.reduce((n, r) => n + r.ok, 0);
    const elapsedMs = runs.reduce((n, r) => n + r.elapsedMs, 0);
    return { requestsPerSecond: ok / (elapsedMs / 1000), ok, failed: runs.reduce((n, r) => n + r.failed, 0), elapsedMs };
  };
  const allRps = combined(rounds.all!).requestsPerSecond;
  const queueThroughput = configurations.map((c) => {
    const runs = rounds[c.name]!;
    const total = combined(runs);
    return {
      configuration: c.name,
      label: c.label,
      workers: c.workers,
      ...total,
      ratioToAll: total.requestsPerSecond / allRps,
      // Each round's ratio to `all` of the same round: how steady the comparison is.
      ratioToAllPerRound: runs.map((r, i) => r.requestsPerSecond / rounds.all![i]!.requestsPerSecond),
      latencyMs: summary(latenciesOf.get(c.url) ?? []),
      rounds: runs,
    };
  });
  return {
    redis: { version: redisVersion, appendfsync: 'always', bind: '127.0.0.1' },
    ocrWorkersPerProcess: Number(OCR_WORKERS),
    concurrency: QUEUE_CONCURRENCY,
    secondsPerRound: QUEUE_SECONDS,
    rounds: QUEUE_ROUNDS,
    throughput: queueThroughput,
    overhead: {
      samples: QUEUE_SAMPLES,
      inProcessMs: inProcess,
      throughQueueMs: throughQueue,
      serverReportedWaitInQueueMs: summary(queuedWaitMs.filter((n) => Number.isFinite(n))),
      inProcessOutsideComputeMs: inProcessOutside,
      throughQueueOutsideComputeMs: throughQueueOutside,
      overheadP50Ms,
      machineryP50Ms,
      targetMs: QUEUE_TARGET_MS,
      meetsTarget: overheadP50Ms <= QUEUE_TARGET_MS,
    },
  };
};
let queueReport: Awaited<ReturnType<typeof measureQueue>>;
let queueExits: Array<{ code: number | null; signal: NodeJS.Signals | null }>;
try {
  queueReport = await measureQueue();
} catch (error) {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
  throw error;
} finally {
  for (const child of queueChildren) {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGTERM');
  }
  queueExits = await Promise.all(queueChildren.map((child) => child.exited));
  for (const child of queueChildren) rmSync(child.dataDir, { recursive: true, force: true });
  await redis.remove();
}
const queue = { ...queueReport, shutdownExits: queueExits };

server.child.kill('SIGTERM');
const exit = await server.exited;
rmSync(dataDir, { recursive: true, force: true });

const raw = summary(rawTotal);
const rawWithDecode = summary(rawDecodeAndRecognize);
const session = summary(rawSession);
const httpSummary = summary(http);
const report = {
  when: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  image: { width: rgb.width, height: rgb.height, bytes: png.length, lines: 2 },
  ocrWorkers: Number(OCR_WORKERS),
  ocrThreads: Number(OCR_THREADS),
  loadAverage: os.loadavg(),
  samples: SAMPLES,
  rawRecognitionMs: raw,
  rawDecodeAndRecognitionMs: rawWithDecode,
  rawSessionRunMs: session,
  httpLatencyMs: httpSummary,
  serverReportedTotalMs: summary(serverTotal),
  overheadRatioP50: httpSummary.p50 / raw.p50 - 1,
  overheadRatioP50VsDecodeAndRecognition: httpSummary.p50 / rawWithDecode.p50 - 1,
  coldStartToReadyMs: summary(coldStarts),
  throughput,
  rssMb: { idleAfterReady: rssIdleMb, afterLoad: rssAfterMb, peak: rssPeakMb },
  shutdownExit: exit,
  queue,
  phasesMs,
};

console.log('\nGangway app benchmark (%s, %d cores, Node %s; OCR_WORKERS=%s OCR_THREADS=%s; load average %s)', report.machine.model, report.machine.cpus, process.version, OCR_WORKERS, OCR_THREADS, os.loadavg().map((n) => n.toFixed(1)).join(' '));
console.table({
  'raw: detect + recognize (engine.recognize)': { p50: ms(raw.p50), p95: ms(raw.p95) },
  'raw: InferenceSession.run only': { p50: ms(session.p50), p95: ms(session.p95) },
  'raw: decode + detect + recognize': { p50: ms(rawWithDecode.p50), p95: ms(rawWithDecode.p95) },
  'HTTP POST /api/v1/ocr (client-side)': { p50: ms(httpSummary.p50), p95: ms(httpSummary.p95) },
});
console.log(
  `overhead at p50: ${(report.overheadRatioP50 * 100).toFixed(1)}% over detect+recognize, ` +
    `${(report.overheadRatioP50VsDecodeAndRecognition * 100).toFixed(1)}% over decode+detect+recognize`,
);
console.table(
  Object.fromEntries(
    throughput.map((row) => [
      `concurrency ${row.connections}`,
      { 'req/s': row.requestsPerSecond.toFixed(2), p50: `${row.p50Ms} ms`, p99: `${row.p99Ms} ms`, requests: row.requests, 'non-2xx': row.non2xx, errors: row.errors },
    ]),
  ),
);
console.table({
  'cold start to ready': { value: `${ms(report.coldStartToReadyMs.p50)} median of ${COLD_STARTS} (max ${ms(Math.max(...coldStarts))})` },
  'RSS idle after ready': { value: `${rssIdleMb.toFixed(0)} MB` },
  'RSS peak under load': { value: `${rssPeakMb.toFixed(0)} MB` },
  'exit on SIGTERM': { value: JSON.stringify(exit) },
});
console.log(
  `\nThe queue: APP_ROLE=all against web + workers through Redis ${queue.redis.version ?? ''} (loopback, appendfsync always), ` +
    `OCR_WORKERS=${OCR_WORKERS} per process, concurrency ${queue.concurrency}, ${queue.rounds} interleaved rounds of ${queue.secondsPerRound} s each`,
);
console.table(
  Object.fromEntries(
    queue.throughput.map((row) => [
      row.label,
      {
        'req/s': row.requestsPerSecond.toFixed(2),
        '× all': row.ratioToAll.toFixed(2),
        '× all per round': row.ratioToAllPerRound.map((r) => r.toFixed(2)).join(' '),
        p50: ms(row.latencyMs.p50),
        p95: ms(row.latencyMs.p95),
        ok: row.ok,
        failed: row.failed,
      },
    ]),
  ),
);
const overhead = queue.overhead;
console.table({
  'in-process (all), concurrency 1': { p50: ms(overhead.inProcessMs.p50), p95: ms(overhead.inProcessMs.p95), n: overhead.inProcessMs.n },
  'through Redis (web + 1 worker), concurrency 1': { p50: ms(overhead.throughQueueMs.p50), p95: ms(overhead.throughQueueMs.p95), n: overhead.throughQueueMs.n },
  '  of which waiting in Redis for the worker (server-reported)': { p50: ms(overhead.serverReportedWaitInQueueMs.p50), p95: ms(overhead.serverReportedWaitInQueueMs.p95), n: overhead.serverReportedWaitInQueueMs.n },
  'in-process, outside the model (latency − decode − detect − recognize)': { p50: ms(overhead.inProcessOutsideComputeMs.p50), p95: ms(overhead.inProcessOutsideComputeMs.p95), n: overhead.inProcessOutsideComputeMs.n },
  'through Redis, outside the model': { p50: ms(overhead.throughQueueOutsideComputeMs.p50), p95: ms(overhead.throughQueueOutsideComputeMs.p95), n: overhead.throughQueueOutsideComputeMs.n },
});
console.log(
  `queue overhead per job at p50 (whole latency through Redis − in-process): ${overhead.overheadP50Ms.toFixed(1)} ms (target ≤ ${overhead.targetMs} ms: ${overhead.meetsTarget ? 'met' : 'MISSED'}); ` +
    `the queue's machinery alone (outside the model): ${overhead.machineryP50Ms.toFixed(1)} ms; ` +
    `queue processes exit on SIGTERM: ${JSON.stringify(queue.shutdownExits.map((e) => e.code))}`,
);
console.table(Object.fromEntries(Object.entries(phasesMs).map(([phase, took]) => [phase, { took: `${(took / 1000).toFixed(1)} s` }])));
mkdirSync(path.dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), RESULTS)}`);
// The README's figures come from this JSON, never by hand.
console.log(writeBlock(APP_FIGURES));
