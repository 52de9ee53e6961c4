// Reads vitest's JSON report for `npm test` (scripts/test.ts): the counts, every test that did not run
// (skipped, pending, todo) by name, and the files that failed before any test ran. Under CI=true a lab
// test that did not run fails the run, named: a lab suite must never pass by skipping.
import path from 'node:path';

/** The part of vitest's JSON reporter output (jest-compatible) that `npm test` reads. */
export interface VitestJsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  testResults?: {
    name: string;
    status: string;
    message?: string;
    assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

export interface NotRun {
  /** Repository-relative test file. */
  file: string;
  fullName: string;
  /** vitest's status: skipped, pending or todo. */
  status: string;
}

export interface ReportSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** Every test that was collected but did not run. */
  notRun: NotRun[];
  /** Files that failed with no failing test in them (an error while collecting, a failing hook), with the error. */
  failedFiles: { file: string; message: string }[];
  /** Every test that failed, with its error. */
  failedTests: { file: string; fullName: string; message: string }[];
}

const NOT_RUN = new Set(['skipped', 'pending', 'todo', 'disabled']);

export function summarizeReport(report: VitestJsonReport, root: string): ReportSummary {
  const notRun: NotRun[] = [];
  const failedFiles: ReportSummary['failedFiles'] = [];
  const failedTests: ReportSummary['failedTests'] = [];
  for (const file of report.testResults ?? []) {
    const relative = path.isAbsolute(file.name) ? path.relative(root, file.name) : file.name;
    const assertions = file.assertionResults ?? [];
    for (const test of assertions) {
      if (NOT_RUN.has(test.status)) notRun.push({ file: relative, fullName: test.fullName, status: test.status });
      if (test.status === 'failed') failedTests.push({ file: relative, fullName: test.fullName, message: (test.failureMessages ?? []).join('\n').trim() });
    }
    if (file.status === 'failed' && !assertions.some((test) => test.status === 'failed')) {
      failedFiles.push({ file: relative, message: (file.message ?? '').trim() || 'failed with no test failing (see the output above)' });
    }
  }
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + failedFiles.length,
    skipped: report.numPendingTests + report.numTodoTests,
    notRun,
    failedFiles,
    failedTests,
  };
}

/**
 * Why the run must fail because tests did not run, one line each; empty when nothing forbids it.
 * Under CI=true the lab project may skip nothing: every test there proves something on real parts,
 * and a skipped one proves nothing while the run still looks green.
 */
export function skippedUnderCi(summary: ReportSummary, options: { project: string; ci: boolean }): string[] {
  if (!options.ci || options.project !== 'lab') return [];
  return summary.notRun.map((test) => `${test.file} > ${test.fullName} (${test.status})`);
}

/** The lines `npm test` prints about a project's tests that did not run, and about files that failed without a failing test. */
export function describeNotRun(summary: ReportSummary, project: string): string[] {
  const lines: string[] = [];
  for (const file of summary.failedFiles) lines.push(`${project}: ${file.file} failed: ${file.message.split('\n').slice(0, 5).join('\n    ')}`);
  for (const test of summary.notRun) lines.push(`${project}: did not run (${test.status}): ${test.file} > ${test.fullName}`);
  return lines;
}

/**
 * Each failure of a project (its name, then the first line of its error), for the end of `npm test`'s output: a long run's log may be read
 * from its tail only, where the failures the test runner printed early are long gone.
 */
export function describeFailures(summary: ReportSummary, project: string): string[] {
  // The whole first line: a line cut short could show part of a secret that a log masks only whole.
  const firstLine = (message: string): string => message.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return [
    ...summary.failedTests.map((t) => `${project}: ${t.file} > ${t.fullName}${t.message ? `\n    ${firstLine(t.message)}` : ''}`),
    ...summary.failedFiles.map((f) => `${project}: ${f.file} (failed outside any test)\n    ${firstLine(f.message)}`),
  ];
}
