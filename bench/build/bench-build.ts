// Benchmark of action-build's registry cache (not a test): a cold build of the app image (runner engine,
// no-cache) against an unchanged rebuild in a fresh runner engine (empty data root) that imports the
// BuildKit inline cache from the registry (cache-from). Both run the dist bundle through the runner
// harness. Prints a table and writes bench/results/build.json.   Run: npm run bench -w action-build
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { RunnerJob, type ActionRun } from '../../packages/harness/src/index.ts';
import { readLabState } from '../../lab/src/state.ts';
import { ACTION_DIR, snapshotAppContext } from '../../action-build/test/lab-access.ts';
import { copyImage, startFreshEngine } from '../../action-build/test/fresh-engine.ts';

const REBUILDS = Number(process.env['BENCH_REBUILDS'] ?? 3);
const RESULTS = path.resolve(import.meta.dirname, '../results/build.json');
const lab = readLabState();
const repo = `${lab.registry.host}/gangway-test/build-bench`;
const runner = new Docker({ socketPath: lab.runner.socket });
// One frozen copy of the context for every run: the checkout may change while the benchmark runs.
const context = snapshotAppContext();
process.on('exit', () => context.remove());

interface Report {
  durationMs: number;
  sizeBytes: number;
  cachedSteps: number;
  totalSteps: number;
  phases: Array<{ phase: string; ms: number }>;
}

async function buildOnce(dockerHost: string, extra: Record<string, string | boolean>): Promise<{ run: ActionRun; report: Report }> {
  const job = new RunnerJob({ github: { ref: 'refs/heads/main', eventName: 'push', event: { repository: { default_branch: 'main' } } }, workspace: context.dir });
  try {
    const run = await job.main(ACTION_DIR, {
      inputs: {
        image: repo,
        file: 'app/Dockerfile',
        'registry-username': lab.registry.username,
        'registry-password': lab.registry.password,
        'docker-host': dockerHost,
        ...extra,
      },
      timeoutMs: 1_200_000,
    });
    if (run.exitCode !== 0) throw new Error(`build failed:\n${run.log.split('\n').slice(-40).join('\n')}`);
    return { run, report: JSON.parse(run.outputs['report'] ?? '{}') as Report };
  } finally {
    job.cleanup();
  }
}

const phase = (r: Report, name: string): number => r.phases.find((p) => p.phase === name)?.ms ?? 0;

// Cold: a fresh engine with its own bridge (npm ci reaches the registry), empty build cache and
// empty npm cache mount; it pushes, so the rebuilds below import exactly its inline cache.
console.log(`cold build of app/Dockerfile in a fresh engine with network (empty cache, push to ${repo})…`);
const coldEngine = await startFreshEngine({ network: true });
let cold: Awaited<ReturnType<typeof buildOnce>>;
try {
  await copyImage(runner, coldEngine.docker, 'node:24-bookworm-slim');
  cold = await buildOnce(coldEngine.dockerHost, { 'cache-from': 'none', tags: `bench-${randomBytes(3).toString('hex')}` });
} finally {
  await coldEngine.stop();
}
console.log(`lukewarm build on the lab runner engine (no-cache; its npm cache mount stays warm)…`);
const lukewarm = await buildOnce(lab.runner.dockerHost, { 'no-cache': true, push: false });

const rebuilds: Array<{ report: Report; wallMs: number; engineStartMs: number; baseLoadMs: number }> = [];
for (let i = 0; i < REBUILDS; i++) {
  console.log(`rebuild ${i + 1}/${REBUILDS} in a fresh engine with cache-from…`);
  const t0 = performance.now();
  const fresh = await startFreshEngine();
  const engineStartMs = performance.now() - t0;
  try {
    const t1 = performance.now();
    await copyImage(runner, fresh.docker, 'node:24-bookworm-slim');
    const baseLoadMs = performance.now() - t1;
    const { run, report } = await buildOnce(fresh.dockerHost, { push: false });
    rebuilds.push({ report, wallMs: run.durationMs, engineStartMs, baseLoadMs });
  } finally {
    await fresh.stop();
  }
}

const coldBuild = phase(cold.report, 'build');
const rows = [
  ['cold build (fresh engine, empty caches)', cold.report, coldBuild, cold.run.durationMs] as const,
  ['runner engine, no-cache (npm cache warm)', lukewarm.report, phase(lukewarm.report, 'build'), lukewarm.run.durationMs] as const,
  ...rebuilds.map((r, i) => [`rebuild ${i + 1} (fresh engine, cache-from)`, r.report, phase(r.report, 'build'), r.wallMs] as const),
];
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
console.log('');
console.log(['run'.padEnd(40), 'build'.padStart(9), 'action'.padStart(9), 'step'.padStart(9), 'cached'.padStart(8), 'ratio'.padStart(7)].join(' '));
for (const [name, report, build, wall] of rows) {
  console.log([name.padEnd(40), s(build).padStart(9), s(report.durationMs).padStart(9), s(wall).padStart(9), `${report.cachedSteps}/${report.totalSteps}`.padStart(8), (build / coldBuild).toFixed(2).padStart(7)].join(' '));
}
const ratios = rebuilds.map((r) => phase(r.report, 'build') / coldBuild);
const best = Math.min(...ratios);
const sorted = [...ratios].sort((a, b) => a - b);
const mid = Math.floor(sorted.length / 2);
const median = sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
console.log('');
console.log(`image size ${(cold.report.sizeBytes / 1024 / 1024).toFixed(1)} MiB; rebuild/cold build-time ratio: median ${median.toFixed(2)}, best ${best.toFixed(2)} (target <= 0.25); against the lukewarm build: ${((median * coldBuild) / phase(lukewarm.report, 'build')).toFixed(2)}`);

mkdirSync(path.dirname(RESULTS), { recursive: true });
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      benchmark: 'action-build registry cache',
      at: new Date().toISOString(),
      image: repo,
      sizeBytes: cold.report.sizeBytes,
      cold: { buildMs: coldBuild, actionMs: cold.report.durationMs, stepMs: cold.run.durationMs, cachedSteps: cold.report.cachedSteps, totalSteps: cold.report.totalSteps, note: 'fresh engine with its own bridge: empty build cache, empty npm cache mount, base image loaded' },
      lukewarm: { buildMs: phase(lukewarm.report, 'build'), note: 'lab runner engine with no-cache: no layer reused, but its npm cache mount is warm' },
      rebuilds: rebuilds.map((r) => ({ buildMs: phase(r.report, 'build'), actionMs: r.report.durationMs, stepMs: r.wallMs, cachedSteps: r.report.cachedSteps, totalSteps: r.report.totalSteps, engineStartMs: Math.round(r.engineStartMs), baseImageLoadMs: Math.round(r.baseLoadMs) })),
      ratio: { median, best, target: 0.25, basis: 'build phase of the action, rebuild / cold', versusLukewarm: median * coldBuild / phase(lukewarm.report, 'build') },
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${path.relative(process.cwd(), RESULTS)}`);
