// Benchmark of the OCR app (not a test): raw recognition in-process vs POST /api/v1/ocr on the real server,
// throughput at concurrency 1/2/4 (autocannon, loopback only, bounded by time), cold start to ready, RSS.
// Prints a table and writes bench/results/app.json.   Run: npm run bench:app -w app
import { README, wantedReadme } from '../../app/test/readme-figures.ts';
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
import { renderTextImage } from '../../app/test/text-images.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 3);
const CONCURRENCY = [1, 2, 4];
const OCR_WORKERS = process.env.BENCH_OCR_WORKERS ?? '1';
const OCR_THREADS = process.env.BENCH_OCR_THREADS ?? '1';
const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results/app.json');

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50)!, p95: percentile(sorted, 95)!, mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, n: sorted.length };
};
const ms = (value: number) => `${value.toFixed(1)} ms`;
const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
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
mkdirSync(path.dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), RESULTS)}`);
// The README's figures come from this JSON, never by hand.
const { current, wanted } = wantedReadme();
if (wanted !== current) writeFileSync(README, wanted);
console.log(wanted === current ? 'app/README.md figures already match' : 'rewrote the figures in app/README.md from it');
