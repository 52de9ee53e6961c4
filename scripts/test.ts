// `npm test`: everything that proves Gangway, in one command.
//   typecheck → lint → unit tests (dist freshness included) → lab up → lab tests
//   (integration, end-to-end) → lab down. The lab comes up in the background while the
//   fast checks run. Under CI=true the lab tests always run: no root, no lab → failure, and a
//   lab test that is skipped (or todo) fails the run, named (scripts/test-report.ts).
//
//   npm test                 everything
//   npm test -- --unit       typecheck, lint, unit tests only (no lab)
//   npm test -- --lab        lab tests only
//   npm test -- --keep-lab   leave the lab up afterwards
//   npm test -- <filter>     passed to vitest (file name filters)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './actions.ts';
import { describeFailures, describeNotRun, skippedUnderCi, summarizeReport, type VitestJsonReport } from './test-report.ts';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** Tests that ran (passed or failed), over every project. */
  ran: number;
}

const args = process.argv.slice(2);
const onlyUnit = args.includes('--unit');
const onlyLab = args.includes('--lab');
const keepLab = args.includes('--keep-lab') || process.env.GANGWAY_KEEP_LAB === '1';
const filters = args.filter((a) => !a.startsWith('--'));
const ci = process.env.CI === 'true' || process.env.CI === '1';
const node = process.execPath;
const bin = (name: string): string => path.join(repoRoot, 'node_modules', '.bin', name);

const timings: Array<[string, number, string]> = [];
/** Lab tests that did not run under CI=true: each fails the run, and is named again at the end. */
const skippedInCi: string[] = [];
/** Every failed test, by project: named again at the end, where the tail of a long log shows them. */
const failures: string[] = [];

// Every test file's secret sweep (test/setup/secret-sweep.ts) appends a line here; summed at the end.
const sweepLog = path.join(mkdtempSync(path.join(tmpdir(), 'gangway-sweep-')), 'sweep.jsonl');
process.env.GANGWAY_SECRET_SWEEP_LOG = sweepLog;

function sweepTotals(): string {
  if (!existsSync(sweepLog)) return 'secret sweep: no action runs';
  const lines = readFileSync(sweepLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { runs: number; leaks: number });
  const runs = lines.reduce((n, l) => n + l.runs, 0);
  const leaks = lines.reduce((n, l) => n + l.leaks, 0);
  return `secret sweep: ${runs} action runs in ${lines.length} test files, ${leaks} leaks`;
}

function run(cmd: string, cmdArgs: string[], options: { quiet?: boolean; logFile?: string } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let output = '';
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (!options.quiet) process.stdout.write(d);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function stage(name: string, fn: () => Promise<boolean>): Promise<boolean> {
  console.log(`\n━━ ${name}`);
  const started = performance.now();
  const ok = await fn();
  const secs = (performance.now() - started) / 1000;
  timings.push([name, secs, ok ? 'ok' : 'FAILED']);
  console.log(`━━ ${name}: ${ok ? 'ok' : 'FAILED'} in ${secs.toFixed(1)} s`);
  return ok;
}

async function vitest(project: string, counts: Counts): Promise<boolean> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gangway-vitest-'));
  const json = path.join(dir, 'report.json');
  // With file filters, a project may rightly hold no matching file (the filter names a file of the other
  // project); main() then fails the run if no project ran a test. Without filters, an empty project fails.
  const passWithNoTests = filters.length > 0 ? ['--passWithNoTests'] : [];
  try {
    const { code } = await run(node, [bin('vitest'), 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${json}`, ...passWithNoTests, ...filters]);
    let ok = code === 0;
    if (existsSync(json)) {
      const summary = summarizeReport(JSON.parse(readFileSync(json, 'utf8')) as VitestJsonReport, repoRoot);
      for (const line of describeNotRun(summary, project)) console.log(line);
      failures.push(...describeFailures(summary, project));
      const forbidden = skippedUnderCi(summary, { project, ci });
      counts.passed += summary.passed;
      counts.ran += summary.passed + summary.failed;
      counts.failed += summary.failed + (summary.failed === 0 && code !== 0 ? 1 : 0);
      counts.skipped += summary.skipped - forbidden.length;
      if (forbidden.length > 0) {
        console.error(`\nCI=true: ${forbidden.length} ${project} test(s) did not run, and under CI nothing in the lab may be skipped:`);
        for (const line of forbidden) console.error(`  ${line}`);
        skippedInCi.push(...forbidden);
        counts.failed += forbidden.length;
        ok = false;
      }
    } else if (code !== 0) {
      counts.failed += 1;
    }
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function labStatus(): Promise<'up' | 'down' | 'half-up'> {
  const { code } = await run(node, ['lab/src/cli.ts', 'status'], { quiet: true });
  return code === 0 ? 'up' : code === 3 ? 'down' : 'half-up';
}

async function main(): Promise<number> {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0, ran: 0 };
  let ok = true;
  const wantLab = !onlyUnit;
  const isRoot = process.getuid?.() === 0;
  if (wantLab && !isRoot) {
    const message = 'The lab tests need root (network namespaces, dockerd, sshd, OpenVPN).';
    if (ci) {
      console.error(`${message} CI=true, so they cannot be skipped: run as root.`);
      return 1;
    }
    console.error(`${message} Run as root, or \`npm test -- --unit\` for the rest.`);
    return 1;
  }

  // Start the lab early: it is mostly waiting on disk and daemons while the checks use the CPU.
  let labWasUp = false;
  let labUp: Promise<{ code: number; output: string }> | undefined;
  let labStarted = 0;
  let labFinished = 0;
  if (wantLab) {
    labWasUp = (await labStatus()) === 'up';
    labStarted = performance.now();
    labUp = run(node, ['lab/src/cli.ts', 'up'], { quiet: true }).then((result) => {
      labFinished = performance.now();
      return result;
    });
  }

  try {
    if (!onlyLab) {
      ok = (await stage('typecheck', async () => (await run(node, [bin('tsc'), '-p', 'tsconfig.json', '--noEmit'])).code === 0)) && ok;
      ok = (await stage('lint', async () => (await run(node, [bin('eslint'), '.'])).code === 0)) && ok;
      ok = (await stage('unit tests', () => vitest('unit', counts))) && ok;
    }
    if (labUp) {
      const labOk = await stage('lab up', async () => {
        const result = await labUp;
        process.stdout.write(result.output);
        timings.push(['  (lab up, in the background)', (labFinished - labStarted) / 1000, result.code === 0 ? 'ok' : 'FAILED']);
        return result.code === 0;
      });
      if (!labOk) {
        counts.failed += 1;
        ok = false;
      } else {
        ok = (await stage('lab tests', () => vitest('lab', counts))) && ok;
      }
    }
  } finally {
    if (labUp && !labWasUp && !keepLab) {
      await stage('lab down', async () => (await run(node, ['lab/src/cli.ts', 'down'])).code === 0);
    }
  }

  if (filters.length > 0 && counts.ran === 0 && counts.failed === 0) {
    console.error(`\nNo test matched ${filters.map((f) => `"${f}"`).join(' ')}: nothing was proven.`);
    ok = false;
  }

  console.log('\nstage                         seconds  result');
  for (const [name, secs, result] of timings) console.log(`${name.padEnd(30)}${secs.toFixed(1).padStart(7)}  ${result}`);
  console.log(`\n${sweepTotals()}`);
  if (skippedInCi.length > 0) {
    console.log(`\nCI=true, so these lab tests count as failed because they did not run:`);
    for (const line of skippedInCi) console.log(`  ${line}`);
  }
  if (failures.length > 0) {
    console.log(`\nFailed:`);
    for (const line of failures) console.log(`  ${line}`);
  }
  console.log(`\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  return ok && counts.failed === 0 ? 0 : 1;
}

process.exit(await main());
