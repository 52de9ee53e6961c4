// The measured figures in app/README.md, generated from the committed benchmark results, so the README
// cannot drift from them: bench/results/app.json (npm run bench:app) and the image size from
// bench/results/build.json (the action-build benchmark builds app/Dockerfile).
//   node app/test/readme-figures.ts          rewrite the block between the markers
//   node app/test/readme-figures.ts --check  fail when the README's block differs from the JSON
// readme-figures.test.ts runs the check with the unit tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { blockCommand, REPO_ROOT, withBlock, type FiguresBlock } from '../../test/support/readme-block.ts';

export const README = path.join(REPO_ROOT, 'app/README.md');
export const APP_RESULTS = path.join(REPO_ROOT, 'bench/results/app.json');
export const BUILD_RESULTS = path.join(REPO_ROOT, 'bench/results/build.json');

interface Summary {
  p50: number;
  p95: number;
  mean: number;
  n: number;
}

/** The part of bench/results/app.json the README shows. */
export interface AppBenchResults {
  when: string;
  machine: { cpus: number; model?: string; node: string };
  image: { width: number; height: number; bytes: number; lines: number };
  ocrWorkers: number;
  ocrThreads: number;
  loadAverage: number[];
  samples: number;
  rawRecognitionMs: Summary;
  rawDecodeAndRecognitionMs: Summary;
  httpLatencyMs: Summary;
  overheadRatioP50: number;
  overheadRatioP50VsDecodeAndRecognition: number;
  coldStartToReadyMs: Summary;
  throughput: { connections: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number; requests: number }[];
  rssMb: { idleAfterReady: number; afterLoad: number; peak: number };
  /** The Redis queue (APP_ROLE=web + worker) beside APP_ROLE=all, in the same run. */
  queue?: {
    concurrency: number;
    rounds: number;
    secondsPerRound: number;
    throughput: { configuration: string; label: string; requestsPerSecond: number; ratioToAll: number; failed: number }[];
    overhead: {
      samples: number;
      serverReportedWaitInQueueMs: Summary;
      overheadP50Ms: number;
      machineryP50Ms: number;
      targetMs: number;
      meetsTarget: boolean;
    };
  };
}

/** The part of bench/results/build.json the README shows. */
export interface BuildBenchResults {
  at: string;
  sizeBytes: number;
}

const percent = (ratio: number): string => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
const ms = (value: number): string => `${Math.round(value)} ms`;

function queueRows(app: AppBenchResults): Array<[string, string]> {
  const queue = app.queue;
  if (!queue) return [];
  const signed = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(1)} ms`;
  const throughput = queue.throughput
    .filter((row) => row.configuration !== 'all')
    .map((row) => `${row.label}: ${row.requestsPerSecond.toFixed(2)} req/s, ×${row.ratioToAll.toFixed(2)} of \`all\``)
    .join('; ');
  const failed = queue.throughput.reduce((n, row) => n + row.failed, 0);
  const o = queue.overhead;
  return [
    [`queue throughput (Redis), concurrency ${queue.concurrency}`, `${throughput}; ${queue.rounds} interleaved rounds of ${queue.secondsPerRound} s; ${failed === 0 ? 'no errors' : `${failed} failed`}`],
    [
      'queue overhead per job, p50',
      `${signed(o.overheadP50Ms)} against in-process, whole latency (target ≤ ${o.targetMs} ms: ${o.meetsTarget ? 'met' : 'missed'}); the queue's machinery alone (time outside the model's compute) ${signed(o.machineryP50Ms)}, offset by the model running in a process of its own; wait in Redis p50 ${ms(o.serverReportedWaitInQueueMs.p50)}; ${o.samples} samples each`,
    ],
  ];
}

/** The Markdown between the `bench-figures` markers. */
export function renderBenchFigures(app: AppBenchResults, build: BuildBenchResults): string {
  const load = app.loadAverage.map((n) => n.toFixed(1)).join(' ');
  const throughput = app.throughput
    .map((row) => `${row.requestsPerSecond.toFixed(1)} req/s at concurrency ${row.connections} (p50 ${ms(row.p50Ms)})`)
    .join(', ');
  const failures = app.throughput.reduce((n, row) => n + row.non2xx + row.errors, 0);
  const rows: Array<[string, string]> = [
    ['HTTP p50 over in-process decode + detect + recognize', `${percent(app.overheadRatioP50VsDecodeAndRecognition)} (${percent(app.overheadRatioP50)} over detect + recognize alone); ${ms(app.httpLatencyMs.p50)} vs ${ms(app.rawDecodeAndRecognitionMs.p50)}, ${app.samples} samples`],
    ['cold start to `/readyz` 200', `${(app.coldStartToReadyMs.p50 / 1000).toFixed(2)} s median of ${app.coldStartToReadyMs.n}`],
    [`throughput, \`OCR_WORKERS=${app.ocrWorkers}\``, `${throughput}; ${failures === 0 ? 'no errors' : `${failures} errors or non-2xx`}`],
    ['RSS', `${Math.round(app.rssMb.idleAfterReady)} MB idle after ready, ${Math.round(app.rssMb.peak)} MB peak under load`],
    ...queueRows(app),
    ['image', `${(build.sizeBytes / 1e6).toFixed(0)} MB (\`bench/results/build.json\`, ${build.at.slice(0, 10)})`],
  ];
  return [
    `Measured by \`npm run bench:app\` on ${app.when.slice(0, 10)} (${app.machine.cpus} cores${app.machine.model ? `, ${app.machine.model}` : ''}, Node ${app.machine.node.replace(/^v/, '')}, load average ${load}; a ${app.image.width}×${app.image.height} ${app.image.lines}-line PNG, \`OCR_WORKERS=${app.ocrWorkers}\`, \`OCR_THREADS=${app.ocrThreads}\`). Generated from [\`bench/results/app.json\`](../bench/results/app.json) by \`node app/test/readme-figures.ts\`; a unit test fails when they differ.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    ...rows.map(([figure, value]) => `| ${figure} | ${value} |`),
  ].join('\n');
}

/** The README with its figures block replaced; throws when the markers are missing. */
export function withBenchFigures(readme: string, figures: string): string {
  return withBlock(readme, 'bench-figures', figures, 'app/README.md');
}

export const APP_FIGURES: FiguresBlock = {
  readme: README,
  marker: 'bench-figures',
  render: () => renderBenchFigures(JSON.parse(readFileSync(APP_RESULTS, 'utf8')) as AppBenchResults, JSON.parse(readFileSync(BUILD_RESULTS, 'utf8')) as BuildBenchResults),
  command: 'node app/test/readme-figures.ts',
};

if (import.meta.filename === process.argv[1]) blockCommand(APP_FIGURES);
