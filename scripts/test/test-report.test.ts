// npm test's reading of vitest's JSON report: under CI=true a lab test that did not run fails the run, named.
import { describe, expect, it } from 'vitest';
import { describeFailures, describeNotRun, skippedUnderCi, summarizeReport, type VitestJsonReport } from '../test-report.ts';

const root = '/repo';

// The shape vitest 5's JSON reporter writes (jest-compatible), as seen for it.skip, it.todo and describe.skip.
const report: VitestJsonReport = {
  numPassedTests: 2,
  numFailedTests: 0,
  numPendingTests: 2,
  numTodoTests: 1,
  numFailedTestSuites: 1,
  testResults: [
    {
      name: '/repo/app/test/docker.itg.test.ts',
      status: 'passed',
      message: '',
      assertionResults: [
        { fullName: 'app image on the lab engine answers /readyz 200', status: 'passed' },
        { fullName: 'app image on the lab engine stops on SIGTERM with exit code 0', status: 'skipped' },
        { fullName: 'app image on the lab engine writes a todo', status: 'todo' },
      ],
    },
    {
      name: '/repo/app/test/browser.itg.test.ts',
      status: 'passed',
      assertionResults: [
        { fullName: 'pages in headless Chromium (skipped: /usr/bin/chromium is missing) draws the dashboard', status: 'pending' },
        { fullName: 'other passes', status: 'passed' },
      ],
    },
    {
      name: '/repo/test/e2e/chain.test.ts',
      status: 'failed',
      message: 'Error: "the chain" cannot run: no lab is up. CI=true, so it fails instead of being skipped.',
      assertionResults: [],
    },
  ],
};

describe('summarizeReport', () => {
  it('counts, and names every test that did not run and every file that failed without a failing test', () => {
    const summary = summarizeReport(report, root);
    expect(summary).toMatchObject({ passed: 2, failed: 1, skipped: 3 });
    expect(summary.notRun).toEqual([
      { file: 'app/test/docker.itg.test.ts', fullName: 'app image on the lab engine stops on SIGTERM with exit code 0', status: 'skipped' },
      { file: 'app/test/docker.itg.test.ts', fullName: 'app image on the lab engine writes a todo', status: 'todo' },
      { file: 'app/test/browser.itg.test.ts', fullName: 'pages in headless Chromium (skipped: /usr/bin/chromium is missing) draws the dashboard', status: 'pending' },
    ]);
    expect(summary.failedFiles).toEqual([{ file: 'test/e2e/chain.test.ts', message: expect.stringContaining('no lab is up') as string }]);
    expect(describeNotRun(summary, 'lab')).toContain('lab: did not run (skipped): app/test/docker.itg.test.ts > app image on the lab engine stops on SIGTERM with exit code 0');
  });

  it('does not count a file with a failing test twice', () => {
    const summary = summarizeReport(
      { ...report, numFailedTests: 1, testResults: [{ name: '/repo/a.itg.test.ts', status: 'failed', assertionResults: [{ fullName: 'a fails', status: 'failed' }] }] },
      root,
    );
    expect(summary.failed).toBe(1);
    expect(summary.failedFiles).toEqual([]);
  });

  it('names every failed test with the first line of its error, and every file that failed without one, for the end of the log', () => {
    const summary = summarizeReport(
      {
        ...report,
        numFailedTests: 1,
        testResults: [
          { name: '/repo/a.test.ts', status: 'failed', assertionResults: [{ fullName: 'a > reads answer', status: 'failed', failureMessages: ['\nAssertionError: expected 1 to be +0 // Object.is equality\n    at a.test.ts:3:1'] }, { fullName: 'a > ok', status: 'passed' }] },
          { name: '/repo/b.test.ts', status: 'failed', message: 'Error: hook timed out in 10000ms\nmore', assertionResults: [] },
        ],
      },
      root,
    );
    expect(summary.failedTests).toEqual([{ file: 'a.test.ts', fullName: 'a > reads answer', message: expect.stringMatching(/^AssertionError: expected 1 to be \+0/) as string }]);
    expect(describeFailures(summary, 'unit')).toEqual(['unit: a.test.ts > a > reads answer\n    AssertionError: expected 1 to be +0 // Object.is equality', 'unit: b.test.ts (failed outside any test)\n    Error: hook timed out in 10000ms']);
    expect(describeFailures(summarizeReport(report, root), 'lab')).toEqual(['lab: test/e2e/chain.test.ts (failed outside any test)\n    Error: "the chain" cannot run: no lab is up. CI=true, so it fails instead of being skipped.']);
  });
});

describe('skippedUnderCi', () => {
  const summary = summarizeReport(report, root);

  it('fails the lab project under CI for every test that did not run, naming each', () => {
    expect(skippedUnderCi(summary, { project: 'lab', ci: true })).toEqual([
      'app/test/docker.itg.test.ts > app image on the lab engine stops on SIGTERM with exit code 0 (skipped)',
      'app/test/docker.itg.test.ts > app image on the lab engine writes a todo (todo)',
      'app/test/browser.itg.test.ts > pages in headless Chromium (skipped: /usr/bin/chromium is missing) draws the dashboard (pending)',
    ]);
  });

  it('lets skips pass outside CI, and in the unit project', () => {
    expect(skippedUnderCi(summary, { project: 'lab', ci: false })).toEqual([]);
    expect(skippedUnderCi(summary, { project: 'unit', ci: true })).toEqual([]);
  });

  it('has nothing to say when every lab test ran', () => {
    const clean = summarizeReport({ ...report, numPendingTests: 0, numTodoTests: 0, testResults: [{ name: '/repo/x.itg.test.ts', status: 'passed', assertionResults: [{ fullName: 'x', status: 'passed' }] }] }, root);
    expect(skippedUnderCi(clean, { project: 'lab', ci: true })).toEqual([]);
  });
});
